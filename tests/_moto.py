"""moto's server as a local Amazon SQS for the tests, with signature checking turned on.

moto checks signatures once ``INITIAL_NO_AUTH_ACTION_COUNT`` requests have gone by: the first
three make an IAM user with a key and a policy allowing ``sqs:*`` (IAM's Query protocol, signed
by our own signer), and from then on every request must be signed with that key, so a wrong
signature fails the tests.

moto needs Python 3.10 or later. The server is a separate process, so it may run on another
interpreter than the tests: ``sys.executable`` when moto is installed there, else the one named by
``PYQUEUE_MOTO_PYTHON``. Without either, the SQS tests are skipped, saying why.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Dict, NamedTuple, Optional, Tuple
from urllib.parse import urlencode

from pyqueue_client._transport.sigv4 import Credentials, sign

#: The region the tests use; moto keeps state per region.
REGION = "us-east-1"
#: What ``Credentials`` moto accepts before the IAM user exists (any key works then).
BOOTSTRAP = Credentials("AKIAIOSFODNN7EXAMPLE", "bootstrap-secret")
SQS_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}'
)


class MotoServer(NamedTuple):
    """A running moto server and the IAM user's credentials that it accepts."""

    url: str
    credentials: Credentials
    process: subprocess.Popen[bytes]


def moto_python() -> Tuple[Optional[str], str]:
    """An interpreter that can run moto's server, or None and why not."""
    if importlib.util.find_spec("moto") is not None:
        return sys.executable, ""
    other = os.environ.get("PYQUEUE_MOTO_PYTHON")
    if other:
        return other, ""
    return None, (
        f"moto is not installed for Python {sys.version_info[0]}.{sys.version_info[1]} (it "
        "needs 3.10 or later) and PYQUEUE_MOTO_PYTHON names no interpreter that has it: "
        "the Amazon SQS backend is NOT tested in this run"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto's server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto's server did not listen on port {port} within {timeout} s")


def signed_post(
    url: str,
    service: str,
    body: bytes,
    headers: Dict[str, str],
    credentials: Credentials,
) -> Tuple[int, bytes]:
    """POST ``body`` to ``url``, signed for ``service``: the status and the body."""
    host = url.split("://", 1)[1].rstrip("/")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    signed = {**headers, "Host": host, "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}"}
    signature = sign("POST", url + "/", signed, body, credentials, REGION, service, now)
    signed["Authorization"] = signature.authorization
    connection = http.client.HTTPConnection(host, timeout=30)
    try:
        connection.request("POST", "/", body, signed)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _iam(url: str, action: str, **params: str) -> str:
    body = urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    status, answer = signed_post(url, "iam", body, headers, BOOTSTRAP)
    if status != 200:
        raise RuntimeError(f"IAM {action} failed on moto: {status} {answer[:300]!r}")
    return answer.decode()


def _make_user(url: str) -> Credentials:
    _iam(url, "CreateUser", UserName="pyqueue-tests")
    answer = _iam(url, "CreateAccessKey", UserName="pyqueue-tests")
    _iam(
        url,
        "PutUserPolicy",
        UserName="pyqueue-tests",
        PolicyName="sqs",
        PolicyDocument=SQS_POLICY,
    )
    key = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", answer)
    secret = re.search(r"<SecretAccessKey>([^<]+)</SecretAccessKey>", answer)
    if key is None or secret is None:
        raise RuntimeError(f"moto made no access key: {answer[:300]!r}")
    return Credentials(key.group(1), secret.group(1))


def start_moto(python: str) -> MotoServer:
    """Start moto's server on a free port with signatures checked, and make the IAM user."""
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "INITIAL_NO_AUTH_ACTION_COUNT": "3",
            "MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false",
            "AWS_ACCESS_KEY_ID": BOOTSTRAP.access_key,
            "AWS_SECRET_ACCESS_KEY": BOOTSTRAP.secret_key,
        }
    )
    process = subprocess.Popen(
        [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(port, process)
        url = f"http://127.0.0.1:{port}"
        return MotoServer(url, _make_user(url), process)
    except BaseException:
        stop_moto(process)
        raise


def stop_moto(process: subprocess.Popen[bytes]) -> None:
    """Stop the server by its process id, and wait for it."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)
