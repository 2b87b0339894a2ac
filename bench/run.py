"""The benchmark suites of ``make bench``, each a description of what to compare and check.

``local-json``: the local JSON queue against the library it replaces, ``pyqueue-client==1.2.1``.
``remote``: this checkout's remote client against the original's, on one ``pyqueue serve``, and
a server soak. ``sqlite``: the SQLite backend against ``litequeue`` and ``persist-queue``.
``waiting``: long polling on the local, SQLite and remote backends (wake-up, delays, the idle
cost) and the remote client's batches against one call per message. ``sqs``: the Amazon SQS
backend against boto3 on one moto server (``sqs_suite.py``, its own measurements). Every
measurement is a child process running ``bench/_worker.py`` on its configuration's interpreter
(a compared library runs from its own venv, made on first use). Each suite prints its tables and
writes them, with the circumstances, to ``bench/results/``; a missed target makes the run exit 1
without stopping the other suites. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import traceback
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import _report as report
import _runner as runner
import sqs_suite
import worker_suite
from _phases import PAUSE
from _report import Column, Impl, Results, Suite, Table, Workload, log
from _runner import ROOT, Config, Job, Server
from _venv import LITEQUEUE, ORIGINAL, PERSIST_QUEUE, ensure_venv, find_python

BENCH = os.path.join(ROOT, "bench")


def concurrency(batch: int, suffix: str = "") -> Workload:
    """2 producer and 2 consumer processes, the consumers receiving ``batch`` at a time."""
    title = f"2 producers + 2 consumers, receive({batch}){suffix}"
    return Workload(f"concurrency{batch}", "concurrency", title, batch)


# -- local-json -------------------------------------------------------------------------------

OURS_ON, OURS_OFF, ORIGINAL_LABEL = "ours fsync on", "ours fsync off", "original 1.2.1"

LOCAL_JSON = Suite(
    name="local-json",
    title=f"Local JSON queue vs {ORIGINAL.requirement}",
    results="local-json.md",
    queue_type="local",
    impls=(
        Impl(OURS_ON, "ours", OURS_ON, durable=True),
        Impl(OURS_OFF, "ours", OURS_OFF),
        Impl(ORIGINAL_LABEL, "original", ORIGINAL_LABEL, package=ORIGINAL),
    ),
    workloads=(
        Workload("enqueue", "enqueue", "enqueue: N x add_message"),
        Workload("drain1", "drain1", "drain: receive(1) + delete_message"),
        Workload("drain10", "drain10", "drain: receive(10) + delete_messages", 10),
        concurrency(10),
        concurrency(1),
    ),
    columns=(
        report.title_column("workload"),
        report.SIZE_COLUMN,
        report.rate_column(OURS_ON, " (msgs/s)"),
        report.rate_column(OURS_OFF, " (msgs/s)"),
        report.rate_column(ORIGINAL_LABEL, " (msgs/s)", missing="not run"),
        report.ratio_column(OURS_OFF, ORIGINAL_LABEL, "off / original", 1),
        report.ratio_column(OURS_ON, ORIGINAL_LABEL, "on / original", 1),
        report.target_column("target (fsync off)"),
        report.verdict_column(),
        report.dup_lost_column("dup/lost: on, off, original"),
    ),
    # The original never fsyncs, so its speed is compared with ours at fsync off.
    rules=(
        report.faster(OURS_OFF, ORIGINAL_LABEL, 10.0, ("enqueue", "drain10")),
        report.faster(OURS_OFF, ORIGINAL_LABEL, 5.0, ("drain1",)),
        report.exactly_once((OURS_ON, OURS_OFF)),
    ),
    about="msgs/s = N / wall seconds of the timed part. Ratios and targets compare at the same"
    " durability: the original never fsyncs, so the targets use ours with fsync off. How each"
    " workload is adapted to the original's API: `bench/README.md`.",
    big_n=10000,
    big_cap=15.0,
    big_labels=(OURS_OFF,),
    durable_big_labels=(OURS_ON,),
)

# -- sqlite -----------------------------------------------------------------------------------

OURS_FULL, PERSIST, OURS_NORMAL, OURS_312, LITE = (
    "ours FULL",
    "persist-queue",
    "ours NORMAL",
    "ours NORMAL 3.12",
    "litequeue",
)
FULL = (("synchronous", "FULL"), ("journal_mode", "wal"))
NORMAL = (("synchronous", "NORMAL"), ("journal_mode", "wal"))
#: The peers have no batch receive.
BATCHED = ("drain10", "concurrency10")
SQLITE_OURS = (OURS_FULL, OURS_NORMAL, OURS_312)

# Each peer stands right after the configuration of ours it is compared with: the same
# ``synchronous`` level on the same interpreter.
SQLITE = Suite(
    name="sqlite",
    title="SQLite queue vs litequeue and persist-queue",
    results="sqlite.md",
    queue_type="sqlite",
    impls=(
        Impl(OURS_FULL, "ours", "ours FULL py{py}", True, expect=FULL, fsync_bound=True),
        Impl(
            PERSIST,
            "persist-queue",
            "persist-queue FULL py{py}",
            package=PERSIST_QUEUE,
            expect=FULL,
            skips=BATCHED,
            fsync_bound=True,
        ),
        Impl(OURS_NORMAL, "ours", "ours NORMAL py{py}", expect=NORMAL),
        Impl(OURS_312, "ours", "ours NORMAL py{py}", python="3.12", expect=NORMAL),
        Impl(
            LITE,
            "litequeue",
            "litequeue NORMAL py{py}",
            package=LITEQUEUE,
            python="3.12",
            expect=NORMAL,
            skips=BATCHED,
        ),
    ),
    workloads=(
        Workload("enqueue", "enqueue", "enqueue: N x add"),
        Workload("drain1", "drain1", "drain: receive(1) + delete"),
        Workload("drain10", "drain10", "drain: receive(10) + delete_messages", 10),
        concurrency(1),
        concurrency(10, " (ours)"),
    ),
    columns=(
        report.title_column("workload (msgs/s)"),
        report.SIZE_COLUMN,
        *(report.rate_column(label) for label in (OURS_FULL, PERSIST, OURS_NORMAL, OURS_312, LITE)),
        report.ratio_column(OURS_FULL, PERSIST, f"ours / {PERSIST} (FULL)", 2),
        report.ratio_column(OURS_312, LITE, f"ours / {LITE} (NORMAL)", 2),
        report.target_column("target"),
        report.verdict_column(),
        report.dup_lost_column("dup/lost per column"),
    ),
    rules=(
        report.faster(OURS_312, LITE, 1.5, ("enqueue", "drain1"), name=f" {LITE}"),
        report.no_slowdown(OURS_NORMAL, 2.0),
        report.batch_gain(SQLITE_OURS, 4.0),
        report.exactly_once(SQLITE_OURS),
    ),
    about="msgs/s = N / wall seconds of the timed part. Each peer is compared with ours at its"
    " own `synchronous` level and on its own Python: persist-queue (FULL, the SQLite default it"
    " keeps) with ours `durable=True`, litequeue (it sets NORMAL) with ours `durable=False` on"
    " the same Python 3.12. How each workload maps onto each library's API: `bench/README.md`.",
    notes=(
        "- \u2020 The peers have no batch receive: on the receive(10) rows their column shows"
        " their receive(1) drain (one `pop` + `done`, or one `get` + `ack`, per message), and the"
        " ratio compares ours receive(10) + `delete_messages` with it.",
    ),
    sizes=(1000, 5000),
    big_n=100000,
    big_cap=150.0,
    big_labels=(OURS_NORMAL,),
    durable_big_labels=(OURS_FULL,),
    big_concurrency=False,
    concurrency_batch=(1,),
    concurrency_repeat=2,
    duplicates="duplicated",
    stand_ins=(("drain10", "drain1"),),
    target_n=5000,
)

# -- remote -----------------------------------------------------------------------------------


def soak_section(table: Table, server: Server) -> Tuple[str, bool]:
    """The server table: the mixed load's requests, latency and exactly-once check."""
    run, settings = table.runs("soak", 0, "ours")[0], table.settings
    met = run["clean"] and not server.error_lines and run["seconds"] >= settings.duration
    latency = f"{run['p50_ms']:.1f} / {run['p99_ms']:.1f} / {run['max_ms']:.1f}"
    rows = [
        ["measure", "value"],
        ["clients (threads, one connection each)", str(settings.threads)],
        ["duration (s)", f"{run['seconds']:.1f}"],
        ["requests", f"{run['requests']:,}"],
        ["requests/s", f"{run['requests_per_second']:,.0f}"],
        ["latency p50 / p99 / max (ms)", latency],
        ["messages added", f"{run['n']:,}"],
        ["deleted exactly once", f"{run['delivered'] - run['duplicates']:,}"],
        [
            "duplicates / lost / unexpected",
            f"{run['duplicated']} / {run['lost']} / {run['unexpected']}",
        ],
        ["left in queue at the end", str(run["remaining"])],
        ["client errors / server ERROR log lines", f"{run['errors']} / {server.error_lines}"],
        [
            f"target: {settings.threads} clients, zero errors, exactly once",
            "pass" if met else "FAIL",
        ],
    ]
    about = (
        "Each client thread loops add_message, receive_messages(1), delete_message; every request"
        " is timed at the client. Afterwards one client drains what is left and every added id"
        " must have been received and deleted exactly once, the queue empty. Server exit code"
        f" after SIGTERM: {server.exit_code}."
    )
    heading = "Server under a mixed load from our client"
    return report.section(heading, report.markdown_table(rows), about, ""), met


