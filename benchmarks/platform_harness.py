"""Shared by the production-profile benchmarks (order_throughput, order_latency, websocket_fanout):
boots the real platform as separate processes on PostgreSQL + Redis, seeds users and portfolios,
measures percentiles and CPU use, and checks the ledger afterwards.

Not a benchmark itself. The platform is booted as tests/e2e/test_production.py does: a fresh
database (haunt_bench_<random>), ``manage.py migrate``, one or more Daphne processes on their own
ports, ``manage.py run_market`` and ``manage.py run_engine``, each with its own log file. Everything
is torn down at the end: processes stopped, database dropped, this run's Redis keys deleted.

REST goes to the WSGI tier (granian running config.wsgi, ``--http granian``, the default) or to the
Daphne processes themselves (``--http daphne``); WebSockets always go to Daphne.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
STARTUP_TIMEOUT_SECONDS = 300
# Daphne's access log: 127.0.0.1:54022 - - [24/Nov/2026:06:54:38] "POST /api/orders" 201 947
# granian's, in the format GRANIAN_ACCESS_FORMAT asks for: [2026-11-24 13:40:01] "POST /api/orders" 201 3.1
ACCESS_LINE = re.compile(r'\] "([A-Z]+ [^"]*)" (\d{3}) ')
GRANIAN_ACCESS_FORMAT = '[%(time)s] "%(method)s %(path)s" %(status)d %(dt_ms).1f'


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1) of unsorted values; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> str:
    """p50/p95/p99/max of durations given in seconds, printed in milliseconds."""
    ms = [value * 1000 for value in seconds]
    return (f"p50 {percentile(ms, 0.50):.2f} ms, p95 {percentile(ms, 0.95):.2f} ms, "
            f"p99 {percentile(ms, 0.99):.2f} ms, max {max(ms, default=math.nan):.2f} ms (n={len(ms)})")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (any owner) has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(prefix: str) -> list[int]:
    """Process ids whose command name starts with `prefix` (to account PostgreSQL's and Redis's CPU)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith(prefix):
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
    return found


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (granian's workers are children of its supervisor)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    pending.extend(int(child) for child in handle.read().split())
    return found


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat)."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postgres_pids(database: str) -> list[int]:
    """PostgreSQL's own processes (checkpointer, WAL writer, ...) and the backends serving `database`;
    not the backends of other databases (other sessions' tests share this server)."""
    found = []
    for pid in pids_named("postgres"):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue
        is_backend = "(" in command and ")" in command  # "postgres: 15/main: user db 127.0.0.1(port) state"
        if not is_backend or f" {database} " in command:
            found.append(pid)
    return found


class CpuMeter:
    """CPU seconds each named group of processes used between start() and stop(), and what the rest of
    the machine used meanwhile (other sessions' processes share these 2 cores)."""

    def __init__(self, groups: dict[str, list[int] | Callable[[], list[int]]]):
        self.groups = groups
        self.before: dict[str, float] = {}
        self.result: dict[str, float] = {}
        self.wall = 0.0

    def _pids(self, name) -> list[int]:
        source = self.groups[name]
        return source() if callable(source) else source

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: process_cpu_seconds(pid) for pid in self._pids(name)} for name in self.groups}

    def start(self) -> None:
        self._start_sample = self._sample()
        self._machine_start = machine_busy_seconds()
        self._started = time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._started
        machine = machine_busy_seconds() - self._machine_start
        after = self._sample()
        for name, pids in after.items():
            # a process that started during the window counts from zero
            self.result[name] = sum(seconds - self._start_sample[name].get(pid, 0.0) for pid, seconds in pids.items())
        self.result["everything else on the machine"] = max(0.0, machine - sum(self.result.values()))

    def per_request(self, requests: int) -> str:
        """CPU milliseconds each part spent per request: unlike rates and latencies, this hardly depends
        on what else the machine is running."""
        parts = [f"{name} {seconds / requests * 1000:.1f} ms" for name, seconds in self.result.items()
                 if name != "everything else on the machine"]
        return f"CPU per request (over {requests} requests): " + ", ".join(parts)

    def report(self) -> str:
        parts = [f"{name} {seconds / self.wall * 100:.0f}%" for name, seconds in self.result.items()]
        total = sum(self.result.values()) / self.wall * 100
        return f"CPU use over {self.wall:.1f} s (100% = one core, {os.cpu_count() * 100}% = the whole machine): " + \
            ", ".join(parts) + f"; machine total {total:.0f}%"


