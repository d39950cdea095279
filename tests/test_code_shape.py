"""The shape of the code, checked by its tools: models/ in layers (import-linter's contracts in
pyproject.toml) and ruff's pyflakes, bugbear and syntax rules over the app, the domain, the views
and the tests. Both run from the virtualenv that runs the tests, so `make test` runs them."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess:
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        pytest.fail(f"{name} is not installed in {BIN}: install the test extra (pip install -e '.[test]')")
    return subprocess.run([path, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_models_import_only_downward_and_never_the_views():
    result = run_tool("lint-imports", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_ruff_finds_nothing():
    result = run_tool("ruff", "check", "--no-cache", "app.py", "models", "views", "tests")
    assert result.returncode == 0, result.stdout + result.stderr
