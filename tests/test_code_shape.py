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


def _project_imports():
    """Every `from <project module> import name` in the code, those inside functions included
    (ruff does not resolve them: a name moved by a refactoring breaks only when the line runs)."""
    import ast
    import pathlib

    files = [pathlib.Path(ROOT, "app.py")]
    for folder in ("models", "views", "tests"):
        files += sorted(pathlib.Path(ROOT, folder).rglob("*.py"))
    for path in files:
        package = path.relative_to(ROOT).with_suffix("").parts[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] in ("app", "models", "views", "tests"):
                for alias in node.names:
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", module, alias.name


def test_every_name_imported_from_the_project_exists():
    import importlib

    missing = []
    for where, module, name in _project_imports():
        found = importlib.import_module(module)
        if not hasattr(found, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{where}: {module} has no {name}")
    assert not missing, "\n".join(missing)
