"""Every example of the README and of ``docs/examples.md``, as a user would paste it, type-checks.

``docs/examples.md`` holds the examples of the 1.2.x README, the user contract; the README adds
its consumer loop. The calls are kept as written (only their layout follows the project's
formatter); the additions are the function wrappers (so nothing runs on import), annotations on
the examples' own helper functions (``--strict`` wants them), ``print`` of results the examples
only look at, and ``queue`` as a parameter where a snippet continues an earlier one or builds its
queue with the same keywords as an earlier one.
"""

import logging
import time

from pyqueue_client import MessageBody, PyQueue


def quick_start_local() -> None:
    # Initialize local queue
    queue = PyQueue(queue_type="local", queue_file="queue.json")

    # Add a message
    queue.add_message({"task": "send_email", "to": "user@example.com"})

    # Receive messages with visibility timeout
    messages = queue.receive_messages(max_messages=5, visibility_timeout=30)

    # Process and delete
    for msg in messages:
        print(f"Processing: {msg['message_body']}")
        queue.delete_message(msg["ReceiptHandle"])


def quick_start_remote() -> None:
    # Initialize remote queue with authentication
    queue = PyQueue(
        queue_type="remote",
        server_url="https://api.pyqueue.com",
        queue_name="production-tasks",
        api_key="your-api-key-here",
        timeout=30,
    )

    # Same API as local queue!
    queue.add_message({"task": "process_order", "order_id": 12345})
    messages = queue.receive_messages(max_messages=10, visibility_timeout=60)
    print(messages)


def consumer_loop() -> None:
    """The README's consumer loop."""
    queue = PyQueue(queue_type="sqlite", queue_file="queue.db", queue_name="emails")

    def process_message(message_body: MessageBody) -> bool:
        print(f"Processing: {message_body}")  # your work; return False (or raise) to retry later
        return True

    while True:
        try:
            # up to 5 messages, hidden from other consumers for 60 s; waits up to 20 s for one
            messages = queue.receive_messages(
                max_messages=5, visibility_timeout=60, wait_time_seconds=20
            )
            for msg in messages:
                try:
                    if process_message(msg["message_body"]):
                        queue.delete_message(msg["ReceiptHandle"])  # done: never delivered again
                except Exception as e:
                    print(f"Error processing {msg['Id']}: {e}")  # delivered again after 60 s
        except KeyboardInterrupt:
            print("Shutting down consumer...")
            break


def adding_messages(queue: PyQueue) -> None:
    # Add message with auto-generated ID
    queue.add_message({"task": "process_payment", "amount": 99.99, "currency": "USD"})

    # Add message with custom ID
    queue.add_message(
        {"task": "send_notification", "user_id": 12345}, item_id="notification-user-12345"
    )


def receiving_messages(queue: PyQueue) -> None:
    # Standard receive with visibility timeout
    messages = queue.receive_messages(
        max_messages=10,  # Maximum messages to receive
        visibility_timeout=30,  # Seconds until message becomes visible again
        delete_after_receive=False,  # Auto-delete after receive?
        only_new=False,  # Only messages never received before?
    )
    print(messages)

    # Consumer 1 receives a message
    messages = queue.receive_messages(visibility_timeout=60)

    # Get only messages that are being received for the first time
    messages = queue.receive_messages(only_new=True)

    messages = queue.receive_messages(max_messages=5, delete_after_receive=True)


def deleting_messages(queue: PyQueue) -> None:
    # Using receipt handle (recommended - SQS-style)
    messages = queue.receive_messages(max_messages=1)
    queue.delete_message(messages[0]["ReceiptHandle"])

    # Using message ID directly (alternative)
    queue.remove_message("message-uuid")


def updating_messages(queue: PyQueue) -> None:
    queue.update_message(
        "message-uuid", {"task": "send_email", "status": "updated", "priority": "high"}
    )


