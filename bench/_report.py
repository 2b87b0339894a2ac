"""Results as plain-text (markdown) tables, plus the run's circumstances.

The local JSON suite's table and footnotes, and what every suite's report shares: the
:class:`Summary` of a measurement, the exactly-once :class:`Delivery` check, the markdown layout
and :func:`machine_facts`. Pure formatting, except :func:`machine_facts`, which reads the
machine's description (cores, CPU model, load) once.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    "CONFIGS",
    "ORIGINAL",
    "OURS_OFF",
    "OURS_ON",
    "Delivery",
    "MachineFacts",
    "Results",
    "Summary",
    "Workload",
    "machine_facts",
    "markdown_table",
    "render_details",
    "render_table",
]

#: Column labels of the three measured configurations.
OURS_ON = "ours fsync on"
OURS_OFF = "ours fsync off"
ORIGINAL = "original 1.2.1"
CONFIGS = (OURS_ON, OURS_OFF, ORIGINAL)


class Workload(NamedTuple):
    """One row kind: what the worker runs, and the speed-up target against the original."""

    key: str
    phase: str
    batch: int
    title: str
    #: ours (fsync off) / original must reach this; None for the exactly-once rows.
    target: Optional[float]


class Delivery(NamedTuple):
    """A concurrency run's exactly-once check (the worst run of the repeats)."""

    delivered: int
    duplicates: int
    lost: int
    #: None when the queue file could not be read at the end.
    remaining: Optional[int]
    errors: int
    #: The consumers stopped because the queue file stayed unreadable.
    stuck: bool

    @property
    def exactly_once(self) -> bool:
        """Whether every message was delivered once."""
        return self.duplicates == 0 and self.lost == 0


class Summary(NamedTuple):
    """The best of the repeats of one workload, for one configuration and N."""

    msgs_per_s: float
    processed: int
    partial: bool
    runs: int
    seconds: float
    #: The time cap the runs had, in seconds (0: none).
    cap: float
    #: Concurrency only (None elsewhere): the worst run's exactly-once check.
    delivery: Optional[Delivery] = None

    @property
    def exactly_once(self) -> bool:
        """Whether every concurrency run delivered every message once (False elsewhere)."""
        return self.delivery is not None and self.delivery.exactly_once


#: (workload key, N, configuration label) -> its summary.
Results = Dict[Tuple[str, int, str], Summary]

_HEADER = (
    "workload",
    "N",
    f"{OURS_ON} (msgs/s)",
    f"{OURS_OFF} (msgs/s)",
    f"{ORIGINAL} (msgs/s)",
    "off / original",
    "on / original",
    "target (fsync off)",
    "met",
    "dup/lost: on, off, original",
)


def render_table(workloads: Sequence[Workload], sizes: Sequence[int], results: Results) -> str:
    """The markdown table: one row per workload and N that has any result."""
    rows = [list(_HEADER)]
    for n in sizes:
        for workload in workloads:
            if any((workload.key, n, config) in results for config in CONFIGS):
                rows.append(_row(workload, n, results))
    return markdown_table(rows)


def _row(workload: Workload, n: int, results: Results) -> List[str]:
    on, off, original = (results.get((workload.key, n, config)) for config in CONFIGS)
    return [
        workload.title,
        f"{n:,}",
        _rate(on),
        _rate(off),
        _rate(original) if original else "not run",
        _ratio(workload, off, original),
        _ratio(workload, on, original),
        _target_text(workload, original),
        _verdict(workload, on, off, original),
        _dup_lost(workload, (on, off, original)),
    ]


def _rate(summary: Optional[Summary]) -> str:
    if summary is None:
        return "-"
    mark = "*" if summary.partial else ""
    return f"{summary.msgs_per_s:,.0f}{mark}"


def _ratio(workload: Workload, ours: Optional[Summary], original: Optional[Summary]) -> str:
    if ours is None or original is None or original.msgs_per_s <= 0:
        return "-"
    if workload.target is None and not original.exactly_once:
        return "n/a (lossy)"
    return f"{ours.msgs_per_s / original.msgs_per_s:.1f}x"


def _target_text(workload: Workload, original: Optional[Summary]) -> str:
    if workload.target is None:
        return "exactly once (ours)"
    return f">= {workload.target:g}x" if original is not None else "-"


def _verdict(
    workload: Workload,
    on: Optional[Summary],
    off: Optional[Summary],
    original: Optional[Summary],
) -> str:
    if workload.target is None:
        ours = [summary for summary in (on, off) if summary is not None]
        if not ours:
            return "-"
        return "pass" if all(summary.exactly_once for summary in ours) else "FAIL"
    if off is None or original is None or original.msgs_per_s <= 0 or off.partial:
        return "-"
    return "pass" if off.msgs_per_s >= workload.target * original.msgs_per_s else "FAIL"


def _dup_lost(workload: Workload, summaries: Sequence[Optional[Summary]]) -> str:
    if workload.target is not None:
        return ""
    cells = []
    for summary in summaries:
        if summary is None or summary.delivery is None:
            cells.append("-")
        else:
            cells.append(f"{summary.delivery.duplicates}/{summary.delivery.lost}")
    return ", ".join(cells)


def markdown_table(rows: List[List[str]]) -> str:
    """Rows of cells (the first is the header) as an aligned markdown table."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [_line(rows[0], widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [_line(row, widths) for row in rows[1:]]
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |"


def render_details(workloads: Sequence[Workload], sizes: Sequence[int], results: Results) -> str:
    """Footnotes: capped runs, and the concurrency runs' delivered/remaining/error counts."""
    notes: List[str] = []
    for n in sizes:
        for workload in workloads:
            for config in CONFIGS:
                summary = results.get((workload.key, n, config))
                if summary is not None:
                    notes += _notes(workload, n, config, summary)
    return "\n".join(notes)


def _notes(workload: Workload, n: int, config: str, summary: Summary) -> List[str]:
    where = f"{workload.title}, N={n:,}, {config}"
    notes = []
    if summary.partial:
        notes.append(
            f"- \\* {where}: stopped by the {summary.cap:g} s cap after {summary.processed:,}"
            f" of {n:,} messages; msgs/s is over those {summary.processed:,}."
        )
    check = summary.delivery
    if check is not None:
        remaining = "unreadable" if check.remaining is None else f"{check.remaining:,}"
        stuck = " The queue file stayed unreadable; the consumers gave up." if check.stuck else ""
        notes.append(
            f"- {where}, worst of {summary.runs} run(s): delivered {check.delivered:,} distinct"
            f" of {n:,}, duplicates {check.duplicates}, lost {check.lost}, left in queue"
            f" {remaining}, errors raised {check.errors:,}.{stuck}"
        )
    return notes


class MachineFacts(NamedTuple):
    """Where and when the numbers were taken."""

    date: str
    python: str
    cores: int
    cpu: str
    load: str


def machine_facts() -> MachineFacts:
    """This machine: usable cores, CPU model (``/proc/cpuinfo``), 1/5/15-minute load."""
    if sys.platform == "linux":
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 0
    return MachineFacts(
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        cores=cores,
        cpu=_cpu_model(),
        load=_load(),
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load() -> str:
    if sys.platform == "win32":
        return "unknown"
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
