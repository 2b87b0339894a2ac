"""A newcomer's usual mistakes with a remote queue, and what they are told.

- A ``server_url`` with a wrong path: a route that does not exist is not a message that does not
  exist, on ``pyqueue serve`` and on the existing server (its recorded answers); a ``server_url``
  that already ends in the API prefix works.
- Something that is not a PyQueue server: errors summarise its HTML page, and ``https://``
  against plain HTTP hints at ``http://``.
- A remote queue never closed leaves no unclosed socket behind, collected or at exit.
"""

from __future__ import annotations

import gc
import subprocess
import textwrap
import warnings
from pathlib import Path
from typing import Iterator, List

import pytest

from pyqueue_client import PyQueue, RemoteError
from pyqueue_client._transport import rest_calls as wire
from pyqueue_client.server import QueueServer

from ._replay_server import TEST_KEYS, Exchange, ReplayServer, load_exchanges
from ._server_support import ADMIN_KEY, config, running
from .conftest import PYTHON, child_env

EXCHANGES = load_exchanges()
ORDERS = "/api/v1/queues/orders"
#: A web server's own 404 page, as nginx sends it.
NGINX_404 = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n"
    "</body>\r\n</html>\r\n" + "<!-- padding -->\r\n" * 40
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[QueueServer]:
    """A ``pyqueue serve`` on 127.0.0.1 with the test keys."""
    with running(config(tmp_path)) as started:
        yield started


def _remote(url: str) -> PyQueue:
    return PyQueue(queue_type="remote", server_url=url, api_key=ADMIN_KEY, queue_name="orders")


# -- a wrong server_url path ----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/api/v1", "/api/v1/"])
def test_a_server_url_ending_in_the_api_prefix_is_the_servers_root(
    server: QueueServer, suffix: str
) -> None:
    with _remote(server.url + suffix) as queue:
        queue.add_message({"n": 1}, item_id="m-1")
        assert queue.get_message("m-1") is not None
        [received] = queue.receive_messages()
        assert queue.delete_message(received["ReceiptHandle"]) is True
        assert queue.get_message("m-1") is None


def test_a_wrong_server_url_path_raises_instead_of_reading_as_absent(server: QueueServer) -> None:
    with _remote(server.url + "/queue-service") as queue:
        for call in (
            lambda: queue.get_message("m-1"),
            lambda: queue.has_message("m-1"),
            lambda: queue.delete_message("some-handle"),
            lambda: queue.remove_message("m-1"),
            lambda: queue.update_message("m-1", {"n": 2}),
        ):
            with pytest.raises(RemoteError, match=r"no route for .*/queue-service/api/v1/") as info:
                call()
            assert info.value.status == 404
            assert "root URL" in str(info.value)


def test_a_missing_message_is_still_absent_on_pyqueue_serve(server: QueueServer) -> None:
    with _remote(server.url) as queue:
        assert queue.get_message("nope") is None
        assert queue.delete_message("receipt-nope") is False
        assert queue.remove_message("nope") is False
        assert queue.update_message("nope", {"n": 1}) is False


def _unknown_route(method: str, path: str) -> Exchange:
    return EXCHANGES["json:unknown-route"].at(method, path)


def test_the_existing_servers_route_404_raises_and_its_message_404_reads_as_absent() -> None:
    steps: List[Exchange] = [
        EXCHANGES["json:get-message-unknown-id"].at("GET", f"{ORDERS}/message/nope"),
        EXCHANGES["json:delete-by-receipt-again"].at("DELETE", f"{ORDERS}/messages/h-1"),
        EXCHANGES["json:delete-by-id-again"].at("DELETE", f"{ORDERS}/messages/by-id/nope"),
        EXCHANGES["json:update-unknown-id"].at("PUT", f"{ORDERS}/messages/by-id/nope"),
        _unknown_route("GET", f"/prefix{ORDERS}/message/nope"),
        _unknown_route("DELETE", f"/prefix{ORDERS}/messages/h-1"),
        _unknown_route("DELETE", f"/prefix{ORDERS}/messages/by-id/nope"),
        _unknown_route("PUT", f"/prefix{ORDERS}/messages/by-id/nope"),
    ]
    with ReplayServer(steps) as replay:
        with _remote(replay.url) as queue:
            assert queue.get_message("nope") is None
            assert queue.delete_message("h-1") is False
            assert queue.remove_message("nope") is False
            assert queue.update_message("nope", {"n": 1}) is False
        with _remote(replay.url + "/prefix") as queue:
            for call in (
                lambda: queue.get_message("nope"),
                lambda: queue.delete_message("h-1"),
                lambda: queue.remove_message("nope"),
                lambda: queue.update_message("nope", {"n": 1}),
            ):
                with pytest.raises(RemoteError, match="no route for"):
                    call()


# -- not a PyQueue server -------------------------------------------------------------------------


def test_an_html_page_is_summarised_by_its_status_and_title() -> None:
    page = Exchange("GET", f"{ORDERS}/message/m-1", 404, NGINX_404, {"content-type": "text/html"})
    ok_page = Exchange("GET", f"{ORDERS}/info", 200, "<!DOCTYPE html><html><title>Welcome</title>")
    with ReplayServer([page, ok_page]) as replay, _remote(replay.url) as queue:
        with pytest.raises(RemoteError) as missing:
            queue.get_message("m-1")
        with pytest.raises(RemoteError) as wrong:
            queue.get_queue_info()
    text = str(missing.value)
    assert "(404)" in text
    assert "an HTML page titled '404 Not Found'" in text
    assert "<center>" not in text
    assert "padding" not in text
    assert "Is server_url a PyQueue server" in text
    assert "(200) with an HTML page titled 'Welcome', not JSON" in str(wrong.value)


def test_a_server_error_page_keeps_its_status_and_says_what_it_was() -> None:
    untitled = wire.Reply("GET", "http://x/api/v1/health", 502, b"<html><body>bad</body></html>")
    error = wire.error_for(untitled)
    assert error.status == 502
    assert "(502): an HTML page of 29 bytes" in str(error)
    assert "Is server_url a PyQueue server" in str(error)


def test_https_against_plain_http_hints_at_http(server: QueueServer) -> None:
    wrong = server.url.replace("http://", "https://")
    with _remote(wrong) as queue, pytest.raises(RemoteError) as info:
        queue.get_queue_info()
    assert "does not speak TLS" in str(info.value)
    assert server.url in str(info.value)


# -- no unclosed sockets --------------------------------------------------------------------------


def test_a_collected_remote_queue_closes_its_connections(server: QueueServer) -> None:
    queue = _remote(server.url)
    queue.add_message({"n": 1})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del queue
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_a_remote_queue_open_at_exit_leaves_no_unclosed_socket(server: QueueServer) -> None:
    program = textwrap.dedent(
        f"""
        from pyqueue_client import PyQueue
        QUEUE = PyQueue(queue_type="remote", server_url={server.url!r},
                        api_key={TEST_KEYS["admin"]!r}, queue_name="orders")
        QUEUE.add_message({{"n": 1}})
        print("sent")
        """
    )
    done = subprocess.run(
        [PYTHON, "-X", "dev", "-W", "always::ResourceWarning", "-c", program],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "sent"
    assert "ResourceWarning" not in done.stderr, done.stderr
