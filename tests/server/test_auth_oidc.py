"""OIDC bearer JWTs: real tokens signed with a key the test makes, its JWKS served over real HTTP,
checked by the real app with ``auth`` on.  Expired, not-yet-valid, tampered, wrong-audience,
wrong-issuer, unknown-key, ``alg: none`` and HMAC-with-the-public-key tokens are refused."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from tests.support.graphs import run_event

from threadline.config import current, with_overrides
from threadline.server.app import create_app
from threadline.store import open_store

ISSUER = "https://login.example.test/realms/ml"
AUDIENCE = "threadline"


class Keys:
    def __init__(self) -> None:
        self.signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.signing.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def jwks_url(keys: Keys) -> Iterator[str]:
    body = json.dumps(keys.jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, jwks_url: str) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("oidc")
    url = f"sqlite:///{folder / 'lineage.db'}"
    store = open_store(url)
    store.append_batch(
        [
            run_event(
                "train",
                "2b4c5d6e-0000-4000-8000-000000000001",
                [],
                [],
                when="2026-01-01T00:00:00Z",
                namespace="fraud",
            )
        ]
    )
    store.close()
    settings = with_overrides(
        current(),
        store_url=url,
        auth=True,
        health_every_seconds=0,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=jwks_url,
        oidc_leeway_seconds=30,
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "ana@example.test",
        "iat": now,
        "exp": now + 300,
        "threadline_roles": ["viewer:fraud"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(keys: Keys, body: dict[str, Any], *, key: Any = None, kid: str = "k1") -> str:
    return jwt.encode(body, key or keys.signing, algorithm="RS256", headers={"kid": kid})


def status(client: TestClient, token: str, namespace: str = "fraud") -> int:
    return client.get(
        f"/api/v1/namespaces/{namespace}", headers={"Authorization": f"Bearer {token}"}
    ).status_code


def test_a_valid_jwt_carries_its_roles(client: TestClient, keys: Keys) -> None:
    token = sign(keys, claims())
    assert status(client, token) == 200
    assert status(client, token, "crm") == 403  # a role on fraud only


def test_clock_skew_is_allowed_within_the_leeway(client: TestClient, keys: Keys) -> None:
    now = int(time.time())
    assert status(client, sign(keys, claims(exp=now - 10))) == 200  # 10 s late: within 30 s
    assert status(client, sign(keys, claims(nbf=now + 10))) == 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["threadline_roles"] = ["admin:*"]
    return f"{head}.{_b64(json.dumps(body).encode())}.{signature}"


def _unsigned(body: dict[str, Any]) -> str:
    head = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    return f"{head}.{_b64(json.dumps(body).encode())}."


def _hmac_with_public_key(keys: Keys, body: dict[str, Any]) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    payload = _b64(json.dumps(body).encode())
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    secret = keys.signing.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mac = hmac.new(secret, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{_b64(mac)}"


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not_yet_valid",
        "tampered",
        "wrong_audience",
        "wrong_issuer",
        "unknown_kid",
        "stranger_key",
        "alg_none",
        "hmac_public_key",
        "no_exp",
        "garbage",
    ],
)
def test_bad_jwts_are_refused(client: TestClient, keys: Keys, case: str) -> None:
    now = int(time.time())
    token = {
        "expired": lambda: sign(keys, claims(exp=now - 120, iat=now - 600)),
        "not_yet_valid": lambda: sign(keys, claims(nbf=now + 600)),
        "tampered": lambda: _tampered(sign(keys, claims())),
        "wrong_audience": lambda: sign(keys, claims(aud="someone-else")),
        "wrong_issuer": lambda: sign(keys, claims(iss="https://evil.example.test")),
        "unknown_kid": lambda: sign(keys, claims(), kid="k9"),
        "stranger_key": lambda: sign(keys, claims(), key=keys.stranger),
        "alg_none": lambda: _unsigned(claims(threadline_roles=["admin:*"])),
        "hmac_public_key": lambda: _hmac_with_public_key(
            keys, claims(threadline_roles=["admin:*"])
        ),
        "no_exp": lambda: sign(keys, claims(exp=None)),
        "garbage": lambda: "not.a.jwt",
    }[case]()
    answer = client.get("/api/v1/namespaces/fraud", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, (case, answer.text)
    assert answer.headers["www-authenticate"].startswith("Bearer")
