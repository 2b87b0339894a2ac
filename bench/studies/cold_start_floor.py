"""A study: the floor under a cold Amazon SQS call, with the standard library alone.

The ``sqs`` suite of ``bench/run.py`` times a cold start: a new interpreter imports the client,
makes it and calls ``GetQueueAttributes`` once. This asks how fast any standard-library client
could do that. ``call`` mode is that client at its barest: it imports ``http.client``, ``json``,
``hmac``, ``hashlib`` and ``datetime`` (nothing else of its own), signs one request with SigV4
(the minimum, copied from ``pyqueue_client/_transport/sigv4.py``), POSTs it and reads the JSON
answer. No library that calls SQS over ``http.client`` can start faster.

The study times whole processes from outside (interpreter start to exit), as the suite does, on
the suite's interpreter and environment (the empty ``bench/.venv-sqs-ours``, this checkout on
``PYTHONPATH``), against moto's server with signatures checked. In each round every row runs
once, in turns, so the machine's load falls on all alike; the medians count:

- ``python -c pass``: the interpreter alone;
- the floor's imports alone, then the floor call (a process of this file in ``call`` mode);
- ``python -c "import pyqueue_client"``, then our cold start as the suite runs it
  (``bench/_sqs_worker.py ours cold``);
- boto3's cold start, the same way, when ``bench/.venv-boto3`` exists (``make bench`` makes it).

::

    .venv/bin/python bench/studies/cold_start_floor.py [--runs 20] [--instructions] [--output FILE]

It prints a Markdown table; ``--output`` also writes it with the date, the command and the load.
Wall times on a shared machine move with its load; ``--instructions`` adds what does not: each
row's instructions, counted once by valgrind's callgrind (which must be installed).
Not part of ``make bench``.
"""

from __future__ import annotations

# Only what the floor call needs is imported here: `call` mode is the measured process, so
# everything else (the harness's modules, even typing) is imported where the harness uses it.
import hashlib
import hmac
import http.client
import json
import sys
from datetime import datetime, timezone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Sequence, Tuple

REGION = "us-east-1"
#: The floor's imports, as a one-line program (the interpreter's own modules aside).
FLOOR_IMPORTS = "import hashlib, hmac, http.client, json, datetime"
#: The rows the others are compared with.
PASS, BOTO3_PASS = "`python -c pass`", "boto3: `python -c pass`"
BOTO3_COLD = "boto3: cold start as the suite runs it"


# -- the floor call -----------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def floor_call(endpoint: str, queue_url: str, key: str, secret: str) -> dict:  # type: ignore[type-arg]
    """``GetQueueAttributes`` of ``queue_url`` at ``endpoint`` (``http://host:port``), signed
    with SigV4 for ``sqs``: the decoded answer. Raises ``RuntimeError`` unless it is a 200."""
    host = endpoint.split("://", 1)[1].rstrip("/")
    body = json.dumps({"QueueUrl": queue_url, "AttributeNames": ["All"]}).encode()
    now = datetime.now(timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "host": host,
        "x-amz-date": stamp,
        "x-amz-target": "AmazonSQS.GetQueueAttributes",
    }
    names = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)),
            names,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{REGION}/sqs/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"
    signing = _hmac(("AWS4" + secret).encode(), day)
    for part in (REGION, "sqs", "aws4_request"):
        signing = _hmac(signing, part)
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={names}, Signature={signature}"
    )
    connection = http.client.HTTPConnection(host, timeout=30)
    try:
        connection.request("POST", "/", body, headers)
        response = connection.getresponse()
        status, answer = response.status, response.read()
    finally:
        connection.close()
    if status != 200:
        raise RuntimeError(f"GetQueueAttributes answered {status}: {answer[:300]!r}")
    decoded: dict = json.loads(answer)  # type: ignore[type-arg]
    return decoded


# -- the harness --------------------------------------------------------------------------------


def _bench_dir() -> str:
    import os  # harness only: kept out of the measured call

    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rows(
    bare_python: str,
    boto3_python: Optional[str],
    moto_url: str,
    queue_url: str,
    key: str,
    secret: str,
) -> List[Tuple[str, List[str], bool]]:
    """(label, command, whether it runs in boto3's environment) of each measured process."""
    import os  # harness only

    worker = os.path.join(_bench_dir(), "_sqs_worker.py")
    call_args = [moto_url, queue_url, key, secret]
    rows = [
        (PASS, [bare_python, "-c", "pass"], False),
        (
            f'floor imports (`python -c "{FLOOR_IMPORTS}"`)',
            [bare_python, "-c", FLOOR_IMPORTS],
            False,
        ),
        (
            "floor call (this study, `call` mode)",
            [bare_python, __file__, "call", *call_args],
            False,
        ),
        (
            '`python -c "import pyqueue_client"`',
            [bare_python, "-c", "import pyqueue_client"],
            False,
        ),
        (
            "ours: cold start as the suite runs it",
            [bare_python, worker, "ours", "cold", *call_args, "0"],
            False,
        ),
    ]
    if boto3_python:
        rows.append((BOTO3_PASS, [boto3_python, "-c", "pass"], True))
        boto3_cold = [boto3_python, worker, "boto3", "cold", *call_args, "0"]
        rows.append((BOTO3_COLD, boto3_cold, True))
    return rows


def _environments() -> Tuple[Dict[str, str], Dict[str, str]]:
    """The suite's environments: ours (this checkout on ``PYTHONPATH``), then boto3's."""
    import os  # harness only

    sys.path[:0] = [_bench_dir()]
    from _runner import worker_env

    return worker_env(os.path.dirname(_bench_dir())), worker_env(None)


