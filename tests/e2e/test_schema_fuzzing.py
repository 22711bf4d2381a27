"""Schema fuzzing (tests/e2e/fuzzing.py) on the embedded tier: SQLite, with the feed, engine and
jobs inside one Daphne process."""
import sys

import pytest

from tests.e2e.conftest import base_environment, free_port, manage, start, stop, wait_until_healthy
from tests.e2e.fuzzing import FUZZ_ENVIRONMENT, assert_clean, run_schemathesis

pytestmark = pytest.mark.e2e

# Daphne (the embedded tier's HTTP server) is a Twisted web server, and Twisted parses a
# multipart/form-data body itself before the application sees it: a body with no part at all gets
# Twisted's bare "400 Bad Request" with no JSON, whatever the application would have said. The
# production tier's REST server (granian) passes it to Django, which answers in the error shape.
EMBEDDED_ONLY_EXCEPTIONS = """[[operations]]
include-path = "/api/journal/{entry_id}/attachments"
include-method = "POST"
checks.content_type_conformance.enabled = false
checks.response_schema_conformance.enabled = false
"""


@pytest.fixture(scope="module")
def fuzzed_embedded_platform(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("fuzz-var")
    env = {**base_environment(), **FUZZ_ENVIRONMENT, "HAUNT_VAR_DIR": str(var_dir), "PORT": str(free_port())}
    manage("migrate", "--noinput", env=env)
    log = var_dir / "platform.log"
    process = start([sys.executable, "manage.py", "run_platform"], env=env, log=log)
    base_url = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until_healthy(base_url, [process], [log])
        yield base_url, log
    finally:
        stop([process])


def test_schema_fuzzing_on_the_embedded_profile(fuzzed_embedded_platform, tmp_path):
    base_url, log = fuzzed_embedded_platform

    result = run_schemathesis(base_url, tmp_path, extra_config=EMBEDDED_ONLY_EXCEPTIONS)

    assert_clean(result)
    assert "Traceback" not in log.read_text(), log.read_text()[-6000:]
