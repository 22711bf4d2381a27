"""The README's two commands: `make run` installs what the platform needs, `make test` the test extras too."""
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def planned_commands(target: str, tmp_path) -> str:
    """What `make TARGET` would run on a fresh clone (-n: print, run nothing; -B: as if nothing were installed)."""
    if shutil.which("make") is None:
        pytest.fail("make is not installed: the README's two commands need it")
    return subprocess.run(["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def test_make_run_installs_the_platform_without_the_test_extras(tmp_path):
    commands = planned_commands("run", tmp_path)
    assert "pip install --quiet -e ." in commands
    assert "[test]" not in commands
    assert "manage.py run_platform" in commands


def test_make_test_installs_the_test_extras(tmp_path):
    commands = planned_commands("test", tmp_path)
    assert "pip install --quiet -e '.[test]'" in commands and "pytest -n auto" in commands


def test_the_readme_walkthrough_needs_nothing_beyond_the_runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # Step 7 streams quotes with the websockets package's client, after `make run` only.
    assert "python -m websockets" in (ROOT / "README.md").read_text()
    assert any(requirement.startswith("websockets") for requirement in project["dependencies"])
