"""Accounts over HTTP: register, log in, refresh, log out; the own account; admins' view."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict
from datetime import UTC, datetime

from flask import Response, g
from flask_jwt_extended import get_jwt, jwt_required
from flask_restful import Resource

from api.accounts import users as service
from api.accounts.authentication import current_sid, current_user
from api.accounts.models import normalise_email
from api.accounts.roles import role_required
from api.accounts.schemas import (
    account_deletion_schema,
    login_schema,
    me_args,
    profile_update_schema,
    register_schema,
    rotated_schema,
    session_schema,
    user_list_args,
    user_schema,
    user_update_schema,
    users_schema,
)
from api.extensions import limiter
from api.platform import ratelimit
from api.platform.errors import BadRequest
from api.platform.parsing import parse_args, parse_body, request_json
from api.platform.responses import paged

# Token responses must never be stored by a cache (RFC 6749, section 5.1).
NO_STORE = {"Cache-Control": "no-store"}


def _account_digest(email: str) -> str:
    # surrogatepass: a key function must never raise, whatever JSON escapes the body holds.
    normalised = normalise_email(email).encode("utf-8", "surrogatepass")
    return f"account:{hashlib.sha256(normalised).hexdigest()[:32]}"


def account_key() -> str:
    """The login's account, hashed: email addresses are not written to the counter store."""
    try:
        body = request_json()
    except BadRequest:  # the view refuses it; a key function must not raise
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str):
        return "account:none"
    return _account_digest(email)


def own_account_key() -> str:
    """The signed-in account, keyed as its logins are: password guesses share one budget."""
    return _account_digest(current_user().email)


def no_content() -> Response:
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def address_has_failed() -> bool:
    """A failed login from this client address, for any account, in its current window.

    When the counters cannot be read (their storage is down) the address counts as failing,
    the stricter answer; the limiter then falls back to memory as it checks the budgets.
    """
    limit, address = ratelimit.login_failures_per_address(), ratelimit.client_address()
    try:
        return limiter.has_counted(limit, scope="login-address", key=address)
    except Exception:
        return True


def address_has_not_failed() -> bool:
    """As found before this request's own attempt was counted (see `failed_login_limits`)."""
    return not g.get("address_has_failed", True)


FAILED_LOGIN_SCOPES = frozenset({"login-address", "login-account-address", "login-account"})


def failed_login_limits(account_key_func, *, failure_status: int):
    """The failed-login budgets, shared by every endpoint that checks a password (a wrong one
    costs the same wherever it is tried). Only failures are counted: an attempt is counted
    when it is let in and refunded unless it answers `failure_status` (ratelimit.py
    `AppLimiter.refund_unless`), so concurrent guesses cannot all pass before one counts.

    - per client address, whatever the account (``RATELIMIT_LOGIN_FAILURES_PER_ADDRESS``);
    - per account and address (``RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT``): one address gets
      that many guesses at one account, however it spells the email;
    - per account, over every address that has been failing (the same value): once the
      account's budget is spent, addresses with a failed login in their current window are
      refused, while an address with none is not (and is not counted until it fails).

    The last is OWASP's advice on lockout: guessing from elsewhere must not lock the owner
    out, so the owner's correct password from an address that has not been failing still
    logs in. Guessing from many addresses costs the attacker one fresh address per guess
    once the account's budget is spent, and each address's own budgets still apply.
    """
    per_address = limiter.shared_limit(
        ratelimit.login_failures_per_address,
        scope="login-address",
        key_func=ratelimit.client_address,
        override_defaults=False,
        error_message="Too many failed logins from this address; retry after Retry-After seconds.",
    )

    def account_and_address() -> str:
        return f"{account_key_func()}:{ratelimit.client_address()}"

    per_account_and_address = limiter.shared_limit(
        ratelimit.login_failures_per_account,
        scope="login-account-address",
        key_func=account_and_address,
        override_defaults=False,
        error_message=(
            "Too many failed logins for this account from this address; "
            "retry after Retry-After seconds."
        ),
    )
    per_account = limiter.shared_limit(
        ratelimit.login_failures_per_account,
        scope="login-account",
        key_func=account_key_func,
        exempt_when=address_has_not_failed,
        override_defaults=False,
        error_message=(
            "Too many failed logins for this account from addresses that have been failing; "
            "retry after Retry-After seconds."
        ),
    )

    def decorate(fn):
        # Innermost first: when no budget is spent the headers show the account-and-address one.
        limited = per_address(per_account(per_account_and_address(fn)))

        @functools.wraps(fn)
        def view(*args, **kwargs):
            # Before the limits are checked and counted: a refused attempt is refunded too,
            # and the address's past, not this attempt, decides the account-wide budget
            # (whichever order the limiter checks the budgets in).
            limiter.refund_unless(failure_status, FAILED_LOGIN_SCOPES)
            g.address_has_failed = address_has_failed()
            return limited(*args, **kwargs)

        return view

    return decorate


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
    @failed_login_limits(account_key, failure_status=401)
    def post(self):
        """Exchange an email and password for access and refresh tokens."""
        data = parse_body(login_schema)
        user = service.authenticate(email=data["email"], password=data["password"])
        session = service.open_session(user=user)
        return session_schema.dump({"user": user, **asdict(session)}), 200, NO_STORE