#: The server of the remote and waiting suites, as the results files describe it.
SERVER = (
    "- Server: `python -m pyqueue_client serve --host 127.0.0.1 --port 0 --no-fsync`, one"
    " server for every run, a fresh queue per run"
)

#: A title part the table fills in with ``--threads``.
THREADS = "{threads} client threads"

REMOTE = Suite(
    name="remote",
    title="Remote client and `pyqueue serve`",
    results="remote.md",
    queue_type="remote",
    impls=(
        Impl("ours", "ours", "ours"),
        Impl(ORIGINAL_LABEL, "original", ORIGINAL_LABEL, package=ORIGINAL),
    ),
    workloads=(
        Workload("add", "enqueue", "add_message, 1 client"),
        Workload("drain", "drain1", "receive(1) + delete_message, 1 client"),
        Workload("add-threads", "enqueue", f"add_message, {THREADS}", threads=0),
        Workload("drain-threads", "drain1", f"receive(1) + delete_message, {THREADS}", threads=0),
        Workload("soak", "mixed", "server soak", threads=0),
    ),
    columns=(
        report.title_column("workload (msgs/s, best run)"),
        report.rate_column("ours"),
        report.rate_column(ORIGINAL_LABEL),
        report.cpu_column("ours"),
        report.cpu_column(ORIGINAL_LABEL),
        report.ratio_column("ours", ORIGINAL_LABEL, "ours / original", 2),
        report.target_column("target"),
        report.verdict_column(),
        report.clean_column("runs exactly once, no errors"),
    ),
    rules=(report.faster("ours", ORIGINAL_LABEL, 2.0, ("add", "drain")),),
    about="msgs/s = N / wall seconds of the timed part; the receive rows drain a queue filled"
    " before the clock starts. Client CPU ms/msg is the client process's own CPU time (all its"
    " threads) per message, the lowest of the runs: the client's cost without the server's. The"
    " last column counts runs with no duplicate, loss, error or leftover.",
    visibility=300,  # far longer than any run, so a redelivery means a bug
    serve=True,
    heading="Clients against the same server",
    circumstances=(SERVER,),
    soak=soak_section,
)

