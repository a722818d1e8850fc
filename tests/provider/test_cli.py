"""``mockidp serve``: flags built from ProviderConfig, config files, and the real server process."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from mockidp import Client, ProviderConfig, User
from mockidp._cli import build_parser, config_values, main
from mockidp._options import FIELD_HELP


def values(*argv: str) -> dict[str, object]:
    return config_values(build_parser().parse_args(["serve", *argv]))


def test_every_provider_option_has_a_documented_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert set(FIELD_HELP) == {f.name for f in dataclasses.fields(ProviderConfig)}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    help_text = capsys.readouterr().out
    for flag in ("--issuer", "--user", "--client", "--algorithm", "--code-ttl", "--strict", "--cors-origin"):
        assert flag in help_text


def test_no_options_gives_the_defaults_with_the_login_form_ad_hoc_users_and_the_debugger_on() -> None:
    config = ProviderConfig.from_dict(values())
    assert config == ProviderConfig(
        interactive=True, adhoc_users=True, debugger=True, state_limit=1000, request_log_limit=1000
    )


def test_flags_map_onto_provider_config() -> None:
    config = ProviderConfig.from_dict(
        values(
            "--algorithm", "ES256",
            "--code-ttl", "5",
            "--strict",
            "--no-interactive",
            "--cors-origin", "https://a.example",
            "--cors-origin", "https://b.example",
            "--user", "bob,email=bob@corp.example,email_verified=false",
            "--client", "spa",
            "--client", "api:s3cret",
            "--access-token-audience", "https://api.example",
            "--no-registration",
        )
    )  # fmt: skip
    assert config.algorithm == "ES256"
    assert config.code_ttl == 5
    assert config.strict is True
    assert config.interactive is False
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert config.access_token_audience == "https://api.example"
    assert config.registration is False
    (bob,) = config.users
    assert bob.sub == "bob"
    assert bob.claims["email"] == "bob@corp.example"
    assert bob.claims["email_verified"] is False
    assert [(c.client_id, c.client_secret, c.is_public) for c in config.clients] == [
        ("spa", None, True),
        ("api", "s3cret", False),
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--user", ",email=x@example.com"],
            "argument --user: user ',email=x@example.com': a user needs a username first;"
            " write USERNAME[,claim=value...], e.g. 'bob,email=bob@corp.example,roles=admin'",
        ),
        (
            ["--user", "bob,email"],
            "argument --user: user 'bob,email': expected name=value after the first comma, got 'email';"
            " write USERNAME[,claim=value...]",
        ),
        (["--client", ":secret"], "client ':secret': Client.client_id must be a non-empty string, got ''"),
        (
            ["--client", "web:s3cret,redirect_uri=https://a.example/cb"],
            "argument --client: client 'web:s3cret,redirect_uri=https://a.example/cb': unknown client field"
            " 'redirect_uri' (did you mean 'redirect_uris'?); choose one of redirect_uris,",
        ),
        (["--algorithm", "HS256"], "invalid choice: 'HS256'"),
    ],
)
def test_bad_flags_say_what_is_wrong(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_toml_file_gives_users_and_clients_and_flags_override_it(tmp_path: Path) -> None:
    path = tmp_path / "idp.toml"
    path.write_text(
        'algorithm = "PS256"\ncode_ttl = 30\n'
        '[[users]]\nsub = "u-1"\npreferred_username = "carol"\nemail = "carol@example.com"\n'
        '[[clients]]\nclient_id = "web"\nclient_secret = "pw"\nredirect_uris = ["https://app.example/cb"]\n'
    )
    config = ProviderConfig.from_dict(values("--config", str(path), "--code-ttl", "10"))
    assert config.algorithm == "PS256"
    assert config.code_ttl == 10
    assert config.users == (User(sub="u-1", claims={"preferred_username": "carol", "email": "carol@example.com"}),)
    assert config.clients == (Client(client_id="web", client_secret="pw", redirect_uris=("https://app.example/cb",)),)


def test_a_json_file_works_too(tmp_path: Path) -> None:
    path = tmp_path / "idp.json"
    path.write_text(json.dumps({"strict": True, "users": [{"sub": "dave"}]}))
    config = ProviderConfig.from_dict(values("--config", str(path)))
    assert config.strict is True
    assert [u.sub for u in config.users] == ["dave"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.toml", None, "mockidp: error: cannot read the config file '{path}': No such file or directory"),
        ("bad.toml", "issuer = ", "mockidp: error: '{path}' is not valid TOML: "),
        ("bad.json", "{", "mockidp: error: '{path}' is not valid JSON: "),
        ("list.json", "[]", "mockidp: error: '{path}' must hold a table of provider options"),
        (
            "typo.toml",
            "isuer = 'x'",
            "mockidp: error: unknown ProviderConfig option 'isuer' (did you mean 'issuer'?); choose one of ",
        ),
        ("nosub.toml", "[[users]]\nemail = 'x@example.com'", "mockidp: error: a user needs a 'sub' claim"),
    ],
)
def test_a_bad_config_file_exits_2_with_a_clear_message(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    err = io.StringIO()
    assert main(["serve", "--config", str(path), "--port", "0"], out=io.StringIO(), err=err) == 2
    assert err.getvalue().startswith(message.format(path=path))


def test_a_busy_port_exits_2_before_printing_anything() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out, err = io.StringIO(), io.StringIO()
        assert main(["serve", "--port", str(port)], out=out, err=err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().startswith("mockidp: error: [Errno 98]")


@pytest.fixture
def server() -> Iterator[subprocess.Popen[str]]:
    """``python -m mockidp serve`` on a free port, stopped (SIGTERM) at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mockidp", "serve", "--port", "0", "--no-interactive"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    process.stderr.close()


