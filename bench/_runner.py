"""What both suites' command lines share: configurations, jobs, worker processes, best-of-N.

Every measurement runs in its own child process (a worker script run by the configuration's
interpreter) and its own fresh temporary folder; this module plans nothing itself, it runs the
jobs a suite hands it, checks that each result came from the library it expected, and keeps the
best of the repeats. It also knows the run's circumstances (commit, command) and writes the
results file.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from _report import Delivery, Results, Summary, Workload

__all__ = [
    "ROOT",
    "Config",
    "Job",
    "Worker",
    "checkout_version",
    "command_line",
    "log",
    "run_plan",
    "summarize",
    "write_atomically",
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Extra seconds a worker may take beyond its own cap before it is killed as hung.
_HANG_MARGIN = 120.0
#: A worker without a cap (a full single-process phase) is killed as hung after this many seconds.
_NO_CAP_LIMIT = 900.0


class Config(NamedTuple):
    """One measured configuration: which library, which durability, which interpreter."""

    label: str
    impl: str
    durable: bool
    python: str
    env: Dict[str, str]
    #: The folder the worker must report as the imported library (guards mix-ups).
    library_prefix: str


class Job(NamedTuple):
    """One workload at one N for one configuration, repeated; the best run counts."""

    workload: Workload
    n: int
    config: Config
    repeat: int
    budget: float


class Worker(NamedTuple):
    """A suite's worker script, and how its results are read."""

    script: str
    #: Appended to the filled-queue template's name (``template-<impl>-<N>``).
    template_suffix: str = ""
    #: The result key counted as duplicates in the exactly-once check.
    duplicates_key: str = "duplicates"


#: Called with each job and each of its results, after the library check (e.g. more checks).
ResultHook = Callable[[Job, Dict[str, Any]], None]


def run_plan(
    plan: Sequence[Job],
    scratch: str,
    worker: Worker,
    on_result: Optional[ResultHook] = None,
    interleave: bool = False,
) -> Results:
    """Run every job; the results keyed by (workload key, N, configuration label).

    By default each job's repeats run back to back. With ``interleave``, consecutive jobs of the
    same workload and N take turns (run 1 of each, then run 2 of each, ...), so that a change in
    the machine's load falls on every configuration alike.
    """
    runs: Dict[Tuple[str, int, str], List[Dict[str, Any]]] = {}
    groups = _turns(plan) if interleave else [[job] for job in plan]
    for group in groups:
        for index in range(max(job.repeat for job in group)):
            for job in group:
                if index < job.repeat:
                    result = run_once(job, scratch, index, worker)
                    if on_result is not None:
                        on_result(job, result)
                    runs.setdefault(_key(job), []).append(result)
    return {
        _key(job): summarize(runs[_key(job)], job.budget, worker.duplicates_key) for job in plan
    }


def _key(job: Job) -> Tuple[str, int, str]:
    return (job.workload.key, job.n, job.config.label)


def _turns(plan: Sequence[Job]) -> List[List[Job]]:
    """Consecutive jobs of one workload and N, grouped to take turns."""
    groups: List[List[Job]] = []
    for job in plan:
        if groups and (groups[-1][0].workload, groups[-1][0].n) == (job.workload, job.n):
            groups[-1].append(job)
        else:
            groups.append([job])
    return groups


def run_once(job: Job, scratch: str, index: int, worker: Worker) -> Dict[str, Any]:
    """One run of a job in a fresh folder; returns the worker's JSON result."""
    folder = tempfile.mkdtemp(prefix=f"{job.workload.key}-", dir=scratch)
    try:
        result = call_worker(job, folder, template_path(scratch, job, worker), worker)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    check_library(job, result)
    log(
        f"{job.config.label:15} {job.workload.key:13} N={job.n:<6} run {index + 1}/{job.repeat}: "
        f"{result['msgs_per_s']:9,.0f} msgs/s ({result['seconds']:.2f} s"
        + (", capped" if result.get("partial") else "")
        + ")"
    )
    return result


