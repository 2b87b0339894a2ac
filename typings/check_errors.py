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

# -- each error is its builtin ---------------------------------------------------------------


def builtin_bases() -> None:
    lock_timeout: TimeoutError = LockTimeoutError("queue.json", 10.0)
    invalid: ValueError = ValidationError("max_messages must be between 1 and 100")
    corrupted: OSError = QueueCorruptedError("queue.json", "not a JSON array")
    misconfigured: ValueError = ConfigurationError("unknown queue_type 'bogus'")
    storage: OSError = StorageError("could not write", "queue.json")
    bad_path_value: ValueError = QueuePathError("folder missing", "missing/queue.json")
    bad_path_os: OSError = QueuePathError("folder missing", "missing/queue.json")
    root: Exception = PyQueueError("anything the library raises on purpose")
    print(lock_timeout, invalid, corrupted, misconfigured, storage, bad_path_value, bad_path_os)
    print(root)


def one_root() -> None:
    errors: List[PyQueueError] = [
        LockTimeoutError("queue.json", 10.0),
        ValidationError("bad"),
        QueueCorruptedError("queue.json", "not a JSON array"),
        ConfigurationError("bad"),
        StorageError("could not write", "queue.json"),
        QueuePathError("folder missing", "missing/queue.json"),
    ]
    print(errors)


def not_other_builtins() -> None:
    lock_timeout: ConnectionError = LockTimeoutError("queue.json", 1.0)  # type: ignore[assignment]
    invalid: OSError = ValidationError("bad")  # type: ignore[assignment]
    corrupted: ValueError = QueueCorruptedError("queue.json", "bad")  # type: ignore[assignment]
    print(lock_timeout, invalid, corrupted)


# -- attributes and constructors -------------------------------------------------------------


def attributes() -> None:
    lock_timeout = LockTimeoutError("queue.json", 10.0)
    assert_type(lock_timeout.path, str)
    assert_type(lock_timeout.timeout, float)
    corrupted = QueueCorruptedError("queue.json", "not a JSON array")
    assert_type(corrupted.path, str)
    assert_type(corrupted.reason, str)
    assert_type(StorageError("could not write", "queue.json").path, str)
    assert_type(QueuePathError("folder missing", "missing/queue.json").path, str)


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
