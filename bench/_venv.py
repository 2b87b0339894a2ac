"""The compared libraries' own virtual environments, made on first use and checked every run.

Each compared library lives in a separate venv (``bench/.venv-original``,
``bench/.venv-original-remote``, ``bench/.venv-litequeue``, ``bench/.venv-persist-queue`` by
default), whose interpreter runs the workloads for it: the original ``pyqueue-client==1.2.1`` has
the same import name as this checkout, and the others must not be importable by it. Every package
is pinned, so that results stay comparable.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from typing import List, NamedTuple, Optional

__all__ = [
    "ORIGINAL_REQUIREMENT",
    "ORIGINAL_VERSION",
    "Package",
    "ensure_original_venv",
    "ensure_venv",
    "find_python",
    "python_version",
    "venv_python",
]


class Package(NamedTuple):
    """A pinned PyPI distribution and the module it is imported as."""

    distribution: str
    version: str
    module: str

    @property
    def requirement(self) -> str:
        """The pip requirement that installs exactly this version."""
        return f"{self.distribution}=={self.version}"


ORIGINAL = Package("pyqueue-client", "1.2.1", "pyqueue_client")
ORIGINAL_VERSION = ORIGINAL.version
ORIGINAL_REQUIREMENT = ORIGINAL.requirement

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


def ensure_original_venv(venv: str, log: bool = True) -> str:
    """Return the python of a venv holding the original library, creating or repairing it."""
    return ensure_venv(venv, ORIGINAL, sys.executable, log)


def ensure_venv(venv: str, package: Package, base_python: str, log: bool = True) -> str:
    """Return the python of a venv made by ``base_python`` holding exactly ``package``.

    A venv of another Python version is made anew; a missing or different package version is
    installed from PyPI.
    """
    venv = os.path.abspath(venv)
    python = venv_python(venv)
    wanted = python_version(base_python)
    if os.path.exists(python) and python_version(python) != wanted:
        _say(log, f"{venv} runs Python {python_version(python)}, not {wanted}: making it anew")
        subprocess.run([base_python, "-m", "venv", "--clear", venv], check=True)
    if installed_version(python, package) == package.version:
        return python
    if not os.path.exists(python):
        _say(log, f"creating {venv} with {base_python} -m venv")
        subprocess.run([base_python, "-m", "venv", venv], check=True)
    _say(log, f"installing {package.requirement} into {venv}")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--quiet", package.requirement],
        check=True,
    )
    found = installed_version(python, package)
    if found != package.version:
        raise RuntimeError(
            f"{venv} has {package.distribution} {found!r}, expected {package.version}"
        )
    return python


def installed_version(python: str, package: Package = ORIGINAL) -> str:
    """The version of ``package`` that ``python`` imports from its own site-packages, or ''.

    The probe runs from the venv's folder with ``PYTHONPATH`` unset, so a checkout on the path
    cannot shadow the installed package.
    """
    if not os.path.exists(python):
        return ""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    probe = subprocess.run(
        [python, "-c", _VERSION_PROBE, package.distribution, package.module],
        capture_output=True,
        text=True,
        env=env,
        cwd=os.path.dirname(os.path.dirname(python)),
        check=False,
    )
    if probe.returncode != 0:
        return ""
    version, _, location = probe.stdout.strip().partition(" ")
    return version if "site-packages" in location else ""


def python_version(python: str) -> str:
    """The full version (``3.12.1``) of an interpreter, or '' when it does not run."""
    try:
        probe = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return ""
    return probe.stdout.strip() if probe.returncode == 0 else ""


def find_python(minor: str, given: Optional[str] = None) -> str:
    """An interpreter of Python ``minor`` (e.g. ``"3.12"``): ``given``, else pyenv's, else PATH's.

    Raises ``RuntimeError`` naming what was tried when none runs as that version.
    """
    candidates = [given] if given else _pyenv_pythons(minor) + _path_pythons(minor)
    for candidate in candidates:
        if python_version(candidate).startswith(minor + "."):
            return candidate
    tried = ", ".join(candidates) or "nothing found"
    raise RuntimeError(f"no Python {minor} interpreter (tried: {tried}); pass one explicitly")


def _pyenv_pythons(minor: str) -> List[str]:
    """pyenv's interpreters of ``minor``, newest patch release first."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = glob.glob(os.path.join(root, "versions", minor + ".*", "bin", "python"))
    return sorted(found, key=_patch_number, reverse=True)


def _patch_number(path: str) -> int:
    match = re.search(r"versions/\d+\.\d+\.(\d+)/", path.replace(os.sep, "/"))
    return int(match.group(1)) if match else -1


def _path_pythons(minor: str) -> List[str]:
    found = shutil.which("python" + minor)
    return [found] if found else []


def _say(log: bool, text: str) -> None:
    if log:
        print(f"bench: {text}", file=sys.stderr, flush=True)
