"""One page of a long list (about 6,000 users nationally): the rows, how many in all, where we are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import Select, func, select

from kxflow.core.db import db

PER_PAGE = 30


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def page_number() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


def paginate(stmt: Select, page: int, per_page: int = PER_PAGE) -> Page:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = min(page, max(1, -(-total // per_page)))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    items = [row[0] if len(row) == 1 else tuple(row) for row in rows]
    return Page(items, total, page, per_page)


def page_of(items: list[Any], page: int, per_page: int = PER_PAGE) -> Page:
    """The same for a list already in memory."""
    total = len(items)
    page = min(page, max(1, -(-total // per_page)))
    return Page(items[(page - 1) * per_page : page * per_page], total, page, per_page)
