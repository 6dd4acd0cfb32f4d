"""The problem types of accounts and sessions (see api/platform/problems.py)."""

from api.platform.problems import register

register(
    "authentication-required",
    401,
    "Authentication required",
    "The operation needs a signed-in caller and the request carried no bearer token.",
    "Log in (`POST /api/v1/auth/login`) and send `Authorization: Bearer <access token>`.",
)
register(
    "invalid-token",
    401,
    "Invalid token",
    "The bearer token is malformed, badly signed, of the wrong kind (a refresh token "
    "where an access token belongs), or its account no longer exists or is deactivated.",
    "Log in again; never edit a token.",
)
register(
    "token-expired",
    401,
    "Token expired",
    "The access token's lifetime (15 minutes) is over.",
    "Refresh it (`POST /api/v1/auth/refresh` with the refresh token), then retry.",
)
register(
    "token-revoked",
    401,
    "Token revoked",
    "The token's session was logged out, ended by a password change or by a detected "
    "refresh-token reuse.",
    "Log in again.",
)
register(
    "refresh-token-reused",
    401,
    "Refresh token reused",
    "This refresh token was already exchanged once: presenting it again looks like a "
    "stolen token, so the whole session is now revoked.",
    "Log in again. Keep only the newest refresh token, and never refresh in parallel.",
)
register(
    "account-deactivated",
    403,
    "Account deactivated",
    "The account has been deactivated by its owner or an administrator.",
    "Ask an administrator to reactivate it; no session can be opened meanwhile.",
)
register(
    "password-incorrect",
    403,
    "Password incorrect",
    "The `current_password` given to confirm a sensitive change is wrong; nothing changed, "
    "and the attempt counts toward the failed-login limits.",
    "Ask the user for the current password again.",
)
register(
    "weak-password",
    422,
    "Weak password",
    "The new password is too easy to guess (a strength estimate below "
    "`PASSWORD_MIN_STRENGTH`); `detail` says why and how to make it stronger.",
    "Choose a longer, less predictable password, e.g. a few unrelated words.",
)
register(
    "revocation-store-unavailable",
    503,
    "Service Unavailable",
    "The store of logged-out sessions cannot be read, so no token can be trusted now.",
    "Retry after `Retry-After` seconds; the token itself is fine.",
)
