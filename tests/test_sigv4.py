"""Signature Version 4 against the AWS test-suite vectors (aws-c-auth's copy of the suite),
AWS's documented IAM example and an SQS JSON-protocol request checked against botocore:
canonical request, string to sign, signature and ``Authorization`` header, byte for byte."""

from __future__ import annotations

from datetime import datetime
from typing import Dict, List, NamedTuple, Optional

import pytest

from pyqueue_client._transport.sigv4 import (
    Credentials,
    SigV4Auth,
    canonical_query,
    sign,
    signing_key,
)

NOW = datetime(2015, 8, 30, 12, 36, 0)
DATE = "20150830T123600Z"
KEYS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SESSION_TOKEN = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
SQS_BODY = (
    b'{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/jobs","MessageBody":"hello"}'
)


class Vector(NamedTuple):
    """One signed request and what AWS says its signature steps are."""

    name: str
    method: str
    url: str
    headers: Dict[str, str]
    body: Optional[bytes]
    service: str
    canonical: List[str]
    string_to_sign_hash: str
    signature: str
    signed_headers: str


VECTORS = [
    Vector(
        "get-vanilla",
        "GET",
        "https://example.amazonaws.com/",
        {"Host": "example.amazonaws.com", "X-Amz-Date": DATE},
        None,
        "service",
        ["GET", "/", "", "host:example.amazonaws.com", f"x-amz-date:{DATE}", ""],
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "host;x-amz-date",
    ),
    Vector(
        "post-vanilla",
        "POST",
        "https://example.amazonaws.com/",
        {"Host": "example.amazonaws.com", "X-Amz-Date": DATE},
        None,
        "service",
        ["POST", "/", "", "host:example.amazonaws.com", f"x-amz-date:{DATE}", ""],
        "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        "host;x-amz-date",
    ),
    Vector(
        "get-vanilla-query-order-encoded",
        "GET",
        "https://example.amazonaws.com/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
        {"Host": "example.amazonaws.com", "X-Amz-Date": DATE},
        None,
        "service",
        [
            "GET",
            "/",
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3",
            "host:example.amazonaws.com",
            f"x-amz-date:{DATE}",
            "",
        ],
        "868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71",
        "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
        "host;x-amz-date",
    ),
    Vector(
        "post-x-www-form-urlencoded",
        "POST",
        "https://example.amazonaws.com/",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Host": "example.amazonaws.com",
            "Content-Length": "13",
            "X-Amz-Content-Sha256": (
                "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
            ),
            "X-Amz-Date": DATE,
        },
        b"Param1=value1",
        "service",
        [
            "POST",
            "/",
            "",
            "content-length:13",
            "content-type:application/x-www-form-urlencoded",
            "host:example.amazonaws.com",
            "x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            f"x-amz-date:{DATE}",
            "",
        ],
        "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb",
        "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
    ),
    Vector(
        "get-vanilla-with-session-token",
        "GET",
        "https://example.amazonaws.com/",
        {
            "Host": "example.amazonaws.com",
            "X-Amz-Date": DATE,
            "X-Amz-Security-Token": SESSION_TOKEN,
        },
        None,
        "service",
        [
            "GET",
            "/",
            "",
            "host:example.amazonaws.com",
            f"x-amz-date:{DATE}",
            f"x-amz-security-token:{SESSION_TOKEN}",
            "",
        ],
        "067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
        "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
        "host;x-amz-date;x-amz-security-token",
    ),
    Vector(
        "iam-list-users",
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        {
            "Host": "iam.amazonaws.com",
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Amz-Date": DATE,
        },
        None,
        "iam",
        [
            "GET",
            "/",
            "Action=ListUsers&Version=2010-05-08",
            "content-type:application/x-www-form-urlencoded; charset=utf-8",
            "host:iam.amazonaws.com",
            f"x-amz-date:{DATE}",
            "",
        ],
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        "content-type;host;x-amz-date",
    ),
    Vector(
        "sqs-json-send-message",
        "POST",
        "https://sqs.us-east-1.amazonaws.com/",
        {
            "Host": "sqs.us-east-1.amazonaws.com",
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS.SendMessage",
            "X-Amz-Date": DATE,
        },
        SQS_BODY,
        "sqs",
        [
            "POST",
            "/",
            "",
            "content-type:application/x-amz-json-1.0",
            "host:sqs.us-east-1.amazonaws.com",
            f"x-amz-date:{DATE}",
            "x-amz-target:AmazonSQS.SendMessage",
            "",
        ],
        "260bcfc8123aa214d47feddf36f8fcf83878545151dabd1c9564085fe12b7aa7",
        "e09e537191fb851fc54a8f33dbd2b6d44592646495d25d7023de90b8c3c51d12",
        "content-type;host;x-amz-date;x-amz-target",
    ),
]