def _measure(rows: Sequence[Tuple[str, List[str], bool]], runs: int) -> Dict[str, float]:
    """Median whole-process ms of each row, the rows taking turns in every round."""
    import statistics  # harness only
    import subprocess
    import time

    ours_env, boto3_env = _environments()
    times: Dict[str, List[float]] = {label: [] for label, _, _ in rows}
    for _ in range(runs):
        for label, command, in_boto3 in rows:
            env = boto3_env if in_boto3 else ours_env
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
            times[label].append((time.perf_counter() - started) * 1000)
    return {label: statistics.median(values) for label, values in times.items()}


def _instructions(rows: Sequence[Tuple[str, List[str], bool]]) -> Dict[str, float]:
    """Millions of instructions each row's process runs, counted by valgrind's callgrind: the
    same on an idle machine and a loaded one, so a change shows up however busy the machine."""
    import re  # harness only
    import subprocess

    ours_env, boto3_env = _environments()
    counts: Dict[str, float] = {}
    for label, command, in_boto3 in rows:
        counter = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        done = subprocess.run(
            counter + command,
            env=boto3_env if in_boto3 else ours_env,
            check=True,
            capture_output=True,
            text=True,
        )
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(f"callgrind counted nothing for {label}: {done.stderr[-500:]}")
        counts[label] = int(found.group(1)) / 1e6
    return counts


def render(medians: Dict[str, float], instructions: Optional[Dict[str, float]] = None) -> str:
    """The Markdown table: each row's median ms, its cost above its bare interpreter and its
    share of boto3's cold start; with the instruction counts, if any, likewise."""
    sys.path[:0] = [_bench_dir()]
    from _report import markdown_table

    header = ["process (whole, from outside)", "median ms", "above `python -c pass`"]
    boto3_cold = medians.get(BOTO3_COLD)
    header += ["/ boto3 cold start"] if boto3_cold else []
    header += ["M instructions", "/ boto3 cold start"] if instructions else []
    table = [header]
    for label, ms in medians.items():
        base = BOTO3_PASS if label.startswith("boto3") else PASS
        row = [label, f"{ms:.0f}", f"{ms - medians[base]:+.0f}"]
        row += [f"{ms / boto3_cold:.2f}"] if boto3_cold else []
        if instructions:
            count, peer = instructions[label], instructions.get(BOTO3_COLD)
            row += [f"{count:.0f}", f"{count / peer:.2f}" if peer else "-"]
        table.append(row)
    return markdown_table(table)


def _has_boto3(python: Optional[str]) -> bool:
    """Whether ``python`` exists and imports boto3."""
    import os
    import subprocess

    if python is None or not os.path.exists(python):
        return False
    return subprocess.run([python, "-c", "import boto3"], check=False).returncode == 0


def main(argv: Optional[List[str]] = None) -> int:
    """Start moto, measure every row, print the table, and write it when asked."""
    import argparse  # harness only
    import os
    import platform

    words = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="processes per row; medians count")
    parser.add_argument("--output", help="also write the table here, with the date and command")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each row's instructions once, with valgrind's callgrind",
    )
    args = parser.parse_args(words)
    bench = _bench_dir()
    sys.path[:0] = [os.path.dirname(bench), bench]
    from _report import log, machine_facts
    from _venv import venv_python

    from pyqueue_client import PyQueue
    from tests._moto import moto_python, start_moto, stop_moto

    bare = os.path.join(bench, ".venv-sqs-ours")
    if not os.path.exists(venv_python(bare)):
        import subprocess

        subprocess.run([sys.executable, "-m", "venv", "--without-pip", bare], check=True)
    boto3: Optional[str] = venv_python(os.path.join(bench, ".venv-boto3"))
    if not _has_boto3(boto3):
        boto3 = None
    python, why = moto_python()
    if python is None:
        raise RuntimeError(f"this study needs moto's server: {why}")
    import compileall

    # As the suite does: where PYTHONDONTWRITEBYTECODE is set, every process would compile anew.
    compileall.compile_dir(os.path.join(os.path.dirname(bench), "pyqueue_client"), quiet=1)
    before = machine_facts()
    moto = start_moto(python)
    try:
        keys = moto.credentials
        with PyQueue(
            queue_type="sqs",
            queue_name="cold-floor",
            endpoint_url=moto.url,
            region=REGION,
            aws_access_key_id=keys.access_key,
            aws_secret_access_key=keys.secret_key,
            create_queue=True,
        ) as queue:
            queue_url = queue.get_queue_info()["queue_url"]
        rows = _rows(
            venv_python(bare),
            boto3,
            moto.url,
            queue_url,
            keys.access_key,
            keys.secret_key,
        )
        log(f"cold-start floor: {len(rows)} rows, {args.runs} runs each")
        medians = _measure(rows, args.runs)
        table = render(medians, _instructions(rows) if args.instructions else None)
    finally:
        stop_moto(moto.process)
    after = machine_facts()
    print(table)
    if args.output:
        command = " ".join(["python bench/studies/cold_start_floor.py", *words])
        header = [
            "# Cold start: the standard-library floor under one SQS call",
            "",
            f"- Date: {after.date}",
            f"- Command: `{command}`",
            f"- Python {platform.python_version()}; {after.cores} cores, {after.cpu}; load average"
            f" (1/5/15 min) {before.load} at start, {after.load} at end",
            f"- {args.runs} processes per row, the rows taking turns; medians",
            "",
        ]
        with open(args.output, "w", encoding="utf-8") as file:
            file.write("\n".join(header) + "\n" + table + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["call"]:
        floor_call(*sys.argv[2:6])
    else:
        sys.exit(main())
