"""The remote suite of ``make bench``: this checkout's client against ``pyqueue-client==1.2.1``.

Both clients talk to one ``pyqueue serve`` that the benchmark starts on 127.0.0.1 (a free port, a
temporary data folder, ``--no-fsync``) and stops at the end. Both libraries are imported as
``pyqueue_client``, so every measurement is a child process running ``bench/_remote_workload.py``:
this checkout's with ``PYTHONPATH`` set to the checkout, the original's with the interpreter of its
own venv (``bench/.venv-original-remote``, created and filled from PyPI on first use). The tables
go to standard output and, with the date, the machine, the commit and the command, to
``bench/results/remote.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import queue
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import IO, Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from _venv import ORIGINAL_REQUIREMENT, ensure_original_venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
WORKER = os.path.join(BENCH, "_remote_workload.py")
DEFAULT_VENV = os.path.join(BENCH, ".venv-original-remote")
DEFAULT_OUTPUT = os.path.join(BENCH, "results", "remote.md")

#: Seconds the server may take to print its URL and key.
START_SECONDS = 30.0
#: Seconds the server may take to stop after SIGTERM before it is killed.
STOP_SECONDS = 20.0
#: Seconds a single or threaded run may last; the worker stops its loops then.
RUN_DEADLINE = 120.0
#: Seconds beyond its own deadline before a worker is killed as hung.
HANG_MARGIN = 60.0
#: The least a client must reach compared with the original, on the add and drain rows.
TARGET_RATIO = 2.0

Result = Dict[str, Any]


class Server(NamedTuple):
    """A running ``pyqueue serve``: its process, URL, generated admin key and log file."""

    process: subprocess.Popen[str]
    url: str
    api_key: str
    log_path: str


class Client(NamedTuple):
    """One measured client library: its label, interpreter, environment and expected folder."""

    label: str
    python: str
    env: Dict[str, str]
    cwd: str
    library_prefix: str


class Row(NamedTuple):
    """A line of the client table: which workload, which part of its result, whether targeted."""

    title: str
    workload: str
    part: str
    targeted: bool


ROWS = (
    Row("add_message, 1 client", "single", "first_seconds", True),
    Row("receive(1) + delete_message, 1 client", "single", "second_seconds", True),
    Row("add_message, {threads} client threads", "threads", "first_seconds", False),
    Row(
        "receive(1) + delete_message, {threads} client threads", "threads", "second_seconds", False
    ),
)


# -- command line ------------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """The benchmark's options; ``--quick`` shortens the server run and repeats once."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--n", type=int, default=1000, help="messages per client workload (default 1000)")
    add("--repeat", type=int, default=3, help="runs per client workload; best counts (default 3)")
    add("--threads", type=int, default=8, help="concurrent clients (default 8)")
    add("--duration", type=float, default=60.0, help="seconds of the server load (default 60)")
    add("--quick", action="store_true", help="smoke run: 10 s server load, 1 run each")
    add("--skip-original", action="store_true", help="measure this checkout's client only")
    add("--venv", default=DEFAULT_VENV, help="where the original is installed")
    add("--output", default=DEFAULT_OUTPUT, help="results file (default bench/results/remote.md)")
    add("--no-write", action="store_true", help="print the tables only")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 10.0)
        args.repeat = 1
    if args.n < args.threads or args.threads < 1 or args.repeat < 1 or args.duration <= 0:
        parser.error("need --threads >= 1, --n >= --threads, --repeat >= 1 and --duration > 0")
    return args


def log(text: str) -> None:
    """Progress, on standard error."""
    print(f"bench: {text}", file=sys.stderr, flush=True)


# -- the server --------------------------------------------------------------------------------


def start_server(scratch: str) -> Server:
    """Start ``pyqueue serve`` on 127.0.0.1, a free port, a fresh folder; wait for its key."""
    data = os.path.join(scratch, "server-data")
    log_path = os.path.join(scratch, "server.log")
    command = [sys.executable, "-m", "pyqueue_client", "serve", "--host", "127.0.0.1"]
    command += ["--port", "0", "--data", data, "--no-fsync", "--log-level", "warning"]
    with open(log_path, "w", encoding="utf-8") as server_log:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=server_log,
            text=True,
            env=worker_env(ROOT),
            cwd=scratch,
        )
    assert process.stdout is not None
    try:
        url, key = read_announcement(process.stdout)
    except Exception:
        stop_server_process(process)
        raise
    log(f"server listening on {url}")
    return Server(process, url, key, log_path)


