"""The original library's own virtual environment, made on first use and checked every run.

``pyqueue-client==1.2.1`` has the same import name as this checkout, so it lives in a separate
venv (``bench/.venv-original`` by default) whose interpreter runs the workloads for it.
"""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["ORIGINAL_REQUIREMENT", "ORIGINAL_VERSION", "ensure_original_venv", "venv_python"]

ORIGINAL_VERSION = "1.2.1"
ORIGINAL_REQUIREMENT = f"pyqueue-client=={ORIGINAL_VERSION}"

_VERSION_PROBE = (
    "import importlib.metadata as m, pyqueue_client, os; "
    "print(m.version('pyqueue-client'), os.path.dirname(pyqueue_client.__file__))"
)


def venv_python(venv: str) -> str:
    """The interpreter inside ``venv``."""
    if sys.platform == "win32":
        return os.path.join(venv, "Scripts", "python.exe")
    return os.path.join(venv, "bin", "python")


def ensure_original_venv(venv: str, log: bool = True) -> str:
    """Return the python of a venv holding the original library, creating or repairing it."""
    venv = os.path.abspath(venv)
    python = venv_python(venv)
    if installed_version(python) == ORIGINAL_VERSION:
        return python
    if not os.path.exists(python):
        _say(log, f"creating {venv} with {sys.executable} -m venv")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    _say(log, f"installing {ORIGINAL_REQUIREMENT} into {venv}")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--quiet", ORIGINAL_REQUIREMENT],
        check=True,
    )
    found = installed_version(python)
    if found != ORIGINAL_VERSION:
        raise RuntimeError(f"{venv} has pyqueue-client {found!r}, expected {ORIGINAL_VERSION}")
    return python


def installed_version(python: str) -> str:
    """The ``pyqueue-client`` version that ``python`` imports from its own site-packages, or ''.

    The probe runs from the venv's folder with ``PYTHONPATH`` unset, so a checkout on the path
    cannot shadow the installed package.
    """
    if not os.path.exists(python):
        return ""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    probe = subprocess.run(
        [python, "-c", _VERSION_PROBE],
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


def _say(log: bool, text: str) -> None:
    if log:
        print(f"bench: {text}", file=sys.stderr, flush=True)
