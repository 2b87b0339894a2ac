"""The local JSON suite of ``make bench``: the local JSON queue against ``pyqueue-client==1.2.1``.

Every measurement runs in its own child process and its own fresh temporary folder: this
checkout's library with ``PYTHONPATH`` set to the checkout, the original with the interpreter of
its own venv (``bench/.venv-original``, created and filled from PyPI on first use). Both run the
same worker, ``bench/_workload.py``. The table goes to standard output and, with the date, the
machine and the command, to ``bench/results/local-json.md``. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from _report import (
    ORIGINAL,
    OURS_OFF,
    OURS_ON,
    MachineFacts,
    Workload,
    machine_facts,
    render_details,
    render_table,
)
from _runner import (
    ROOT,
    Config,
    Job,
    Worker,
    checkout_version,
    command_line,
    publish,
    run_plan,
)
from _venv import ORIGINAL_REQUIREMENT, ensure_original_venv

BENCH = os.path.join(ROOT, "bench")
WORKER = Worker(os.path.join(BENCH, "_workload.py"), template_suffix=".json")
DEFAULT_VENV = os.path.join(BENCH, ".venv-original")
DEFAULT_OUTPUT = os.path.join(BENCH, "results", "local-json.md")

WORKLOADS = (
    Workload("enqueue", "enqueue", 1, "enqueue: N x add_message", 10.0),
    Workload("drain1", "drain1", 1, "drain: receive(1) + delete_message", 5.0),
    Workload("drain10", "drain10", 10, "drain: receive(10) + delete_messages", 10.0),
    Workload("concurrency10", "concurrency", 10, "2 producers + 2 consumers, receive(10)", None),
    Workload("concurrency1", "concurrency", 1, "2 producers + 2 consumers, receive(1)", None),
)

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


# -- reporting --------------------------------------------------------------------------------


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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark, print the table, write the results file; 0 on success."""
    args = parse_args(argv)
    started = time.perf_counter()
    before = machine_facts()
    version = checkout_version()
    configs = make_configs(args)
    plan = make_plan(args, configs)
    with tempfile.TemporaryDirectory(prefix="pyqueue-bench-") as scratch:
        results = run_plan(plan, scratch, WORKER)
    after = machine_facts()
    workloads = selected_workloads(args)
    sizes = [args.n] + ([args.big_n] if args.big_n > 0 else [])
    table = render_table(workloads, sizes, results)
    details = render_details(workloads, sizes, results)
    command = command_line(argv, "bench/run.py")
    publish(
        args,
        DEFAULT_OUTPUT,
        table,
        details,
        lambda: results_document(args, command, version, before, after, table, details),
        started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
