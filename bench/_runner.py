"""Runs a suite's jobs: one child process per run, the configurations taking turns.

Every run is the worker script (``_worker.py``) on its configuration's interpreter, in a fresh
temporary folder; its result is refused when it came from another library than the one the
configuration names, or at other settings than it expects. Also here: the environment of the
children, the ``pyqueue serve`` that the remote suite talks to, and the run's circumstances
(interpreters, commit, command).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from _report import Results, Run, Workload, log

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "bench", "_worker.py")

#: Extra seconds a worker may take beyond its own cap before it is killed as hung.
_HANG_MARGIN = 120.0
#: A worker without a cap (a full single-process phase) is killed as hung after this many seconds.
_NO_CAP_LIMIT = 900.0
#: Seconds the server may take to print its URL and key, and to stop after SIGTERM.
_SERVER_SECONDS = 30.0


class Config(NamedTuple):
    """One measured configuration: which library, how set up, on which interpreter."""

    label: str
    python: str
    env: Dict[str, str]
    #: The folder the worker must report as the imported library (guards mix-ups).
    library_prefix: str
    #: The worker's spec for this library: ``impl``, ``durable``, ``queue_type``, the server...
    spec: Dict[str, Any]
    #: Settings every run that reports them must show, e.g. ``("synchronous", "FULL")``.
    expect: Tuple[Tuple[str, str], ...] = ()


class Job(NamedTuple):
    """One workload at one N for one configuration, repeated; the best run counts."""

    workload: Workload
    n: int
    config: Config
    repeat: int
    budget: float
    threads: int = 1
    duration: float = 0.0


def worker_env(pythonpath: Optional[str]) -> Dict[str, str]:
    """This environment with ``PYTHONPATH`` set to ``pythonpath`` (or unset, for a compared
    library's venv) and without proxies (a remote run's traffic stays on 127.0.0.1)."""
    dropped = {"http_proxy", "https_proxy", "all_proxy", "pythonpath"}
    env = {key: value for key, value in os.environ.items() if key.lower() not in dropped}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def run_plan(plan: Sequence[Job], scratch: str) -> Results:
    """Run every job; consecutive jobs of one workload and N take turns (run 1 of each, then
    run 2 of each, ...), so that a change in the machine's load falls on all of them alike."""
    results: Results = {}
    groups: List[List[Job]] = []
    for job in plan:
        if groups and (groups[-1][0].workload, groups[-1][0].n) == (job.workload, job.n):
            groups[-1].append(job)
        else:
            groups.append([job])
    for group in groups:
        for index in range(max(job.repeat for job in group)):
            for job in group:
                if index < job.repeat:
                    key = (job.workload.key, job.n, job.config.label)
                    results.setdefault(key, []).append(run_once(job, scratch, index))
    return results


