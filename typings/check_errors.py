"""The exception hierarchy: each error is also the builtin a user would naturally catch."""

from typing import List, Union

from typing_extensions import assert_type

from pyqueue_client import (
    ConfigurationError,
    LockTimeoutError,
    PyQueue,
    PyQueueError,
    QueueCorruptedError,
    QueuePathError,
    StorageError,
    ValidationError,
)

# One of each, built as the library builds them; the cases below use these.
LOCK_TIMEOUT = LockTimeoutError("queue.json", 10.0)
INVALID = ValidationError("max_messages must be between 1 and 100")
CORRUPTED = QueueCorruptedError("queue.json", "not a JSON array")
MISCONFIGURED = ConfigurationError("unknown queue_type 'bogus'")
STORAGE = StorageError("could not write", "queue.json")
BAD_PATH = QueuePathError("folder missing", "missing/queue.json")

# -- each error is its builtin ---------------------------------------------------------------


def builtin_bases() -> None:
    lock_timeout: TimeoutError = LOCK_TIMEOUT
    invalid: ValueError = INVALID
    corrupted: OSError = CORRUPTED
    misconfigured: ValueError = MISCONFIGURED
    storage: OSError = STORAGE
    bad_path_value: ValueError = BAD_PATH
    bad_path_os: OSError = BAD_PATH
    root: Exception = PyQueueError("anything the library raises on purpose")
    print(lock_timeout, invalid, corrupted, misconfigured, storage, bad_path_value, bad_path_os)
    print(root)


def one_root() -> None:
    every: List[PyQueueError] = [LOCK_TIMEOUT, INVALID, CORRUPTED, MISCONFIGURED, STORAGE, BAD_PATH]
    print(every)


def not_other_builtins() -> None:
    lock_timeout: ConnectionError = LOCK_TIMEOUT  # type: ignore[assignment]
    invalid: OSError = INVALID  # type: ignore[assignment]
    corrupted: ValueError = CORRUPTED  # type: ignore[assignment]
    print(lock_timeout, invalid, corrupted)


# -- attributes and constructors -------------------------------------------------------------


def attributes() -> None:
    assert_type(LOCK_TIMEOUT.path, str)
    assert_type(LOCK_TIMEOUT.timeout, float)
    assert_type(CORRUPTED.path, str)
    assert_type(CORRUPTED.reason, str)
    assert_type(STORAGE.path, str)
    assert_type(BAD_PATH.path, str)


def wrong_constructor_arguments() -> None:
    LockTimeoutError("queue.json")  # type: ignore[call-arg]
    LockTimeoutError("queue.json", "10 s")  # type: ignore[arg-type]
    QueueCorruptedError("queue.json")  # type: ignore[call-arg]
    print(LockTimeoutError("queue.json", 1.0).reason)  # type: ignore[attr-defined]


# -- catching --------------------------------------------------------------------------------


def catching_library_errors(queue: PyQueue) -> None:
    try:
        queue.add_message({"task": "send_email"})
    except LockTimeoutError as exc:
        assert_type(exc, LockTimeoutError)
        print(exc.path, exc.timeout)
    except QueueCorruptedError as exc:
        assert_type(exc, QueueCorruptedError)
        print(exc.path, exc.reason)
    except (ValidationError, ConfigurationError) as exc:
        assert_type(exc, Union[ValidationError, ConfigurationError])
    except PyQueueError as exc:
        assert_type(exc, PyQueueError)


def catching_builtins(queue: PyQueue) -> None:
    try:
        queue.receive_messages(max_messages=5)
    except TimeoutError as exc:  # a LockTimeoutError lands here
        print(exc)
    except ValueError as exc:  # a ValidationError lands here
        print(exc)
    except OSError as exc:  # a QueueCorruptedError lands here
        print(exc)