@dataclass
class Account:
    username: str
    token: str
    portfolio_id: str = ""

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Token {self.token}"}

    @property
    def json_headers(self) -> dict:
        return {**self.headers, "Content-Type": "application/json"}


@dataclass
class Platform:
    """A running production-profile platform."""

    database: str
    database_url: str
    env: dict
    base_urls: list[str]  # REST: the WSGI tier, or the Daphne processes with --http daphne
    asgi_urls: list[str]  # Daphne: WebSockets
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    pinned: str = "none"
    log_marks: dict[str, int] = field(default_factory=dict)

    @property
    def ws_urls(self) -> list[str]:
        return [url.replace("http", "ws", 1) + "/ws/" for url in self.asgi_urls]

    def pids(self, prefix: str) -> list[int]:
        return [pid for name, process in self.processes.items() if name.startswith(prefix)
                for pid in process_tree(process.pid)]

    def cpu_meter(self, *, extra: dict | None = None) -> CpuMeter:
        return CpuMeter({
            **({"granian": lambda: self.pids("granian")} if "granian" in self.processes else {}),
            "daphne": self.pids("daphne"), "engine": self.pids("engine"), "market": self.pids("market"),
            f"postgres ({self.database} + shared)": lambda: postgres_pids(self.database),
            "redis": lambda: pids_named("redis-server"),
            **(extra or {}),
        })

    def crashed(self) -> list[str]:
        return [f"{name} exited with {process.returncode}" for name, process in self.processes.items()
                if process.poll() is not None]

    def mark_logs(self) -> None:
        """Start the log excerpts and access-log counts from here (leaves out the start-up noise)."""
        self.log_marks = {name: path.stat().st_size for name, path in self.logs.items() if path.exists()}

    def _log_lines(self, name: str) -> list[str]:
        path = self.logs[name]
        if not path.exists():
            return []
        with path.open("rb") as handle:
            handle.seek(self.log_marks.get(name, 0))
            return handle.read().decode(errors="replace").splitlines()

    def access_log_statuses(self) -> dict[str, Counter]:
        """Per web server process, the HTTP status codes its access log recorded since mark_logs()."""
        found = {}
        for name in self.logs:
            if name.startswith(("daphne", "granian")):
                found[name] = Counter(match.group(2) for line in self._log_lines(name)
                                      if (match := ACCESS_LINE.search(line)))
        return found

    def log_excerpt(self, *, lines: int = 60) -> str:
        """Tracebacks, errors and warnings from every process log since mark_logs()."""
        chunks = []
        for name, path in self.logs.items():
            text = [line for line in self._log_lines(name) if not ACCESS_LINE.search(line) or " 500 " in line]
            interesting = [i for i, line in enumerate(text)
                           if any(word in line for word in ("ERROR", "Traceback", "CRITICAL", "WARNING", "Exception",
                                                            "Error:", " 500 "))]
            if not interesting:
                continue
            keep = set()
            for index in interesting:
                keep.update(range(index, min(len(text), index + 25)))
            excerpt = [text[i] for i in sorted(keep)][:lines]
            chunks.append(f"--- {name} ({path}): {len(interesting)} flagged lines, first {len(excerpt)} shown ---\n"
                          + "\n".join(excerpt))
        return "\n".join(chunks) or "(no errors, warnings or tracebacks in any process log)"


def _manage(*args: str, env: dict, timeout: float = 600) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def _start(command: list[str], *, env: dict, log: Path, cpus: set[int] | None) -> subprocess.Popen:
    handle = log.open("w")
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, preexec_fn=preexec)


