"""The SQLite suite of ``make bench``: our SQLite backend against litequeue and persist-queue.

Every measurement runs in its own child process and its own fresh temporary folder, through the
worker ``bench/_sqlite_workload.py``. Each peer runs on the interpreter of its own venv, created
and filled from PyPI on first use: ``bench/.venv-litequeue`` (Python 3.12, which its newest
release needs) and ``bench/.venv-persist-queue`` (this interpreter). Ours runs on this
interpreter at ``durable=True`` and ``durable=False``, and on the litequeue venv's Python 3.12 at
``durable=False``, so that each peer is compared with ours at the same ``synchronous`` level and
on the same Python. The table goes to standard output and, with the date, the Python versions,
the machine, the commit and the command, to ``bench/results/sqlite.md``. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from _report import MachineFacts, Workload, machine_facts
from _runner import (
    ROOT,
    Config,
    Job,
    ResultHook,
    Worker,
    checkout_version,
    command_line,
    publish,
    run_plan,
)
from _sqlite_report import (
    COLUMNS,
    LITE,
    OURS_312,
    OURS_FULL,
    OURS_NORMAL,
    PERSIST,
    Observed,
    Report,
    Targets,
    render_notes,
    render_table,
)
from _venv import Package, ensure_venv, find_python

BENCH = os.path.join(ROOT, "bench")
SCRIPT = "bench/sqlite_run.py"
WORKER = Worker(os.path.join(BENCH, "_sqlite_workload.py"), duplicates_key="duplicated")
DEFAULT_OUTPUT = os.path.join(BENCH, "results", "sqlite.md")
LITEQUEUE = Package("litequeue", "0.14", "litequeue")
PERSIST_QUEUE = Package("persist-queue", "1.1.0", "persistqueue")
#: The Python minor version litequeue's pinned release needs.
LITEQUEUE_PYTHON = "3.12"

WORKLOADS = (
    Workload("enqueue", "enqueue", 1, "enqueue: N x add", None),
    Workload("drain1", "drain1", 1, "drain: receive(1) + delete", None),
    Workload("drain10", "drain10", 10, "drain: receive(10) + delete_messages", None),
    Workload("concurrency1", "concurrency", 1, "2 producers + 2 consumers, receive(1)", None),
    Workload(
        "concurrency10", "concurrency", 10, "2 producers + 2 consumers, receive(10) (ours)", None
    ),
)
#: Workloads the peers cannot run: they have no batch receive.
_OURS_ONLY = ("drain10", "concurrency10")
#: The configurations compared at synchronous=FULL: fsync-bound, and no speed target.
FULL_PAIR = (OURS_FULL, PERSIST)
#: Column headings, before the interpreter's version is added.
HEADINGS = {
    OURS_FULL: "ours FULL",
    PERSIST: "persist-queue FULL",
    OURS_NORMAL: "ours NORMAL",
    OURS_312: "ours NORMAL",
    LITE: "litequeue NORMAL",
}
#: The ``synchronous`` level each configuration must report (equal durability per pair).
EXPECTED_SYNCHRONOUS = {
    OURS_FULL: "FULL",
    PERSIST: "FULL",
    OURS_NORMAL: "NORMAL",
    OURS_312: "NORMAL",
    LITE: "NORMAL",
}


class Interpreter(NamedTuple):
    """What a configuration's interpreter is."""

    implementation: str
    version: str
    sqlite: str

    @property
    def minor(self) -> str:
        """``3.12`` of ``3.12.1``."""
        return ".".join(self.version.split(".")[:2])

    def __str__(self) -> str:
        return f"{self.implementation} {self.version} (SQLite {self.sqlite})"


class Setup(NamedTuple):
    """The configurations to measure, and how to describe them."""

    configs: Dict[str, Config]
    #: label -> column heading (library, synchronous level, Python).
    headings: Dict[str, str]
    interpreters: Dict[str, Interpreter]


