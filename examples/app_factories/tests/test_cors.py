"""CORS on the production app (Fetch standard §3.2, the CORS protocol): only /v1 answers it, only for
the configured origins, with credentials; /health never does.
"""

from __future__ import annotations

import pytest
from mockidp.testing import assert_cors, assert_no_cors, preflight
from starlette.testclient import TestClient

from tests._support import ALLOWED_ORIGIN, OTHER_ORIGIN


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, "https://admin.example.test"])
@pytest.mark.parametrize("path", ["/v1/landing", "/v1/me"])
def test_a_preflight_from_an_allowed_origin_is_allowed_with_credentials(
    app_client: TestClient, origin: str, path: str
) -> None:
    response = preflight(app_client, path, origin=origin, method="DELETE", headers=["Authorization", "X-Request-Id"])

    assert response.status_code == 200
    assert_cors(
        response, origin=origin, credentials=True, methods=["DELETE"], headers=["authorization", "x-request-id"]
    )


def test_a_request_from_an_allowed_origin_can_be_read(app_client: TestClient) -> None:
    response = app_client.get("/v1/landing", headers={"Origin": ALLOWED_ORIGIN})

    assert response.json() == {"message": "Hello!"}
    assert_cors(response, origin=ALLOWED_ORIGIN, credentials=True)


@pytest.mark.parametrize("origin", [OTHER_ORIGIN, "http://app.example.test", "https://app.example.test:8443"])
def test_another_origin_is_not_allowed(app_client: TestClient, origin: str) -> None:
    refused = preflight(app_client, "/v1/landing", origin=origin)
    response = app_client.get("/v1/landing", headers={"Origin": origin})

    assert refused.status_code == 400
    assert_no_cors(refused)
    assert response.status_code == 200
    assert_no_cors(response)


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, OTHER_ORIGIN])
def test_health_has_no_cors_headers(app_client: TestClient, origin: str) -> None:
    response = app_client.get("/health", headers={"Origin": origin})
    refused = preflight(app_client, "/health", origin=origin)

    assert response.json() == {"okay": True}
    assert_no_cors(response)
    assert refused.status_code == 405  # /health answers GET only: no OPTIONS, so no preflight either
    assert_no_cors(refused)