def _redis_cleanup(redis_url: str, prefixes: list[str]) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    removed = 0
    for prefix in prefixes:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            removed += client.delete(key)
    client.close()
    return removed


def _wait_healthy(platform: Platform) -> dict:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    last = None
    while time.monotonic() < deadline:
        if platform.crashed():
            raise RuntimeError(f"{platform.crashed()}\n{platform.log_excerpt()}")
        try:
            answers = [httpx.get(f"{url}/api/health", timeout=5)
                       for url in dict.fromkeys(platform.base_urls + platform.asgi_urls)]
            last = answers[-1].json()
            if all(answer.status_code == 200 for answer in answers):
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"platform not healthy after {STARTUP_TIMEOUT_SECONDS} s: {last}\n{platform.log_excerpt()}")


@contextlib.contextmanager
def production_platform(*, servers: int = 1, pin: str = "none", postgres_url: str, redis_url: str,
                        http: str = "granian", http_workers: int = 1, http_threads: int = 4,
                        keep_logs: Path | None = None, extra_env: dict | None = None):
    """Boot the production profile; yields a Platform. `servers` Daphne processes serve WebSockets;
    REST goes to one granian process (`http_workers` workers of `http_threads` threads) or, with
    `http` "daphne", to the Daphne processes. `pin`: "split" runs every platform process on core 0
    (the load generator pins itself to core 1); "none" lets the kernel place everything.
    PostgreSQL and Redis are system services and are never pinned."""
    run_id = uuid.uuid4().hex[:10]
    database = f"haunt_bench_{run_id}"
    logs_dir = Path(keep_logs) if keep_logs else Path(tempfile.mkdtemp(prefix="haunt_bench_logs_"))
    logs_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"bench-{run_id}"
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER")}
    database_url = urlsplit(postgres_url)._replace(path=f"/{database}").geturl()
    env.update({
        "DJANGO_SETTINGS_MODULE": "haunt.settings.base",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": f"bench-secret-{uuid.uuid4().hex}{uuid.uuid4().hex}",  # a server key: 50+ characters
        "SECURE_SSL_REDIRECT": "0",  # the harness speaks plain HTTP to the servers, with no TLS proxy before them
        "HAUNT_CACHE_PREFIX": prefix,
        "HAUNT_CHANNEL_PREFIX": prefix,
        "HAUNT_VAR_DIR": str(logs_dir),
        "THROTTLE_USER_RATE": "1000000/min",
        # setup registers and creates many accounts quickly; these limits are not under test
        "THROTTLE_ANON_RATE": "1000000/min",
        "THROTTLE_AUTH_RATE": "1000000/min",
        **(extra_env or {}),
    })
    server_cpus = {0} if pin == "split" else None
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    platform = Platform(database=database, database_url=database_url, env=env, base_urls=[], asgi_urls=[], logs={},
                        pinned=pin)
    try:
        started = time.perf_counter()
        _manage("migrate", "--noinput", env=env)
        print(f"[setup] database {database} migrated in {time.perf_counter() - started:.1f} s; logs in {logs_dir}",
              flush=True)
        for index in range(servers):
            port = free_port()
            name = f"daphne{index}"
            platform.logs[name] = logs_dir / f"{name}.log"
            platform.processes[name] = _start(
                [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                env=env, log=platform.logs[name], cpus=server_cpus)
            platform.asgi_urls.append(f"http://127.0.0.1:{port}")
        if http == "granian":
            port = free_port()
            platform.logs["granian"] = logs_dir / "granian.log"
            platform.processes["granian"] = _start(
                [str(Path(PYTHON).with_name("granian")), "--interface", "wsgi", "--host", "127.0.0.1",
                 "--port", str(port), "--workers", str(http_workers), "--blocking-threads", str(http_threads),
                 "--no-ws", "--access-log", "--access-log-fmt", GRANIAN_ACCESS_FORMAT, "config.wsgi:application"],
                env=env, log=platform.logs["granian"], cpus=server_cpus)
            platform.base_urls.append(f"http://127.0.0.1:{port}")
        else:
            platform.base_urls.extend(platform.asgi_urls)
        for name, command in (("market", "run_market"), ("engine", "run_engine")):
            platform.logs[name] = logs_dir / f"{name}.log"
            platform.processes[name] = _start([PYTHON, "manage.py", command], env=env,
                                              log=platform.logs[name], cpus=server_cpus)
        health = _wait_healthy(platform)
        print(f"[setup] platform healthy after {time.perf_counter() - started:.1f} s: profile {health['profile']}, "
              f"database {health['checks']['database']['engine']}, cache {health['checks']['cache']['backend']}, "
              f"channel layer {health['checks']['channel_layer']['backend']}, "
              f"{health['checks']['feed']['instruments']} instruments; REST at "
              f"{', '.join(platform.base_urls)} ({http}); {servers} Daphne process(es) for WebSockets at "
              f"{', '.join(platform.asgi_urls)}; platform processes pinned: "
              f"{'core 0' if pin == 'split' else 'no (all share both cores)'}", flush=True)
        try:
            yield platform
        except BaseException:
            print("\nthe benchmark stopped with an error; process logs (errors, warnings, tracebacks):\n"
                  + platform.log_excerpt(lines=200), flush=True)
            raise
    finally:
        for process in platform.processes.values():
            process.terminate()
        for process in platform.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        removed = _redis_cleanup(redis_url, [prefix])
        print(f"[teardown] processes stopped, database {database} dropped, {removed} Redis keys removed", flush=True)
        if not keep_logs:
            shutil.rmtree(logs_dir, ignore_errors=True)


def pin_self_to(cpus: set[int]) -> str:
    try:
        os.sched_setaffinity(0, cpus)
        return f"load generator pinned to core(s) {sorted(cpus)}"
    except OSError as error:
        return f"load generator not pinned ({error})"


USER_SEED_SCRIPT = """
import json
from django.db import transaction
from rest_framework.authtoken.models import Token
from haunt.accounts.models import User
names = {names!r}
out = []
with transaction.atomic():
    for name in names:
        user = User(username=name, email=name + "@example.com")
        user.set_unusable_password()
        user.save()
        out.append([name, Token.objects.create(user=user).key])
print("TOKENS" + json.dumps(out))
"""


def create_accounts(platform: Platform, count: int, *, prefix: str = "bench") -> list[Account]:
    """`count` users with API tokens (made directly in the database: registering over HTTP would spend
    most of the setup hashing passwords), then one portfolio each through the REST API, switched to
    simulate_latency false so market orders fill in the response."""
    names = [f"{prefix}{index:04d}" for index in range(count)]
    output = _manage("shell", "-c", USER_SEED_SCRIPT.format(names=names), env=platform.env)
    tokens = json.loads(output.split("TOKENS", 1)[1])
    accounts = [Account(username=name, token=token) for name, token in tokens]
    with httpx.Client(base_url=platform.base_urls[0], timeout=30) as http:
        for account in accounts:
            created = http.post("/api/portfolio", json={"name": "Bench"}, headers=account.headers)
            created.raise_for_status()
            account.portfolio_id = created.json()["id"]
            updated = http.put(f"/api/portfolio/{account.portfolio_id}", json={"simulate_latency": False},
                               headers=account.headers)
            updated.raise_for_status()
            body = updated.json()
            assert body["simulate_latency"] is False and body["realism_profile"] == "realistic", body
    return accounts


def ledger_check(platform: Platform) -> tuple[bool, str]:
    """Every portfolio's cash equals the sum of its ledger entries (SQL on the bench database)."""
    with psycopg.connect(platform.database_url) as connection:
        rows = connection.execute("""
            SELECT p.id, p.cash, COALESCE(SUM(l.amount), 0) AS ledger, COUNT(l.id)
            FROM portfolios_portfolio p LEFT JOIN portfolios_ledgerentry l ON l.portfolio_id = p.id
            GROUP BY p.id, p.cash
        """).fetchall()
        broken_chain = connection.execute("""
            SELECT COUNT(*) FROM (
                SELECT balance_after, SUM(amount) OVER (PARTITION BY portfolio_id ORDER BY id) AS running
                FROM portfolios_ledgerentry) chain
            WHERE balance_after <> running
        """).fetchone()[0]
        orders = dict(connection.execute("SELECT status, COUNT(*) FROM orders_order GROUP BY status").fetchall())
        trades = connection.execute("SELECT COUNT(*) FROM orders_trade").fetchone()[0]
        filled_without_trade = connection.execute("""
            SELECT COUNT(*) FROM orders_order o WHERE o.status = 'filled'
            AND NOT EXISTS (SELECT 1 FROM orders_trade t WHERE t.order_id = o.id)
        """).fetchone()[0]
    mismatched = [(pid, cash, ledger) for pid, cash, ledger, _ in rows if cash != ledger]
    entries = sum(count for *_, count in rows)
    ok = not mismatched and broken_chain == 0 and filled_without_trade == 0
    lines = [f"ledger check: {'PASS' if ok else 'FAIL'} — {len(rows)} portfolios, {entries} ledger entries, "
             f"{len(mismatched)} with cash != sum(ledger), {broken_chain} entries whose balance_after breaks the "
             f"running sum; orders by status {orders}; {trades} trades; {filled_without_trade} filled orders "
             f"without a trade"]
    for pid, cash, ledger in mismatched[:10]:
        lines.append(f"  portfolio {pid}: cash {cash} vs ledger {ledger} (diff {cash - ledger})")
    return ok, "\n".join(lines)


def finish_run(platform: Platform, *, phases: str = "") -> bool:
    """The end of every platform benchmark: the ledger check (a run whose ledger fails does not count),
    the servers' status codes, and the flagged lines of every process log. Returns whether the ledger holds."""
    if platform.crashed():
        print(f"PLATFORM PROCESS DIED: {platform.crashed()}")
    time.sleep(1)  # let the engine finish anything in flight before reading the ledger
    ok, text = ledger_check(platform)
    print("\n" + text)
    if not ok:
        print("ledger FAIL: the figures above do not count")
    print(f"server access logs, status codes{phases}: "
          f"{ {name: dict(codes) for name, codes in platform.access_log_statuses().items()} }")
    print("process logs since the run began (errors, warnings, tracebacks):\n" + platform.log_excerpt())
    return ok


def add_platform_arguments(parser) -> None:
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                        help="PostgreSQL server URL (a fresh database is created on it and dropped at the end)")
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", "9")),
                        help="Redis database number on 127.0.0.1:6379 (keys are prefixed per run anyway)")
    parser.add_argument("--servers", type=int, default=2, help="Daphne processes (WebSockets), each on its own port")
    parser.add_argument("--http", choices=("granian", "daphne"), default="granian",
                        help="REST on the WSGI tier (granian) or on the Daphne processes")
    parser.add_argument("--http-workers", type=int, default=1, help="granian worker processes")
    parser.add_argument("--http-threads", type=int, default=4, help="threads per granian worker")
    parser.add_argument("--pin", choices=("split", "none"), default="split",
                        help="split: platform processes on core 0, load generator on core 1; none: no pinning")
    parser.add_argument("--keep-logs", type=Path, default=None, help="keep the process logs in this directory")


def platform_options(arguments) -> dict:
    """production_platform's keyword arguments from the options add_platform_arguments defines."""
    return {"servers": arguments.servers, "pin": arguments.pin, "postgres_url": arguments.postgres,
            "redis_url": f"redis://127.0.0.1:6379/{arguments.redis_db}", "http": arguments.http,
            "http_workers": arguments.http_workers, "http_threads": arguments.http_threads,
            "keep_logs": arguments.keep_logs}
