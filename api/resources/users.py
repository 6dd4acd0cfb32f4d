"""The signed-in user's own account, and the admins' view of everyone's."""

from __future__ import annotations

from flask_jwt_extended import jwt_required
from flask_restful import Resource

from api.auth import current_user, role_required
from api.resources.common import paged
from api.schemas.common import parse_args, parse_body
from api.schemas.users import (
    me_args,
    profile_update_schema,
    role_update_schema,
    user_list_args,
    user_schema,
    users_schema,
)
from api.services import accounts as service


class Me(Resource):
    @jwt_required()
    def get(self):
        """The signed-in user's account."""
        parse_args(me_args)
        return user_schema.dump(current_user())

    @jwt_required()
    def patch(self):
        """Change the display name, time zone or (with the current one) the password."""
        changes = parse_body(profile_update_schema)
        return user_schema.dump(service.update_profile(user=current_user(), changes=changes))


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
        """Change an account's role (admins only); never the last admin's."""
        data = parse_body(role_update_schema)
        return user_schema.dump(service.set_role(user_id=user_id, role=data["role"]))
