"""The Amazon SQS backend: our calls as SQS JSON-protocol actions, signed with SigV4.

Requests are ``POST /`` with ``X-Amz-Target: AmazonSQS.<Action>`` and a JSON body, sent by the
keep-alive transport of the remote backend (``_transport.http_client``) with a
:class:`~.._transport.sigv4.SigV4Auth` in place of the API key. Any SQS-compatible server works.

The mapping (see docs/sqs.md for the user's view):

- A message's SQS ``MessageBody`` is the JSON text of its dict, so any SQS consumer can read it;
  our id travels as the String message attribute ``pyqueue_id`` and comes back as ``Id``. A
  body that is not a JSON object (sent by another producer) arrives as ``{"body": text}``.
- Adds are ``SendMessageBatch`` calls of at most 10 entries and 1 MiB; receives are
  ``ReceiveMessage`` calls of at most 10 until ``max_messages``; deletes and visibility changes
  are their batch actions, whose per-entry failures are returned, never raised.
- Attributes are the queue's SQS attributes; dead letters are its ``RedrivePolicy``, the
  dead-letter queue named by name. Redrive moves messages back by receive, send, delete
  (at-least-once: a message is never lost, at worst sent twice).
- What SQS cannot do raises ``UnsupportedOperationError`` naming the call: peek, the by-id
  calls, ``only_new`` and retention ``None``.

Errors: the SQS code (``__type`` after ``#``, or the ``<Code>`` of an XML error) picks the
exception. Throttling is retried for every action (the server did nothing), 5xx and lost
connections only for actions that are safe to repeat, with jittered exponential pauses; each
attempt is signed again. Receipt handles, credentials and signatures never reach a log line or
an exception message.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import random
import ssl
import threading
import time
import warnings
from datetime import datetime, timedelta
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    NoReturn,
    Optional,
    Sequence,
    Tuple,
)
from urllib.parse import urlsplit

from .._errors import (
    AuthenticationError,
    ConfigurationError,
    PermissionDeniedError,
    QueueNotFoundError,
    RemoteError,
    RequestRejectedError,
    UnsupportedOperationError,
    ValidationError,
)
from .._semantics import Delivery, NewMessage
from .._times import format_time, later, utc_now
from .._transport.aws_credentials import (
    SharedConfig,
    find_credentials,
    find_endpoint,
    find_region,
)
from .._transport.http_client import HttpTransport
from .._transport.rest_calls import ApiCall, Reply
from .._transport.sigv4 import SigV4Auth
from .._types import (
    BatchDeleteFailure,
    DeleteMessagesResult,
    MessageBody,
    QueueAttributes,
    QueueInfo,
    ReceivedMessage,
)

__all__ = ["ID_ATTRIBUTE", "SqsOptions", "SqsQueue", "SqsStore"]

_log = logging.getLogger(__name__)

#: The message attribute that carries our id.
ID_ATTRIBUTE = "pyqueue_id"
_CONTENT_TYPE = "application/x-amz-json-1.0"
#: SQS's limits: entries per batch, bytes per batch (and per message), messages per receive.
_BATCH_ENTRIES = 10
_BATCH_BYTES = 1_048_576
#: Bytes an entry costs besides its body: the id attribute's name and type, with room to spare.
_ENTRY_OVERHEAD = len(ID_ATTRIBUTE) + len("String") + 64
#: Receipt handles may be held this long while a redrive sends their messages on.
_REDRIVE_VISIBILITY = 60
#: SQS queue names: 1-80 letters, digits, ``_`` and ``-`` (FIFO's ``.fifo`` comes later).
# (string rules, not regular expressions: compiling those would lengthen every cold start)
_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MAX_NAME = 80
#: Attempts of a retried call, and the pauses before them: full jitter over a doubling cap.
_ATTEMPTS = 4
_FIRST_PAUSE = 0.1
_LONGEST_PAUSE = 2.0
#: Actions that change nothing when repeated: retried after 5xx or a lost connection too.
_SAFE_ACTIONS = frozenset(
    {
        "ChangeMessageVisibilityBatch",
        "CreateQueue",
        "DeleteMessageBatch",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "ListQueues",
        "PurgeQueue",
        "SetQueueAttributes",
    }
)
_THROTTLING = frozenset(
    {"RequestThrottled", "Throttling", "ThrottlingException", "RequestLimitExceeded"}
)
_NOT_FOUND = frozenset({"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"})
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "KmsAccessDenied"})
_UNAUTHENTICATED = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidSecurity",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
        "RequestExpired",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)
_SYSTEM_ATTRIBUTES = [
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
]
#: Our attributes and SQS's: (ours, SQS's name).
_ATTRIBUTE_NAMES = (
    ("visibility_timeout", "VisibilityTimeout"),
    ("delay_seconds", "DelaySeconds"),
    ("wait_time_seconds", "ReceiveMessageWaitTimeSeconds"),
    ("retention_seconds", "MessageRetentionPeriod"),
)
_EPOCH = datetime(1970, 1, 1)
#: ``json.dumps`` and ``json.loads`` without their per-call argument handling: the compact
#: encoder SQS requests are written with, and the plain decoder.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
_DECODE = json.JSONDecoder().decode


class SqsOptions(NamedTuple):
    """What ``PyQueue(queue_type="sqs", ...)`` was given, besides the queue name."""

    queue_url: Optional[str] = None
    region: Optional[str] = None
    endpoint_url: Optional[str] = None
    aws_access_key_id: Optional[str] = None
    aws_secret_access_key: Optional[str] = None
    aws_session_token: Optional[str] = None
    profile: Optional[str] = None
    create_queue: bool = False
    timeout: float = 30
    ssl_context: Optional[ssl.SSLContext] = None


class _Client:
    """Sends SQS actions and reads their answers; maps errors; retries where that is safe."""

    def __init__(self, transport: HttpTransport) -> None:
        self.transport = transport
        self.sleep: Callable[[float], None] = time.sleep

    def call(
        self, action: str, payload: Mapping[str, Any], queue: str, hold: float = 0
    ) -> Dict[str, Any]:
        """The decoded answer to ``action``; ``queue`` names the queue in errors."""
        body = _ENCODE(payload).encode("utf-8")
        safe = action in _SAFE_ACTIONS
        call = ApiCall("POST", "/", body, idempotent=safe, hold=hold, headers=_headers(action))
        for attempt in range(_ATTEMPTS):
            last = attempt == _ATTEMPTS - 1
            try:
                reply = self.transport.send(call)
            except RemoteError as exc:
                if not safe or last:
                    raise _unanswered(exc, action, queue) from exc.__cause__
                self._pause(action, attempt, "no answer")
                continue
            if reply.status == 200:
                return _decoded(reply)
            code, detail = _error_of(reply)
            if not last and (code in _THROTTLING or (safe and reply.status >= 500)):
                self._pause(action, attempt, code or f"HTTP {reply.status}")
                continue
            _raise(reply, code, detail, action, queue)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _pause(self, action: str, attempt: int, why: str) -> None:
        pause = random.uniform(0, min(_LONGEST_PAUSE, _FIRST_PAUSE * 2**attempt))
        _log.debug("%s failed (%s); retrying in %.2f s", action, why, pause)
        self.sleep(pause)


@functools.lru_cache(maxsize=None)
def _headers(action: str) -> Tuple[Tuple[str, str], ...]:
    """The headers of an action's requests (made once per action: there are a dozen)."""
    return (("Content-Type", _CONTENT_TYPE), ("X-Amz-Target", f"AmazonSQS.{action}"))


