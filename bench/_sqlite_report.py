"""The SQLite suite's table and footnotes: pure formatting over the measured summaries.

Five columns of msgs/s, one per configuration, ordered so that each peer stands right after the
configuration of ours it is compared with (equal ``synchronous`` level, same interpreter); then
the two ratios, the target, the verdict and the exactly-once counts.
"""

from __future__ import annotations

import statistics
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from _report import Results, Summary, Workload, markdown_table

__all__ = [
    "COLUMNS",
    "LITE",
    "OURS",
    "OURS_312",
    "OURS_FULL",
    "OURS_NORMAL",
    "PEERS",
    "PERSIST",
    "Observed",
    "Report",
    "Targets",
    "render_notes",
    "render_table",
]

#: Configuration labels (the results' keys).
OURS_FULL = "ours FULL"
PERSIST = "persist-queue"
OURS_NORMAL = "ours NORMAL"
OURS_312 = "ours NORMAL 3.12"
LITE = "litequeue"
COLUMNS = (OURS_FULL, PERSIST, OURS_NORMAL, OURS_312, LITE)
OURS = (OURS_FULL, OURS_NORMAL, OURS_312)
PEERS = (PERSIST, LITE)
#: Each peer with the configuration of ours it is compared with.
PAIRS = ((OURS_FULL, PERSIST), (OURS_312, LITE))
#: Short names of ours in verdict cells.
_SHORT = {OURS_FULL: "FULL", OURS_NORMAL: "NORMAL", OURS_312: "NORMAL 3.12"}


class Targets(NamedTuple):
    """The goals the table checks."""

    #: N at which ours is compared with litequeue.
    n: int = 5000
    #: ours / litequeue on enqueue and on the receive(1) drain (ours NORMAL on the same Python).
    over_litequeue: float = 1.5
    #: ours receive(10) + delete_messages / ours receive(1) + delete_message.
    batch_over_single: float = 4.0
    #: receive(1) drain rate at the smallest N / at the big N (ours NORMAL).
    depth_slowdown: float = 2.0


class Observed:
    """What the runs reported beyond their summaries: settings, every rate, every check."""

    def __init__(self) -> None:
        #: label -> the library's facts (synchronous, journal_mode, version).
        self.facts: Dict[str, Dict[str, str]] = {}
        #: (workload key, N, label) -> msgs/s of every run.
        self.rates: Dict[Tuple[str, int, str], List[float]] = {}
        #: (workload key, N, label) -> the worker results of every concurrency run.
        self.checks: Dict[Tuple[str, int, str], List[Dict[str, object]]] = {}


class Report(NamedTuple):
    """Everything the table and footnotes are made from."""

    workloads: Sequence[Workload]
    sizes: Sequence[int]
    big_n: int
    results: Results
    #: label -> column heading.
    headings: Dict[str, str]
    observed: Observed
    targets: Targets


# -- the table --------------------------------------------------------------------------------


def render_table(report: Report) -> str:
    """The markdown table: one row per workload and N that has any result."""
    header = ["workload (msgs/s)", "N"] + [report.headings[label] for label in COLUMNS]
    header += [f"ours / {PERSIST} (FULL)", f"ours / {LITE} (NORMAL)", "target", "met"]
    header += ["dup/lost per column"]
    rows = [header]
    for n in all_sizes(report):
        for workload in report.workloads:
            if any(_get(report, workload.key, n, label) for label in COLUMNS):
                rows.append(_row(report, workload, n))
    return markdown_table(rows)


def all_sizes(report: Report) -> List[int]:
    """The small sizes, then the big one (if any)."""
    return list(report.sizes) + ([report.big_n] if report.big_n > 0 else [])


def _get(report: Report, key: str, n: int, label: str) -> Optional[Summary]:
    return report.results.get((key, n, label))


def _peer_summary(report: Report, key: str, n: int, label: str) -> Tuple[Optional[Summary], str]:
    """A peer's summary for a row, or its receive(1) drain (marked) on the receive(10) row."""
    summary = _get(report, key, n, label)
    if summary is None and key == "drain10" and label in PEERS:
        return _get(report, "drain1", n, label), "\u2020"
    return summary, ""


