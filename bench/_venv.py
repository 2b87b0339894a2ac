"""The compared libraries' own virtual environments, made on first use and checked every run.

Each compared library lives in a venv of its own (``bench/.venv-original``,
``bench/.venv-litequeue``, ``bench/.venv-persist-queue``), whose interpreter runs the workloads
for it: the original ``pyqueue-client==1.2.1`` has the same import name as this checkout, and the
others must not be importable by it. Every package is pinned, so that results stay comparable.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from typing import List, NamedTuple, Optional, Tuple

from _report import log


class Package(NamedTuple):
    """A pinned PyPI distribution, the module it is imported as, and its venv's name."""

    distribution: str
    version: str
    module: str
    #: The venv is ``.venv-<venv>`` in the folder of venvs.
    venv: str

    @property
    def requirement(self) -> str:
        """The pip requirement that installs exactly this version."""
        return f"{self.distribution}=={self.version}"


ORIGINAL = Package("pyqueue-client", "1.2.1", "pyqueue_client", "original")
LITEQUEUE = Package("litequeue", "0.14", "litequeue", "litequeue")
PERSIST_QUEUE = Package("persist-queue", "1.1.0", "persistqueue", "persist-queue")
HUEY = Package("huey", "3.5.4", "huey", "huey")

_VERSION_PROBE = (
    "import importlib.metadata as m, importlib, os, sys; "
    "module = importlib.import_module(sys.argv[2]); "
    "print(m.version(sys.argv[1]), os.path.dirname(module.__file__))"
)


def venv_python(venv: str) -> str:
    """The interpreter inside ``venv``."""
    if sys.platform == "win32":
        return os.path.join(venv, "Scripts", "python.exe")
    return os.path.join(venv, "bin", "python")


def ensure_venv(venv: str, package: Package, base_python: str) -> str:
    """Return the python of a venv made by ``base_python`` holding exactly ``package``.

    A venv of another Python version is made anew; a missing or different package version is
    installed from PyPI.
    """
    venv = os.path.abspath(venv)
    python = venv_python(venv)
    wanted = python_version(base_python)
    if os.path.exists(python) and python_version(python) != wanted:
        log(f"{venv} runs Python {python_version(python)}, not {wanted}: making it anew")
        subprocess.run([base_python, "-m", "venv", "--clear", venv], check=True)
    if installed_version(python, package) == package.version:
        return python
    if not os.path.exists(python):
        log(f"creating {venv} with {base_python} -m venv")
        subprocess.run([base_python, "-m", "venv", venv], check=True)
    log(f"installing {package.requirement} into {venv}")
    install = [python, "-m", "pip", "install", "--quiet", "--quiet", package.requirement]
    subprocess.run(install, check=True)
    found = installed_version(python, package)
    if found != package.version:
        raise RuntimeError(f"{venv} has {package.distribution} {found!r}, not {package.version}")
    return python


def installed_version(python: str, package: Package) -> str:
    """The version of ``package`` that ``python`` imports from its own site-packages, or ''
    (the probe runs with ``PYTHONPATH`` unset, so a checkout cannot shadow the package)."""
    version, _, location = _probe(python, _VERSION_PROBE, package.distribution, package.module)
    return version if "site-packages" in location else ""


def python_version(python: str) -> str:
    """The full version (``3.12.1``) of an interpreter, or '' when it does not run."""
    return _probe(python, "import platform; print(platform.python_version())")[0]


def _probe(python: str, code: str, *words: str) -> Tuple[str, str, str]:
    """What ``python -c code words`` prints (split at its first space), run with ``PYTHONPATH``
    unset and from the interpreter's own folder; empty when it does not run."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    try:
        done = subprocess.run(
            [python, "-c", code, *words],
            capture_output=True,
            text=True,
            env=env,
            cwd=os.path.dirname(os.path.dirname(python)),
            check=False,
        )
    except OSError:
        return "", "", ""
    return done.stdout.strip().partition(" ") if done.returncode == 0 else ("", "", "")


def find_python(minor: str, given: Optional[str] = None) -> str:
    """An interpreter of Python ``minor`` (e.g. ``"3.12"``): ``given``, else pyenv's newest,
    else PATH's; raises ``RuntimeError`` naming what was tried when none runs as that version."""
    candidates = [given] if given else _pyenv_pythons(minor)
    found = shutil.which("python" + minor)
    candidates += [found] if found and not given else []
    for candidate in candidates:
        if python_version(candidate).startswith(minor + "."):
            return candidate
    tried = ", ".join(candidates) or "nothing found"
    raise RuntimeError(f"no Python {minor} interpreter (tried: {tried}); pass one explicitly")


def _pyenv_pythons(minor: str) -> List[str]:
    """pyenv's interpreters of ``minor``, newest patch release first."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = glob.glob(os.path.join(root, "versions", minor + ".*", "bin", "python"))

    def patch(path: str) -> int:
        match = re.search(r"versions/\d+\.\d+\.(\d+)/", path.replace(os.sep, "/"))
        return int(match.group(1)) if match else -1

    return sorted(found, key=patch, reverse=True)
