"""What the server counts about itself, in memory, and ``GET /metrics`` in Prometheus text format.

Two kinds of numbers, both lost on restart (a Prometheus server keeps the history):

- requests by method, route template and status, with their latency as a histogram, so a
  dashboard in Grafana can show error rates and slow routes without logs;
- messages sent, received and deleted per queue, second by second over the last
  :data:`WINDOW_SECONDS`, for the dashboard's throughput chart, and as running totals.

Counting costs one lock and a few dictionary updates per request. Route labels are templates
(``/api/v1/queues/{queue}/messages``), never raw paths, so the number of series stays bounded
whatever clients send.
"""

from __future__ import annotations

import array
import bisect
import operator
import threading
import time
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .._rest import ENDPOINTS
from ._params import JsonObject, Response

__all__ = [
    "KINDS",
    "LATENCY_BUCKETS",
    "WINDOW_SECONDS",
    "Call",
    "Monitor",
    "QueueGauges",
    "Throughput",
    "render",
]

#: How far back the throughput chart reaches, in one-second steps.
WINDOW_SECONDS = 900
#: What the throughput counts, in the order of its series.
KINDS: Tuple[str, ...] = ("sent", "received", "deleted")
#: Upper bounds of the latency histogram's buckets, in seconds (a long poll may take 20).
LATENCY_BUCKETS: Tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
#: The label of requests no route matched (their paths are not labels: anyone can invent them).
UNMATCHED = "unmatched"

#: (method, path segments) of every endpoint -> its name and its template.
_ENDPOINT_NAMES: Dict[Tuple[str, Tuple[str, ...]], Tuple[str, str]] = {
    (endpoint.method, endpoint.segments): (name, endpoint.template)
    for name, endpoint in ENDPOINTS.items()
}


def _one(body: JsonObject) -> int:
    return 1


#: Endpoint name -> which count its success adds to, and how many messages its answer names.
_MESSAGE_COUNTS: Dict[str, Tuple[int, Callable[[JsonObject], int]]] = {
    "add": (0, _one),
    "add_batch": (0, lambda body: len(body.get("ids", ()))),
    "receive": (1, lambda body: len(body.get("messages", ()))),
    "delete": (2, _one),
    "remove": (2, _one),
    "delete_batch": (2, lambda body: len(body.get("Successful", ()))),
}


class Call:
    """What the application learns about a request while answering it: its route label, and
    for a queue endpoint, the endpoint's name and the queue."""

    __slots__ = ("endpoint", "label", "queue")

    def __init__(self) -> None:
        self.label = UNMATCHED
        self.endpoint: Optional[str] = None
        self.queue: Optional[str] = None

    def matched(self, method: str, pattern: Tuple[str, ...], params: Mapping[str, str]) -> None:
        """The request matched the endpoint with ``pattern`` under ``method``."""
        found = _ENDPOINT_NAMES.get((method, pattern))
        if found is not None:
            self.endpoint, self.label = found
        else:
            self.label = "/" + "/".join(pattern)
        self.queue = params.get("queue")


class _Ring:
    """One queue's counts for each second of the window: a fixed array indexed by the second
    modulo the window (about 11 kB however busy the queue), cleared as time moves on."""

    __slots__ = ("counts", "last")

    def __init__(self, second: int) -> None:
        self.counts = array.array("I", bytes(4 * WINDOW_SECONDS * len(KINDS)))
        self.last = second

    def add(self, second: int, kind: int, count: int) -> None:
        # A clock that stepped back counts into the latest second instead of a cleared one.
        if second > self.last:
            for passed in range(max(self.last + 1, second - WINDOW_SECONDS + 1), second + 1):
                slot = (passed % WINDOW_SECONDS) * len(KINDS)
                self.counts[slot : slot + len(KINDS)] = _ZEROS
            self.last = second
        self.counts[(self.last % WINDOW_SECONDS) * len(KINDS) + kind] += count

    def add_to(self, sums: List[List[int]], end: int) -> None:
        """Add this queue's counts to ``sums`` (per kind, the window ending at ``end``)."""
        start = end - WINDOW_SECONDS + 1
        # Positions in the window of the seconds this ring still holds.
        low = max(0, self.last - WINDOW_SECONDS + 1 - start)
        high = min(WINDOW_SECONDS - 1, self.last - start)
        if low > high:
            return
        first = start % WINDOW_SECONDS
        for kind, row in enumerate(sums):
            # Slices and map() run in C: a thousand queues add up in milliseconds.
            by_slot = self.counts[kind :: len(KINDS)]
            in_order = by_slot[first:] + by_slot[:first]
            row[low : high + 1] = map(operator.add, row[low : high + 1], in_order[low : high + 1])


_ZEROS = array.array("I", bytes(4 * len(KINDS)))


