"""Bearer tokens: what is accepted, and a clear 401/403 for everything else."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.conftest import Stack
from tests.factories import create_customer, create_member, create_organization

ME = "{ me { __typename ... on Customer { name } ... on TeamMember { name role } } }"


async def post_me(db: Stack, authorization: str | None, app: Any = None) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with db.client(app=app) as client:
        return await client.post("/graphql", json={"query": ME}, headers=headers)


def assert_rejected(response: Any, status: int, code: str, says: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == code
    assert says in error["message"]
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.fixture
async def customer(session):
    customer = await create_customer(session, name="Erin")
    await session.commit()
    return customer


def claims(subject: str, **extra: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {"sub": subject, "iat": now, "exp": now + dt.timedelta(minutes=5), **extra}


async def test_valid_token_resolves_the_customer(db: Stack, customer) -> None:
    response = await post_me(db, f"Bearer {db.token(customer.user_id)}")

    assert response.status_code == 200
    assert response.json()["data"] == {"me": {"__typename": "Customer", "name": "Erin"}}


async def test_team_member_subject_resolves_to_staff(db: Stack, session) -> None:
    org = await create_organization(session)
    member = await create_member(session, org, name="Bob")
    await session.commit()

    response = await post_me(db, f"Bearer {db.token(member.user_id)}")

    assert response.json()["data"]["me"] == {
        "__typename": "TeamMember",
        "name": "Bob",
        "role": "AGENT",
    }


async def test_expired_token(db: Stack, customer) -> None:
    token = db.token(customer.user_id, ttl=dt.timedelta(minutes=-5))

    assert_rejected(await post_me(db, f"Bearer {token}"), 401, "UNAUTHENTICATED", "expired")


@pytest.mark.parametrize(
    ("make_token", "says"),
    [
        (lambda sub: jwt.encode(claims(sub), "another-secret-" + "y" * 40, "HS256"), "Signature"),
        (lambda sub: jwt.encode(claims(sub), None, "none"), "alg value is not allowed"),
        (lambda sub: jwt.encode({"sub": sub}, "test-secret-" + "x" * 40, "HS256"), "exp"),
        (lambda sub: "not.a.jwt", "invalid token"),
        (lambda sub: "x" * 10_000, "invalid token"),
    ],
    ids=["wrong-secret", "alg-none", "no-exp", "garbage", "huge"],
)
async def test_invalid_tokens_are_unauthenticated(db: Stack, customer, make_token, says) -> None:
    response = await post_me(db, f"Bearer {make_token(customer.user_id)}")

    assert_rejected(response, 401, "UNAUTHENTICATED", says)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
async def test_malformed_authorization_header(db: Stack, header: str) -> None:
    assert_rejected(await post_me(db, header), 401, "UNAUTHENTICATED", "Bearer <token>")


async def test_unknown_subject_is_unauthenticated(db: Stack) -> None:
    response = await post_me(db, f"Bearer {db.token('nobody-has-this-subject')}")

    assert_rejected(response, 401, "UNAUTHENTICATED", "no customer or team member")


async def test_deactivated_member_is_forbidden(db: Stack, session) -> None:
    org = await create_organization(session)
    member = await create_member(session, org, is_active=False)
    await session.commit()

    response = await post_me(db, f"Bearer {db.token(member.user_id)}")

    assert_rejected(response, 403, "FORBIDDEN", "deactivated")


async def test_issuer_and_audience_are_enforced_when_set(db: Stack, customer) -> None:
    secret = db.settings.jwt_secret
    async with db.variant(jwt_issuer="https://id.example.com", jwt_audience="helpdesk") as app:
        good = jwt.encode(
            claims(customer.user_id, iss="https://id.example.com", aud="helpdesk"), secret, "HS256"
        )
        wrong_aud = jwt.encode(
            claims(customer.user_id, iss="https://id.example.com", aud="other"), secret, "HS256"
        )
        no_iss = jwt.encode(claims(customer.user_id, aud="helpdesk"), secret, "HS256")

        assert (await post_me(db, f"Bearer {good}", app)).json()["data"]["me"]["name"] == "Erin"
        assert_rejected(
            await post_me(db, f"Bearer {wrong_aud}", app), 401, "UNAUTHENTICATED", "Audience"
        )
        assert_rejected(await post_me(db, f"Bearer {no_iss}", app), 401, "UNAUTHENTICATED", "iss")


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[tuple[str, Any]]:
    """A real HTTP server on loopback publishing one RSA public key, like an identity provider."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", private_key
    server.shutdown()
    server.server_close()


async def test_rs256_tokens_verified_against_jwks(db: Stack, customer, jwks_server) -> None:
    url, private_key = jwks_server
    impostor_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with db.variant(jwt_secret=None, jwt_jwks_url=url, jwt_algorithms=("RS256",)) as app:
        good = jwt.encode(claims(customer.user_id), private_key, "RS256", headers={"kid": "key-1"})
        forged = jwt.encode(
            claims(customer.user_id), impostor_key, "RS256", headers={"kid": "key-1"}
        )
        unknown_kid = jwt.encode(
            claims(customer.user_id), private_key, "RS256", headers={"kid": "k9"}
        )
        hs256 = db.token(customer.user_id)

        assert (await post_me(db, f"Bearer {good}", app)).json()["data"]["me"]["name"] == "Erin"
        assert_rejected(
            await post_me(db, f"Bearer {forged}", app), 401, "UNAUTHENTICATED", "Signature"
        )
        assert_rejected(
            await post_me(db, f"Bearer {unknown_kid}", app), 401, "UNAUTHENTICATED", "key"
        )
        assert_rejected(await post_me(db, f"Bearer {hs256}", app), 401, "UNAUTHENTICATED", "key")


async def test_a_subject_that_is_not_unicode_is_refused(db: Stack) -> None:
    token = jwt.encode(claims("\ud800"), "test-secret-" + "x" * 40, "HS256")

    assert_rejected(await post_me(db, f"Bearer {token}"), 401, "UNAUTHENTICATED", "sub")
