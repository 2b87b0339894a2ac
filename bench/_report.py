"""Results as markdown: every suite's table, targets and footnotes, and the machine's facts.

A suite's table is a list of :class:`Column` and its goals a list of :data:`Rule`, built from
the constructors here and read over one :class:`Table` (every run, keyed by workload, N and
configuration). Pure formatting, except :func:`machine_facts` and :func:`log`.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from _venv import Package

Run = Dict[str, Any]
#: (workload key, N, configuration label) -> the worker results of every run.
Results = Dict[Tuple[str, int, str], List[Run]]


def log(text: str) -> None:
    """Progress, to standard error so the tables on standard output stay clean."""
    print(f"bench: {text}", file=sys.stderr, flush=True)


class Workload(NamedTuple):
    """One row kind: the worker phase that measures it, its title, its receive (or add) size and
    clients (0: the ``--threads`` option); ``once``: run once, at the first N only (its own
    settings, such as ``--rounds``, say how long it runs)."""

    key: str
    phase: str
    title: str
    batch: int = 1
    threads: int = 1
    once: bool = False


class Impl(NamedTuple):
    """A measured configuration: its label, the worker's ``impl``, its column heading
    (``{py}``: its Python version), whether it is durable, the compared library it runs from its
    own venv (None: this checkout), the Python version it needs ('': the running one), the
    settings its library must report, the workloads it cannot run, whether it is fsync-bound
    without a speed target (then it gets ``--full-repeat`` runs), and its PyQueue ``queue_type``
    ('': the suite's)."""

    label: str
    impl: str
    heading: str
    durable: bool = False
    package: Optional[Package] = None
    python: str = ""
    expect: Tuple[Tuple[str, str], ...] = ()
    skips: Tuple[str, ...] = ()
    fsync_bound: bool = False
    queue_type: str = ""


class Suite(NamedTuple):
    """What a suite compares (``impls``), how (``workloads``, at ``sizes``, and at ``big_n`` for
    ``big_labels``), what it shows and checks (``columns``, ``rules``), and where it writes."""

    name: str
    title: str
    results: str
    #: The worker's ``queue_type`` (PyQueue's).
    queue_type: str
    impls: Tuple[Impl, ...]
    #: Every workload; the concurrency ones run for the ``--concurrency-batch`` sizes only.
    workloads: Tuple[Workload, ...]
    columns: Tuple[Column, ...]
    rules: Tuple[Rule, ...]
    #: The paragraph under the table, footnotes that always hold, and footnotes read from the
    #: runs (after the others).
    about: str
    notes: Tuple[str, ...] = ()
    run_notes: Optional[Callable[[Table], List[str]]] = None
    sizes: Tuple[int, ...] = (1000,)
    big_n: int = 0
    big_cap: float = 0.0
    #: Who runs the big N; with ``--big-durable`` also ``durable_big_labels``.
    big_labels: Tuple[str, ...] = ()
    durable_big_labels: Tuple[str, ...] = ()
    big_concurrency: bool = True
    concurrency_batch: Tuple[int, ...] = (10,)
    #: Runs per concurrency measurement; 0: ``--repeat``.
    concurrency_repeat: int = 0
    #: The result key counted as duplicates.
    duplicates: str = "duplicates"
    #: workload key -> the workload a configuration that cannot run it shows instead.
    stand_ins: Tuple[Tuple[str, str], ...] = ()
    target_n: int = 0
    visibility: int = 30
    #: For the remote suite: the server, the heading of the client table, the soak's section.
    serve: bool = False
    heading: str = ""
    circumstances: Tuple[str, ...] = ()
    #: (table, server) -> the soak's section and whether it met its target.
    soak: Optional[Callable[[Table, Any], Tuple[str, bool]]] = None


class Table(NamedTuple):
    """Everything a suite's table and footnotes are read from: every run, the suite, the
    settings it ran with (``n``, ``big_n``, ``workloads``, ``threads``, ...) and the headings."""

    results: Results
    suite: Suite
    settings: Any
    headings: Dict[str, str]

    def runs(self, key: str, n: int, label: str) -> List[Run]:
        """Every run of one measurement."""
        return self.results.get((key, n, label), [])

    def best(self, key: str, n: int, label: str) -> Tuple[Optional[Run], str]:
        """The run with the highest msgs/s, or the stand-in's (then marked with a dagger)."""
        runs, mark, stand_ins = self.runs(key, n, label), "", dict(self.suite.stand_ins)
        if not runs and key in stand_ins:
            runs, mark = self.runs(stand_ins[key], n, label), "\u2020"
        if not runs:
            return None, ""
        return max(runs, key=lambda run: float(run["msgs_per_s"])), mark

    def rate(self, key: str, n: int, label: str) -> float:
        """The best msgs/s (0 when not measured)."""
        run = self.best(key, n, label)[0]
        return 0.0 if run is None else float(run["msgs_per_s"])

    def worst(self, key: str, n: int, label: str) -> Optional[Run]:
        """The run with the most duplicates and lost messages."""
        runs, duplicates = self.runs(key, n, label), self.suite.duplicates
        return max(runs, key=lambda run: run[duplicates] + run["lost"]) if runs else None

    def rows(self) -> List[Tuple[Workload, int]]:
        """(workload, N) of every row that has any run: the small sizes, then the big one."""
        big = [self.settings.big_n] if self.settings.big_n > 0 else []
        return [
            (workload, n)
            for n in [*self.settings.n, *big]
            for workload in self.settings.workloads
            if any(self.runs(workload.key, n, impl.label) for impl in self.suite.impls)
        ]

    def labels(self) -> List[str]:
        """Every configuration's label, in column order."""
        return [impl.label for impl in self.suite.impls]

    def title(self, workload: Workload) -> str:
        """The workload's title, with settings such as ``{threads}`` filled in."""
        return workload.title.format(**vars(self.settings))


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells (the first is the header) as an aligned markdown table."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


# -- columns ----------------------------------------------------------------------------------

Cell = Callable[[Table, Workload, int], str]


class Column(NamedTuple):
    """A table column: its heading (from the table's headings) and its cell in a row."""

    heading: Callable[[Table], str]
    cell: Cell


def column(heading: str, cell: Cell) -> Column:
    """A column with a fixed heading."""
    return Column(lambda table: heading, cell)


def title_column(heading: str) -> Column:
    """The workload's title."""
    return column(heading, lambda table, workload, n: table.title(workload))


SIZE_COLUMN = column("N", lambda table, workload, n: f"{n:,}")


def rate_column(label: str, suffix: str = "", missing: str = "-") -> Column:
    """A configuration's best msgs/s; ``*`` when that run stopped early."""

    def cell(table: Table, workload: Workload, n: int) -> str:
        run, mark = table.best(workload.key, n, label)
        early = "*" if run and run["partial"] else ""
        return missing if run is None else f"{run['msgs_per_s']:,.0f}{early}{mark}"

    return Column(lambda table: table.headings[label] + suffix, cell)


def ratio_column(ours: str, than: str, heading: str, digits: int) -> Column:
    """Best msgs/s of ``ours`` over ``than``'s; not given for a concurrency row where ``than``
    lost messages (its speed then means nothing)."""

    def cell(table: Table, workload: Workload, n: int) -> str:
        mine, (theirs, mark) = table.rate(workload.key, n, ours), table.best(workload.key, n, than)
        if not mine or theirs is None or theirs["msgs_per_s"] <= 0:
            return "-"
        if workload.phase == "concurrency" and (table.worst(workload.key, n, than) or {})["lost"]:
            return "n/a (lossy)"
        return f"{mine / theirs['msgs_per_s']:.{digits}f}x{mark}"

    return column(heading, cell)


def cpu_column(label: str) -> Column:
    """The lowest CPU time of the client process (all its threads) per message, in ms."""

    def cell(table: Table, workload: Workload, n: int) -> str:
        costs = [run["cpu_seconds"] * 1000.0 / n for run in table.runs(workload.key, n, label)]
        return f"{min(costs):.2f}" if costs else "-"

    return Column(lambda table: f"{table.headings[label]} client CPU ms/msg", cell)


def dup_lost_column(heading: str) -> Column:
    """duplicates/lost of each configuration's worst run, on the concurrency rows."""

    def cell(table: Table, workload: Workload, n: int) -> str:
        if workload.phase != "concurrency":
            return ""
        worst = [table.worst(workload.key, n, label) for label in table.labels()]
        return ", ".join(f"{w[table.suite.duplicates]}/{w['lost']}" if w else "-" for w in worst)

    return column(heading, cell)


def clean_column(heading: str) -> Column:
    """How many runs of the row were exactly once, without errors or messages left behind."""

    def cell(table: Table, workload: Workload, n: int) -> str:
        runs = [run for label in table.labels() for run in table.runs(workload.key, n, label)]
        return f"{sum(1 for run in runs if run['clean'])}/{len(runs)}"

    return column(heading, cell)


def target_column(heading: str) -> Column:
    """What the row's target asks."""
    return column(heading, lambda table, workload, n: judge(table, workload, n)[0])


def verdict_column() -> Column:
    """``pass`` or ``FAIL`` against the row's target (``-``: nothing to judge)."""

    def cell(table: Table, workload: Workload, n: int) -> str:
        verdict = judge(table, workload, n)[1]
        if verdict is None:
            return "-"
        return ("pass" if verdict[0] else "FAIL") + (f" ({verdict[1]})" if verdict[1] else "")

    return column("met", cell)


def render_table(table: Table, columns: Sequence[Column]) -> Tuple[str, List[str]]:
    """The markdown table, and the rows whose target was missed."""
    rows = [[column.heading(table) for column in columns]]
    missed = []
    for workload, n in table.rows():
        rows.append([column.cell(table, workload, n) for column in columns])
        verdict = judge(table, workload, n)[1]
        if verdict is not None and not verdict[0]:
            missed.append(f"{table.title(workload)}, N={n:,}")
    return markdown_table(rows), missed


# -- targets ----------------------------------------------------------------------------------

#: Whether a row passed, and what to say beside the verdict; None when it cannot be judged.
Verdict = Optional[Tuple[bool, str]]
#: A goal: for the rows it applies to, what it asks and the verdict; None for other rows.
Rule = Callable[[Table, Workload, int], Optional[Tuple[str, Verdict]]]


def judge(table: Table, workload: Workload, n: int) -> Tuple[str, Verdict]:
    """The first rule that applies to a row: what it asks and the verdict."""
    for rule in table.suite.rules:
        found = rule(table, workload, n)
        if found is not None:
            return found
    return "-", None


def faster(ours: str, than: str, factor: float, keys: Sequence[str], name: str = "") -> Rule:
    """``ours`` reaches ``factor`` times ``than``'s msgs/s on ``keys`` (with a ``name``: only at
    the target N)."""

    def rule(table: Table, workload: Workload, n: int) -> Optional[Tuple[str, Verdict]]:
        if workload.key not in keys or (name and n != table.settings.target_n):
            return None
        mine, theirs = table.best(workload.key, n, ours)[0], table.rate(workload.key, n, than)
        if not theirs:
            return "-", None
        if mine is None or mine["partial"]:
            return f">= {factor:g}x{name}", None
        return f">= {factor:g}x{name}", (mine["msgs_per_s"] >= factor * theirs, "")

    return rule


def batch_gain(
    labels: Sequence[str],
    factor: float,
    key: str = "drain10",
    single: str = "drain1",
    than: str = "ours receive(1)",
) -> Rule:
    """Each of ``labels`` runs ``key`` (by default the receive(10) drain) at least ``factor``
    times faster than ``single`` (the receive(1) drain)."""

    def rule(table: Table, workload: Workload, n: int) -> Optional[Tuple[str, Verdict]]:
        if workload.key != key:
            return None
        gains = [
            (label.replace("ours ", ""), table.rate(key, n, label) / one)
            for label in labels
            if (one := table.rate(single, n, label)) and table.rate(key, n, label)
        ]
        shown = ", ".join(f"{label} {gain:.1f}x" for label, gain in gains)
        verdict = (all(gain >= factor for _, gain in gains), shown) if gains else None
        return f">= {factor:g}x {than}", verdict

    return rule


def at_most(keys: Sequence[str], limits: Sequence[Tuple[str, str, float]], unit: str) -> Rule:
    """On ``keys``, every configuration's worst run stays within each ``(name, result key,
    limit)``; the verdict names the values over their limit."""

    def rule(table: Table, workload: Workload, n: int) -> Optional[Tuple[str, Verdict]]:
        if workload.key not in keys:
            return None
        asked = ", ".join(f"{name} <= {limit:g} {unit}" for name, _, limit in limits)
        over, measured = [], False
        for label in table.labels():
            for name, key, limit in limits:
                values = [float(run[key]) for run in table.runs(workload.key, n, label)]
                measured = measured or bool(values)
                if values and max(values) > limit:
                    over.append(f"{label} {name} {max(values):.1f}")
        return asked, (not over, ", ".join(over)) if measured else None

    return rule


def slowdown(table: Table, key: str, label: str) -> Optional[float]:
    """How many times slower ``label`` runs ``key`` at the big N than at the smallest N."""
    deep = table.rate(key, table.settings.big_n, label) if table.settings.big_n > 0 else 0.0
    shallow = table.rate(key, min(table.settings.n), label)
    return shallow / deep if deep and shallow else None


def no_slowdown(label: str, factor: float) -> Rule:
    """``label``'s receive(1) drain at the big N is at most ``factor`` times slower."""

    def rule(table: Table, workload: Workload, n: int) -> Optional[Tuple[str, Verdict]]:
        if workload.key != "drain1" or n != table.settings.big_n or n <= 0:
            return None
        found, deep = slowdown(table, "drain1", label), table.best("drain1", n, label)[0]
        shown = f"<= {factor:g}x slower than N={min(table.settings.n):,}"
        if found is None or deep is None or deep["partial"]:
            return shown, None
        return shown, (found <= factor, f"{found:.2f}x")

    return rule


def exactly_once(labels: Sequence[str]) -> Rule:
    """Every concurrency run of ``labels`` delivers every message once."""

    def rule(table: Table, workload: Workload, n: int) -> Optional[Tuple[str, Verdict]]:
        if workload.phase != "concurrency":
            return None
        worst = [run for label in labels if (run := table.worst(workload.key, n, label))]
        ok = all(not run[table.suite.duplicates] and not run["lost"] for run in worst)
        return "exactly once (ours)", (ok, "") if worst else None

    return rule


# -- footnotes --------------------------------------------------------------------------------


def render_notes(table: Table) -> str:
    """Footnotes: the suite's own, runs that stopped early, the exactly-once counts of every
    concurrency run (and of any run that was not clean), the slowdown with depth, and how noisy
    the repeats were."""
    notes = list(table.suite.notes) + (
        table.suite.run_notes(table) if table.suite.run_notes else []
    )
    for workload, n in table.rows():
        for label in table.labels():
            runs, best = table.runs(workload.key, n, label), table.best(workload.key, n, label)[0]
            where = f"{table.title(workload)}, N={n:,}, {label}"
            if best is not None and best["partial"]:
                reason = f"the {best['budget']:g} s cap" if best["capped"] else "calls that raised"
                notes.append(
                    f"- \\* {where}: stopped by {reason} after {best['processed']:,} of {n:,}"
                    " messages; msgs/s is over those."
                )
            if runs and (workload.phase == "concurrency" or not all(r["clean"] for r in runs)):
                notes.append(delivery_note(table, where, runs))
    return "\n".join(notes + depth_notes(table) + noise_notes(table))


def delivery_note(table: Table, where: str, runs: Sequence[Run]) -> str:
    """Every run's exactly-once counts, in run order."""

    def each(key: str) -> str:
        return ", ".join("unreadable" if run[key] is None else f"{run[key]:,}" for run in runs)

    duplicates = f"duplicates {each(table.suite.duplicates)}"
    if any(run["received_twice"] != run[table.suite.duplicates] for run in runs):
        duplicates += f" (received twice {each('received_twice')})"
    stuck = sum(1 for run in runs if run.get("stuck"))
    gave_up = f"; in {stuck} run(s) the queue stayed unreadable and the consumers gave up"
    return (
        f"- {where}, {len(runs)} run(s): {duplicates}; lost {each('lost')}; delivered"
        f" {each('delivered')}; left in queue {each('remaining')}; errors raised"
        f" {each('errors')}{gave_up if stuck else ''}."
    )


def depth_notes(table: Table) -> List[str]:
    """Per configuration run at the big N: each workload's rate there against the smallest N."""
    notes, big, small = [], table.settings.big_n, min(table.settings.n)
    for label in table.labels():
        parts = [
            f"{table.title(workload)}: {table.rate(workload.key, big, label):,.0f} vs"
            f" {table.rate(workload.key, small, label):,.0f} msgs/s ({found:.2f}x slower)"
            for workload in table.settings.workloads
            if (found := slowdown(table, workload.key, label)) is not None
        ]
        if parts:
            notes.append(f"- Depth, {label}, N={big:,} vs N={small:,}: " + "; ".join(parts) + ".")
    return notes


def noise_notes(table: Table) -> List[str]:
    """How far the best and worst run of a measurement were apart."""
    spreads = []
    for (key, n, label), runs in table.results.items():
        rates = [float(run["msgs_per_s"]) for run in runs]
        if len(rates) > 1 and min(rates) > 0:
            spreads.append((max(rates) / min(rates), f"{key}, N={n:,}, {label}"))
    if not spreads:
        return []
    worst, where = max(spreads)
    return [
        "- Noise: the best run of a measurement was"
        f" {statistics.median(spread for spread, _ in spreads):.2f}x its worst run in the median"
        f" measurement, and {worst:.2f}x at most ({where})."
    ]


def section(heading: str, table: str, about: str, notes: str) -> str:
    """A part of a results file: an optional heading, a table, what it means, footnotes."""
    parts = [f"## {heading}" if heading else "", table, about, notes]
    return "\n\n".join(part for part in parts if part)


# -- the machine ------------------------------------------------------------------------------


class MachineFacts(NamedTuple):
    """Where and when the numbers were taken."""

    date: str
    cores: int
    cpu: str
    load: str


def machine_facts() -> MachineFacts:
    """This machine: usable cores, CPU model (``/proc/cpuinfo``), 1/5/15-minute load."""
    cores, load = os.cpu_count() or 0, "unknown"
    if sys.platform == "linux":  # statements, not expressions, so mypy checks each platform
        cores = len(os.sched_getaffinity(0))
    if sys.platform != "win32":
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return MachineFacts(date, cores, _cpu_model(), load)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