def test_the_server_prints_where_it_is_and_serves_until_terminated(server: subprocess.Popen[str]) -> None:
    assert server.stdout is not None
    first = server.stdout.readline()
    assert first.startswith("mockidp serving http://127.0.0.1:")
    issuer = first.split()[-1]
    banner = [server.stdout.readline().rstrip() for _ in range(6)]
    assert banner == [
        f"  metadata:  {issuer}/.well-known/openid-configuration",
        f"  jwks:      {issuer}/jwks",
        f"  debugger:  {issuer}/debugger",
        "  client:    mockidp-client  secret: mockidp-secret",
        "  user:      alice  (alice@example.com)",
        "Press Ctrl+C to stop.",
    ]
    metadata = httpx2.get(f"{issuer}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == issuer
    assert metadata["token_endpoint"] == f"{issuer}/token"

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert server.stdout.read() == "mockidp stopped.\n"


@contextlib.contextmanager
def mockidp_serve(*argv: str, stop: signal.Signals = signal.SIGTERM) -> Iterator[subprocess.Popen[str]]:
    """``python -m mockidp serve ARGV`` with its output piped, stopped by ``stop`` when the block ends."""
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "mockidp", "serve", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        process.send_signal(stop)
        process.communicate(timeout=30)


def test_binding_beyond_loopback_warns() -> None:
    with mockidp_serve("--host", "0.0.0.0", "--port", "0", stop=signal.SIGINT) as process:
        assert process.stderr is not None
        warning = process.stderr.readline()
    assert warning.startswith("mockidp: WARNING: listening on 0.0.0.0, not loopback. mockidp is a test tool")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_readiness_poll_never_sees_another_issuer_than_the_one_served() -> None:
    """A health check polls discovery while the server starts: its very first answer, and every later one,
    names the issuer the server then announces for good (a client that caches the first document, as
    authlib does, would otherwise refuse every ID token)."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    seen: list[str] = []
    with mockidp_serve("--port", str(port)) as process:
        while len(seen) < 50:
            try:  # urllib, as a container health check would use: a socket of its own, no pooling
                with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as answer:
                    seen.append(json.load(answer)["issuer"])
            except urllib.error.URLError:
                if process.poll() is not None:
                    break
                # not listening yet: ask again at once, as a tight health check does
    assert seen == [issuer] * 50


def test_with_an_issuer_of_its_own_the_server_also_says_where_it_listens() -> None:
    with mockidp_serve("--port", "0", "--issuer", "https://idp.example/realms/r") as process:
        assert process.stdout is not None
        lines = [process.stdout.readline().rstrip() for _ in range(4)]
        listening = lines[3].split()[-1]
        metadata = httpx2.get(f"{listening}/.well-known/openid-configuration").json()
    assert lines[:3] == [
        "mockidp serving https://idp.example/realms/r",
        "  metadata:  https://idp.example/realms/r/.well-known/openid-configuration",
        "  jwks:      https://idp.example/realms/r/jwks",
    ]
    assert re.fullmatch(r"  listening: http://127\.0\.0\.1:\d+/realms/r", lines[3])
    assert metadata["issuer"] == "https://idp.example/realms/r"


def test_serve_with_control_prints_and_serves_the_control_api() -> None:
    with mockidp_serve("--port", "0", "--no-interactive", "--control-remote") as process:
        assert process.stdout is not None
        assert process.stderr is not None
        issuer = process.stdout.readline().split()[-1]
        banner = [process.stdout.readline().rstrip() for _ in range(4)]
        queued = httpx2.post(f"{issuer}/_mockidp/login-as", json={"user": "zoe", "claims": {"roles": ["admin"]}})
        advanced = httpx2.post(f"{issuer}/_mockidp/clock", json={"advance": 60})
        warning = process.stderr.readline()
    assert banner[-1] == f"  control:   {issuer}/_mockidp (OpenAPI: {issuer}/_mockidp/openapi.json)"
    assert queued.json()["queued"]["sub"] == "zoe"
    assert advanced.json()["offset"] == 60
    assert warning == (
        "mockidp: WARNING: the control API answers clients that are not on loopback: anyone who reaches it"
        " can add users, log in as anyone and move the clock.\n"
    )
