"""Authentication: register, log in, refresh the access token, log out."""

from __future__ import annotations

from dataclasses import asdict

from flask import Response
from flask_jwt_extended import jwt_required
from flask_restful import Resource

from api import ratelimit
from api.auth import current_sid, current_user
from api.extensions import limiter
from api.schemas.common import parse_body
from api.schemas.users import access_schema, login_schema, register_schema, session_schema
from api.services import accounts as service

# Token responses must never be stored by a cache (RFC 6749, section 5.1).
NO_STORE = {"Cache-Control": "no-store"}


class Register(Resource):
    @limiter.limit(
        ratelimit.registrations_per_address,
        key_func=ratelimit.client_address,
        scope="register-address",
        override_defaults=False,
        error_message="Too many registrations from this address; retry after Retry-After seconds.",
    )
    def post(self):
        """Create a learner account and log it in."""
        data = parse_body(register_schema)
        user = service.create_user(
            email=data["email"], password=data["password"], display_name=data["display_name"]
        )
        session = service.open_session(user=user)
        body = session_schema.dump({"user": user, **asdict(session)})
        return body, 201, {**NO_STORE, "Location": "/api/v1/me"}


class Login(Resource):
    @limiter.limit(
        ratelimit.login_failures_per_address,
        key_func=ratelimit.client_address,
        scope="login-address",
        deduct_when=ratelimit.failed,
        override_defaults=False,
        error_message="Too many failed logins from this address; retry after Retry-After seconds.",
    )
    @limiter.limit(
        ratelimit.login_failures_per_account,
        key_func=ratelimit.account_key,
        scope="login-account",
        deduct_when=ratelimit.failed,
        override_defaults=False,
        error_message="Too many failed logins for this account; retry after Retry-After seconds.",
    )
    def post(self):
        """Exchange an email and password for access and refresh tokens."""
        data = parse_body(login_schema)
        user = service.authenticate(email=data["email"], password=data["password"])
        session = service.open_session(user=user)
        return session_schema.dump({"user": user, **asdict(session)}), 200, NO_STORE


class Refresh(Resource):
    @jwt_required(refresh=True)
    def post(self):
        """A new access token for the session of this refresh token."""
        session = service.refresh_session(user=current_user(), sid=current_sid())
        return access_schema.dump(asdict(session)), 200, NO_STORE


class Logout(Resource):
    @jwt_required(verify_type=False)
    def post(self):
        """End the session: its access and refresh tokens are refused from now on."""
        service.close_session(user=current_user(), sid=current_sid())
        response = Response(status=204)
        del response.headers["Content-Type"]
        return response