def read_announcement(out: IO[str]) -> Tuple[str, str]:
    """The URL and admin key that the server prints on start-up, within ``START_SECONDS``."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=forward_lines, args=(out, lines), daemon=True).start()
    url = key = ""
    stop_at = time.monotonic() + START_SECONDS
    while not (url and key):
        try:
            line = lines.get(timeout=max(stop_at - time.monotonic(), 0.01))
        except queue.Empty:
            raise RuntimeError("the server did not print its URL and key in time") from None
        if line.startswith("PyQueue server listening on "):
            url = line.split()[-1]
        elif line.startswith("API key"):
            key = line.split()[-1]
    if not url.startswith("http://127.0.0.1:"):
        raise RuntimeError(f"the server listens on {url!r}, not on 127.0.0.1")
    return url, key


def forward_lines(out: IO[str], lines: queue.Queue[str]) -> None:
    """Put every line of ``out`` on ``lines`` (a thread: reading may block)."""
    for line in out:
        lines.put(line)


def stop_server(server: Server) -> Tuple[int, int]:
    """Stop the server gracefully; its exit code and the number of ERROR lines it logged."""
    code = stop_server_process(server.process)
    with open(server.log_path, encoding="utf-8", errors="replace") as server_log:
        errors = sum(1 for line in server_log if " ERROR " in line)
    return code, errors


def stop_server_process(process: subprocess.Popen[str]) -> int:
    """Terminate (SIGTERM: a graceful stop), then kill after ``STOP_SECONDS``; the exit code."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(STOP_SECONDS)


# -- the clients -------------------------------------------------------------------------------


def worker_env(pythonpath: Optional[str]) -> Dict[str, str]:
    """The environment without proxies (traffic stays on 127.0.0.1) and with ``pythonpath``."""
    proxies = {"http_proxy", "https_proxy", "all_proxy", "pythonpath"}
    env = {key: value for key, value in os.environ.items() if key.lower() not in proxies}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def make_clients(args: argparse.Namespace, scratch: str) -> List[Client]:
    """This checkout's client, and the original's from its venv unless skipped."""
    clients = [Client("ours", sys.executable, worker_env(ROOT), ROOT, ROOT)]
    if not args.skip_original:
        python = ensure_original_venv(args.venv)
        venv = os.path.abspath(args.venv)
        clients.append(Client("original 1.2.1", python, worker_env(None), scratch, venv))
    return clients