def _unanswered(exc: RemoteError, action: str, queue: str) -> RemoteError:
    """The transport's failure, told as an SQS call's (it speaks of a PyQueue server)."""
    cause = exc.__cause__
    why = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
    return RemoteError(
        f"SQS {action} on queue {queue!r} got no answer from {exc.url} ({why})", exc.url
    )


def _decoded(reply: Reply) -> Dict[str, Any]:
    try:
        document = json.loads(reply.body or b"{}")
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise RemoteError(
            f"the SQS server sent an answer that is not a JSON object ({reply.url})",
            reply.url,
            reply.status,
        )
    return document


def _error_of(reply: Reply) -> Tuple[str, str]:
    """The SQS error code and message of a failed reply (JSON or XML), or empty strings."""
    text = reply.body.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        code = str(document.get("__type") or document.get("code") or "").rpartition("#")[2]
        message = document.get("message") or document.get("Message") or ""
        return code, str(message)
    return _xml_text(text, "Code"), _xml_text(text, "Message")


def _xml_text(text: str, tag: str) -> str:
    """The text of the first ``<tag>`` element of an XML error, or ''."""
    start = text.find(f"<{tag}>")
    if start < 0:
        return ""
    start += len(tag) + 2
    end = text.find("</", start)
    return text[start:end] if end >= 0 else ""


