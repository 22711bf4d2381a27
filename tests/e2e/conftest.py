"""Running the real platform as a subprocess and talking to it over HTTP and WebSocket."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, timeout=300)


def start(command: list[str], *, env: dict, log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


def wait_until_healthy(base_url: str, processes: list[subprocess.Popen], logs: list[Path]) -> dict:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    last = None
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                pytest.fail(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            response = httpx.get(f"{base_url}/api/health", timeout=5)
            last = response.json()
            if response.status_code == 200:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"platform not healthy after {STARTUP_TIMEOUT_SECONDS} s: {last}\n" +
                "\n".join(log.read_text()[-3000:] for log in logs))


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def base_environment() -> dict:
    """The caller's environment without the profile-selecting variables, so each test picks its own."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER")}
    env["DJANGO_SETTINGS_MODULE"] = "haunt.settings.base"
    env["PYTHONUNBUFFERED"] = "1"
    return env
