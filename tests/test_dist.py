"""The wheel, as ``make dist`` builds it and the README installs it, works in a fresh venv.

The package's files are copied to a temporary folder and built there (so the working tree gets
no ``build/``), the wheel is installed with the README's command into a new venv that holds
nothing else, and the installed ``pyqueue`` runs the demo from a folder outside the checkout.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Dict, List

import pytest

from .conftest import PROJECT_ROOT, PYTHON, uncovered_env

README = Path(PROJECT_ROOT) / "README.md"
MAKEFILE = Path(PROJECT_ROOT) / "Makefile"
#: What the build needs from the checkout.
_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "pyqueue_client")
_BOUND = 300


def _run(args: List[str], cwd: Path, env: Dict[str, str]) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=_BOUND, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _clean_env() -> Dict[str, str]:
    """The environment without anything that would import the checkout."""
    env = uncovered_env()
    env.pop("PYTHONPATH", None)
    env.pop("QUEUE_FILE_PATH", None)
    return env


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs_the_demo(tmp_path: Path) -> None:
    # The build frontend is a dev-extra tool: the matrix venvs, which hold pytest only, skip this.
    pytest.importorskip("build")
    source = tmp_path / "source"
    source.mkdir()
    for name in _SOURCES:
        origin = Path(PROJECT_ROOT) / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / name)
    env = _clean_env()
    # The build command of `make dist`, into the dist/ the README installs from.
    [build] = re.findall(r"\t\$\(BIN\)/python (-m build .*)\n", MAKEFILE.read_text("utf-8"))
    _run([PYTHON, *build.split()], source, env)
    assert sorted(os.listdir(source / "dist")) == [
        "pyqueue_client-2.0.0.dev1-py3-none-any.whl",
        "pyqueue_client-2.0.0.dev1.tar.gz",
    ]

    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    bin_dir = target / ("Scripts" if sys.platform == "win32" else "bin")
    python = str(bin_dir / "python")
    [install] = re.findall(r"^pip install (dist/\S+\.whl)$", README.read_text("utf-8"), re.M)
    wheels = glob.glob(str(source / install))
    _run([python, "-m", "pip", "install", "--no-index", "--no-deps", *wheels], source, env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = _run(
        [python, "-c", "import pyqueue_client; print(pyqueue_client.__file__)"], elsewhere, env
    )
    assert str(target) in found
    output = _run(
        [str(bin_dir / "pyqueue"), "demo", "--messages", "20", "--crash-timeout", "1"],
        elsewhere,
        env,
    )
    assert "OK: all 20 messages were delivered and deleted" in output