def _raise(reply: Reply, code: str, detail: str, action: str, queue: str) -> NoReturn:
    """The exception for a failed action. Server messages about receipt handles or signatures
    are left out: they may quote a handle, a canonical request or a token."""
    if code in _NOT_FOUND:
        raise QueueNotFoundError(queue, "Amazon SQS: QueueDoesNotExist")
    if "ReceiptHandle" in code or code in _UNAUTHENTICATED or code in _DENIED:
        detail = ""
    detail = detail.splitlines()[0][:300] if detail else ""
    told = f"{code}: {detail}" if detail else code or f"HTTP {reply.status}"
    message = f"SQS {action} on queue {queue!r} failed ({told})"
    if code == "PurgeQueueInProgress":
        message += "; SQS allows one purge per queue every 60 seconds, try again later"
    if code in _DENIED:
        raise PermissionDeniedError(message, reply.url, reply.status, code)
    if code in _UNAUTHENTICATED or (reply.status in (401, 403) and code != "PurgeQueueInProgress"):
        raise AuthenticationError(message, reply.url, reply.status, code)
    if 400 <= reply.status < 500:
        raise RequestRejectedError(message, reply.url, reply.status, told)
    raise RemoteError(message, reply.url, reply.status, told)


def _unsupported(operation: str, reason: str) -> NoReturn:
    raise UnsupportedOperationError(operation, "sqs", reason)


def _checked_name(name: str) -> str:
    if name.endswith(".fifo"):
        _unsupported("PyQueue(queue_name='....fifo')", "FIFO queues are not supported yet")
    if not 0 < len(name) <= _MAX_NAME or not _NAME_CHARACTERS.issuperset(name):
        raise ConfigurationError(
            f"an SQS queue name is 1 to 80 letters, digits, '_' or '-', not {name!r}"
        )
    return name


def _seconds(value: float) -> int:
    """Seconds as SQS takes them: whole, rounded up so nothing happens early."""
    return math.ceil(value)


def _time_of(milliseconds: object, default: datetime) -> str:
    """A canonical time from SQS's epoch milliseconds."""
    try:
        return _time_of_text(str(milliseconds))
    except (ValueError, OverflowError):
        return format_time(default)


@functools.lru_cache(maxsize=64)
def _time_of_text(milliseconds: str) -> str:
    # Cached: the messages of one batch share their send and first-receive milliseconds.
    return format_time(_EPOCH + timedelta(milliseconds=int(milliseconds)))


def _body_of(text: str) -> MessageBody:
    """A message's body: the JSON object it holds, or ``{"body": text}`` when it holds none."""
    try:
        body = _DECODE(text)
    except ValueError:
        return {"body": text}
    return body if isinstance(body, dict) else {"body": text}