class Throughput:
    """Messages sent, received and deleted per second, per queue and for the whole server.

    Each queue that saw messages in the window keeps a :class:`_Ring`; a queue idle for longer
    than the window is forgotten (its totals stay).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rings: Dict[Optional[str], _Ring] = {}
        self._totals: Dict[str, List[int]] = {}
        self._swept = int(clock())

    def add(self, queue: str, kind: int, count: int) -> None:
        """Count ``count`` messages of kind ``KINDS[kind]`` on ``queue`` now."""
        second = int(self._clock())
        with self._lock:
            for name in (queue, None):
                ring = self._rings.get(name)
                if ring is None:
                    ring = self._rings[name] = _Ring(second)
                ring.add(second, kind, count)
            self._totals.setdefault(queue, [0, 0, 0])[kind] += count
            if second - self._swept >= WINDOW_SECONDS:
                self._sweep(second)

    def _sweep(self, second: int) -> None:
        """Forget the rings of queues idle for the whole window."""
        self._swept = second
        for name in [
            name for name, ring in self._rings.items() if ring.last <= second - WINDOW_SECONDS
        ]:
            del self._rings[name]

    def series(self, queues: Optional[Iterable[str]] = None) -> Tuple[int, Dict[str, List[int]]]:
        """The last second (Unix time) and, per kind, its counts for each second of the window,
        oldest first: summed over ``queues``, or over the whole server when None."""
        end = int(self._clock())
        sums = [[0] * WINDOW_SECONDS for _ in KINDS]
        names: Iterable[Optional[str]] = [None] if queues is None else queues
        with self._lock:
            for name in names:
                ring = self._rings.get(name)
                if ring is not None:
                    ring.add_to(sums, end)
        return end, dict(zip(KINDS, sums))

    def totals(self) -> Dict[str, List[int]]:
        """Per queue, the messages sent, received and deleted since the server started."""
        with self._lock:
            return {name: list(counts) for name, counts in self._totals.items()}


class _Latency:
    """One series of the request histogram: counts per bucket, their sum and how many."""

    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.count = 0
        self.total = 0.0


class Monitor:
    """The server's own numbers: requests and their latency, and message throughput."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.throughput = Throughput(clock)
        self._lock = threading.Lock()
        self._requests: Dict[Tuple[str, str, int], _Latency] = {}

    def observe(self, method: str, call: Call, response: Response, seconds: float) -> None:
        """Count one answered request that took ``seconds``."""
        with self._lock:
            series = self._requests.get((method, call.label, response.status))
            if series is None:
                series = self._requests[(method, call.label, response.status)] = _Latency()
            series.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            series.count += 1
            series.total += seconds
        counted = _MESSAGE_COUNTS.get(call.endpoint or "")
        if counted is not None and response.status == 200 and response.body is not None:
            kind, how_many = counted
            count = how_many(response.body)
            if count and call.queue is not None:
                self.throughput.add(call.queue, kind, count)

    def request_lines(self) -> List[str]:
        """The request counters and latency histogram, in Prometheus text format."""
        with self._lock:
            snapshot = [
                (key, list(series.buckets), series.count, series.total)
                for key, series in sorted(self._requests.items())
            ]
        lines = _header("pyqueue_http_requests_total", "counter", "Requests answered.")
        for (method, route, status), _, count, _ in snapshot:
            labels = _labels(method=method, route=route, status=str(status))
            lines.append(f"pyqueue_http_requests_total{labels} {count}")
        name = "pyqueue_http_request_duration_seconds"
        lines += _header(name, "histogram", "Time to answer a request, by route and status.")
        for (method, route, status), buckets, count, total in snapshot:
            base = {"method": method, "route": route, "status": str(status)}
            running = 0
            for bound, in_bucket in zip([*LATENCY_BUCKETS, float("inf")], buckets):
                running += in_bucket
                lines.append(f"{name}_bucket{_labels(**base, le=_number(bound))} {running}")
            lines.append(f"{name}_sum{_labels(**base)} {_number(total)}")
            lines.append(f"{name}_count{_labels(**base)} {count}")
        return lines


class QueueGauges:
    """One queue's numbers for ``/metrics``."""

    __slots__ = ("delayed", "in_flight", "oldest_age", "total", "visible")

    def __init__(
        self, visible: int, in_flight: int, delayed: int, total: int, oldest_age: float
    ) -> None:
        self.visible = visible
        self.in_flight = in_flight
        self.delayed = delayed
        self.total = total
        self.oldest_age = oldest_age


#: Gauge name -> its help text and how to read it off a queue's numbers.
_GAUGES: Sequence[Tuple[str, str, Callable[[QueueGauges], float]]] = (
    ("pyqueue_queue_visible_messages", "Messages a receive can take now.", lambda q: q.visible),
    (
        "pyqueue_queue_in_flight_messages",
        "Messages received and not yet deleted or visible again.",
        lambda q: q.in_flight,
    ),
    (
        "pyqueue_queue_delayed_messages",
        "Messages sent with a delay that has not ended.",
        lambda q: q.delayed,
    ),
    ("pyqueue_queue_messages", "Every message in the queue.", lambda q: q.total),
    (
        "pyqueue_queue_oldest_message_age_seconds",
        "Age of the message waiting longest, the queue's head (0 when empty).",
        lambda q: q.oldest_age,
    ),
)


def render(
    queues: Mapping[str, QueueGauges], totals: Mapping[str, List[int]], requests: List[str]
) -> bytes:
    """The ``/metrics`` page: queue gauges, message counters and the request lines."""
    lines: List[str] = []
    for name, help_text, read in _GAUGES:
        lines += _header(name, "gauge", help_text)
        lines += [f"{name}{_labels(queue=q)} {_number(read(g))}" for q, g in sorted(queues.items())]
    for kind, kind_name in enumerate(KINDS):
        name = f"pyqueue_messages_{kind_name}_total"
        lines += _header(name, "counter", f"Messages {kind_name} since the server started.")
        lines += [
            f"{name}{_labels(queue=queue)} {totals.get(queue, [0, 0, 0])[kind]}"
            for queue in sorted(queues)
        ]
    lines += requests
    return ("\n".join(lines) + "\n").encode("utf-8")


def _header(name: str, kind: str, help_text: str) -> List[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _labels(**values: str) -> str:
    return "{" + ",".join(f'{name}="{_escaped(value)}"' for name, value in values.items()) + "}"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
