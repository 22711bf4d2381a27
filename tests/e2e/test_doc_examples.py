"""Every example in README.md and docs/*.md runs as written against the embedded profile (docs/testing.md)."""
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ROOT, base_environment, free_port, manage, start, stop, wait_until_healthy
from tests.e2e.doc_examples import DOCUMENTED_BASE, examples, last_json_value, shape_mismatches

pytestmark = pytest.mark.e2e

EXAMPLE_TIMEOUT_SECONDS = 30
STATUS_MARK = "__http_status__"
# Every curl reports its status on stderr, leaving the output the reader sees untouched.
CURL_WITH_STATUS = f"curl() {{ command curl -w '%{{stderr}}{STATUS_MARK} %{{http_code}}\\n' \"$@\"; }}\n"


def documents() -> list[Path]:
    sidebar = (ROOT / "docs" / "_sidebar.md").read_text()
    return [ROOT / "README.md", *(ROOT / "docs" / name for name in re.findall(r"\]\(([\w-]+\.md)\)", sidebar))]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("var")
    # The guides register a user each: room for them all within the auth throttle's minute.
    env = {**base_environment(), "HAUNT_VAR_DIR": str(var_dir), "PORT": str(free_port()),
           "THROTTLE_AUTH_RATE": "1000/min"}
    manage("migrate", "--noinput", env=env)
    log = var_dir / "platform.log"
    process = start([sys.executable, "manage.py", "run_platform"], env=env, log=log)
    base_url = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until_healthy(base_url, [process], [log])
        yield base_url
    finally:
        stop([process])


class Shell:
    """One bash for a whole document, so variables set by one example are there for the next."""

    def __init__(self, workdir: Path, env: dict):
        self.workdir = workdir
        self.process = subprocess.Popen(["bash", "--norc", "--noprofile"], cwd=workdir, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.count = 0
        self.run(CURL_WITH_STATUS)

    def run(self, script: str) -> tuple[str, str, int]:
        self.count += 1
        script_path, out, err = (self.workdir / f".example-{self.count}.{suffix}" for suffix in ("sh", "out", "err"))
        script_path.write_text(script)
        done = f"__example_done_{self.count}__"
        self.process.stdin.write(f"source {script_path} </dev/null >{out} 2>{err}; echo {done} $?\n")
        self.process.stdin.flush()
        deadline, line = time.monotonic() + EXAMPLE_TIMEOUT_SECONDS, ""
        while not line.startswith(done):
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"no end after {EXAMPLE_TIMEOUT_SECONDS} s")
            line = self.process.stdout.readline()
        return out.read_text(), err.read_text(), int(line.split()[1])

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def test_every_example_in_the_readme_and_the_guides_runs_as_documented(platform, tmp_path):
    """One server, the documents in the sidebar's order; every failure of every document is reported."""
    http = httpx.Client(base_url=platform, timeout=10)
    failures = []
    for document in documents():
        found = examples(document)
        if not found:
            continue
        workdir = tmp_path / document.stem
        workdir.mkdir(exist_ok=True)
        (workdir / ".venv").symlink_to(sys.prefix)
        env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "LANG": "C.UTF-8"}
        if not any("/api/auth/register" in example.script for example in found):
            env.update(reader(http, f"reader-{document.stem}"))
        shell = Shell(workdir, env)
        try:
            for example in found:
                script = example.script.replace(f"//{DOCUMENTED_BASE}", "//" + platform.split("//")[1])
                where = f"{document.relative_to(ROOT)}:{example.line}"
                failures += example_failures(where, example.answer, *shell.run(script))
        finally:
            shell.close()
    assert not failures, "\n\n".join(failures)


def reader(http: httpx.Client, username: str) -> dict:
    """What a guide after Getting started takes as given: a user's $TOKEN and a portfolio's $PORTFOLIO."""
    registered = http.post("/api/auth/register", json={
        "username": username, "password": "a long walk on quiet beaches", "email": f"{username}@example.com"})
    assert registered.status_code == 201, registered.text
    token = registered.json()["token"]
    portfolio = http.post("/api/portfolio", json={"name": "First"}, headers={"Authorization": f"Token {token}"})
    assert portfolio.status_code == 201, portfolio.text
    return {"TOKEN": token, "PORTFOLIO": portfolio.json()["id"]}


def example_failures(where: str, answer: object, output: str, errors: str, exit_status: int) -> list[str]:
    statuses = [int(code) for code in re.findall(rf"^{STATUS_MARK} (\d+)$", errors, re.M)]
    errors = re.sub(rf"^{STATUS_MARK} \d+\n", "", errors, flags=re.M)
    if exit_status != 0:
        return [f"{where} exited {exit_status}: {errors[-2000:]}\n{output[-2000:]}"]
    documents_error = isinstance(answer, dict) and "error" in answer
    failed = [status for status in (statuses[:-1] if documents_error else statuses) if not 200 <= status < 400]
    if failed:
        return [f"{where}: HTTP {failed}\n{output[-3000:]}"]
    if documents_error and not (statuses and 400 <= statuses[-1] < 500):
        return [f"{where}: HTTP {statuses}, documented an error"]
    if answer is None:
        return []
    try:
        actual = last_json_value(output)
    except ValueError:
        return [f"{where}: the output is not JSON:\n{output[-2000:]}"]
    problems = shape_mismatches(answer, actual)
    return [f"{where}: the answer differs from the documented one:\n" + "\n".join(problems)] if problems else []
