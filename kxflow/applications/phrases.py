"""常用意见: a reviewer's own saved phrases, offered beside every 审核意见 box."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext
from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Invalid, NotFound
from kxflow.core.types import UTCDateTime

PHRASE_MAX = 500
PHRASES_PER_USER = 50


class SavedPhrase(db.Model):
    __tablename__ = "saved_phrases"
    __table_args__ = (UniqueConstraint("user_id", "text"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    text: Mapped[str] = mapped_column(String(PHRASE_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


def mine(user: User) -> list[SavedPhrase]:
    return list(db.session.scalars(select(SavedPhrase).where(SavedPhrase.user_id == user.id).order_by(SavedPhrase.id)))


def save(user: User, text: str | None) -> SavedPhrase:
    """Keeps a phrase for the user (once: saving it again returns the one kept)."""
    text = (text or "").strip()
    if not text:
        raise Invalid(fields={"text": [gettext("The phrase is empty.")]})
    if len(text) > PHRASE_MAX:
        raise Invalid(fields={"text": [gettext("At most %(n)s characters.", n=PHRASE_MAX)]})
    existing = db.session.scalar(select(SavedPhrase).where(SavedPhrase.user_id == user.id, SavedPhrase.text == text))
    if existing is not None:
        return existing
    if len(mine(user)) >= PHRASES_PER_USER:
        raise Invalid(fields={"text": [gettext("At most %(n)s saved phrases: remove one first.", n=PHRASES_PER_USER)]})
    phrase = SavedPhrase(user_id=user.id, text=text, created_at=clock.now())
    db.session.add(phrase)
    db.session.flush()
    return phrase


def delete(user: User, phrase_id: int) -> None:
    phrase = db.session.get(SavedPhrase, phrase_id)
    if phrase is None or phrase.user_id != user.id:
        raise NotFound()
    db.session.delete(phrase)
    db.session.flush()
