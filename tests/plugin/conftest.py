"""Plugin tests run pytest as users do, through ``pytester``, with a strict configuration.

Our own suite runs with ``-p no:mockidp``; each test here writes a small test suite into pytester's
directory and runs it, so the plugin loads through its ``pytest11`` entry point as it does for users.
The sample apps in ``apps/`` (an authlib login app, a bearer API, a CORS app) are copied there too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

# pytester restores ``sys.modules`` after each in-process run, so whatever a run imports is imported
# (and, for pytest plugins, assertion-rewritten) again by the next one. Importing the heavy modules
# here, once, keeps each run at a few tens of milliseconds: the runs still load the plugin through
# its entry point, they just find these modules imported already.
import authlib.integrations.starlette_client
import fastapi
import freezegun
import hypothesis.internal.observability  # hypothesis's plugin imports it at the end of every run
import joserfc.jwt
import jwt
import pytest
import pytest_mockidp
import pytest_mockidp._asyncio
import pytest_mockidp._clients
import starlette.testclient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import mockidp._provider
import mockidp.testing
from mockidp import MockIdP

PRELOADED = (
    authlib.integrations.starlette_client,
    fastapi,
    freezegun,
    hypothesis.internal.observability,
    joserfc.jwt,
    jwt,
    mockidp._provider,
    mockidp.testing,
    pytest_mockidp,
    pytest_mockidp._asyncio,
    pytest_mockidp._clients,
    starlette.testclient,
)

STRICT_INI = """
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""

APPS = Path(__file__).parent / "apps"

#: Writes the strict ini plus these lines (ini options of the run).
Ini = Callable[..., None]


@pytest.fixture
def strict_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose runs are strict and treat warnings as errors, like a careful user's suite."""
    pytester.makeini(STRICT_INI)
    return pytester


@pytest.fixture
def ini(strict_pytester: pytest.Pytester) -> Ini:
    """Rewrite the strict ini with extra lines, e.g. ``ini("mockidp_algorithm = ES256")``."""

    def write(*lines: str) -> None:
        strict_pytester.makeini(STRICT_INI + "".join(f"{line}\n" for line in lines))

    return write


@pytest.fixture
def with_apps(strict_pytester: pytest.Pytester) -> pytest.Pytester:
    """strict_pytester, with the sample apps of ``apps/`` importable by the suite it runs."""
    strict_pytester.makepyfile(**{path.stem: path.read_text() for path in sorted(APPS.glob("*_app.py"))})
    strict_pytester.syspathinsert()
    return strict_pytester


@pytest.fixture(scope="session")
def tiny_ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA bundle of one self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mockidp plugin tests")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(autouse=True)
def _quick_tls_contexts(tiny_ca_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point SSL_CERT_FILE at a one-certificate bundle for the suites these tests run.

    authlib makes a new httpx2 client for each call to the provider, and each loads the system CA
    bundle (~30 ms) though no TLS ever happens in-process; with one certificate a login takes ~10 ms
    instead of ~100 ms. Nothing here reaches a real TLS server.
    """
    monkeypatch.setenv("SSL_CERT_FILE", str(tiny_ca_file))


@pytest.fixture
def login_app(routed: MockIdP, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``apps/login_app.py`` built in this process for ``routed``, as ``idp_env`` and ``app`` would build it."""
    from tests.plugin.apps import login_app

    monkeypatch.setenv("SERVER_METADATA_URL", routed.metadata_url)
    monkeypatch.setenv("CLIENT_ID", routed.client.client_id)
    monkeypatch.setenv("CLIENT_SECRET", routed.client.client_secret or "")
    return login_app.create_app()
