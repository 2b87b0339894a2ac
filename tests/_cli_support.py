"""Helpers for the command-line tests that run ``python -m pyqueue_client`` in child processes."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .conftest import child_env

#: Upper bound for one command: far above any run's time, even on a loaded machine.
COMMAND_TIMEOUT = 60.0
#: The command line, as a list.
PYQUEUE = [sys.executable, "-m", "pyqueue_client"]


def cli_env(**extra: str) -> Dict[str, str]:
    """The environment of a child: this checkout's package, no queue file or key inherited."""
    env = child_env()
    env.pop("QUEUE_FILE_PATH", None)
    env.pop("PYQUEUE_API_KEY", None)
    env.update(extra)
    return env


def run_cli(
    args: Sequence[str],
    cwd: Path,
    stdin: Optional[str] = None,
    env: Optional[Dict[str, str]] = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``pyqueue ARGS`` in ``cwd`` and wait for it; output captured as text."""
    return subprocess.run(
        [*PYQUEUE, *args],
        cwd=str(cwd),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=cli_env() if env is None else env,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def shell_command(*commands: Sequence[str]) -> str:
    """``pyqueue`` commands joined into one shell pipeline (``a | b``)."""
    quote = subprocess.list2cmdline if sys.platform == "win32" else shlex.join
    return " | ".join(quote([*PYQUEUE, *command]) for command in commands)


def run_pipeline(
    cwd: Path, *commands: Sequence[str], env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    """Run ``pyqueue`` commands as one pipeline in the system shell."""
    return subprocess.run(
        shell_command(*commands),
        shell=True,
        cwd=str(cwd),
        capture_output=True,
        text=True,
        env=cli_env() if env is None else env,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def json_lines(text: str) -> List[str]:
    """The non-empty lines of ``text``."""
    return [line for line in text.splitlines() if line.strip()]
