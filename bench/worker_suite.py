"""The ``worker`` suite: this library's ``Worker`` on SQLite against huey's consumer on
``SqliteHuey``, the closest thing users pick for "a local queue with a worker".

Both keep jobs in SQLite in WAL mode at ``synchronous=FULL`` (ours ``durable=True``, huey its
default) and run 4 worker threads. Every measurement is a child process running
``_worker_jobs.py`` on the library's own interpreter (huey from ``bench/.venv-huey``):

- **drain**: 10,000 no-op jobs enqueued before the clock starts, then run until all are done
  (ours: until ``run()`` returns with the queue empty; huey: until the last job ran). Best of
  ``--repeat`` runs, the libraries taking turns. Target: ours at least 2x huey's jobs/s.
- **latency**: a consumer process runs the worker on an empty queue; a producer process then
  enqueues 1,000 jobs, one every millisecond, each carrying ``time.time()``; the handler's start
  minus that time is the latency. Targets: p50 <= 25 ms, p99 <= 100 ms.
- **floor**: the same measurements for ours without the ``Worker``: one thread looping
  ``receive_messages(4)`` and ``delete_messages`` on the same queue (what SQLite and the
  backend allow), so the worker's own cost is the difference. No target.
- **CPU per job**: the drain process's CPU time (every thread: the worker, the queue library,
  SQLite; the handler does nothing) over the jobs, from the same best drain run. No target.

``bench/run.py --suite worker`` runs it (``--quick``: 1,000 and 200 jobs, one run, no file).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import _report as report
import _runner as runner
from _phases import percentiles
from _report import log
from _runner import ROOT
from _venv import HUEY, ensure_venv

JOBS = os.path.join(ROOT, "bench", "_worker_jobs.py")
RESULTS = "worker.md"
DRAIN_N, LATENCY_N = 10_000, 1_000
QUICK_DRAIN_N, QUICK_LATENCY_N = 1_000, 200
#: Targets: drain speed against huey, and latency in milliseconds.
DRAIN_FACTOR, P50_MS, P99_MS = 2.0, 25.0, 100.0
#: Seconds any child may take.
CHILD_TIMEOUT = 600.0
OURS, FLOOR, PEER = "ours", "floor", "huey"
#: The table's columns: library -> heading.
COLUMNS = {
    OURS: "ours: Worker, sqlite",
    FLOOR: "floor: bare receive(4) + delete loop, sqlite",
    PEER: f"{HUEY.requirement}: SqliteHuey + consumer",
}


class Library(NamedTuple):
    """How to run ``_worker_jobs.py`` for one library."""

    name: str
    python: str
    env: Dict[str, str]


def _child(library: Library, role: str, folder: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [library.python, JOBS, role, library.name, folder, str(count)],
        env=library.env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen[str]) -> Dict[str, Any]:
    """The last JSON line of a child that exited cleanly."""
    out, err = process.communicate(timeout=CHILD_TIMEOUT)
    if process.returncode != 0:
        raise RuntimeError(f"{process.args!r} failed ({process.returncode}):\n{err}")
    result: Dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def drain(library: Library, count: int) -> Dict[str, Any]:
    """One drain run in a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="pyqueue-bench-worker-") as folder:
        result = _result(_child(library, "drain", folder, count))
    if result["done"] != count or result["left"]:
        raise RuntimeError(f"{library.name} drain: {result['done']} done, {result['left']} left")
    return result


def latency(library: Library, count: int) -> List[float]:
    """Enqueue-to-start latencies (seconds, sorted) of ``count`` jobs sent one per ms."""
    with tempfile.TemporaryDirectory(prefix="pyqueue-bench-worker-") as folder:
        consumer = _child(library, "consume", folder, count)
        assert consumer.stdout is not None
        if consumer.stdout.readline().strip() != "ready":
            consumer.kill()
            raise RuntimeError(f"{library.name} consumer did not start: {_result(consumer)}")
        _result(_child(library, "produce", folder, count))
        result = _result(consumer)
    if result["done"] != count or result["left"]:
        raise RuntimeError(
            f"{library.name} latency: {result['done']} of {count} jobs ran, {result['left']} left"
        )
    latencies: List[float] = result["latencies"]
    return latencies


class Measured(NamedTuple):
    """One library's numbers."""

    rate: float
    cpu_us: float
    p50_ms: float
    p99_ms: float
    runs: List[float]


def measure(drains: List[Dict[str, Any]], latencies: List[float]) -> Measured:
    """The best drain's rate and CPU per job, and the latency percentiles."""
    best = min(drains, key=lambda run: float(run["seconds"]))
    count, found = best["done"], percentiles(latencies)
    return Measured(
        rate=count / best["seconds"],
        cpu_us=best["cpu"] / count * 1e6,
        p50_ms=found["p50_ms"],
        p99_ms=found["p99_ms"],
        runs=[run["done"] / run["seconds"] for run in drains],
    )


