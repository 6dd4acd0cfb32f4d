"""Tokens for the accounts tests: forged, decoded, sent as a bearer."""

from __future__ import annotations

import base64
import json
import uuid
import warnings
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
from jwt.warnings import InsecureKeyLengthWarning

from api.config import TestConfig

SECRET = TestConfig().JWT_SECRET_KEY


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_no_secrets(response) -> None:
    text = response.get_data(as_text=True)
    assert "password" not in text and "$argon2" not in text


def claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def forge(payload: dict, *, key: str = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():  # HS512 would like a longer key; it is refused anyway
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return pyjwt.encode(payload, key, algorithm=algorithm)


def valid_payload(sub: str = "1", **overrides) -> dict:
    now = datetime.now(UTC)
    payload = {
        "sub": sub,
        "type": "access",
        "fresh": False,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "role": "learner",
        "sid": uuid.uuid4().hex,
    }
    payload.update(overrides)
    return payload


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
