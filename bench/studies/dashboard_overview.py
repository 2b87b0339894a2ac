"""A study: the dashboard with a thousand queues, against the issue's targets.

Starts ``pyqueue serve`` in this process (no fsync, port 0), fills ``--queues`` queues with
``--messages`` messages each through the HTTP API (one batch request per queue, every tenth queue
with a dead-letter queue), then times ``GET /api/v1/overview`` (the dashboard's summary of every
queue: target under 100 ms) ``--rounds`` times on one keep-alive connection, and ``/metrics``
alike. With ``/usr/bin/chromium`` and Playwright installed it also opens the dashboard in headless
Chromium and reports its first contentful paint and the time until the table shows every queue
(target: first paint under 1 s)::

    .venv/bin/python bench/studies/dashboard_overview.py [--queues 1000] [--messages 5]

Not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from pyqueue_client.server import QueueServer, ServerConfig

KEY = "bench-admin-key"
CHROMIUM = Path("/usr/bin/chromium")


def _call(
    connection: http.client.HTTPConnection, method: str, path: str, body: Any = None
) -> bytes:
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    payload = None if body is None else json.dumps(body).encode()
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return data


def fill(connection: http.client.HTTPConnection, queues: int, messages: int) -> None:
    """``queues`` queues of ``messages`` messages; every tenth sends dead letters to the next."""
    for number in range(queues):
        name = f"queue-{number:04d}"
        batch = {"messages": [{"message_body": {"n": n}} for n in range(messages)]}
        _call(connection, "POST", f"/api/v1/queues/{name}/messages/batch", batch)
        if number % 10 == 0:
            policy = {"dead_letter_queue": f"queue-{number + 1:04d}", "max_receive_count": 3}
            _call(connection, "PATCH", f"/api/v1/queues/{name}/attributes", policy)


def timed(connection: http.client.HTTPConnection, path: str, rounds: int) -> Dict[str, float]:
    """Milliseconds per call of ``GET path``: median, 95th percentile, best; and its size."""
    times: List[float] = []
    size = 0
    for _ in range(rounds):
        started = time.perf_counter()
        size = len(_call(connection, "GET", path))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))],
        "best_ms": times[0],
        "bytes": size,
    }


def first_paint(url: str, queues: int) -> Optional[Dict[str, float]]:
    """The dashboard's first contentful paint and time to a full table, in headless Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not CHROMIUM.exists():
        return None
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    with sync_playwright() as driver, tempfile.TemporaryDirectory() as profile:
        context = driver.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=args
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(url + "/")
        page.evaluate(f"sessionStorage.setItem('pyqueue.apiKey', {json.dumps(KEY)})")
        started = time.perf_counter()
        page.reload()
        # (The page's Content-Security-Policy forbids evaluating strings: wait on a locator.)
        page.locator("#queue-rows tr").nth(queues - 1).wait_for(state="attached", timeout=30_000)
        table_ms = (time.perf_counter() - started) * 1000
        paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
        context.close()
    return {"first_contentful_paint_ms": float(paint), "full_table_ms": table_ms}


def main() -> None:
    """Run the study and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queues", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        keys = Path(folder) / "keys.json"
        everything = ["read", "write", "delete", "manage"]
        keys.write_text(json.dumps({KEY: {"description": "bench", "queues": {"*": everything}}}))
        config = ServerConfig(
            port=0, data_dir=str(Path(folder) / "data"), api_keys_file=str(keys), durable=False
        )
        with QueueServer(config) as server:
            port = int(server.url.rsplit(":", 1)[1])
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            fill(connection, options.queues, options.messages)
            print(f"{options.queues} queues x {options.messages} messages")
            for path in ("/api/v1/overview", "/metrics"):
                numbers = timed(connection, path, options.rounds)
                shown = ", ".join(f"{name} {value:.1f}" for name, value in numbers.items())
                print(f"GET {path}: {shown} ({options.rounds} rounds)")
            browser = first_paint(server.url, options.queues)
            if browser is None:
                print("browser: skipped (no /usr/bin/chromium or no Playwright)")
            else:
                print("browser: " + ", ".join(f"{k} {v:.0f}" for k, v in browser.items()))
            connection.close()


if __name__ == "__main__":
    main()
