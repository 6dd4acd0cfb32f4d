"""Roles: learner < editor < admin, checked against the user's row as it is now."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask_jwt_extended import verify_jwt_in_request

from api.accounts.authentication import REALM, current_user
from api.accounts.models import ROLE_RANK
from api.platform.errors import Forbidden


def role_required(role: str) -> Callable:
    """A valid access token whose user (as now in the database) has at least `role`.

    Roles are ranked learner < editor < admin. Works on Flask-RESTful Resource methods:
    `@role_required("editor")` above `def post(self)`.
    """
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorator(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request()
            if ROLE_RANK[current_user().role] < ROLE_RANK[role]:
                raise Forbidden(
                    f"This needs the {role} role.",
                    headers={
                        "WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope"'
                    },
                )
            return fn(*args, **kwargs)

        return wrapper

    return decorator