# -- command line -----------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """The suite's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--n",
        type=int,
        action="append",
        help="a size every library runs; repeatable (default 1000 and 5000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; best counts")
    parser.add_argument(
        "--full-repeat",
        type=int,
        default=2,
        help="runs per single-process measurement of the FULL pair (fsync-bound, no speed target)",
    )
    parser.add_argument(
        "--big-n", type=int, default=100000, help="ours only, NORMAL; 0 skips (default 100000)"
    )
    parser.add_argument("--big-repeat", type=int, default=1, help="runs per big-N measurement")
    parser.add_argument(
        "--big-cap",
        type=float,
        default=150.0,
        help="seconds a big-N phase may run before it stops and reports what it did; 0: none",
    )
    parser.add_argument(
        "--big-concurrency", action="store_true", help="run the concurrency rows at big N too"
    )
    parser.add_argument(
        "--concurrency-repeat", type=int, default=2, help="runs per concurrency measurement"
    )
    parser.add_argument(
        "--deadline", type=float, default=60.0, help="seconds a concurrency run may last"
    )
    parser.add_argument(
        "--concurrency-batch",
        type=int,
        action="append",
        choices=(1, 10),
        help="consumers' receive size; repeatable (default 1; 10 runs ours only)",
    )
    parser.add_argument("--target-n", type=int, default=5000, help="N of the litequeue targets")
    parser.add_argument("--skip-peers", action="store_true", help="measure this library only")
    parser.add_argument("--python312", default=None, help="a Python 3.12 for litequeue")
    parser.add_argument("--litequeue-venv", default=os.path.join(BENCH, ".venv-litequeue"))
    parser.add_argument("--persist-queue-venv", default=os.path.join(BENCH, ".venv-persist-queue"))
    parser.add_argument("--output", default=None, help=f"results file (default {DEFAULT_OUTPUT})")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: N=200, 1 run, no big N, no results file"
    )
    args = parser.parse_args(argv)
    args.n = sorted(set(args.n or [1000, 5000]))
    repeats = (args.repeat, args.full_repeat, args.big_repeat, args.concurrency_repeat)
    if min(args.n) < 2 or args.big_n < 0 or min(repeats) < 1:
        parser.error("--n must be at least 2, --big-n at least 0, and repeats at least 1")
    if args.quick:
        args.n, args.big_n = [200], 0
        args.repeat = args.full_repeat = args.concurrency_repeat = 1
    args.concurrency_batch = sorted(set(args.concurrency_batch or [1]))
    return args


# -- planning ---------------------------------------------------------------------------------


def make_setup(args: argparse.Namespace) -> Setup:
    """The configurations, their interpreters and their column headings."""
    configs = ours_configs()
    if not args.skip_peers:
        configs.update(peer_configs(args))
    interpreters = {label: interpreter(config.python) for label, config in configs.items()}
    headings = {label: f"{HEADINGS[label]} py{interpreters[label].minor}" for label in configs}
    for label in COLUMNS:
        headings.setdefault(label, label)
    return Setup(configs, headings, interpreters)


def ours_configs() -> Dict[str, Config]:
    """Ours on this interpreter at both durabilities, with ``PYTHONPATH`` set to the checkout."""
    env, library = ours_env(), os.path.join(ROOT, "pyqueue_client")
    return {
        OURS_FULL: Config(OURS_FULL, "ours", True, sys.executable, env, library),
        OURS_NORMAL: Config(OURS_NORMAL, "ours", False, sys.executable, env, library),
    }


