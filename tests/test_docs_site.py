"""The guide at /docs/ in a real browser with no internet: Chromium must render it from the platform alone."""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# Every host name fails to resolve except the test server's address: the page gets no CDN, no fonts.
NETWORK_BLOCKED = "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "Chromium is not installed: `apt-get install chromium` (.ci/run installs it)."
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def rendered_dom(url: str) -> str:
    """The page's DOM once its scripts have run (virtual time lets Docsify fetch and render the Markdown)."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={profile}", f"--host-resolver-rules={NETWORK_BLOCKED}",
             "--virtual-time-budget=20000", "--dump-dom", url],
            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_guide_renders_its_sidebar_and_headings_with_the_network_blocked(live_server):
    landing = rendered_dom(f"{live_server.url}/docs/")
    assert "Loading the guide" not in landing
    sidebar = re.search(r'<aside class="sidebar">(.*?)</aside>', landing, re.S)
    assert sidebar, landing[:2000]
    for title in ("Getting started", "Market data", "Trading", "Options", "Testing"):
        assert f">{title}</a>" in sidebar.group(1)
    assert re.search(r"<h1[^>]*>.*Haunt Paper Trading", landing, re.S)

    trading = rendered_dom(f"{live_server.url}/docs/#/trading")
    headings = re.findall(r'<h2 id="[^"]+"><a [^>]*><span>([^<]+)</span>', trading)
    assert {"Placing an order", "Execution: why this price?"} <= set(headings), headings


def test_the_landing_page_starts_the_reader_on_every_guide():
    docs = Path(__file__).resolve().parents[1] / "docs"
    guides = set(re.findall(r"\]\(([\w-]+\.md)\)", (docs / "_sidebar.md").read_text())) - {"README.md"}
    start_here = (docs / "README.md").read_text().split("## Start here", 1)[1].split("\n## ", 1)[0]
    assert guides - set(re.findall(r"\]\(([\w-]+\.md)\)", start_here)) == set()