def _row(report: Report, workload: Workload, n: int) -> List[str]:
    cells = [workload.title, f"{n:,}"]
    for label in COLUMNS:
        summary, mark = _peer_summary(report, workload.key, n, label)
        cells.append(_rate(summary, mark))
    cells += [_ratio(report, workload.key, n, ours, peer) for ours, peer in PAIRS]
    cells += _target(report, workload, n)
    cells.append(_dup_lost(report, workload, n))
    return cells


def _rate(summary: Optional[Summary], mark: str = "") -> str:
    if summary is None:
        return "-"
    capped = "*" if summary.partial else ""
    return f"{summary.msgs_per_s:,.0f}{capped}{mark}"


def _ratio(report: Report, key: str, n: int, ours_label: str, peer_label: str) -> str:
    ours = _get(report, key, n, ours_label)
    peer, mark = _peer_summary(report, key, n, peer_label)
    if ours is None or peer is None or peer.msgs_per_s <= 0:
        return "-"
    return f"{ours.msgs_per_s / peer.msgs_per_s:.2f}x{mark}"


def _target(report: Report, workload: Workload, n: int) -> List[str]:
    """The target and verdict cells of a row."""
    targets = report.targets
    key = workload.key
    if key in ("enqueue", "drain1") and n == targets.n:
        return [f">= {targets.over_litequeue:g}x {LITE}", _versus_litequeue(report, key, n)]
    if key == "drain1" and n == report.big_n and report.sizes:
        slower = f"<= {targets.depth_slowdown:g}x slower than N={min(report.sizes):,}"
        return [slower, _depth_verdict(report, n)]
    if key == "drain10":
        return [f">= {targets.batch_over_single:g}x ours receive(1)", _batch_verdict(report, n)]
    if workload.phase == "concurrency":
        return ["exactly once (ours)", _exactly_once_verdict(report, key, n)]
    return ["-", "-"]


def _versus_litequeue(report: Report, key: str, n: int) -> str:
    ours, peer = _get(report, key, n, OURS_312), _get(report, key, n, LITE)
    if ours is None or peer is None or ours.partial or peer.msgs_per_s <= 0:
        return "-"
    return _pass(ours.msgs_per_s >= report.targets.over_litequeue * peer.msgs_per_s)


def depth_slowdown(report: Report, key: str, n: int) -> Optional[float]:
    """How many times slower ours NORMAL runs ``key`` at ``n`` than at the smallest N."""
    deep = _get(report, key, n, OURS_NORMAL)
    shallow = _get(report, key, min(report.sizes), OURS_NORMAL) if report.sizes else None
    if deep is None or shallow is None or deep.msgs_per_s <= 0:
        return None
    return shallow.msgs_per_s / deep.msgs_per_s


def _depth_verdict(report: Report, n: int) -> str:
    slowdown = depth_slowdown(report, "drain1", n)
    deep = _get(report, "drain1", n, OURS_NORMAL)
    if slowdown is None or deep is None or deep.partial:
        return "-"
    return f"{_pass(slowdown <= report.targets.depth_slowdown)} ({slowdown:.2f}x)"


def _batch_verdict(report: Report, n: int) -> str:
    ratios = []
    for label in OURS:
        batch, single = _get(report, "drain10", n, label), _get(report, "drain1", n, label)
        if batch is not None and single is not None and single.msgs_per_s > 0:
            ratios.append((label, batch.msgs_per_s / single.msgs_per_s))
    if not ratios:
        return "-"
    passed = all(ratio >= report.targets.batch_over_single for _, ratio in ratios)
    shown = ", ".join(f"{_SHORT[label]} {ratio:.1f}x" for label, ratio in ratios)
    return f"{_pass(passed)} ({shown})"


def _exactly_once_verdict(report: Report, key: str, n: int) -> str:
    ours = [summary for label in OURS if (summary := _get(report, key, n, label)) is not None]
    if not ours:
        return "-"
    return _pass(all(summary.exactly_once for summary in ours))


