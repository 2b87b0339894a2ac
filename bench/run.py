"""``make bench``: the local JSON queue against the original ``pyqueue-client==1.2.1``.

Every measurement runs in its own child process and its own fresh temporary folder: this
checkout's library with ``PYTHONPATH`` set to the checkout, the original with the interpreter of
its own venv (``bench/.venv-original``, created and filled from PyPI on first use). Both run the
same worker, ``bench/_workload.py``. The table goes to standard output and, with the date, the
machine and the command, to ``bench/results/local-json.md``. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from _report import (
    ORIGINAL,
    OURS_OFF,
    OURS_ON,
    Delivery,
    MachineFacts,
    Results,
    Summary,
    Workload,
    machine_facts,
    render_details,
    render_table,
)
from _venv import ORIGINAL_REQUIREMENT, ensure_original_venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
WORKER = os.path.join(BENCH, "_workload.py")
DEFAULT_VENV = os.path.join(BENCH, ".venv-original")
DEFAULT_OUTPUT = os.path.join(BENCH, "results", "local-json.md")

WORKLOADS = (
    Workload("enqueue", "enqueue", 1, "enqueue: N x add_message", 10.0),
    Workload("drain1", "drain1", 1, "drain: receive(1) + delete_message", 5.0),
    Workload("drain10", "drain10", 10, "drain: receive(10) + delete_messages", 10.0),
    Workload("concurrency10", "concurrency", 10, "2 producers + 2 consumers, receive(10)", None),
    Workload("concurrency1", "concurrency", 1, "2 producers + 2 consumers, receive(1)", None),
)

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
    #: The folder the worker must report as the imported ``pyqueue_client`` (guards mix-ups).
    library_prefix: str


class Job(NamedTuple):
    """One workload at one N for one configuration, repeated; the best run counts."""

    workload: Workload
    n: int
    config: Config
    repeat: int
    budget: float


# -- command line -----------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1000, help="messages per workload (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; best counts")
    parser.add_argument(
        "--big-n", type=int, default=10000, help="ours only, fsync off; 0 skips (default 10000)"
    )
    parser.add_argument("--big-durable", action="store_true", help="big N with fsync on as well")
    parser.add_argument("--big-repeat", type=int, default=1, help="runs per big-N measurement")
    parser.add_argument(
        "--big-cap",
        type=float,
        default=15.0,
        help="seconds each big-N phase may run before it stops and reports what it did; 0: none",
    )
    parser.add_argument(
        "--deadline", type=float, default=60.0, help="seconds a concurrency run may last"
    )
    parser.add_argument(
        "--concurrency-batch",
        type=int,
        action="append",
        choices=(1, 10),
        help="receive size of the concurrency consumers; repeatable (default 10)",
    )
    parser.add_argument("--skip-original", action="store_true", help="measure this library only")
    parser.add_argument("--venv", default=DEFAULT_VENV, help="the original library's venv")
    parser.add_argument("--output", default=None, help=f"results file (default {DEFAULT_OUTPUT})")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: N=200, 1 run, no big N, no results file"
    )
    args = parser.parse_args(argv)
    if args.n < 2 or args.big_n < 0 or min(args.repeat, args.big_repeat) < 1:
        parser.error("--n must be at least 2, --big-n at least 0, and repeats at least 1")
    if args.quick:
        args.n, args.repeat, args.big_n = 200, 1, 0
    args.concurrency_batch = sorted(set(args.concurrency_batch or [10]), reverse=True)
    return args


# -- planning ---------------------------------------------------------------------------------


def make_configs(args: argparse.Namespace) -> Dict[str, Config]:
    """The configurations to measure, by label; creates the original's venv when needed."""
    ours_env = dict(os.environ, PYTHONPATH=ROOT)
    library = os.path.join(ROOT, "pyqueue_client")
    configs = {
        OURS_ON: Config(OURS_ON, "ours", True, sys.executable, ours_env, library),
        OURS_OFF: Config(OURS_OFF, "ours", False, sys.executable, ours_env, library),
    }
    if not args.skip_original:
        python = ensure_original_venv(args.venv)
        original_env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        venv = os.path.abspath(args.venv)
        configs[ORIGINAL] = Config(ORIGINAL, "original", False, python, original_env, venv)
    return configs


def selected_workloads(args: argparse.Namespace) -> List[Workload]:
    """The single-process workloads plus the concurrency rows the options ask for."""
    keys = ["enqueue", "drain1", "drain10"]
    keys += [f"concurrency{batch}" for batch in args.concurrency_batch]
    return [workload for workload in WORKLOADS if workload.key in keys]


def make_plan(args: argparse.Namespace, configs: Dict[str, Config]) -> List[Job]:
    """Every job in run order: all of N first (enqueue before the drains that reuse its file)."""
    plan = []
    for workload in selected_workloads(args):
        budget = args.deadline if workload.phase == "concurrency" else 0.0
        plan += [Job(workload, args.n, configs[label], args.repeat, budget) for label in configs]
    if args.big_n > 0:
        labels = [OURS_ON, OURS_OFF] if args.big_durable else [OURS_OFF]
        for workload in selected_workloads(args):
            budget = args.big_cap
            if workload.phase == "concurrency" and budget <= 0:
                budget = args.deadline
            for label in labels:
                plan.append(Job(workload, args.big_n, configs[label], args.big_repeat, budget))
    return plan