def run_once(job: Job, scratch: str, index: int) -> Run:
    """One run of a job in a fresh folder; the worker's checked JSON result."""
    folder = tempfile.mkdtemp(prefix=f"{job.workload.key}-", dir=scratch)
    template = f"template-{job.config.label.replace(' ', '-')}-{job.n}"
    spec = dict(job.config.spec, phase=job.workload.phase, dir=folder, n=job.n, index=0)
    spec.update(batch=job.workload.batch, budget=job.budget, threads=job.threads)
    spec.update(duration=job.duration, template=os.path.join(scratch, template))
    command = [job.config.python, WORKER, json.dumps(spec)]
    limit = job.budget + _HANG_MARGIN if job.budget > 0 else _NO_CAP_LIMIT
    try:
        done = subprocess.run(
            command,
            env=job.config.env,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if done.returncode != 0 or not done.stdout.strip():
        shown = shlex.join(command)
        raise RuntimeError(f"worker failed ({done.returncode}): {shown}\n{done.stderr[-4000:]}")
    result: Run = json.loads(done.stdout.strip().splitlines()[-1])
    check_result(job.config, result)
    early = ", stopped early" if result["partial"] else ""
    shown = result.get("summary") or f"{result['msgs_per_s']:9,.0f} msgs/s"
    log(
        f"{job.config.label:15} {job.workload.key:13} N={job.n:<6} run {index + 1}/{job.repeat}:"
        f" {shown} ({result['seconds']:.2f} s{early})"
    )
    return result


def check_result(config: Config, result: Run) -> None:
    """Refuse a result measured on the wrong library (e.g. an installed copy shadowing ours),
    or at other settings than the configuration's (e.g. another durability than its pair's)."""
    location = os.path.realpath(str(result.get("library", "")))
    expected = os.path.realpath(config.library_prefix)
    if not location.startswith(expected):
        raise RuntimeError(f"{config.label} imported {location}, expected under {expected}")
    facts = result.get("facts") or {}
    for name, value in config.expect if facts else ():
        if facts.get(name) != value:
            raise RuntimeError(f"{config.label} ran at {name}={facts.get(name)}, not {value}")


# -- the server of the remote suite ------------------------------------------------------------


class Server:
    """A ``pyqueue serve`` on 127.0.0.1, a free port and a fresh folder, without fsync.

    ``options`` are the worker's spec keys that reach it (its URL, key and process id); once
    stopped, ``exit_code`` and ``error_lines`` (ERROR lines in its log) say how it ended.
    """

    def __init__(self) -> None:
        self.options: Dict[str, str] = {}
        self.exit_code: Optional[int] = None
        self.error_lines = 0


@contextlib.contextmanager
def serving(scratch: str) -> Iterator[Server]:
    """Start the server, yield it once it has said where it listens, then stop it gracefully
    (SIGTERM, then a kill)."""
    out_path, log_path = os.path.join(scratch, "server.out"), os.path.join(scratch, "server.log")
    command = [sys.executable, "-m", "pyqueue_client", "serve", "--host", "127.0.0.1"]
    command += ["--port", "0", "--data", os.path.join(scratch, "server-data")]
    command += ["--no-fsync", "--log-level", "warning"]
    with open(out_path, "w", encoding="utf-8") as out, open(log_path, "w", encoding="utf-8") as err:
        process = subprocess.Popen(
            command, stdout=out, stderr=err, env=worker_env(ROOT), cwd=scratch
        )
    server = Server()
    try:
        server.options = dict(announced(process, out_path), server_pid=str(process.pid))
        log(f"server listening on {server.options['server']}")
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            server.exit_code = process.wait(_SERVER_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            server.exit_code = process.wait(_SERVER_SECONDS)
        with open(log_path, encoding="utf-8", errors="replace") as server_log:
            server.error_lines = sum(1 for line in server_log if " ERROR " in line)


def announced(process: subprocess.Popen[bytes], out_path: str) -> Dict[str, str]:
    """The URL and admin key that the server prints (and flushes) on start-up."""
    stop_at = time.monotonic() + _SERVER_SECONDS
    while time.monotonic() < stop_at and process.poll() is None:
        with open(out_path, encoding="utf-8") as out:
            text = out.read()
        url = re.search(r"^PyQueue server listening on (http://127\.0\.0\.1:\S+)$", text, re.M)
        key = re.search(r"^API key.*: (\S+)$", text, re.M)
        if url and key:
            return {"server": url.group(1), "key": key.group(1)}
        time.sleep(0.05)
    raise RuntimeError(f"the server did not say where it listens on 127.0.0.1: see {out_path}")


# -- circumstances ----------------------------------------------------------------------------


def command_line(argv: Optional[Sequence[str]]) -> str:
    """The command that reproduces this run, from the checkout root, in markdown."""
    words = list(sys.argv[1:] if argv is None else argv)
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT) else "python"
    command = f"`{shlex.join([python, 'bench/run.py', *words])}`"
    return f"{command} (what `make bench` runs)" if not words else command


def checkout_version() -> str:
    """The measured checkout's commit, and whether the library had uncommitted changes."""

    def git(*words: str) -> str:
        done = subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        commit, changed = (
            git("rev-parse", "--short", "HEAD"),
            git("status", "--porcelain", "--", "pyqueue_client"),
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"commit {commit}" + (" with uncommitted library changes" if changed else "")


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temp = path + ".tmp"
    with open(temp, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temp, path)