def run_worker(client: Client, server: Server, spec: Dict[str, Any]) -> Result:
    """One workload in a child process of ``client``; checks it measured the right library."""
    full = dict(spec, server_url=server.url, api_key=server.api_key)
    full["queue_name"] = f"bench-{spec['workload']}-{uuid.uuid4().hex[:12]}"
    done = subprocess.run(
        [client.python, WORKER, json.dumps(full)],
        capture_output=True,
        text=True,
        env=client.env,
        cwd=client.cwd,
        timeout=float(spec["deadline"]) + HANG_MARGIN,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{client.label} {spec['workload']} failed:\n{done.stderr[-3000:]}")
    result: Result = json.loads(done.stdout.strip().splitlines()[-1])
    if not os.path.abspath(result["library"]).startswith(client.library_prefix):
        raise RuntimeError(f"{client.label} imported {result['library']}, not its own library")
    return result


def client_runs(
    args: argparse.Namespace, clients: Sequence[Client], server: Server
) -> Dict[Tuple[str, str], List[Result]]:
    """Every (client, workload) ``repeat`` times, the clients taking turns."""
    runs: Dict[Tuple[str, str], List[Result]] = {}
    for turn in range(args.repeat):
        for workload in ("single", "threads"):
            for client in clients:
                threads = 1 if workload == "single" else args.threads
                spec = spec_for(workload, args.n, threads, 0.0, RUN_DEADLINE)
                log(f"run {turn + 1}/{args.repeat}: {client.label} {workload}")
                result = run_worker(client, server, spec)
                runs.setdefault((client.label, workload), []).append(result)
    return runs


def server_load(args: argparse.Namespace, client: Client, server: Server) -> Result:
    """The mixed load of ``threads`` of our clients for ``duration`` seconds."""
    log(f"server load: {args.threads} clients for {args.duration:g} s")
    spec = spec_for("mixed", 0, args.threads, args.duration, args.duration + RUN_DEADLINE)
    return run_worker(client, server, spec)


def spec_for(workload: str, n: int, threads: int, duration: float, deadline: float) -> Result:
    """A worker spec, without the server's address and the queue name."""
    return {
        "workload": workload,
        "n": n,
        "threads": threads,
        "duration": duration,
        "deadline": deadline,
    }


# -- results -----------------------------------------------------------------------------------


def rate(result: Result, part: str) -> float:
    """msgs/s of one part of a run: messages expected over its seconds."""
    seconds = float(result[part])
    return float(result["expected"]) / seconds if seconds > 0 else 0.0


def cpu_per_message(result: Result, part: str) -> float:
    """Milliseconds of the client process's CPU per message in one part of a run."""
    return float(result[part]) * 1000.0 / max(int(result["expected"]), 1)


def clean(result: Result) -> bool:
    """Whether a run had no error, no duplicate, no loss and left the queue empty."""
    counts = ("errors", "duplicates", "lost", "unexpected", "left_in_queue")
    return all(result[key] == 0 for key in counts)


def best_rate(results: Sequence[Result], part: str) -> float:
    """The highest msgs/s of the runs."""
    return max(rate(result, part) for result in results)


def client_table(
    runs: Dict[Tuple[str, str], List[Result]], labels: Sequence[str], threads: int
) -> Tuple[str, bool]:
    """The client table as markdown, and whether every targeted row passed."""
    header = ["workload (msgs/s, best run)", *list(labels)]
    header += [f"{label} client CPU ms/msg" for label in labels]
    header += ["ours / original", "target", "met", "runs exactly once, no errors"]
    rows = [header]
    all_met = True
    for row in ROWS:
        cells, met = client_row(row, runs, labels)
        rows.append([row.title.format(threads=threads), *cells])
        all_met = all_met and met
    return markdown_table(rows), all_met


def client_row(
    row: Row, runs: Dict[Tuple[str, str], List[Result]], labels: Sequence[str]
) -> Tuple[List[str], bool]:
    """One row's cells after the title, and whether its target (if any) was met."""
    rates = [best_rate(runs[(label, row.workload)], row.part) for label in labels]
    cells = [f"{value:,.0f}" for value in rates]
    cpu_part = row.part.replace("seconds", "cpu")
    for label in labels:
        cpu = min(cpu_per_message(result, cpu_part) for result in runs[(label, row.workload)])
        cells.append(f"{cpu:.2f}")
    results = [result for label in labels for result in runs[(label, row.workload)]]
    exact = sum(1 for result in results if clean(result))
    ratio = rates[0] / rates[1] if len(rates) > 1 and rates[1] > 0 else 0.0
    cells.append(f"{ratio:.2f}x" if ratio else "-")
    met = not row.targeted or ratio >= TARGET_RATIO
    cells.append(f">= {TARGET_RATIO:g}x" if row.targeted else "-")
    cells.append(("pass" if met else "FAIL") if row.targeted and ratio else "-")
    cells.append(f"{exact}/{len(results)}")
    return cells, met or not ratio


def server_table(
    result: Result, args: argparse.Namespace, stop: Tuple[int, int]
) -> Tuple[str, bool]:
    """The server table as markdown, and whether the server target passed."""
    exactly_once = result["lost"] == 0 and result["duplicates"] == 0 and result["unexpected"] == 0
    no_errors = result["errors"] == 0 and stop[1] == 0
    sustained = result["first_seconds"] >= args.duration
    met = exactly_once and no_errors and sustained and result["left_in_queue"] == 0
    verdict = "pass" if met else "FAIL"
    rows = [
        ["measure", "value"],
        ["clients (threads, one connection each)", str(args.threads)],
        ["duration (s)", f"{result['first_seconds']:.1f}"],
        ["requests", f"{result['requests']:,}"],
        ["requests/s", f"{result['requests_per_second']:,.0f}"],
        ["latency p50 / p99 / max (ms)", latency_text(result)],
        ["messages added", f"{result['added']:,}"],
        ["deleted exactly once", f"{result['deleted_once']:,}"],
        ["duplicates / lost / unexpected", duplicates_text(result)],
        ["left in queue at the end", str(result["left_in_queue"])],
        ["client errors / server ERROR log lines", f"{result['errors']} / {stop[1]}"],
        [f"target: {args.threads} clients, zero errors, exactly once", verdict],
    ]
    return markdown_table(rows), met


def latency_text(result: Result) -> str:
    """p50 / p99 / max in milliseconds."""
    return f"{result['p50_ms']:.1f} / {result['p99_ms']:.1f} / {result['max_ms']:.1f}"


def duplicates_text(result: Result) -> str:
    """duplicates / lost / unexpected."""
    return f"{result['duplicates']} / {result['lost']} / {result['unexpected']}"


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as an aligned markdown table; the first row is the header."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [table_line(rows[0], widths), table_line(["-" * width for width in widths], widths)]
    lines += [table_line(row, widths) for row in rows[1:]]
    return "\n".join(lines)


def table_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One markdown table line."""
    return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |"


# -- circumstances -----------------------------------------------------------------------------


def git_commit() -> str:
    """The short commit, noting uncommitted changes; read-only git calls."""
    head = git_output("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git_output("status", "--porcelain", "--untracked-files=no")
    return f"{head} with uncommitted changes" if dirty else head


def git_output(*words: str) -> str:
    """What a git command prints, or '' when it fails."""
    try:
        done = subprocess.run(
            ["git", *words], capture_output=True, text=True, cwd=ROOT, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def command_text(argv: Optional[Sequence[str]]) -> str:
    """The command that ran this benchmark, relative to the checkout."""
    words = list(sys.argv[1:] if argv is None else argv)
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(ROOT) else "python"
    return shlex.join([python, "bench/remote_run.py", *words])


def header(args: argparse.Namespace, argv: Optional[Sequence[str]], started: str) -> str:
    """The results file's title and circumstances."""
    original = "skipped" if args.skip_original else f"{ORIGINAL_REQUIREMENT} (uses requests)"
    return "\n".join(
        [
            "# Remote client and `pyqueue serve`",
            "",
            f"- Date: {started}",
            f"- Command: `{command_text(argv)}`",
            f"- Commit: {git_commit()}",
            f"- Python: {platform.python_implementation()} {platform.python_version()}",
            f"- Machine: {os.cpu_count()} cores, {cpu_model()}",
            f"- Original client: {original}, in `{os.path.relpath(args.venv, ROOT)}`",
            "- Server: `python -m pyqueue_client serve --host 127.0.0.1 --port 0 --no-fsync`, "
            "one server for every run, a fresh queue name per run",
            f"- Settings: N={args.n:,} bodies of ~100 bytes, one call per message; best of "
            f"{args.repeat} run(s); {args.threads} client threads; server load for "
            f"{args.duration:g} s",
        ]
    )


def notes(runs: Dict[Tuple[str, str], List[Result]]) -> str:
    """One line per (client, workload): the exactly-once counts of every run."""
    lines = []
    for (label, workload), results in sorted(runs.items()):
        counts = ", ".join(duplicates_text(result) for result in results)
        errors = ", ".join(str(result["errors"]) for result in results)
        lines.append(
            f"- {label}, {workload}: duplicates / lost / unexpected per run {counts}; "
            f"errors {errors}"
        )
    return "\n".join(lines)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so it is never half written."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as output:
        output.write(text)
    os.replace(temporary, path)


# -- main --------------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    argv: Optional[Sequence[str]],
    started: str,
    measured: Tuple[Dict[Tuple[str, str], List[Result]], Result, Tuple[int, int]],
    labels: Sequence[str],
) -> bool:
    """Print the tables, write the results file; whether every target passed."""
    runs, load, stop = measured
    clients, clients_met = client_table(runs, labels, args.threads)
    server, server_met = server_table(load, args, stop)
    text = "\n\n".join(
        [
            header(args, argv, started),
            "## Clients against the same server",
            clients,
            "msgs/s = N / wall seconds of that part; the receive rows drain the queue the add "
            "row filled. Client CPU ms/msg is the client process's own CPU time (all its "
            "threads) per message, the lowest of the runs: the client's cost without the "
            "server's. The last column counts runs with no duplicate, loss, error or leftover.",
            notes(runs),
            "## Server under a mixed load from our client",
            server,
            "Each client thread loops add_message, receive_messages(1), delete_message; every "
            "request is timed at the client. Afterwards one client drains what is left and every "
            "added id must have been received and deleted exactly once, the queue empty. Server "
            f"exit code after SIGTERM: {stop[0]}.",
        ]
    )
    print(text, flush=True)
    if not args.no_write:
        write_text(args.output, text + "\n")
        log(f"wrote {os.path.relpath(args.output, ROOT)}")
    return clients_met and server_met


def measure(
    args: argparse.Namespace, scratch: str
) -> Tuple[Tuple[Dict[Tuple[str, str], List[Result]], Result, Tuple[int, int]], List[str]]:
    """Start the server, run every measurement, stop the server."""
    clients = make_clients(args, scratch)
    server = start_server(scratch)
    try:
        runs = client_runs(args, clients, server)
        load = server_load(args, clients[0], server)
    finally:
        stop = stop_server(server)
    return (runs, load, stop), [client.label for client in clients]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the suite; 0 when every target passed, 1 otherwise."""
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="pyqueue-remote-bench-") as scratch:
        measured, labels = measure(args, scratch)
    return 0 if report(args, argv, started, measured, labels) else 1


if __name__ == "__main__":
    sys.exit(main())