def getting_messages(queue: PyQueue) -> None:
    # Get all messages (doesn't affect visibility)
    all_messages = queue.get_messages()

    # Get limited number of messages
    first_10 = queue.get_messages(max_messages=10)
    print(all_messages, first_10)


def checking_existence(queue: PyQueue) -> None:
    # Check single message
    if queue.has_message("message-uuid"):
        print("Message exists")

    # Batch check multiple messages (optimized)
    existing_ids = queue.check_existence(["msg-1", "msg-2", "msg-3", "msg-4"])
    print(f"Found: {existing_ids}")


def queue_information(queue: PyQueue) -> None:
    info = queue.get_queue_info()
    print(info)


def queue_maintenance(queue: PyQueue) -> None:
    # Clear all messages
    queue.clear_queue()

    # Manual cleanup of expired visibility timeouts (local only)
    # Note: This happens automatically on every read operation
    queue.cleanup_expired_messages()

    # Health check
    if queue.health_check():
        print("Queue is accessible and healthy")


def consumer_pattern(queue: PyQueue) -> None:
    # Setup logging
    logging.basicConfig(level=logging.INFO)

    # Initialize queue: built as in quick_start_remote (the same keywords, other values)

    def process_message(message_body: MessageBody) -> bool:
        """Your business logic here"""
        print(f"Processing: {message_body}")
        # Simulate work
        time.sleep(2)
        return True

    # Main consumer loop
    while True:
        try:
            # Receive up to 5 messages with 60-second visibility timeout
            messages = queue.receive_messages(max_messages=5, visibility_timeout=60, only_new=False)

            if not messages:
                # No messages available, wait before polling again
                time.sleep(5)
                continue

            for msg in messages:
                try:
                    # Process the message
                    success = process_message(msg["message_body"])

                    if success:
                        # Delete message after successful processing
                        queue.delete_message(msg["ReceiptHandle"])
                        print(f"Processed message {msg['Id']}")
                    else:
                        print(f"Failed to process {msg['Id']}")
                        # Message will become visible again after timeout

                except Exception as e:
                    print(f"Error processing {msg['Id']}: {e}")
                    # Message will become visible again for retry

        except KeyboardInterrupt:
            print("Shutting down consumer...")
            break
        except Exception as e:
            print(f"Consumer error: {e}")
            time.sleep(10)  # Wait before retrying


def api_reference_initialization() -> None:
    queue = PyQueue(
        queue_type="local",  # "local" or "remote"
        queue_file="queue.json",  # Local only: file path
        server_url=None,  # Remote only: server URL
        queue_name="default",  # Remote only: queue name
        api_key=None,  # Remote only: authentication
        timeout=30,  # Remote only: request timeout
    )
    print(queue)


def api_reference_receive(queue: PyQueue) -> None:
    queue.receive_messages(
        max_messages=10,  # Maximum messages to receive (1-10)
        visibility_timeout=30,  # Seconds until message visible again
        delete_after_receive=False,  # Auto-delete after receive?
        only_new=False,  # Only never-received messages?
    )


def logging_setup() -> None:
    # Basic logging
    logging.basicConfig(level=logging.INFO)

    # Debug mode (shows all HTTP requests, file operations, etc.)
    logging.getLogger("pyqueue_client").setLevel(logging.DEBUG)


def environment_variables() -> None:
    # Will use /var/data/myqueue.json by default
    queue = PyQueue(queue_type="local")
    print(queue)


def migration_guide(queue: PyQueue) -> None:
    def process(item: object) -> None:
        """The reader's own processing."""

    # Old way (still works)
    messages = queue.receive_messages(max_messages=5, delete_after_receive=True)
    for msg in messages:
        process(msg)

    # New way (recommended)
    messages = queue.receive_messages(max_messages=5, visibility_timeout=60)
    for msg in messages:
        try:
            process(msg["message_body"])
            queue.delete_message(msg["ReceiptHandle"])  # Use receipt handle
        except Exception:
            pass  # Message will retry after timeout