def _hash_line(vector: Vector) -> str:
    if vector.name == "post-x-www-form-urlencoded":
        return "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
    if vector.name == "sqs-json-send-message":
        return "e32b9c7e0f29ca3d1fd6ecd5f8524162c9bc8e0e5793cd255c681b5f446d74b4"
    return EMPTY_HASH


@pytest.mark.parametrize("vector", VECTORS, ids=[vector.name for vector in VECTORS])
def test_signature_steps_match_the_vectors_byte_for_byte(vector: Vector) -> None:
    keys = KEYS._replace(token=SESSION_TOKEN) if "session" in vector.name else KEYS
    result = sign(
        vector.method, vector.url, vector.headers, vector.body, keys, "us-east-1", vector.service,
        NOW,
    )  # fmt: skip
    expected_canonical = "\n".join([*vector.canonical, vector.signed_headers, _hash_line(vector)])
    assert result.canonical_request == expected_canonical
    assert result.string_to_sign == "\n".join(
        [
            "AWS4-HMAC-SHA256",
            DATE,
            f"20150830/us-east-1/{vector.service}/aws4_request",
            vector.string_to_sign_hash,
        ]
    )
    assert result.signature == vector.signature
    assert result.authorization == (
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/{vector.service}/"
        f"aws4_request, SignedHeaders={vector.signed_headers}, Signature={vector.signature}"
    )


def test_the_iam_example_signing_key() -> None:
    key = signing_key(KEYS.secret_key, NOW, "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def test_query_values_are_sorted_and_encoded_the_aws_way() -> None:
    assert canonical_query("b=2&a=x y&a=%7E&c=") == "a=x%20y&a=~&b=2&c="


def test_the_authenticator_signs_as_the_sqs_vector_with_the_headers_the_transport_sends() -> None:
    auth = SigV4Auth(lambda: KEYS, "us-east-1", "sqs", clock=lambda: NOW)
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonSQS.SendMessage",
        "User-Agent": "left out of the signature",
    }
    auth.sign("POST", "https://sqs.us-east-1.amazonaws.com/", headers, SQS_BODY)
    assert headers["X-Amz-Date"] == DATE
    assert headers["Authorization"].endswith(
        "Signature=e09e537191fb851fc54a8f33dbd2b6d44592646495d25d7023de90b8c3c51d12"
    )
    assert "X-Amz-Security-Token" not in headers
    assert not auth.sends_secret
    assert "wJalr" not in repr(auth) + repr(KEYS)


def test_temporary_credentials_send_and_sign_their_session_token() -> None:
    keys = KEYS._replace(token=SESSION_TOKEN)
    auth = SigV4Auth(lambda: keys, "us-east-1", "service", clock=lambda: NOW)
    headers: Dict[str, str] = {}
    auth.sign("GET", "https://example.amazonaws.com/", headers, None)
    assert headers["X-Amz-Security-Token"] == SESSION_TOKEN
    assert headers["Authorization"].endswith(
        "SignedHeaders=host;x-amz-date;x-amz-security-token, "
        "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
    )
    assert SESSION_TOKEN not in repr(keys)


def test_the_host_keeps_its_port() -> None:
    auth = SigV4Auth(lambda: KEYS, "us-east-1", "sqs", clock=lambda: NOW)
    with_port: Dict[str, str] = {}
    without: Dict[str, str] = {}
    auth.sign("POST", "http://127.0.0.1:4566/", with_port, b"{}")
    auth.sign("POST", "http://127.0.0.1/", without, b"{}")
    assert with_port["Authorization"] != without["Authorization"]


def test_the_authenticator_derives_a_new_key_when_the_day_or_the_secret_changes() -> None:
    # The signing key is kept between requests: each request must still be signed exactly as
    # the pure function signs it, across midnight and a credential refresh.
    moments = [NOW, NOW.replace(hour=23, minute=59), datetime(2015, 8, 31, 0, 0, 1)]
    rotated = Credentials("ASIAEXAMPLE", "a-refreshed-secret", SESSION_TOKEN)
    steps = [(KEYS, moments[0]), (KEYS, moments[1]), (KEYS, moments[2]), (rotated, moments[2])]
    given: List[Credentials] = [KEYS]
    clock: List[datetime] = [NOW]
    auth = SigV4Auth(lambda: given[0], "eu-west-1", "sqs", clock=lambda: clock[0])
    url = "https://sqs.eu-west-1.amazonaws.com/"
    for keys, moment in steps:
        given[0], clock[0] = keys, moment
        headers = {"Content-Type": "application/x-amz-json-1.0", "Accept": "not signed"}
        auth.sign("POST", url, headers, SQS_BODY)
        signed = {
            name.lower(): value for name, value in headers.items() if name.lower() != "accept"
        }
        del signed["authorization"]
        signed["host"] = "sqs.eu-west-1.amazonaws.com"
        expected = sign("POST", url, signed, SQS_BODY, keys, "eu-west-1", "sqs", moment)
        assert headers["Authorization"] == expected.authorization