def _pass(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def _dup_lost(report: Report, workload: Workload, n: int) -> str:
    if workload.phase != "concurrency":
        return ""
    cells = []
    for label in COLUMNS:
        summary = _get(report, workload.key, n, label)
        delivery = None if summary is None else summary.delivery
        cells.append("-" if delivery is None else f"{delivery.duplicates}/{delivery.lost}")
    return ", ".join(cells)


# -- the footnotes ----------------------------------------------------------------------------


def render_notes(report: Report) -> str:
    """Footnotes: the peers' drain on the receive(10) rows, capped runs, every concurrency run,
    the slowdown with depth, and how far repeats of one measurement were apart.
    """
    notes = [
        "- \u2020 The peers have no batch receive: on the receive(10) rows their column shows"
        " their receive(1) drain (one `pop` + `done`, or one `get` + `ack`, per message), and the"
        " ratio compares ours receive(10) + `delete_messages` with it.",
    ]
    notes += _capped_notes(report)
    notes += _concurrency_notes(report)
    notes += _depth_notes(report)
    notes += _spread_notes(report)
    return "\n".join(notes)


def _capped_notes(report: Report) -> List[str]:
    notes = []
    for (key, n, label), summary in sorted(report.results.items()):
        if summary.partial:
            notes.append(
                f"- \\* {key}, N={n:,}, {label}: stopped by the {summary.cap:g} s cap after"
                f" {summary.processed:,} of {n:,} messages; msgs/s is over those."
            )
    return notes


def _concurrency_notes(report: Report) -> List[str]:
    notes = []
    for n in all_sizes(report):
        for workload in report.workloads:
            for label in COLUMNS:
                runs = report.observed.checks.get((workload.key, n, label))
                if runs:
                    notes.append(_concurrency_note(workload, n, label, runs))
    return notes


def _concurrency_note(workload: Workload, n: int, label: str, runs: List[Dict[str, object]]) -> str:
    def column(key: str) -> str:
        return ", ".join(str(run.get(key)) for run in runs)

    same = all(
        run.get("duplicated") == run.get("duplicates") == run.get("received_twice") for run in runs
    )
    if not any(run.get("duplicated") for run in runs):
        duplicates = f"duplicates {column('duplicated')}"
    elif same:
        duplicates = f"duplicates {column('duplicated')} (each received and acknowledged twice)"
    else:
        duplicates = (
            f"duplicates {column('duplicated')} (acknowledged twice {column('duplicates')};"
            f" received twice {column('received_twice')})"
        )
    return (
        f"- {workload.title}, N={n:,}, {label}, {len(runs)} run(s): {duplicates}; lost"
        f" {column('lost')}; delivered {column('processed')}; left in queue"
        f" {column('remaining')}; errors raised {column('errors')}."
    )


def _depth_notes(report: Report) -> List[str]:
    if report.big_n <= 0 or not report.sizes:
        return []
    parts = []
    for workload in report.workloads:
        slowdown = depth_slowdown(report, workload.key, report.big_n)
        deep = _get(report, workload.key, report.big_n, OURS_NORMAL)
        shallow = _get(report, workload.key, min(report.sizes), OURS_NORMAL)
        if slowdown is not None and deep is not None and shallow is not None:
            parts.append(
                f"{workload.title}: {deep.msgs_per_s:,.0f} vs {shallow.msgs_per_s:,.0f} msgs/s"
                f" ({slowdown:.2f}x slower)"
            )
    if not parts:
        return []
    return [
        f"- Depth, {OURS_NORMAL}, N={report.big_n:,} vs N={min(report.sizes):,}: "
        + "; ".join(parts)
        + "."
    ]


def _spread_notes(report: Report) -> List[str]:
    spreads = []
    for (key, n, label), rates in report.observed.rates.items():
        if len(rates) > 1 and min(rates) > 0:
            spreads.append((max(rates) / min(rates), f"{key}, N={n:,}, {label}"))
    if not spreads:
        return []
    median = statistics.median(spread for spread, _ in spreads)
    worst, where = max(spreads)
    return [
        f"- Noise: the best run of a measurement was {median:.2f}x its worst run in the median"
        f" measurement, and {worst:.2f}x at most ({where})."
    ]