def _region_hint(url: Optional[str]) -> Optional[str]:
    """The region in an Amazon SQS URL's host, if it is one."""
    if not url:
        return None
    # sqs.<region>.amazonaws.com, or the legacy <region>.queue.amazonaws.com
    parts = (urlsplit(url).hostname or "").split(".")
    if len(parts) >= 4 and parts[2] == "amazonaws" and parts[0] == "sqs":
        return parts[1]
    if len(parts) >= 4 and parts[1:3] == ["queue", "amazonaws"]:
        return parts[0]
    return None


def _amazon_endpoint(region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"queue_url must be an http(s) URL of an SQS queue, not {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


class SqsStore:
    """The SQS queues of one account and region, at one endpoint.

    Settles credentials, region and endpoint at once (``ConfigurationError`` when one is
    missing); talks to SQS only when a call needs it. Queue URLs are looked up by name once
    (``GetQueueUrl``) and kept; with ``create_queue`` a missing queue is created.
    """

    def __init__(
        self,
        queue_name: str,
        options: SqsOptions,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        env = os.environ if environ is None else environ
        shared = SharedConfig(options.profile, env)
        region = find_region(options.region, shared, env, _region_hint(options.queue_url))
        provider = find_credentials(
            options.aws_access_key_id,
            options.aws_secret_access_key,
            options.aws_session_token,
            shared,
            env,
        )
        endpoint = (
            options.endpoint_url
            or (_origin(options.queue_url) if options.queue_url else None)
            or find_endpoint("sqs", env)
            or _amazon_endpoint(region)
        )
        auth = SigV4Auth(provider, region, "sqs")
        self._client = _Client(HttpTransport(endpoint, auth, options.timeout, options.ssl_context))
        self._create = options.create_queue
        self._urls: Dict[str, str] = {}
        self._lock = threading.Lock()
        #: Names the caller opens a queue by that are not its own (with ``queue_url``).
        self._aliases: Dict[str, str] = {}
        if options.queue_url:
            own = options.queue_url.rstrip("/").rpartition("/")[2]
            self._urls[own] = options.queue_url
            self._aliases[queue_name] = own
        _log.debug("SQS in %s at %s, credentials from %s", region, endpoint, provider.source)

    def open_queue(self, name: str) -> SqsQueue:
        """The queue called ``name`` (looked up on its first call)."""
        return SqsQueue(self, self._own_name(name))

    def _own_name(self, name: str) -> str:
        """The queue's SQS name: ``name``, unless it stands for the queue of ``queue_url``."""
        own = self._aliases.get(name, name)
        return own if own in self._urls else _checked_name(own)

    def call(
        self, action: str, payload: Mapping[str, Any], queue: str, hold: float = 0
    ) -> Dict[str, Any]:
        """One SQS action (see ``_Client.call``)."""
        return self._client.call(action, payload, queue, hold)

    def queue_url(self, name: str) -> str:
        """The URL of queue ``name``: known, looked up, or (``create_queue``) created."""
        name = self._own_name(name)
        with self._lock:
            known = self._urls.get(name)
        if known is not None:
            return known
        try:
            url = str(self.call("GetQueueUrl", {"QueueName": name}, name)["QueueUrl"])
        except QueueNotFoundError:
            if not self._create:
                raise
            url = str(self.call("CreateQueue", {"QueueName": name}, name)["QueueUrl"])
            _log.info("created SQS queue %s", name)
        with self._lock:
            self._urls[name] = url
        return url

    def queue_names(self) -> List[str]:
        """The names of the account's queues in this region, sorted."""
        names: List[str] = []
        payload: Dict[str, Any] = {"MaxResults": 1000}
        while True:
            answer = self.call("ListQueues", payload, "*")
            names.extend(url.rstrip("/").rpartition("/")[2] for url in answer.get("QueueUrls", []))
            token = answer.get("NextToken")
            if not token:
                return sorted(names)
            payload = {"MaxResults": 1000, "NextToken": token}

    def sqs_attributes(self, name: str, names: Sequence[str] = ("All",)) -> Dict[str, str]:
        """Queue ``name``'s SQS attributes, as SQS names them."""
        payload = {"QueueUrl": self.queue_url(name), "AttributeNames": list(names)}
        answer = self.call("GetQueueAttributes", payload, name)
        return {key: str(value) for key, value in answer.get("Attributes", {}).items()}

    def get_attributes(self, name: str) -> QueueAttributes:
        """Our attributes from the queue's SQS ones (retention: SQS's, 4 days by default)."""
        sqs = self.sqs_attributes(name)
        policy = _redrive_policy(sqs.get("RedrivePolicy"))
        target = policy.get("deadLetterTargetArn")
        count = policy.get("maxReceiveCount")
        return {
            "visibility_timeout": float(sqs.get("VisibilityTimeout", 30)),
            "delay_seconds": float(sqs.get("DelaySeconds", 0)),
            "wait_time_seconds": float(sqs.get("ReceiveMessageWaitTimeSeconds", 0)),
            "retention_seconds": float(sqs.get("MessageRetentionPeriod", 345600)),
            "max_receive_count": int(count) if count is not None else None,
            "dead_letter_queue": str(target).rpartition(":")[2] if target else None,
        }

    def set_attributes(self, name: str, changes: Mapping[str, object]) -> QueueAttributes:
        """Set the SQS attributes of ``changes`` (already checked); returns them all."""
        if "retention_seconds" in changes and changes["retention_seconds"] is None:
            _unsupported(
                "set_queue_attributes(retention_seconds=None)",
                "SQS keeps messages at most 14 days (1209600 s); it cannot keep them forever",
            )
        sqs: Dict[str, str] = {}
        for ours, theirs in _ATTRIBUTE_NAMES:
            if ours in changes:
                sqs[theirs] = str(_seconds(changes[ours]))  # type: ignore[arg-type]
        if "max_receive_count" in changes or "dead_letter_queue" in changes:
            sqs["RedrivePolicy"] = self._redrive_policy(name, changes)
        self.call("SetQueueAttributes", {"QueueUrl": self.queue_url(name), "Attributes": sqs}, name)
        return self.get_attributes(name)

    def _redrive_policy(self, name: str, changes: Mapping[str, object]) -> str:
        """The RedrivePolicy after ``changes``: the dead-letter queue's ARN and the count, or
        empty text (no dead-letter queue)."""
        current = self.get_attributes(name)
        count = changes.get("max_receive_count", current["max_receive_count"])
        target = changes.get("dead_letter_queue", current["dead_letter_queue"])
        if count is None or target is None:
            return ""
        arn = self.sqs_attributes(_checked_name(str(target)), ["QueueArn"])["QueueArn"]
        return json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": count})

    def health_check(self) -> bool:
        """Whether SQS answers a ``ListQueues`` with these credentials. Never raises."""
        try:
            self.call("ListQueues", {"MaxResults": 1}, "*")
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.transport.close()


def _redrive_policy(text: Optional[str]) -> Dict[str, Any]:
    if not text:
        return {}
    try:
        policy = json.loads(text)
    except ValueError:
        return {}
    return policy if isinstance(policy, dict) else {}


class SqsQueue:
    """One SQS queue of a :class:`SqsStore`: the ``QueueCore`` calls as SQS actions."""

    def __init__(self, store: SqsStore, name: str) -> None:
        self._store = store
        self.name = name

    def _call(self, action: str, payload: Dict[str, Any], hold: float = 0) -> Dict[str, Any]:
        payload["QueueUrl"] = self._store.queue_url(self.name)
        return self._store.call(action, payload, self.name, hold)

    # -- adding -------------------------------------------------------------------------------

    def add_messages(
        self, items: Sequence[NewMessage], delay_seconds: Optional[float] = None
    ) -> List[str]:
        """Send in batches of at most 10 entries and 1 MiB. SQS cannot tell an id it has seen,
        so a repeated id is sent again (SQS standard queues are at-least-once)."""
        entries = [_send_entry(item.id, item.body_json, delay_seconds) for item in items]
        for batch in _batches(entries):
            self._send_batch(batch)
        return [item.id for item in items]

    def _send_batch(self, entries: List[Dict[str, Any]]) -> None:
        # numbered in place: the entries are this call's own, made by add_messages
        for index, entry in enumerate(entries):
            entry["Id"] = str(index)
        answer = self._call("SendMessageBatch", {"Entries": entries})
        failed = answer.get("Failed") or []
        if failed:
            ids = [
                entries[int(failure.get("Id", 0))]["MessageAttributes"][ID_ATTRIBUTE]["StringValue"]
                for failure in failed
            ]
            codes = sorted({str(failure.get("Code", "")) for failure in failed})
            raise RequestRejectedError(
                f"SQS refused {len(failed)} of {len(entries)} messages ({', '.join(codes)}): "
                f"ids {ids}; the others were sent",
                self._store.queue_url(self.name),
                400,
                ", ".join(codes),
            )

    # -- receiving ----------------------------------------------------------------------------

    def receive_messages(
        self,
        max_messages: int,
        visibility_timeout: Optional[float],
        delete_after_receive: bool,
        only_new: bool,
        wait_seconds: Optional[float] = 0,
    ) -> List[Delivery]:
        """``ReceiveMessage`` calls of at most 10 until ``max_messages`` or a short answer;
        only the first one waits. With ``delete_after_receive``, one ``DeleteMessageBatch``
        per 10, and only the messages it deleted are returned (at-most-once)."""
        if only_new:
            _unsupported(
                "receive_messages(only_new=True)",
                "SQS cannot receive only messages never received before; a RedrivePolicy with "
                "max_receive_count=1 parks redeliveries in the dead-letter queue instead",
            )
        timeout = None if visibility_timeout is None else _seconds(visibility_timeout)
        messages: List[Dict[str, Any]] = []
        wait = wait_seconds
        while len(messages) < max_messages:
            wanted = min(_BATCH_ENTRIES, max_messages - len(messages))
            got = self._receive(wanted, timeout, wait, _SYSTEM_ATTRIBUTES, [ID_ATTRIBUTE])
            messages.extend(got)
            if len(got) < wanted:
                break
            wait = 0  # only the first call waits; the rest take what is there
        if delete_after_receive and messages:
            handles = [message["ReceiptHandle"] for message in messages]
            deleted = set(self.delete_messages(handles)["Successful"])
            messages = [message for message in messages if message["ReceiptHandle"] in deleted]
        now = utc_now()
        until = None if delete_after_receive or timeout is None else later(now, timeout)
        return [Delivery(_received(message, now), until) for message in messages]

    def _receive(
        self,
        wanted: int,
        visibility: Optional[int],
        wait: Optional[float],
        system: List[str],
        attributes: List[str],
    ) -> List[Dict[str, Any]]:
        payload: Dict[str, Any] = {
            "MaxNumberOfMessages": wanted,
            "MessageSystemAttributeNames": system,
            # the older name of the same list, for SQS-compatible servers that predate it
            "AttributeNames": system,
            "MessageAttributeNames": attributes,
        }
        if visibility is not None:
            payload["VisibilityTimeout"] = visibility
        if wait is not None:
            payload["WaitTimeSeconds"] = _seconds(wait)
        # The queue's own wait applies when none is given: up to 20 s.
        hold = 20.0 if wait is None else float(wait)
        messages = self._call("ReceiveMessage", payload, hold).get("Messages") or []
        return [message for message in messages if isinstance(message, dict)]

    # -- by receipt handle --------------------------------------------------------------------

    def delete_messages(self, receipt_handles: Sequence[object]) -> DeleteMessagesResult:
        """``DeleteMessageBatch`` per 10 handles; each failure is returned as ``not_found``."""
        return self._by_handles("DeleteMessageBatch", receipt_handles, {})

    def change_visibility(
        self, receipt_handles: Sequence[object], visibility_timeout: float
    ) -> DeleteMessagesResult:
        """``ChangeMessageVisibilityBatch`` per 10 handles, failures as ``delete_messages``."""
        extra = {"VisibilityTimeout": _seconds(visibility_timeout)}
        return self._by_handles("ChangeMessageVisibilityBatch", receipt_handles, extra)

    def _by_handles(
        self, action: str, receipt_handles: Sequence[object], extra: Mapping[str, object]
    ) -> DeleteMessagesResult:
        valid = [handle for handle in receipt_handles if isinstance(handle, str) and handle]
        failed_handles = set()
        for start in range(0, len(valid), _BATCH_ENTRIES):
            chunk = valid[start : start + _BATCH_ENTRIES]
            entries = [
                {"Id": str(index), "ReceiptHandle": handle, **extra}
                for index, handle in enumerate(chunk)
            ]
            answer = self._call(action, {"Entries": entries})
            for failure in answer.get("Failed") or []:
                failed_handles.add(chunk[int(failure.get("Id", 0))])
        successful: List[str] = []
        failed: List[BatchDeleteFailure] = []
        for handle in receipt_handles:
            if not isinstance(handle, str) or not handle:
                failed.append({"ReceiptHandle": str(handle), "reason": "invalid"})
            elif handle in failed_handles:
                failed.append({"ReceiptHandle": handle, "reason": "not_found"})
            else:
                successful.append(handle)
        return {"Successful": successful, "Failed": failed}

    # -- dead letters -------------------------------------------------------------------------

    def redrive_messages(self, max_messages: Optional[int]) -> int:
        """Move messages back to the queue that names this one its dead-letter queue: receive,
        send there, then delete here (never lost; sent twice at worst). Several such queues:
        ``ValidationError``, since SQS does not say which one a message came from."""
        sources = self._call("ListDeadLetterSourceQueues", {}).get("queueUrls") or []
        if not sources:
            return 0
        if len(sources) > 1:
            raise ValidationError(
                f"{len(sources)} queues use {self.name!r} as their dead-letter queue; SQS does "
                "not record which one a message came from, so it cannot redrive them"
            )
        moved = 0
        while max_messages is None or moved < max_messages:
            wanted = _BATCH_ENTRIES if max_messages is None else min(10, max_messages - moved)
            got = self._receive(wanted, _REDRIVE_VISIBILITY, 0, ["All"], ["All"])
            if not got:
                break
            moved += self._move(got, str(sources[0]))
        return moved

    def _move(self, messages: List[Dict[str, Any]], target_url: str) -> int:
        entries = [
            {
                "Id": str(index),
                "MessageBody": message.get("Body", ""),
                "MessageAttributes": _attributes_to_send(message.get("MessageAttributes") or {}),
            }
            for index, message in enumerate(messages)
        ]
        target = target_url.rstrip("/").rpartition("/")[2]
        answer = self._store.call(
            "SendMessageBatch", {"QueueUrl": target_url, "Entries": entries}, target
        )
        sent = {int(entry["Id"]) for entry in answer.get("Successful") or []}
        handles = [messages[index]["ReceiptHandle"] for index in sorted(sent)]
        if handles:
            self.delete_messages(handles)
        if len(sent) < len(messages):
            raise RemoteError(
                f"SQS refused to send {len(messages) - len(sent)} message(s) back to {target!r}; "
                "they stay in the dead-letter queue",
                target_url,
            )
        return len(sent)

    # -- the whole queue ----------------------------------------------------------------------

    def clear_queue(self) -> None:
        """``PurgeQueue``: SQS removes the messages within 60 seconds, one purge a minute."""
        self._call("PurgeQueue", {})

    def get_queue_info(self) -> QueueInfo:
        """SQS's approximate counts (they may lag by about a minute). SQS does not report
        ``never_received`` or ``total_receives``: they are 0."""
        sqs = self._store.sqs_attributes(self.name)
        visible = int(sqs.get("ApproximateNumberOfMessages", 0))
        hidden = int(sqs.get("ApproximateNumberOfMessagesNotVisible", 0))
        delayed = int(sqs.get("ApproximateNumberOfMessagesDelayed", 0))
        return {
            "queue_type": "sqs",
            "queue_name": self.name,
            "queue_url": self._store.queue_url(self.name),
            "message_count": visible + hidden + delayed,
            "visible_messages": visible,
            "invisible_messages": hidden + delayed,
            "never_received": 0,
            "total_receives": 0,
            "delayed_messages": delayed,
        }

    def health_check(self) -> bool:
        """Whether the queue answers ``GetQueueAttributes``. Never raises."""
        try:
            self._store.sqs_attributes(self.name, ["QueueArn"])
        except Exception:
            return False
        return True

    def cleanup_expired_messages(self) -> bool:
        """Nothing to do: SQS makes messages visible again by itself."""
        warnings.warn(
            "cleanup_expired_messages() does nothing on an SQS queue: SQS makes messages "
            "visible again when their visibility timeout expires",
            UserWarning,
            stacklevel=3,
        )
        return False


def _send_entry(item_id: str, body_json: str, delay: Optional[float]) -> Dict[str, Any]:
    entry: Dict[str, Any] = {
        "MessageBody": body_json,
        "MessageAttributes": {ID_ATTRIBUTE: {"DataType": "String", "StringValue": item_id}},
    }
    if delay is not None:
        entry["DelaySeconds"] = _seconds(delay)
    return entry


def _entry_size(entry: Mapping[str, Any]) -> int:
    item_id = entry["MessageAttributes"][ID_ATTRIBUTE]["StringValue"]
    return _utf8_length(entry["MessageBody"]) + _utf8_length(item_id)


def _utf8_length(text: str) -> int:
    # ASCII text (our JSON bodies and ids) is as many bytes as characters: no copy to count
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _batches(entries: List[Dict[str, Any]]) -> Iterator[List[Dict[str, Any]]]:
    """Runs of at most 10 entries and 1 MiB; a bigger entry goes alone (SQS then refuses it)."""
    batch: List[Dict[str, Any]] = []
    total = 0
    for entry in entries:
        size = _entry_size(entry) + _ENTRY_OVERHEAD
        if batch and (len(batch) == _BATCH_ENTRIES or total + size > _BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(entry)
        total += size
    if batch:
        yield batch


def _received(message: Mapping[str, Any], now: datetime) -> ReceivedMessage:
    """Our view of an SQS message."""
    attributes = message.get("Attributes") or {}
    ours = (message.get("MessageAttributes") or {}).get(ID_ATTRIBUTE) or {}
    return {
        "Id": str(ours.get("StringValue") or message["MessageId"]),
        "ReceiptHandle": str(message["ReceiptHandle"]),
        "message_body": _body_of(str(message.get("Body", ""))),
        "timestamp": _time_of(attributes.get("SentTimestamp"), now),
        "receive_count": int(attributes.get("ApproximateReceiveCount", 1)),
        "first_received_at": _time_of(attributes.get("ApproximateFirstReceiveTimestamp"), now),
    }


def _attributes_to_send(received: Mapping[str, Any]) -> Dict[str, Dict[str, str]]:
    """Message attributes as received, in the shape a send takes."""
    keys = ("DataType", "StringValue", "BinaryValue")
    return {
        name: {key: value[key] for key in keys if key in value}
        for name, value in received.items()
        if isinstance(value, dict)
    }
