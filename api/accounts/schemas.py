"""Account schemas: registration, login, profile changes, roles, and the user and token output.

Input schemas reject unknown fields (marshmallow's default), so a `role` or `id` sent to
register or to PATCH /me is a 422, never assigned. The output schema names its fields
one by one: a password hash has no way out.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.accounts.models import (
    DISPLAY_NAME_MAX,
    EMAIL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    ROLES,
    has_hidden_characters,
    is_timezone,
    normalise_email,
)
from api.platform.parsing import PageArgs, SafeString

PASSWORD_LENGTH = validate.Length(
    min=PASSWORD_MIN, max=PASSWORD_MAX, error=f"Use {PASSWORD_MIN} to {PASSWORD_MAX} characters."
)


class EmailAddress(SafeString):
    """An email, normalised as stored (stripped, NFKC, lowercase) before it is validated.

    Invisible characters (zero-width spaces, soft hyphens, format characters...) are
    refused rather than dropped: kept, they would make a look-alike twin of an address.
    """

    default_error_messages = {
        "hidden": "Invisible characters (zero-width or format characters such as U+200B or "
        "U+00AD, or spaces) are not allowed in an email address; type it again by hand."
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("validate", [validate.Length(max=EMAIL_MAX), validate.Email()])
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if has_hidden_characters(value):
            raise self.make_error("hidden")
        return normalise_email(value)


def _timezone(value: str) -> None:
    if not is_timezone(value):
        raise ValidationError("Not an IANA time zone name (for example Europe/Paris or UTC).")


class RegisterSchema(Schema):
    email = EmailAddress(required=True)
    password = fields.String(required=True, validate=PASSWORD_LENGTH)
    display_name = SafeString(load_default="", validate=validate.Length(max=DISPLAY_NAME_MAX))


class LoginSchema(Schema):
    # Any string: an address no account can have (control or invisible characters) is
    # simply unknown, a 401 like any other (api/accounts/users.py, authenticate).
    email = fields.String(required=True, validate=validate.Length(min=1, max=EMAIL_MAX * 2))
    # Any stored password is at most PASSWORD_MAX; the cap only bounds hashing work.
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class ProfileUpdateSchema(Schema):
    display_name = SafeString(validate=validate.Length(max=DISPLAY_NAME_MAX))
    timezone = SafeString(validate=_timezone)
    password = fields.String(validate=PASSWORD_LENGTH)
    current_password = fields.String(validate=validate.Length(min=1, max=1024))

    @validates_schema
    def _password_pair(self, data: dict, **kwargs) -> None:
        if "password" in data and "current_password" not in data:
            raise ValidationError("Give the current password to change it.", "current_password")
        if "current_password" in data and "password" not in data:
            raise ValidationError("Give the new password too.", "password")


class StrictBoolean(fields.Boolean):
    """JSON `true` or `false` only: not 1, "yes" or "true" (the contract says boolean)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class UserUpdateSchema(Schema):
    """What an admin may change: the role, whether the account is active, or both."""

    role = fields.String(validate=validate.OneOf(ROLES))
    active = StrictBoolean()

    @validates_schema
    def _something(self, data: dict, **kwargs) -> None:
        if not data:
            message = "Give `role`, `active` or both."
            raise ValidationError({"role": [message], "active": [message]})


class AccountDeletionSchema(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class MeArgs(Schema):
    """No query parameters: any given is unknown, and a 400 like everywhere else."""


class UserListArgs(PageArgs):
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    role = fields.String()
    display_name = fields.String()
    timezone = fields.String()
    active = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class TokenSchema(Schema):
    user = fields.Nested(UserSchema)
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


register_schema = RegisterSchema()
login_schema = LoginSchema()
profile_update_schema = ProfileUpdateSchema()
user_update_schema = UserUpdateSchema()
account_deletion_schema = AccountDeletionSchema()
me_args = MeArgs()
user_list_args = UserListArgs()
user_schema = UserSchema()
users_schema = UserSchema(many=True)
session_schema = TokenSchema()
# A refresh: the session's next access and refresh tokens (the account is the caller's).
rotated_schema = TokenSchema(only=("access_token", "refresh_token", "token_type", "expires_in"))
