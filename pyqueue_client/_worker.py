"""``Worker``: runs a handler on every message of a queue, the same way on every backend.

It uses the public ``PyQueue`` calls only: long-polling ``receive_messages``, ``delete_messages``
and ``change_messages_visibility``. Three kinds of thread share one lock:

- one **receiver** long-polls for at most as many messages as there are free handlers, so no
  message waits hidden behind a busy handler;
- ``concurrency`` **handler** threads run the handler, one message at a time;
- one **keeper** makes every write about a received message: deletes after success (in
  batches), releases for a retry after failure (with exponential backoff), heartbeat extensions
  while a handler runs, and releases on stop. Being the only writer, it never extends a message
  it has just released.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import signal
import threading
import time
from types import FrameType
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypedDict,
)

from . import _validation as check
from ._errors import UnsupportedOperationError, ValidationError
from ._facade import PyQueue
from ._types import ReceivedMessage

__all__ = ["Handler", "Worker", "WorkerStats"]

_log = logging.getLogger(f"{__package__}.worker")

#: What a worker runs for each message; its return value is ignored, an exception is a failure.
Handler = Callable[[ReceivedMessage], object]

#: The longest single receive: a stop is noticed at the latest this long after it is asked for.
POLL_SLICE = 1.0
#: Messages per receive and per delete or visibility call (Amazon SQS's batch limit).
BATCH = 10
#: How long a finished message may wait for the receiver to delete it before the keeper does.
SETTLE_GRACE = 0.05
#: The visibility timeout when the queue cannot tell its own (as the queues' default).
DEFAULT_VISIBILITY = 30.0
#: How often idle threads look at the stop flags a signal handler sets.
_TICK = 0.25
#: The pause after a receive that failed, so a queue that is down is not hammered.
_RECEIVE_ERROR_PAUSE = 1.0
#: The pause after an empty receive that did not wait (``wait_time_seconds=0``).
_EMPTY_PAUSE = 0.05


class WorkerStats(TypedDict):
    """What a worker has done so far (``Worker.stats``) or in all (``Worker.run()``).

    ``received``: messages received; ``succeeded``: handler returned and message deleted;
    ``failed``: handler raised (the message is released for a retry); ``released``: handed back
    on stop, unstarted (or, after a second signal, still running); ``extended``: heartbeat
    extensions; ``stale``: messages whose receipt handle went stale (received by someone else
    after a stall), so they were never deleted.
    """

    received: int
    succeeded: int
    failed: int
    released: int
    extended: int
    stale: int


class _Job:
    """One received message while the worker holds it."""

    __slots__ = ("abandoned", "due", "handle", "message", "stale")

    def __init__(self, message: ReceivedMessage, due: float) -> None:
        self.message = message
        self.handle = message["ReceiptHandle"]
        #: When its next heartbeat extension is due (``time.monotonic()``).
        self.due = due
        #: Its handle went stale: nothing more is written for it.
        self.stale = False
        #: Released by a cold stop while its handler still ran: its outcome is ignored.
        self.abandoned = False


#: A finished handler's outcome: its job, and None (delete it) or the retry delay.
_Outcome = Tuple[_Job, Optional[float]]


class _Policy:
    """The queue's settings that the worker obeys, read once when ``run()`` starts."""

    def __init__(self, visibility: float, max_receive_count: Optional[int]) -> None:
        self.visibility = visibility
        self.max_receive_count = max_receive_count