# -- running ----------------------------------------------------------------------------------


def run_plan(plan: Sequence[Job], scratch: str) -> Results:
    """Run every job; the results keyed by (workload key, N, configuration label)."""
    results: Results = {}
    for job in plan:
        runs = [run_once(job, scratch, index) for index in range(job.repeat)]
        results[(job.workload.key, job.n, job.config.label)] = summarize(runs, job.budget)
    return results


def run_once(job: Job, scratch: str, index: int) -> Dict[str, Any]:
    """One run of a job in a fresh folder; returns the worker's JSON result."""
    folder = tempfile.mkdtemp(prefix=f"{job.workload.key}-", dir=scratch)
    try:
        result = call_worker(job, folder, template_path(scratch, job))
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


def template_path(scratch: str, job: Job) -> str:
    """A filled queue file per library and N, written by enqueue and copied by the drains."""
    return os.path.join(scratch, f"template-{job.config.impl}-{job.n}.json")


def call_worker(job: Job, folder: str, template: str) -> Dict[str, Any]:
    """Run ``_workload.py`` for ``job`` with the configuration's interpreter."""
    command = [job.config.python, WORKER, job.workload.phase, "--dir", folder]
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


def summarize(runs: Sequence[Dict[str, Any]], cap: float) -> Summary:
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
    if "duplicates" not in best:
        return summary
    worst = max(runs, key=lambda run: int(run["duplicates"]) + int(run["lost"]))
    delivery = Delivery(
        delivered=int(worst["processed"]),
        duplicates=int(worst["duplicates"]),
        lost=int(worst["lost"]),
        remaining=None if worst["remaining"] is None else int(worst["remaining"]),
        errors=int(worst["errors"]),
        stuck=bool(worst.get("stuck")),
    )
    return summary._replace(delivery=delivery)


def log(text: str) -> None:
    """Progress, to standard error so the table on standard output stays clean."""
    print(f"bench: {text}", file=sys.stderr, flush=True)


# -- reporting --------------------------------------------------------------------------------


def command_line(argv: Optional[Sequence[str]]) -> str:
    """The command that reproduces this run, from the checkout root, in markdown."""
    words = list(sys.argv[1:] if argv is None else argv)
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT) else "python"
    command = f"`{shlex.join([python, 'bench/run.py', *words])}`"
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


def settings_text(args: argparse.Namespace) -> str:
    """What was measured, in one paragraph."""
    parts = [
        f"N={args.n:,}: best of {args.repeat} run(s) each",
        f"concurrency runs capped at {args.deadline:g} s",
    ]
    if args.big_n > 0:
        cap = f"capped at {args.big_cap:g} s per phase" if args.big_cap > 0 else "no cap"
        durabilities = "fsync on and off" if args.big_durable else "fsync off"
        parts.append(
            f"N={args.big_n:,}: ours only, {durabilities}, {args.big_repeat} run(s), {cap}"
        )
    return "; ".join(parts) + ". Bodies are dicts of ~100 bytes of JSON; visibility timeout 30 s."


def results_document(
    args: argparse.Namespace,
    command: str,
    version: str,
    before: MachineFacts,
    after: MachineFacts,
    table: str,
    details: str,
) -> str:
    """The results file: circumstances, the table, the footnotes."""
    lines = [
        f"# Local JSON queue vs {ORIGINAL_REQUIREMENT}",
        "",
        f"- Date: {before.date}",
        f"- Command: {command}",
        f"- Library measured: this checkout, {version} (at the start of the run)",
        f"- Python: {before.python} (both libraries; the original from its own venv)",
        f"- Machine: {before.cores} cores, {before.cpu}",
        f"- Load average (1/5/15 min): {before.load} at start, {after.load} at end"
        " (the machine is shared, so numbers are noisy)",
        f"- Settings: {settings_text(args)}",
        "",
        table,
        "",
        "msgs/s = N / wall seconds of the timed part. Ratios and targets compare at the same"
        " durability: the original never fsyncs, so the targets use ours with fsync off."
        " How each workload is adapted to the original's API: `bench/README.md`.",
        "",
        details,
        "",
    ]
    return "\n".join(lines)


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = path + ".tmp"
    with open(temp, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temp, path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark, print the table, write the results file; 0 on success."""
    args = parse_args(argv)
    started = time.perf_counter()
    before = machine_facts()
    version = checkout_version()
    configs = make_configs(args)
    plan = make_plan(args, configs)
    with tempfile.TemporaryDirectory(prefix="pyqueue-bench-") as scratch:
        results = run_plan(plan, scratch)
    after = machine_facts()
    workloads = selected_workloads(args)
    sizes = [args.n] + ([args.big_n] if args.big_n > 0 else [])
    table = render_table(workloads, sizes, results)
    details = render_details(workloads, sizes, results)
    print(table)
    print()
    print(details)
    output = args.output or (None if args.quick or args.no_write else DEFAULT_OUTPUT)
    if output and not args.no_write:
        command = command_line(argv)
        document = results_document(args, command, version, before, after, table, details)
        write_atomically(output, document)
        log(f"wrote {os.path.relpath(output)}")
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