def libraries(args: argparse.Namespace) -> List[Library]:
    """Ours and its floor on this interpreter, and huey from its venv unless ``--skip-peers``."""
    env = runner.worker_env(ROOT)
    found = [Library(OURS, sys.executable, env), Library(FLOOR, sys.executable, env)]
    if not args.skip_peers:
        venv = os.path.abspath(os.path.join(args.venv_dir, ".venv-" + HUEY.venv))
        found.append(
            Library(PEER, ensure_venv(venv, HUEY, sys.executable), runner.worker_env(None))
        )
    return found


def table(measured: Dict[str, Measured], drain_n: int, latency_n: int) -> Tuple[str, List[str]]:
    """The markdown table, and the targets missed."""
    ours, peer = measured[OURS], measured.get(PEER)
    missed: List[str] = []

    def verdict(ok: Optional[bool], name: str) -> str:
        if ok is None:
            return "not judged"
        if not ok:
            missed.append(name)
        return "met" if ok else "**missed**"

    def cells(value: Callable[[Measured], str]) -> List[str]:
        return [value(measured[name]) if name in measured else "not run" for name in COLUMNS]

    ratio = ours.rate / peer.rate if peer else None
    rows = [
        ["measurement", *COLUMNS.values(), "ours / huey", "target", "verdict"],
        [
            f"drain {drain_n:,} no-op jobs, 4 threads (jobs/s)",
            *cells(lambda m: f"{m.rate:,.0f}"),
            f"{ratio:.2f}x" if ratio else "-",
            f">= {DRAIN_FACTOR:g}x huey",
            verdict(None if ratio is None else ratio >= DRAIN_FACTOR, "drain"),
        ],
        [
            f"enqueue-to-start latency p50, {latency_n:,} jobs at 1/ms (ms)",
            *cells(lambda m: f"{m.p50_ms:.1f}"),
            "",
            f"<= {P50_MS:g} ms",
            verdict(ours.p50_ms <= P50_MS, "latency p50"),
        ],
        [
            "enqueue-to-start latency p99 (ms)",
            *cells(lambda m: f"{m.p99_ms:.1f}"),
            "",
            f"<= {P99_MS:g} ms",
            verdict(ours.p99_ms <= P99_MS, "latency p99"),
        ],
        [
            "process CPU per job during the drain (us)",
            *cells(lambda m: f"{m.cpu_us:.0f}"),
            "",
            "none",
            "-",
        ],
    ]
    return report.markdown_table(rows), missed


def run(args: argparse.Namespace, argv: Optional[Sequence[str]]) -> bool:
    """Measure, print the table, write ``results/worker.md``; whether every target was met."""
    started, before = time.perf_counter(), report.machine_facts()
    version = runner.checkout_version()
    drain_n, latency_n = (QUICK_DRAIN_N, QUICK_LATENCY_N) if args.quick else (DRAIN_N, LATENCY_N)
    repeat = 1 if args.quick else args.repeat
    found = libraries(args)
    drains: Dict[str, List[Dict[str, Any]]] = {library.name: [] for library in found}
    for attempt in range(repeat):
        for library in found:  # taking turns, so a change of load falls on both
            log(f"worker: drain {attempt + 1}/{repeat}, {library.name}")
            drains[library.name].append(drain(library, drain_n))
    measured = {}
    for library in found:
        log(f"worker: latency, {library.name}")
        measured[library.name] = measure(drains[library.name], latency(library, latency_n))
    text, missed = table(measured, drain_n, latency_n)
    spread = "; ".join(
        f"{name}: " + ", ".join(f"{rate:,.0f}" for rate in numbers.runs)
        for name, numbers in measured.items()
    )
    notes = (
        f"Drain runs (jobs/s, best counts): {spread}. Latency is the handler's start minus the"
        " enqueue call's start, both `time.time()` of one machine; producer and consumer are"
        " separate processes, so ours is woken by its 10 ms poll of the SQLite WAL file."
    )
    body = f"{text}\n\n{notes}"
    print(f"# Worker: ours vs {HUEY.requirement}\n\n{body}\n", flush=True)
    if not args.no_write and (args.results_dir or not args.quick):
        after = report.machine_facts()
        lines = [
            f"# Worker: ours vs {HUEY.requirement}",
            "",
            f"- Date: {before.date}",
            f"- Command: {runner.command_line(argv)}",
            f"- Library measured: this checkout, {version} (at the start of the run)",
            f"- Python: {sys.version.split()[0]} for both",
            "- Durability: both SQLite in WAL mode at synchronous=FULL (ours `durable=True`,"
            " huey's default); 4 worker threads each; huey's consumer at its defaults"
            " (polling from 0.1 s, backoff 1.15)",
            f"- Machine: {before.cores} cores, {before.cpu}",
            f"- Load average (1/5/15 min): {before.load} at start, {after.load} at end"
            " (the machine is shared, so numbers are noisy)",
        ]
        output = os.path.join(args.results_dir or os.path.join(ROOT, "bench", "results"), RESULTS)
        runner.write_atomically(output, "\n".join(lines) + "\n\n" + body + "\n")
        log(f"wrote {os.path.relpath(output)}")
    missing = f"; missed: {', '.join(missed)}" if missed else ""
    log(f"worker: done in {time.perf_counter() - started:.0f} s{missing}")
    return not missed