def template_path(scratch: str, job: Job, worker: Worker) -> str:
    """A filled queue per library and N, written by enqueue and copied by the drains."""
    return os.path.join(scratch, f"template-{job.config.impl}-{job.n}{worker.template_suffix}")


def call_worker(job: Job, folder: str, template: str, worker: Worker) -> Dict[str, Any]:
    """Run the worker script for ``job`` with the configuration's interpreter."""
    command = [job.config.python, worker.script, job.workload.phase, "--dir", folder]
    command += ["--n", str(job.n), "--impl", job.config.impl]
    command += ["--durable", str(int(job.config.durable)), "--batch", str(job.workload.batch)]
    command += ["--budget", str(job.budget), "--template", template]
    limit = job.budget + _HANG_MARGIN if job.budget > 0 else _NO_CAP_LIMIT
    done = subprocess.run(
        command,
        env=job.config.env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=limit,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(
            f"worker failed ({done.returncode}): {shlex.join(command)}\n{done.stderr[-4000:]}"
        )
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def check_library(job: Job, result: Dict[str, Any]) -> None:
    """Refuse a result measured on the wrong library (e.g. an installed copy shadowing ours)."""
    location = os.path.realpath(str(result.get("library", "")))
    expected = os.path.realpath(job.config.library_prefix)
    if not location.startswith(expected):
        raise RuntimeError(f"{job.config.label} imported {location}, expected under {expected}")


def summarize(
    runs: Sequence[Dict[str, Any]], cap: float, duplicates_key: str = "duplicates"
) -> Summary:
    """The best run by msgs/s; for concurrency, the worst duplicate/lost counts of all runs."""
    best = max(runs, key=lambda run: float(run["msgs_per_s"]))
    summary = Summary(
        msgs_per_s=float(best["msgs_per_s"]),
        processed=int(best["processed"]),
        partial=bool(best["partial"]),
        runs=len(runs),
        seconds=float(best["seconds"]),
        cap=cap,
    )
    if duplicates_key not in best:
        return summary
    worst = max(runs, key=lambda run: int(run[duplicates_key]) + int(run["lost"]))
    delivery = Delivery(
        delivered=int(worst["processed"]),
        duplicates=int(worst[duplicates_key]),
        lost=int(worst["lost"]),
        remaining=None if worst["remaining"] is None else int(worst["remaining"]),
        errors=int(worst["errors"]),
        stuck=bool(worst.get("stuck")),
    )
    return summary._replace(delivery=delivery)


def log(text: str) -> None:
    """Progress, to standard error so the table on standard output stays clean."""
    print(f"bench: {text}", file=sys.stderr, flush=True)


def command_line(argv: Optional[Sequence[str]], script: str) -> str:
    """The command that reproduces this run, from the checkout root, in markdown."""
    words = list(sys.argv[1:] if argv is None else argv)
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT) else "python"
    command = f"`{shlex.join([python, script, *words])}`"
    return f"{command} (what `make bench` runs)" if not words else command


def checkout_version() -> str:
    """The measured checkout's commit, and whether the library had uncommitted changes."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        changed = _git("status", "--porcelain", "--", "pyqueue_client")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"commit {commit}" + (" with uncommitted library changes" if changed else "")


def _git(*words: str) -> str:
    """A read-only git query in the checkout."""
    done = subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = path + ".tmp"
    with open(temp, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temp, path)


def publish(
    args: Any,
    default_output: str,
    table: str,
    notes: str,
    document: Callable[[], str],
    started: float,
) -> None:
    """Print the table and its notes; write ``document()`` to the results file unless the run
    is a smoke run (``--quick``) or ``--no-write`` was given; log how long the suite took."""
    print(table)
    print()
    print(notes)
    output = args.output or (None if args.quick or args.no_write else default_output)
    if output and not args.no_write:
        write_atomically(output, document())
        log(f"wrote {os.path.relpath(output)}")
    log(f"done in {time.perf_counter() - started:.0f} s")