def peer_configs(args: argparse.Namespace) -> Dict[str, Config]:
    """The peers in their venvs (made when needed), and ours on litequeue's interpreter."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    persist_python = ensure_venv(args.persist_queue_venv, PERSIST_QUEUE, sys.executable)
    persist_venv = os.path.abspath(args.persist_queue_venv)
    lite_base = find_python(LITEQUEUE_PYTHON, args.python312)
    lite_python = ensure_venv(args.litequeue_venv, LITEQUEUE, lite_base)
    lite_venv = os.path.abspath(args.litequeue_venv)
    library = os.path.join(ROOT, "pyqueue_client")
    return {
        PERSIST: Config(PERSIST, "persist-queue", True, persist_python, env, persist_venv),
        LITE: Config(LITE, "litequeue", False, lite_python, env, lite_venv),
        OURS_312: Config(OURS_312, "ours", False, lite_python, ours_env(), library),
    }


def ours_env() -> Dict[str, str]:
    """This environment with the checkout first on ``PYTHONPATH``."""
    return dict(os.environ, PYTHONPATH=ROOT)


def interpreter(python: str) -> Interpreter:
    """The implementation, Python version and SQLite version of an interpreter."""
    probe = (
        "import platform, sqlite3; print(platform.python_implementation(),"
        " platform.python_version(), sqlite3.sqlite_version)"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    implementation, version, sqlite = done.stdout.split()
    return Interpreter(implementation, version, sqlite)


def selected_workloads(args: argparse.Namespace) -> List[Workload]:
    """The single-process workloads plus the concurrency rows the options ask for."""
    keys = ["enqueue", "drain1", "drain10"]
    keys += [f"concurrency{batch}" for batch in args.concurrency_batch]
    return [workload for workload in WORKLOADS if workload.key in keys]


def runs_workload(config: Config, workload: Workload) -> bool:
    """Whether a configuration runs a workload (the peers have no batch receive)."""
    return config.impl == "ours" or workload.key not in _OURS_ONLY


def repeats_of(args: argparse.Namespace, workload: Workload, config: Config) -> int:
    """How many runs a measurement gets at the small sizes."""
    if workload.phase == "concurrency":
        return int(args.concurrency_repeat)
    return int(args.full_repeat if config.label in FULL_PAIR else args.repeat)


def make_plan(args: argparse.Namespace, configs: Dict[str, Config]) -> List[Job]:
    """Every job in run order: each N's enqueue before the drains that copy its queue."""
    plan = []
    ordered = [configs[label] for label in COLUMNS if label in configs]
    for n in args.n:
        for workload in selected_workloads(args):
            budget = args.deadline if workload.phase == "concurrency" else 0.0
            plan += [
                Job(workload, n, config, repeats_of(args, workload, config), budget)
                for config in ordered
                if runs_workload(config, workload)
            ]
    if args.big_n > 0:
        for workload in selected_workloads(args):
            if workload.phase == "concurrency" and not args.big_concurrency:
                continue
            budget = args.deadline if workload.phase == "concurrency" else args.big_cap
            plan.append(Job(workload, args.big_n, configs[OURS_NORMAL], args.big_repeat, budget))
    return plan


# -- observing --------------------------------------------------------------------------------


def observer(observed: Observed) -> ResultHook:
    """A result hook that records every run and refuses a run at the wrong durability."""

    def on_result(job: Job, result: Dict[str, Any]) -> None:
        key = (job.workload.key, job.n, job.config.label)
        observed.rates.setdefault(key, []).append(float(result["msgs_per_s"]))
        if job.workload.phase == "concurrency":
            observed.checks.setdefault(key, []).append(result)
        if "synchronous" in result:
            check_durability(job.config.label, result)
            facts = {name: str(result[name]) for name in ("synchronous", "journal_mode")}
            observed.facts[job.config.label] = dict(facts, version=str(result["version"]))

    return on_result


def check_durability(label: str, result: Dict[str, Any]) -> None:
    """Refuse a result whose connection ran at another durability than its pair's."""
    expected = EXPECTED_SYNCHRONOUS[label]
    if result["synchronous"] != expected or result["journal_mode"] != "wal":
        raise RuntimeError(
            f"{label} ran at synchronous={result['synchronous']},"
            f" journal_mode={result['journal_mode']}; expected {expected} and wal"
        )


# -- reporting --------------------------------------------------------------------------------