# -- waiting ----------------------------------------------------------------------------------

#: The phases that report percentiles (ms) and the one that reports a CPU share.
LATENCY_PHASES, IDLE_PHASE = ("wakeup", "delayed"), "idle"


def waiting_column(label: str) -> Column:
    """A backend's result in its row's unit: ms p50 / p90 / p99 / max, the waiting process's
    CPU % (and the server's), or msgs/s."""
    rate = report.rate_column(label)

    def cell(table: Table, workload: Workload, n: int) -> str:
        runs = table.runs(workload.key, n, label)
        if not runs or workload.phase not in (*LATENCY_PHASES, IDLE_PHASE):
            return rate.cell(table, workload, n)
        run = runs[0]  # measured once
        if workload.phase == IDLE_PHASE:
            server = run["server_cpu_percent"]
            return f"{run['cpu_percent']:.2f}" + (
                f" (server {server:.2f})" if server is not None else ""
            )
        return " / ".join(f"{run[key]:.1f}" for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms"))

    return Column(rate.heading, cell)


def waiting_notes(table: Table) -> List[str]:
    """Per long-polling row: how long the add call itself took, and messages that came back
    before their delay's end."""
    notes, n = [], table.settings.n[0]
    for workload in table.settings.workloads:
        runs = [
            (label, run) for label in table.labels() for run in table.runs(workload.key, n, label)
        ]
        if workload.phase not in LATENCY_PHASES or not runs:
            continue
        adds = ", ".join(f"{label} {run['add_p50_ms']:.1f} ms" for label, run in runs)
        early = sum(run["early"] for _, run in runs)
        too_soon = (
            f"; returned before the delay's end: {early}" if workload.key == "delayed" else ""
        )
        notes.append(f"- {table.title(workload)}: the add call took (p50) {adds}{too_soon}.")
    return notes


LOCAL, SQLITE_LABEL, REMOTE_LABEL = "local", "sqlite", "remote"
#: The batch rows, remote only.
BATCH_ROWS = ("add1", "add100", "drain1", "drain10")

WAITING = Suite(
    name="waiting",
    title="Long polling and remote batches",
    results="waiting.md",
    queue_type="local",
    impls=(
        Impl(LOCAL, "ours", "local (JSON file)", skips=BATCH_ROWS, queue_type="local"),
        Impl(SQLITE_LABEL, "ours", "sqlite", skips=BATCH_ROWS, queue_type="sqlite"),
        Impl(REMOTE_LABEL, "ours", "remote (pyqueue serve)", queue_type="remote"),
    ),
    workloads=(
        Workload(
            "wakeup",
            "wakeup",
            "wake-up: another process adds; ms p50 / p90 / p99 / max ({rounds} rounds)",
            once=True,
        ),
        Workload(
            "delayed",
            "delayed",
            "delayed {delay:g} s: ms after the delay's end; p50 / p90 / p99 / max"
            " ({delay_rounds} rounds)",
            once=True,
        ),
        Workload("idle", IDLE_PHASE, "idle: one {idle:g} s wait, CPU % of one core", once=True),
        Workload("add1", "enqueue", "add_message, one per call (msgs/s)"),
        Workload("add100", "enqueue", "add_messages, 100 per call (msgs/s)", 100),
        Workload("drain1", "drain1", "receive(1) + delete_message (msgs/s)"),
        Workload("drain10", "drain10", "receive(10) + delete_messages (msgs/s)", 10),
    ),
    columns=(
        report.title_column("measurement"),
        *(waiting_column(label) for label in (LOCAL, SQLITE_LABEL, REMOTE_LABEL)),
        report.target_column("target"),
        report.verdict_column(),
        report.clean_column("runs clean"),
    ),
    run_notes=waiting_notes,
    rules=(
        report.at_most(("wakeup",), (("p50", "p50_ms", 25.0), ("p99", "p99_ms", 100.0)), "ms"),
        report.at_most(("delayed",), (("p99", "p99_ms", 50.0),), "ms"),
        report.at_most((IDLE_PHASE,), (("CPU", "cpu_percent", 2.0),), "%"),
        report.batch_gain((REMOTE_LABEL,), 10.0, "add100", "add1", "one per call"),
        report.batch_gain((REMOTE_LABEL,), 10.0, "drain10", "drain1", "one per call"),
    ),
    about="Each long-polling row is one run per backend, a fresh queue each. Wake-up: a consumer"
    " process waits in `receive_messages(1, wait_time_seconds=20)`; the producer (another"
    " process) pauses at random, adds one message, and the latency is the consumer's return"
    " minus the moment just before the add call (`time.time()` in both processes); the consumer"
    " deletes the message and waits again. Delayed: the same with `delay_seconds`, the lateness"
    " measured from the delay's end reckoned from just before the add call (an upper bound)."
    " Idle: one receive on an empty queue with the wait shown; the CPU time of the waiting"
    " process (remote: the client; in brackets the server's over the same span, from `/proc`)"
    " over its wall time. Batch rows (remote only): msgs/s = N / wall seconds, best run; the"
    " drains start from a queue of N filled before the clock starts.",
    serve=True,
    circumstances=(
        SERVER,
        "- Local and SQLite queues: `durable=False` (no fsync, as the server runs), in a fresh"
        " folder per run",
    ),
)

SUITES = {suite.name: suite for suite in (LOCAL_JSON, REMOTE, SQLITE, WAITING)}
#: Suites that measure in their own way (not the workloads of ``_worker.py``), by name: each
#: returns whether every target was met.
OWN_SUITES: Dict[str, Callable[[argparse.Namespace, Optional[Sequence[str]]], bool]] = {
    "worker": worker_suite.run,
    "sqs": sqs_suite.run,
}

# -- command line -----------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """The runner's options; where the default differs per suite it is None (see settings_for)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add(
        "--suite", action="append", choices=(*SUITES, *OWN_SUITES), help="repeatable (default: all)"
    )
    add("--quick", action="store_true", help="smoke run: N=200, 1 run, no big N, no results file")
    add("--n", type=int, action="append", help="a size every configuration runs; repeatable")
    add("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    add("--full-repeat", type=int, default=2, help="runs per fsync-bound measurement (sqlite)")
    add("--concurrency-repeat", type=int, help="runs per concurrency measurement")
    add("--big-n", type=int, help="a size for this library only; 0 skips it")
    add("--big-repeat", type=int, default=1, help="runs per big-N measurement")
    add("--big-cap", type=float, help="seconds a big-N phase may run; 0: no cap")
    add("--big-durable", action="store_true", help="the big N at fsync on (FULL) as well")
    add("--big-concurrency", action="store_true", help="the concurrency rows at the big N too")
    add("--deadline", type=float, default=60.0, help="seconds a concurrency run may last")
    add("--concurrency-batch", type=int, action="append", choices=(1, 10), help="repeatable")
    add("--target-n", type=int, default=5000, help="sqlite: the N of the litequeue targets")
    add("--threads", type=int, default=8, help="remote: concurrent clients")
    add("--duration", type=float, default=60.0, help="remote: seconds of the server soak")
    add("--rounds", type=int, default=200, help="waiting: wake-up rounds per backend")
    add("--delay-rounds", type=int, default=50, help="waiting: delayed-message rounds")
    add("--delay", type=float, default=0.5, help="waiting: delay_seconds of those messages")
    add("--idle", type=float, default=20.0, help="waiting: seconds of the idle wait (<= 20)")
    add("--sqs-rounds", type=int, default=200, help="sqs: send/receive/delete rounds per run")
    add("--sqs-cold-runs", type=int, default=10, help="sqs: cold starts per client")
    add("--skip-peers", "--skip-original", action="store_true", help="this library only")
    add("--python312", help="a Python 3.12 for litequeue (default: pyenv's newest, or PATH's)")
    add("--venv-dir", default=BENCH, help="where the compared libraries' venvs are")
    add("--results-dir", help="where results files go (default bench/results)")
    add("--no-write", action="store_true", help="print the tables only")
    args = parser.parse_args(argv)
    smallest = min(args.n or [200 if args.quick else 1000])
    repeats = (args.repeat, args.full_repeat, args.big_repeat, args.concurrency_repeat or 1)
    if smallest < 2 or (args.big_n or 0) < 0 or min(repeats) < 1:
        parser.error("--n must be at least 2, --big-n at least 0, and repeats at least 1")
    if not 1 <= args.threads <= smallest or args.duration <= 0:
        parser.error("need 1 <= --threads <= --n and --duration > 0")
    if min(args.rounds, args.delay_rounds) < 1 or not (args.delay > 0 and 0 < args.idle <= 20):
        parser.error("need --rounds, --delay-rounds >= 1, --delay > 0 and 0 < --idle <= 20")
    return args


def settings_for(suite: Suite, args: argparse.Namespace) -> argparse.Namespace:
    """The options with the suite's own defaults filled in, and ``--quick`` applied."""
    settings = argparse.Namespace(**vars(args))
    settings.n = sorted(set(args.n or suite.sizes))
    settings.concurrency_repeat = args.concurrency_repeat or suite.concurrency_repeat or args.repeat
    settings.big_n = suite.big_n if args.big_n is None else args.big_n
    settings.big_cap = suite.big_cap if args.big_cap is None else args.big_cap
    settings.big_concurrency = suite.big_concurrency or args.big_concurrency
    settings.big_labels = suite.big_labels + (suite.durable_big_labels if args.big_durable else ())
    batches = args.concurrency_batch or suite.concurrency_batch
    settings.workloads = [
        w for w in suite.workloads if w.phase != "concurrency" or w.batch in batches
    ]
    if args.quick:
        settings.n, settings.big_n, settings.duration = [200], 0, min(args.duration, 10.0)
        settings.repeat = settings.full_repeat = settings.concurrency_repeat = 1
        settings.rounds, settings.delay_rounds = min(args.rounds, 20), min(args.delay_rounds, 5)
        settings.idle = min(args.idle, 2.0)
    return settings


# -- planning ---------------------------------------------------------------------------------


def make_configs(suite: Suite, settings: argparse.Namespace, server: Server) -> Dict[str, Config]:
    """The configurations to measure, by label; makes the compared libraries' venvs."""
    options = {"visibility": suite.visibility, "server": "", "key": "", "server_pid": ""}
    options.update(rounds=settings.rounds, delay_rounds=settings.delay_rounds)
    options.update(delay=settings.delay, idle=settings.idle)
    configs = {}
    for impl in suite.impls:
        if settings.skip_peers and (impl.package or impl.python):  # no venv, no other Python
            continue
        python = find_python(impl.python, settings.python312) if impl.python else sys.executable
        env, prefix = runner.worker_env(ROOT), os.path.join(ROOT, "pyqueue_client")
        if impl.package is not None:
            prefix = os.path.abspath(os.path.join(settings.venv_dir, ".venv-" + impl.package.venv))
            python, env = ensure_venv(prefix, impl.package, python), runner.worker_env(None)
        queue_type = impl.queue_type or suite.queue_type
        spec = {**options, **(server.options if queue_type == "remote" else {})}
        spec.update(queue_type=queue_type, impl=impl.impl, durable=impl.durable)
        configs[impl.label] = Config(impl.label, python, env, prefix, spec, impl.expect)
    return configs


def make_plan(suite: Suite, settings: argparse.Namespace, configs: Dict[str, Config]) -> List[Job]:
    """Every job in run order: each N's enqueue before the drains that copy its queue, the big N
    after the small ones, the server soak last."""
    impls = {impl.label: impl for impl in suite.impls}
    plan = []
    for n in settings.n:
        for workload in settings.workloads:
            for label, config in configs.items():
                skipped = workload.once and n != settings.n[0]
                if skipped or workload.phase == "mixed" or workload.key in impls[label].skips:
                    continue
                repeat = settings.full_repeat if impls[label].fsync_bound else settings.repeat
                repeat = 1 if workload.once else repeat
                cap = 0.0
                if workload.phase == "concurrency":
                    repeat, cap = settings.concurrency_repeat, settings.deadline
                threads = workload.threads or settings.threads
                plan.append(Job(workload, n, config, repeat, cap, threads))
    for workload in settings.workloads if settings.big_n > 0 else []:
        cap = settings.big_cap
        if workload.phase == "concurrency":
            if not settings.big_concurrency:
                continue
            cap = min(settings.big_cap or settings.deadline, settings.deadline)
        for label in settings.big_labels if workload.phase != "mixed" else ():
            plan.append(Job(workload, settings.big_n, configs[label], settings.big_repeat, cap))
    for workload in settings.workloads:
        if workload.phase == "mixed":  # the cap leaves room for its final drain
            soak = settings.duration + 120.0
            first = next(iter(configs.values()))
            plan.append(Job(workload, 0, first, 1, soak, settings.threads, settings.duration))
    return plan


# -- reporting --------------------------------------------------------------------------------


def settings_text(suite: Suite, settings: argparse.Namespace) -> str:
    """What was measured, in one paragraph."""
    sizes = " and ".join(f"{n:,}" for n in settings.n)
    slow = " and ".join(impl.label for impl in suite.impls if impl.fsync_bound)
    also = f" ({settings.full_repeat} for {slow})" if slow else ""
    parts = [f"N={sizes}: best of {settings.repeat} run(s) each{also}, configurations taking turns"]
    phases = {workload.phase for workload in settings.workloads}
    if "concurrency" in phases:
        runs = f"{settings.concurrency_repeat} run(s) each"
        parts.append(f"concurrency: {runs}, capped at {settings.deadline:g} s")
    if "mixed" in phases:
        parts.append(f"{settings.threads} client threads; soak for {settings.duration:g} s")
    if any(workload.once for workload in settings.workloads):
        parts.append(
            f"long polling, one run each: wake-up {settings.rounds} rounds, delayed"
            f" {settings.delay_rounds} rounds, each add after a random pause of"
            f" {PAUSE[0] * 1000:g}-{PAUSE[1] * 1000:g} ms; idle: one {settings.idle:g} s wait"
        )
    if settings.big_n > 0:
        cap = f"capped at {settings.big_cap:g} s per phase" if settings.big_cap > 0 else "no cap"
        rows = "" if settings.big_concurrency else ", no concurrency row"
        who = " and ".join(settings.big_labels)
        parts.append(f"N={settings.big_n:,}: {who} only, {settings.big_repeat} run(s), {cap}{rows}")
    bodies = "Bodies are dicts of ~100 bytes of JSON"
    return "; ".join(parts) + f". {bodies}; visibility timeout {suite.visibility} s."


def make_table(suite: Suite, settings: argparse.Namespace, results: Results) -> Table:
    """The runs, with the column headings naming each configuration's Python version."""
    impls = {impl.label: impl for impl in suite.impls}
    headings = {label: label for label in impls}
    for (_, _, label), runs in results.items():
        minor = ".".join(runs[0]["python"].split()[1].split(".")[:2])  # CPython 3.12.1 -> 3.12
        headings[label] = impls[label].heading.format(py=minor)
    return Table(results, suite, settings, headings)


def circumstances(table: Table) -> List[str]:
    """The lines under the title that say what was compared, on what, and how."""
    suite, runs = (
        table.suite,
        [(key[2], run) for key, runs in table.results.items() for run in runs],
    )
    measured = {label for label, _ in runs}
    venvs = dict.fromkeys(
        f"{impl.package.requirement} in `bench/.venv-{impl.package.venv}`"
        for impl in suite.impls
        if impl.package and impl.label in measured
    )
    by_python: Dict[str, List[str]] = {}
    for label, run in runs:
        if label not in by_python.setdefault(run["python"], []):
            by_python[run["python"]].append(label)
    facts = {label: run["facts"] for label, run in runs if run.get("facts")}
    reported = "; ".join(
        f"{label} (version {found['version']}): "
        + ", ".join(f"{name}={value}" for name, value in found.items() if name != "version")
        for label, found in facts.items()
    )
    lines = [f"- Compared with: {', '.join(venvs)}"] if venvs else []
    lines.append("- Python: " + "; ".join(f"{', '.join(v)}: {k}" for k, v in by_python.items()))
    if reported:
        lines.append(f"- Settings each library's own connection reported: {reported}")
    return [*lines, f"- Settings: {settings_text(suite, table.settings)}", *suite.circumstances]


def run_suite(suite: Suite, args: argparse.Namespace, argv: Optional[Sequence[str]]) -> bool:
    """Measure one suite, print its tables, write its results file; whether every target passed."""
    settings, started = settings_for(suite, args), time.perf_counter()
    before, version = report.machine_facts(), runner.checkout_version()
    with tempfile.TemporaryDirectory(prefix=f"pyqueue-bench-{suite.name}-") as scratch, (
        runner.serving(scratch) if suite.serve else contextlib.nullcontext(Server())
    ) as server:
        configs = make_configs(suite, settings, server)
        results = runner.run_plan(make_plan(suite, settings, configs), scratch)
    table = make_table(suite, settings, results)
    text, missed = report.render_table(table, suite.columns)
    body = report.section(suite.heading, text, suite.about, report.render_notes(table))
    if suite.soak is not None:
        soak, met = suite.soak(table, server)
        body, missed = body + "\n\n" + soak, missed + ([] if met else ["the server soak"])
    print(f"# {suite.title}\n\n{body}\n", flush=True)
    if not args.no_write and (args.results_dir or not args.quick):
        after = report.machine_facts()
        lines = [
            f"# {suite.title}",
            "",
            f"- Date: {before.date}",
            f"- Command: {runner.command_line(argv)}",
            f"- Library measured: this checkout, {version} (at the start of the run)",
            *circumstances(table),
            f"- Machine: {before.cores} cores, {before.cpu}",
            f"- Load average (1/5/15 min): {before.load} at start, {after.load} at end"
            " (the machine is shared, so numbers are noisy)",
        ]
        output = os.path.join(args.results_dir or os.path.join(BENCH, "results"), suite.results)
        runner.write_atomically(output, "\n".join(lines) + "\n\n" + body + "\n")
        log(f"wrote {os.path.relpath(output)}")
    missing = f"; missed: {'; '.join(missed)}" if missed else ""
    log(f"{suite.name}: done in {time.perf_counter() - started:.0f} s{missing}")
    return not missed


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the chosen suites one after the other; 1 when any missed a target or failed."""
    args = parse_args(argv)
    failed = []
    for name in args.suite or (*SUITES, *OWN_SUITES):
        try:
            if name in OWN_SUITES:
                passed = OWN_SUITES[name](args, argv)
            else:
                passed = run_suite(SUITES[name], args, argv)
        except Exception:  # one suite's failure must not stop the others
            traceback.print_exc()
            passed = False
        failed += [] if passed else [name]
    if failed:
        log(f"missed a target or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
