"""`make run`'s profile for real: SQLite under a fresh var dir, feed and jobs inside one process."""
import sys

import pytest

from tests.e2e.conftest import base_environment, free_port, manage, start, stop, wait_until_healthy
from tests.e2e.walkthrough import run_walkthrough

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def embedded_platform(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("var")
    env = {**base_environment(), "HAUNT_VAR_DIR": str(var_dir), "PORT": str(free_port())}
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", env=env)
    log = var_dir / "platform.log"
    process = start([sys.executable, "manage.py", "run_platform"], env=env, log=log)
    base_url = f"http://127.0.0.1:{env['PORT']}"
    try:
        health = wait_until_healthy(base_url, [process], [log])
        yield base_url, health
    finally:
        stop([process])


def test_embedded_profile_reports_healthy(embedded_platform):
    _, health = embedded_platform
    assert health["profile"] == "embedded"
    assert health["checks"]["database"]["engine"] == "sqlite"
    assert health["checks"]["channel_layer"]["backend"] == "InMemoryChannelLayer"
    assert health["checks"]["feed"]["instruments"] >= 46


def test_walkthrough_on_the_embedded_profile(embedded_platform):
    run_walkthrough(embedded_platform[0], "embedded_walker")