def settings_text(args: argparse.Namespace) -> str:
    """What was measured, in one paragraph."""
    sizes = " and ".join(f"{n:,}" for n in args.n)
    parts = [
        f"N={sizes}: best of {args.repeat} run(s) each ({args.full_repeat} for the FULL pair),"
        " the configurations taking turns",
        f"concurrency: {args.concurrency_repeat} run(s) each, capped at {args.deadline:g} s",
    ]
    if args.big_n > 0:
        cap = f"capped at {args.big_cap:g} s per phase" if args.big_cap > 0 else "no cap"
        rows = "" if args.big_concurrency else ", no concurrency row"
        parts.append(f"N={args.big_n:,}: {OURS_NORMAL} only, {args.big_repeat} run(s), {cap}{rows}")
    return (
        "; ".join(parts)
        + ". Bodies are dicts of ~100 bytes of JSON; ours receives with a visibility timeout of"
        " 30 s."
    )


def durability_text(observed: Observed) -> str:
    """Each configuration's synchronous level and journal mode, as its connection reported."""
    parts = []
    for label in COLUMNS:
        facts = observed.facts.get(label)
        if facts is not None:
            parts.append(
                f"{label} (version {facts['version']}): synchronous={facts['synchronous']},"
                f" journal_mode={facts['journal_mode']}"
            )
    return "; ".join(parts) or "not reported"


def results_document(
    args: argparse.Namespace,
    command: str,
    setup: Setup,
    observed: Observed,
    moments: Sequence[MachineFacts],
    table: str,
    notes: str,
) -> str:
    """The results file: circumstances, the table, the footnotes."""
    before, after = moments
    pythons = "; ".join(f"{label}: {found}" for label, found in setup.interpreters.items())
    lines = [
        "# SQLite queue vs litequeue and persist-queue",
        "",
        f"- Date: {before.date}",
        f"- Command: {command}",
        f"- Library measured: this checkout, {checkout_version()} (at the start of the run)",
        f"- Peers: {LITEQUEUE.requirement} in `bench/.venv-litequeue`,"
        f" {PERSIST_QUEUE.requirement} in `bench/.venv-persist-queue`",
        f"- Python: {pythons}",
        f"- Durability, as each library's own connection reported it: {durability_text(observed)}",
        f"- Machine: {before.cores} cores, {before.cpu}",
        f"- Load average (1/5/15 min): {before.load} at start, {after.load} at end"
        " (the machine is shared, so numbers are noisy)",
        f"- Settings: {settings_text(args)}",
        "",
        table,
        "",
        "msgs/s = N / wall seconds of the timed part. Each peer is compared with ours at its own"
        f" `synchronous` level and on its own Python: {PERSIST} (FULL, the SQLite default it"
        f" keeps) with ours `durable=True`, {LITE} (it sets NORMAL) with ours `durable=False` on"
        " the same Python 3.12. How each workload maps onto each library's API:"
        " `bench/README.md`.",
        "",
        notes,
        "",
    ]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the suite, print the table, write the results file; 0 on success."""
    args = parse_args(argv)
    started = time.perf_counter()
    before = machine_facts()
    setup = make_setup(args)
    plan = make_plan(args, setup.configs)
    observed = Observed()
    with tempfile.TemporaryDirectory(prefix="pyqueue-bench-sqlite-") as scratch:
        results = run_plan(plan, scratch, WORKER, observer(observed), interleave=True)
    after = machine_facts()
    report = Report(
        workloads=selected_workloads(args),
        sizes=args.n,
        big_n=args.big_n,
        results=results,
        headings=setup.headings,
        observed=observed,
        targets=Targets(n=args.target_n),
    )
    table, notes = render_table(report), render_notes(report)
    command = command_line(argv, SCRIPT)
    publish(
        args,
        DEFAULT_OUTPUT,
        table,
        notes,
        lambda: results_document(args, command, setup, observed, (before, after), table, notes),
        started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
