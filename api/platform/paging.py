"""One page of a filtered SELECT, and how many rows the whole selection holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from api.extensions import db


def page_of(stmt: Select, *order_by: Any, page: int, per_page: int) -> tuple[list[Any], int]:
    """Rows `per_page` at a time (page 1 first) in `order_by`, and the total count."""
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(
        stmt.order_by(*order_by).limit(per_page).offset((page - 1) * per_page)
    )
    return list(rows), int(total or 0)
