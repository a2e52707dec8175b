"""Installs like a tool (issue 23): the built wheel, installed into a fresh venv, gives a
``behest-local`` command that serves a request, with its TUI stylesheet and every data file.

The wheel is built from a copy of the sources (``pip wheel --no-deps
--no-build-isolation --no-index``: no download, no ``build/`` left in the checkout). The
fresh venv has no pip of its own (the test's pip installs into it with ``--python``), and
gets its dependencies from the test venv's site-packages through a path file: installing
them would download ~100 MB. A plain directory on ``sys.path`` runs none of the ``.pth``
files in it, so the test venv's editable behest-local is not importable there: the fresh
venv runs the wheel's copy, which the test checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import behest_local
from tests import serve_process
from tests.serve_process import ServeProcess

pytestmark = pytest.mark.timeout(180)

SOURCE = Path(behest_local.__file__).resolve().parent.parent
BIN = "Scripts" if os.name == "nt" else "bin"


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=_env())
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _env() -> dict[str, str]:
    """The machine's environment without what would put the checkout on ``sys.path``."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BEHEST_CONFIG")}


def data_files(root: Path) -> set[str]:
    """Every file of the package that is not Python source, relative to ``root``."""
    return {p.relative_to(root).as_posix() for p in (root / "behest_local").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(SOURCE / name, src / name)
    shutil.copytree(SOURCE / "behest_local", src / "behest_local",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", src, "-w", dist)
    (built,) = dist.glob("behest_local-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("tool") / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / BIN / ("python.exe" if os.name == "nt" else "python")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "-q", wheel)
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                .strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return venv


def test_the_wheel_holds_every_data_file_of_the_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = data_files(SOURCE)
    assert "behest_local/tui/behest.tcss" in expected
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"


def test_the_installed_command_runs_its_own_copy_with_the_tui_stylesheet(venv):
    python = venv / BIN / ("python.exe" if os.name == "nt" else "python")
    found = json.loads(_run(python, "-c", (
        "import json, behest_local\n"
        "from textual.app import App\n"
        "from textual.css.stylesheet import Stylesheet\n"
        "from behest_local.tui.app import BehestApp\n"
        "sheet = Stylesheet(variables=App().get_css_variables())\n"
        "sheet.read(BehestApp.CSS_PATH)\n"
        "sheet.parse()\n"
        "print(json.dumps({'package': behest_local.__file__, 'css': str(BehestApp.CSS_PATH),"
        " 'rules': len(sheet.rules)}))"), cwd=venv))
    assert Path(found["package"]).resolve().is_relative_to(venv.resolve())
    assert Path(found["css"]).resolve().is_relative_to(venv.resolve())
    assert found["rules"] > 0
    assert _run(venv / BIN / "behest-local", "version").strip().endswith(behest_local.__version__)


def test_the_installed_command_serves_a_chat_completion(venv, tmp_path, monkeypatch):
    monkeypatch.setattr(serve_process, "PY", [str(venv / BIN / "behest-local")])
    server = ServeProcess(tmp_path / "home", env={"PYTHONPATH": None})
    try:
        made = server.cli("keys", "create", "--project", "local")
        assert made.returncode == 0, made.stderr
        key = next(word for word in made.stdout.split() if word.startswith("behest_sk_"))
        status, body, _ = server.request("POST", "/v1/chat/completions", {
            "model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]},
            headers={"Authorization": f"Bearer {key}"})
        assert status == 200, body
        assert json.loads(body)["choices"][0]["message"]["content"]
    finally:
        assert server.stop() == 0
