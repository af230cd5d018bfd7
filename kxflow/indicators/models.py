"""Published indicator-set versions, stored as data; a call keeps the version it was opened with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime
from kxflow.indicators.definition import IndicatorSetDefinition, packaged_sets, parse


class IndicatorSet(db.Model):
    __tablename__ = "indicator_sets"

    version: Mapped[str] = mapped_column(String(20), primary_key=True)
    definition: Mapped[dict] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


_cache: dict[str, IndicatorSetDefinition] = {}


def definition_for(version: str) -> IndicatorSetDefinition | None:
    """A published version never changes (nothing updates the row), so its parsed form is cached."""
    if version not in _cache:
        row = db.session.get(IndicatorSet, version)
        if row is None:
            return None
        _cache[version] = parse(row.definition)
    return _cache[version]


def current_version() -> str | None:
    return db.session.scalar(
        select(IndicatorSet.version).order_by(IndicatorSet.published_at.desc(), IndicatorSet.version.desc()).limit(1)
    )


def load_packaged_sets() -> list[str]:
    """Publishes the sets shipped with the package that the database does not have yet."""
    added = []
    for raw in packaged_sets():
        definition = parse(raw)
        if db.session.get(IndicatorSet, definition.version) is None:
            db.session.add(IndicatorSet(version=definition.version, definition=raw))
            added.append(definition.version)
    db.session.flush()
    return added