class Refresh(Resource):
    @jwt_required(refresh=True)
    def post(self):
        """New access and refresh tokens for the session; the refresh token sent is spent."""
        claims = get_jwt()
        session = service.refresh_session(
            user=current_user(),
            sid=claims["sid"],
            jti=claims["jti"],
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
        return rotated_schema.dump(asdict(session)), 200, NO_STORE


class Logout(Resource):
    @jwt_required(verify_type=False)
    def post(self):
        """End the session: its access and refresh tokens are refused from now on."""
        service.close_session(user=current_user(), sid=current_sid())
        return no_content()


class Me(Resource):
    @jwt_required()
    def get(self):
        """The signed-in user's account."""
        parse_args(me_args)
        return user_schema.dump(current_user())

    @jwt_required()
    @failed_login_limits(own_account_key, failure_status=403)
    def patch(self):
        """Change the display name, time zone or (with the current one) the password."""
        changes = parse_body(profile_update_schema)
        user = service.update_profile(user=current_user(), changes=changes)
        if "password" not in changes:
            return user_schema.dump(user)
        # A new password ends every session, this one too; the caller continues in a new one.
        session = service.open_session(user=user)
        return session_schema.dump({"user": user, **asdict(session)}), 200, NO_STORE

    @jwt_required()
    @failed_login_limits(own_account_key, failure_status=403)
    def delete(self):
        """Delete the own account and everything it practised (needs the current password)."""
        data = parse_body(account_deletion_schema)
        service.delete_own_account(user=current_user(), current_password=data["current_password"])
        return no_content()


class UserList(Resource):
    @role_required("admin")
    def get(self):
        """List accounts, optionally by role (admins only)."""
        args = parse_args(user_list_args)
        users, total = service.list_users(
            role=args["role"], page=args["page"], per_page=args["per_page"]
        )
        return paged(
            users_schema.dump(users), page=args["page"], per_page=args["per_page"], total=total
        )


class UserItem(Resource):
    @role_required("admin")
    def patch(self, user_id: int):
        """Change an account's role or deactivate/reactivate it (admins only)."""
        changes = parse_body(user_update_schema)
        user = service.update_user(actor=current_user(), user_id=user_id, changes=changes)
        return user_schema.dump(user)

    @role_required("admin")
    def delete(self, user_id: int):
        """Delete an account and everything it practised (admins only; not their own)."""
        service.delete_user(actor=current_user(), user_id=user_id)
        return no_content()
