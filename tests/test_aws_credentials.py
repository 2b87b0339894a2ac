"""Where AWS credentials, region and endpoint come from, in botocore's order: arguments,
environment, shared files with profiles, a fake container endpoint and a fake instance-metadata
service on 127.0.0.1; refresh before expiry; and errors that say where they looked."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from pyqueue_client import ConfigurationError
from pyqueue_client._transport import aws_credentials
from pyqueue_client._transport.aws_credentials import (
    CredentialProvider,
    SharedConfig,
    find_credentials,
    find_endpoint,
    find_region,
)
from pyqueue_client._transport.sigv4 import Credentials

from ._fake_http import Responder, Seen, fake_server

NOW = datetime(2026, 12, 6, 12, 0, 0)


def _files(tmp_path: Path, credentials: str = "", config: str = "") -> Dict[str, str]:
    """An environment whose shared files are these two texts (empty: absent), IMDS off."""
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if credentials:
        (tmp_path / "credentials").write_text(credentials, encoding="utf-8")
    if config:
        (tmp_path / "config").write_text(config, encoding="utf-8")
    return env


def _find(env: Dict[str, str], profile: str = "", **arguments: str) -> CredentialProvider:
    shared = SharedConfig(profile or None, env)
    return find_credentials(
        arguments.get("key"), arguments.get("secret"), arguments.get("token"), shared, env
    )


def test_arguments_come_first(tmp_path: Path) -> None:
    env = {**_files(tmp_path), "AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "env"}
    provider = _find(env, key="ARG", secret="arg", token="tok")
    assert provider() == Credentials("ARG", "arg", "tok")
    assert provider.source == "arguments"


def test_a_key_without_its_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="must be given together"):
        _find(_files(tmp_path), key="ARG")


def test_the_environment_comes_before_the_files(tmp_path: Path) -> None:
    env = _files(tmp_path, "[default]\naws_access_key_id = FILE\naws_secret_access_key = f\n")
    env.update(AWS_ACCESS_KEY_ID="ENV", AWS_SECRET_ACCESS_KEY="env", AWS_SESSION_TOKEN="t")
    assert _find(env)() == Credentials("ENV", "env", "t")


def test_the_credentials_file_then_the_config_file_for_the_profile(tmp_path: Path) -> None:
    env = _files(
        tmp_path,
        "[default]\naws_access_key_id = DEF\naws_secret_access_key = d\n"
        "[work]\naws_access_key_id = WORK\naws_secret_access_key = w\naws_session_token = s\n",
        "[profile home]\naws_access_key_id = HOME\naws_secret_access_key = h\nregion = eu-west-1\n",
    )
    assert _find(env)() == Credentials("DEF", "d")
    assert _find(env, profile="work")() == Credentials("WORK", "w", "s")
    home = _find({**env, "AWS_PROFILE": "home"})
    assert home() == Credentials("HOME", "h")
    assert "profile 'home'" in home.source
    assert str(tmp_path / "config") in home.source


def test_a_named_profile_that_is_nowhere_is_an_error(tmp_path: Path) -> None:
    env = _files(tmp_path, "[default]\naws_access_key_id = A\naws_secret_access_key = a\n")
    with pytest.raises(ConfigurationError, match="profile 'missing' is in neither"):
        _find(env, profile="missing")


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    env = _files(tmp_path, "not an ini file")
    with pytest.raises(ConfigurationError, match="cannot read the AWS file"):
        _find(env)


def test_nothing_found_says_where_it_looked(tmp_path: Path) -> None:
    env = _files(tmp_path)
    with pytest.raises(ConfigurationError) as caught:
        _find(env)
    message = str(caught.value)
    for place in (
        "the arguments",
        "AWS_ACCESS_KEY_ID",
        str(tmp_path / "credentials"),
        str(tmp_path / "config"),
        "container credentials (neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "EC2 instance metadata (AWS_EC2_METADATA_DISABLED is true)",
    ):
        assert place in message


def _document(key: str, expires: datetime) -> bytes:
    return json.dumps(
        {
            "AccessKeyId": key,
            "SecretAccessKey": "secret-" + key,
            "Token": "token-" + key,
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ).encode()


def test_container_credentials_with_the_token_file(tmp_path: Path) -> None:
    expires = datetime(2030, 1, 1)

    def respond(seen: Seen) -> Tuple[int, str, bytes]:
        if seen.headers.get("Authorization") != "container-token":
            return 401, "text/plain", b"no"
        return 200, "application/json", _document("CONTAINER", expires)

    token_file = tmp_path / "token"
    token_file.write_text("container-token\n", encoding="utf-8")
    with fake_server(respond) as server:
        env = _files(tmp_path)
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server.url + "/v2/credentials"
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(token_file)
        provider = _find(env)
        assert provider() == Credentials(
            "CONTAINER", "secret-CONTAINER", "token-CONTAINER", expires
        )
        assert provider.source == "container credentials"
        assert server.seen[0].path == "/v2/credentials"
        # the token of the variable, when there is no file; a wrong one is refused
        del env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong"
        with pytest.raises(ConfigurationError, match="answered HTTP 401"):
            _find(env)


def test_the_relative_container_uri_goes_to_the_ecs_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_server(lambda seen: (200, "application/json", _document("ECS", NOW))) as server:
        monkeypatch.setattr(aws_credentials, "CONTAINER_HOST", server.url)
        env = {**_files(tmp_path), "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/creds?id=1"}
        assert _find(env)().access_key == "ECS"
        assert server.seen[0].path == "/creds?id=1"


def test_container_uris_must_stay_on_safe_hosts(tmp_path: Path) -> None:
    env = {**_files(tmp_path), "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.com/x"}
    with pytest.raises(ConfigurationError, match="must be https"):
        _find(env)
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://10.1.2.3/x"
    with pytest.raises(ConfigurationError, match="must be https"):
        _find(env)
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://169.254.170.23/x"
    assert aws_credentials._checked_container_url(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(tmp_path / "absent")
    with pytest.raises(ConfigurationError, match="cannot read AWS_CONTAINER_AUTHORIZATION"):
        _find(env)


def _imds(role: str = "my-role", key: str = "IMDS") -> Tuple[List[Seen], Responder]:
    seen: List[Seen] = []

    def respond(request: Seen) -> Tuple[int, str, bytes]:
        seen.append(request)
        if request.method == "PUT" and request.path == "/latest/api/token":
            assert request.headers["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
            return 200, "text/plain", b"imds-session"
        if request.headers.get("X-aws-ec2-metadata-token") != "imds-session":
            return 401, "text/plain", b""
        if request.path == "/latest/meta-data/iam/security-credentials/":
            return 200, "text/plain", role.encode()
        if request.path == f"/latest/meta-data/iam/security-credentials/{role}":
            return 200, "application/json", _document(key, datetime(2030, 1, 1))
        return 404, "text/plain", b""

    return seen, respond


def test_instance_metadata_takes_a_session_token_first(tmp_path: Path) -> None:
    seen, respond = _imds()
    with fake_server(respond) as server:
        env = _files(tmp_path)
        env["AWS_EC2_METADATA_DISABLED"] = "false"
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.url + "/"
        provider = _find(env)
    assert provider().access_key == "IMDS"
    assert provider.source == "EC2 instance metadata"
    assert [(request.method, request.path) for request in seen] == [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", "/latest/meta-data/iam/security-credentials/my-role"),
    ]


def test_instance_metadata_without_a_role_or_without_an_answer(tmp_path: Path) -> None:
    _, respond = _imds(role="")
    env = _files(tmp_path)
    env["AWS_EC2_METADATA_DISABLED"] = "false"
    with fake_server(respond) as server:
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.url
        with pytest.raises(ConfigurationError, match="the instance has no IAM role"):
            _find(env)
    # the server is gone now: nobody answers on its port
    with pytest.raises(ConfigurationError, match="EC2 instance metadata \\(no answer from"):
        _find(env)


def test_unreadable_temporary_credentials_are_reported(tmp_path: Path) -> None:
    with fake_server(lambda seen: (200, "application/json", b"[1]")) as server:
        env = {**_files(tmp_path), "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/c"}
        with pytest.raises(ConfigurationError, match="sent no readable credentials"):
            _find(env)


class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_temporary_credentials_are_refreshed_before_they_expire() -> None:
    clock = _Clock()
    issued: List[Credentials] = []

    def fetch() -> Credentials:
        made = Credentials(f"K{len(issued)}", "hidden", "t", clock.now + timedelta(hours=1))
        issued.append(made)
        return made

    provider = CredentialProvider(fetch(), "test", fetch, clock)
    assert provider().access_key == "K0"
    clock.now += timedelta(minutes=50)  # 10 minutes left: still good
    assert provider().access_key == "K0"
    clock.now += timedelta(minutes=6)  # 4 minutes left: fetched again
    assert provider().access_key == "K1"
    assert "hidden" not in repr(provider) + repr(provider())


def test_a_failed_refresh_keeps_valid_credentials_and_raises_once_they_expired() -> None:
    clock = _Clock()

    def fail() -> Credentials:
        raise aws_credentials._Unavailable("the endpoint is down")

    first = Credentials("K", "s", "t", NOW + timedelta(minutes=2))
    provider = CredentialProvider(first, "the container", fail, clock)
    assert provider() == first
    clock.now += timedelta(minutes=3)
    with pytest.raises(ConfigurationError, match="expired and could not be refreshed"):
        provider()


def test_the_region_in_order(tmp_path: Path) -> None:
    env = _files(tmp_path, config="[default]\nregion = from-config\n")
    shared = SharedConfig(None, env)
    assert find_region("arg", shared, {**env, "AWS_REGION": "r"}, "hint") == "arg"
    both = {**env, "AWS_REGION": "first", "AWS_DEFAULT_REGION": "second"}
    assert find_region(None, shared, both, "hint") == "first"
    assert find_region(None, shared, {"AWS_DEFAULT_REGION": "second"}, "hint") == "second"
    assert find_region(None, shared, env, "hint") == "from-config"
    bare = SharedConfig(None, {**env, "AWS_CONFIG_FILE": str(tmp_path / "absent")})
    assert find_region(None, bare, {}, "hint") == "hint"
    with pytest.raises(ConfigurationError, match="no AWS region"):
        find_region(None, bare, {}, None)
    assert bare.profile == "default"


def test_the_endpoint_from_the_environment() -> None:
    both = {"AWS_ENDPOINT_URL_SQS": "http://sqs", "AWS_ENDPOINT_URL": "http://all"}
    assert find_endpoint("sqs", both) == "http://sqs"
    assert find_endpoint("sqs", {"AWS_ENDPOINT_URL": "http://all"}) == "http://all"
    assert find_endpoint("sqs", {}) is None


def test_https_container_endpoints_are_spoken_to_over_tls(tmp_path: Path) -> None:
    with fake_server(lambda seen: (200, "application/json", b"{}")) as server:
        https = server.url.replace("http://", "https://") + "/c"
        env = {**_files(tmp_path), "AWS_CONTAINER_CREDENTIALS_FULL_URI": https}
        with pytest.raises(ConfigurationError, match="container credentials \\(no answer"):
            _find(env)