class Worker:
    """Runs ``handler`` on each message of ``queue`` in ``concurrency`` threads until stopped.

    A message is deleted when its handler returns, and released for a retry when it raises,
    after ``retry_delay * 2 ** (receive_count - 1)`` seconds capped at ``max_retry_delay``
    (the queue's dead-letter policy, ``max_receive_count``, ends the retries). While a handler
    runs, a heartbeat extends its message's visibility at half the timeout, so a long job runs
    once. ``visibility_timeout`` None: the queue's attribute. ``wait_time_seconds`` (0-20): how
    long each receive waits for a message. ``stop_when_empty``: return once the queue has no
    visible message and no handler is busy (its receives do not wait; messages hidden for a
    retry are left for a later run).

    ``run()`` blocks and returns the ``WorkerStats``; ``stop()`` (any thread, or the first
    SIGINT/SIGTERM when ``run()`` is on the main thread) stops it warmly: no new messages, the
    unstarted ones released at once, running handlers finish. ``stop(cold=True)`` (or a second
    signal) also releases the running ones and returns without waiting for them.
    """

    def __init__(
        self,
        queue: PyQueue,
        handler: Handler,
        *,
        concurrency: int = 4,
        visibility_timeout: Optional[float] = None,
        wait_time_seconds: float = 20,
        retry_delay: float = 1.0,
        max_retry_delay: float = 300.0,
        heartbeat: bool = True,
        stop_when_empty: bool = False,
    ) -> None:
        if not callable(handler):
            raise ValidationError(f"handler must be callable, not {handler!r}")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError(
                f"concurrency must be an integer of at least 1, not {concurrency!r}"
            )
        if visibility_timeout is not None:
            visibility_timeout = check.seconds(
                visibility_timeout, "visibility_timeout", check.MAX_VISIBILITY_TIMEOUT, 1
            )
        self.queue = queue
        self.handler = handler
        self.concurrency = concurrency
        self._visibility = visibility_timeout
        self._wait = check.seconds(wait_time_seconds, "wait_time_seconds", check.MAX_WAIT)
        self._retry_delay = check.seconds(retry_delay, "retry_delay", check.MAX_VISIBILITY_TIMEOUT)
        self._max_retry_delay = check.seconds(
            max_retry_delay, "max_retry_delay", check.MAX_VISIBILITY_TIMEOUT
        )
        self._heartbeat = check.flag(heartbeat, "heartbeat")
        self._stop_when_empty = check.flag(stop_when_empty, "stop_when_empty")
        self._lock = threading.Lock()
        # One condition per kind of thread, on the one lock, so that a change wakes only the
        # threads it concerns (waking every handler for each message costs more than the work).
        self._to_handlers = threading.Condition(self._lock)
        self._to_receiver = threading.Condition(self._lock)
        self._to_keeper = threading.Condition(self._lock)
        self._stats = WorkerStats(
            received=0, succeeded=0, failed=0, released=0, extended=0, stale=0
        )
        self._reset()

    def _reset(self) -> None:
        """The state of one ``run()``."""
        self._ready: Deque[_Job] = collections.deque()
        self._held: Set[_Job] = set()
        self._outcomes: List[_Outcome] = []
        #: When the oldest outcome in ``_outcomes`` arrived (``time.monotonic()``).
        self._outcomes_since = 0.0
        self._to_release: List[_Job] = []
        self._busy = 0
        #: Handlers waiting for a message, and whether one of them was woken and has not yet
        #: looked: ready messages wake one handler at a time (see ``_wake_a_handler``).
        self._idle = 0
        self._waking = False
        self._stopping = False
        self._cold = False
        #: A cold stop was asked for and the keeper has not yet released the running messages.
        self._cold_pending = False
        self._receiver_done = False
        #: The last receive got all it asked for: more messages are likely waiting.
        self._backlog = False
        self._signals = 0

    @property
    def stats(self) -> WorkerStats:
        """The counts so far (a copy)."""
        with self._lock:
            return self._stats.copy()

    # -- the public control -------------------------------------------------------------------

    def run(self) -> WorkerStats:
        """Work until stopped (or, with ``stop_when_empty``, until the queue is drained);
        returns the counts. Installs SIGINT and SIGTERM handlers when on the main thread, and
        restores the previous ones before returning."""
        policy = self._policy()
        with self._lock:
            self._reset()
        threads = [threading.Thread(target=self._receive_loop, args=(policy,), daemon=True)]
        handlers = [
            threading.Thread(target=self._handle_loop, daemon=True) for _ in range(self.concurrency)
        ]
        keeper = threading.Thread(target=self._keep_loop, args=(policy,), daemon=True)
        _log.info(
            "worker started: %d thread(s), visibility timeout %g s",
            self.concurrency,
            policy.visibility,
        )
        with _signals_handled(self._on_signal):
            for thread in [*threads, *handlers, keeper]:
                thread.start()
            while keeper.is_alive():
                keeper.join(_TICK)  # short joins, so that signals are handled on every platform
        threads[0].join()
        if not self._cold:
            for thread in handlers:
                thread.join()
        stats = self.stats
        _log.info("worker stopped: %s", ", ".join(f"{k} {v}" for k, v in stats.items()))
        return stats

    def stop(self, *, cold: bool = False) -> None:
        """Stop ``run()``: take no new message, release the unstarted ones, let running handlers
        finish. ``cold=True`` releases the running ones too and returns without them."""
        with self._lock:
            self._stop(cold)

    def _stop(self, cold: bool) -> None:
        """``stop`` with the lock held."""
        if not self._stopping:
            _log.info("worker stopping: finishing the running handlers")
        self._stopping = True
        self._to_release.extend(self._ready)
        self._ready.clear()
        if cold and not self._cold:
            _log.info("worker stopping now: releasing the running messages too")
            self._cold = self._cold_pending = True
        for condition in (self._to_handlers, self._to_receiver, self._to_keeper):
            condition.notify_all()

    def _on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        self._signals += 1
        self.stop(cold=self._signals > 1)

    # -- set-up -------------------------------------------------------------------------------

    def _policy(self) -> _Policy:
        """The visibility timeout and dead-letter limit, from the queue where it can tell."""
        try:
            attributes: Optional[Dict[str, Any]] = dict(self.queue.get_queue_attributes())
        except UnsupportedOperationError:
            attributes = None
        visibility = self._visibility
        if visibility is None:
            visibility = (
                float(attributes["visibility_timeout"]) if attributes else DEFAULT_VISIBILITY
            )
        if visibility <= 0:
            raise ValidationError(
                "the worker needs a visibility timeout above 0 (the queue's is 0); "
                "pass visibility_timeout"
            )
        limit = attributes["max_receive_count"] if attributes else None
        return _Policy(visibility, limit)

    # -- the receiver -------------------------------------------------------------------------

    def _free(self) -> int:
        """Handlers with nothing to do, beyond the messages already waiting for one."""
        return self.concurrency - self._busy - len(self._ready)

    def _outcomes_to_settle(self) -> List[_Outcome]:
        """The outcomes the receiver settles before its next receive (lock held): all of them,
        or while the queue has a backlog only whole batches (the rest wait for the next round),
        so that every delete is a full ``BATCH``."""
        count = len(self._outcomes)
        if self._backlog:
            count -= count % BATCH
        outcomes, self._outcomes = self._outcomes[:count], self._outcomes[count:]
        if self._outcomes and count:
            self._outcomes_since = time.monotonic()  # the rest arrived since the last round
        return outcomes

    def _receive_loop(self, policy: _Policy) -> None:
        try:
            while self._receive_some(policy):
                pass
        finally:
            with self._lock:
                self._receiver_done = True
                self._to_keeper.notify()

    def _receive_some(self, policy: _Policy) -> bool:
        """One receive for the free handlers; False when the worker is stopping."""
        with self._lock:
            while not self._stopping and self._free() <= 0:
                self._to_receiver.wait(_TICK)
            if self._stopping:
                return False
            wanted = min(self._free(), BATCH)
            outcomes = self._outcomes_to_settle()
        # The receiver settles what finished before receiving more: one thread writing in turn,
        # where two would make SQLite's writers wait for each other's locks. While the queue has
        # a backlog it lets them gather to a full batch: fewer, larger deletes.
        self._settle(outcomes, policy)
        # A drain only looks: an empty queue ends it, so waiting for new messages would only
        # delay the end.
        wait = 0.0 if self._stop_when_empty else min(self._wait, POLL_SLICE)
        try:
            messages = self.queue.receive_messages(
                wanted, policy.visibility, wait_time_seconds=wait
            )
        except Exception:  # the queue may come back: log and poll again after a pause
            _log.exception("receive failed; trying again in %g s", _RECEIVE_ERROR_PAUSE)
            time.sleep(_RECEIVE_ERROR_PAUSE)
            return True
        due = time.monotonic() + policy.visibility / 2
        with self._lock:
            jobs = [_Job(message, due) for message in messages]
            self._backlog = len(jobs) == wanted
            self._stats["received"] += len(jobs)
            self._held.update(jobs)
            if self._stopping:
                self._to_release.extend(jobs)
                self._to_keeper.notify()
            else:
                self._ready.extend(jobs)
                self._wake_a_handler()
            if not jobs and self._stop_when_empty and not self._held:
                _log.info("queue empty: worker stopping")
                self._stop(cold=False)
                return False
            if not jobs and wait == 0:
                self._to_receiver.wait(_EMPTY_PAUSE)  # woken early when a handler frees up
        return True

    # -- the handlers -------------------------------------------------------------------------

    def _handle_loop(self) -> None:
        while True:
            with self._lock:
                while not self._ready and not self._stopping:
                    self._idle += 1
                    self._to_handlers.wait()
                    self._idle -= 1
                    self._waking = False
                if not self._ready:
                    return
                job = self._ready.popleft()
                self._busy += 1
                self._wake_a_handler()
            outcome = self._handle(job)
            with self._lock:
                self._busy -= 1
                if not self._outcomes:
                    self._outcomes_since = time.monotonic()
                self._outcomes.append((job, outcome))
                self._to_receiver.notify()
                if self._stopping:
                    self._to_keeper.notify()

    def _wake_a_handler(self) -> None:
        """Wake one idle handler for the ready messages (lock held), unless one is on its way.

        The woken handler, taking a message while more are ready, wakes the next: handlers join
        one hop apart, and a quick handler that comes back for the rest before the next one
        wakes leaves no handler woken for nothing (waking one per message costs more than a
        quick job).
        """
        if self._ready and self._idle and not self._waking:
            self._waking = True
            self._to_handlers.notify()

    def _handle(self, job: _Job) -> Optional[float]:
        """Run the handler: None when it returned, else the delay before a retry."""
        # Asked once per job: when INFO is off, no clock is read and no log call made.
        timed = _log.isEnabledFor(logging.INFO)
        started = time.monotonic() if timed else 0.0
        message = job.message
        try:
            self.handler(message)
        except BaseException:  # even SystemExit: this thread must live on to report it
            delay = self._retry_in(message["receive_count"])
            _log.exception(
                "message %s failed (receive %d); retry in %g s",
                message["Id"],
                message["receive_count"],
                delay,
            )
            return delay
        if timed:
            _log.info("message %s done in %.3f s", message["Id"], time.monotonic() - started)
        return None

    def _retry_in(self, receive_count: int) -> float:
        """Exponential backoff: ``retry_delay`` doubled for each earlier receive, capped."""
        exponent = min(max(receive_count - 1, 0), 64)  # 2 ** 64 s is past any cap
        return min(self._retry_delay * 2.0**exponent, self._max_retry_delay)

    # -- the keeper ---------------------------------------------------------------------------

    def _keep_loop(self, policy: _Policy) -> None:
        while True:
            with self._lock:
                self._await_work()
                outcomes, self._outcomes = self._outcomes, []
                releases, self._to_release = self._to_release, []
                if self._cold_pending:
                    self._cold_pending = False
                    releases += self._abandon({job for job, _ in outcomes}.union(releases))
                due = self._due() if self._heartbeat else []
                finished = self._finished()
            self._settle(outcomes, policy)
            self._release(releases)
            self._extend(due, policy)
            if finished:
                return

    def _await_work(self) -> None:
        """Wait (lock held) until there is something to write, a heartbeat due, or the end.

        Outcomes are the receiver's to settle before its next receive; the keeper takes them
        only when they have waited ``SETTLE_GRACE`` (the receiver is in a long poll) or on stop.
        """
        while not (self._to_release or self._cold_pending or self._finished()):
            moments = [job.due for job in self._held if not job.stale] if self._heartbeat else []
            if self._outcomes:
                moments.append(self._outcomes_since + SETTLE_GRACE)
            wait = min(moments, default=time.monotonic() + _TICK) - time.monotonic()
            if wait <= 0 or (self._outcomes and self._stopping):
                return
            self._to_keeper.wait(min(wait, _TICK))

    def _finished(self) -> bool:
        """Whether the keeper has nothing left to do (lock held)."""
        if self._cold:
            return self._receiver_done
        quiet = not (self._busy or self._ready or self._outcomes or self._to_release)
        return self._stopping and self._receiver_done and quiet

    def _abandon(self, settled: Set[_Job]) -> List[_Job]:
        """On a cold stop (lock held): the jobs still running (not ``settled`` in this round),
        marked so that their outcome is ignored."""
        jobs = [job for job in self._held if job not in settled and _live(job)]
        for job in jobs:
            job.abandoned = True
        return jobs

    def _due(self) -> List[_Job]:
        """Jobs whose heartbeat is due (lock held)."""
        now = time.monotonic()
        return [job for job in self._held if job.due <= now and not (job.stale or job.abandoned)]

    def _settle(self, outcomes: Sequence[_Outcome], policy: _Policy) -> None:
        """Delete the messages that succeeded, release those that failed for their retry."""
        if not outcomes:  # most rounds of a busy receiver: skip the lock and the bookkeeping
            return
        done = [job for job, delay in outcomes if delay is None and _live(job)]
        deleted = self._write(self.queue.delete_messages, done, "deleted")
        retries: Dict[float, List[_Job]] = {}
        for job, delay in outcomes:
            if delay is not None and _live(job):
                retries.setdefault(self._final_delay(job, delay, policy), []).append(job)
        for delay, jobs in retries.items():
            self._write(_visibility(self.queue, delay), jobs, "released")
        with self._lock:
            self._stats["succeeded"] += len(deleted.done)
            self._stats["stale"] += len(deleted.refused)
            for job, delay in outcomes:
                if job.stale:
                    _log.warning(
                        "message %s finished after its handle went stale", job.message["Id"]
                    )
                elif delay is not None and not job.abandoned:
                    self._stats["failed"] += 1
                self._held.discard(job)
            self._to_receiver.notify()  # a receiver waiting for an empty queue may now see it

    def _final_delay(self, job: _Job, delay: float, policy: _Policy) -> float:
        """The retry delay, or 0 when the dead-letter policy takes the message at its next
        receive (waiting would only delay the move)."""
        limit = policy.max_receive_count
        if limit is not None and job.message["receive_count"] >= limit:
            _log.info(
                "message %s failed %d time(s): its next receive moves it to the dead-letter queue",
                job.message["Id"],
                job.message["receive_count"],
            )
            return 0.0
        return delay

    def _release(self, jobs: Sequence[_Job]) -> None:
        """Hand messages back at once (visibility 0), on stop."""
        released = self._write(_visibility(self.queue, 0), jobs, "released")
        with self._lock:
            self._stats["released"] += len(released.done)
            self._held.difference_update(jobs)
        for job in released.done:
            _log.info("message %s released", job.message["Id"])

    def _extend(self, jobs: Sequence[_Job], policy: _Policy) -> None:
        """The heartbeat: hide each message another visibility timeout from now."""
        due = time.monotonic() + policy.visibility / 2
        extended = self._write(_visibility(self.queue, policy.visibility), jobs, "extended")
        with self._lock:
            for job in extended.done:
                job.due = due
            for job in extended.refused:
                job.stale = True
            self._stats["extended"] += len(extended.done)
            self._stats["stale"] += len(extended.refused)

    @staticmethod
    def _write(call: Callable[[List[str]], Any], jobs: Sequence[_Job], what: str) -> _Written:
        """``call`` on the jobs' handles, ``BATCH`` at a time: the jobs it succeeded for, and
        those whose handle it refused as stale (each logged).

        A call that raises is logged, and its jobs are in neither list: their messages come
        back after their timeout, as at-least-once delivery allows.
        """
        written = _Written([], [])
        for start in range(0, len(jobs), BATCH):
            chunk = {job.handle: job for job in jobs[start : start + BATCH]}
            try:
                result = call(list(chunk))
            except Exception:
                ids = ", ".join(job.message["Id"] for job in chunk.values())
                _log.exception("message(s) %s not %s: the queue call failed", ids, what)
                continue
            written.done.extend(chunk[handle] for handle in result["Successful"])
            written.refused.extend(chunk[failure["ReceiptHandle"]] for failure in result["Failed"])
        for job in written.refused:
            _log.warning("message %s not %s: its receipt handle is stale", job.message["Id"], what)
        return written


class _Written(NamedTuple):
    """What one kind of write did: the jobs it succeeded for, and those refused as stale."""

    done: List[_Job]
    refused: List[_Job]


def _live(job: _Job) -> bool:
    """Whether the worker still writes for this job."""
    return not (job.stale or job.abandoned)


def _visibility(queue: PyQueue, seconds: float) -> Callable[[List[str]], Any]:
    """``change_messages_visibility`` to ``seconds``, as a call on handles."""
    return lambda handles: queue.change_messages_visibility(handles, seconds)


_SIGNALS = ("SIGINT", "SIGTERM")


@contextlib.contextmanager
def _signals_handled(handler: Callable[[int, Optional[FrameType]], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler`` while inside, when on the main thread (the only
    one that may set handlers); the previous handlers are back on the way out."""
    previous: Dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for name in _SIGNALS:
            number = getattr(signal, name)
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, earlier in previous.items():
            signal.signal(number, earlier)
