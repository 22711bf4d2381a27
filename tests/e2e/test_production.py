"""The production profile for real: the REST tier (granian running config.wsgi), Daphne for the
WebSockets, the market and the engine as separate processes, sharing PostgreSQL and Redis. Runs
when DATABASE_URL (PostgreSQL) and REDIS_URL are set, as in CI."""
import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect

from tests.e2e.conftest import base_environment, free_port, manage, start, stop, wait_until_healthy
from tests.e2e.fuzzing import assert_clean, run_schemathesis
from tests.e2e.walkthrough import run_walkthrough

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"),
        reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL",
    ),
]
SOCKETS = 200


@pytest.fixture(scope="module")
def production_platform(tmp_path_factory):
    logs_dir = tmp_path_factory.mktemp("production")
    database = f"haunt_e2e_{uuid.uuid4().hex[:10]}"
    server_url = os.environ["DATABASE_URL"]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    run_id = uuid.uuid4().hex[:8]
    env = {
        **base_environment(),
        "DATABASE_URL": urlsplit(server_url)._replace(path=f"/{database}").geturl(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "SECRET_KEY": f"e2e-secret-{uuid.uuid4().hex}{uuid.uuid4().hex}",  # a server key: 50+ characters
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP to the servers, with no TLS proxy before them
        "HAUNT_CACHE_PREFIX": f"e2e-{run_id}",
        "HAUNT_CHANNEL_PREFIX": f"e2e-{run_id}",
        "HAUNT_VAR_DIR": str(logs_dir),
    }
    asgi_port, wsgi_port = free_port(), free_port()
    processes, logs = [], [logs_dir / "asgi.log", logs_dir / "wsgi.log", logs_dir / "market.log",
                           logs_dir / "engine.log"]
    try:
        manage("migrate", "--noinput", env=env)
        processes.append(start([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(asgi_port),
                                "config.asgi:application"], env=env, log=logs[0]))
        processes.append(start([str(Path(sys.executable).with_name("granian")), "--interface", "wsgi",
                                "--host", "127.0.0.1", "--port", str(wsgi_port), "--blocking-threads", "4",
                                "--no-ws", "config.wsgi:application"], env=env, log=logs[1]))
        processes.append(start([sys.executable, "manage.py", "run_market"], env=env, log=logs[2]))
        processes.append(start([sys.executable, "manage.py", "run_engine"], env=env, log=logs[3]))
        rest_url, socket_url = f"http://127.0.0.1:{wsgi_port}", f"http://127.0.0.1:{asgi_port}"
        health = wait_until_healthy(rest_url, processes, logs)
        assert wait_until_healthy(socket_url, processes, logs)["profile"] == "production"
        yield rest_url, health, socket_url
    finally:
        stop(processes)
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_production_profile_reports_healthy(production_platform):
    _, health, _ = production_platform
    assert health["profile"] == "production"
    assert health["checks"]["database"]["engine"] == "postgresql"
    assert health["checks"]["cache"]["backend"] == "ReusedClientRedisCache"
    assert health["checks"]["channel_layer"]["backend"] == "RedisChannelLayer"
    assert health["checks"]["feed"]["instruments"] >= 46


def test_walkthrough_on_the_production_profile(production_platform):
    rest_url, _, socket_url = production_platform
    run_walkthrough(rest_url, "production_walker", socket_base_url=socket_url)


def test_two_hundred_sockets_at_once_all_receive_quotes(production_platform):
    rest_url, _, asgi_url = production_platform
    token = httpx.post(f"{rest_url}/api/auth/register", json={
        "username": "crowd", "password": "correct-horse-battery", "email": "crowd@example.com"}).json()["token"]
    socket_url = f"{asgi_url.replace('http', 'ws', 1)}/ws/?token={token}"

    async def first_live_quote(socket) -> int:
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == "Quote" and message["seq"] is not None:
                return message["seq"]

    async def crowd() -> list[int]:
        sockets = [await connect(socket_url, open_timeout=20) for _ in range(SOCKETS)]
        try:
            for socket in sockets:
                await socket.send(json.dumps({"type": "SubscribeQuotes", "symbols": ["BTC-USD"]}))
            return await asyncio.wait_for(asyncio.gather(*(first_live_quote(socket) for socket in sockets)), 30)
        finally:
            await asyncio.gather(*(socket.close() for socket in sockets))

    sequences = asyncio.run(crowd())

    assert len(sequences) == SOCKETS
    assert max(sequences) - min(sequences) <= 40  # every socket is served within ~10 s of updates


def test_schema_fuzzing_on_the_production_profile(production_platform, tmp_path):
    """tests/e2e/fuzzing.py's run against granian, PostgreSQL and Redis: last in this
    module, since it leaves the fuzzed user's data behind."""
    rest_url, _, _ = production_platform

    assert_clean(run_schemathesis(rest_url, tmp_path))
