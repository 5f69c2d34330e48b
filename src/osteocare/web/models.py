"""Tables of the web adapter: accounts, sessions, API tokens, questions to doctors, and the web's own secret.

They live on the store's SQLAlchemy metadata (:class:`osteocare.store.models.Base`) and are created by the
migration ``0002_web_accounts_questions``.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from ..store.models import Base, utcnow

ROLES = ("doctor", "nurse", "patient", "admin")
LOCALES = ("en", "vi")


def username_key(username: str) -> str:
    """The form of a username that decides who it is: Unicode compatibility-normalised and case-folded
    (NFKC_Casefold, approximately), so that ``Admin``, ``ADMIN``, ``admin`` and a full-width ``ａｄｍｉｎ`` are one
    name, on SQLite (whose ``lower()`` folds only ASCII) exactly as on PostgreSQL. Migration 0004 keeps a frozen
    copy of this function: change both or neither."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username.strip()).casefold())


class User(Base):
    """A person who signs in. A patient account is linked to one patient record (``record_id``).

    ``username`` is kept as it was typed (it is what the audit log's actors and a dose's ``given_by`` already
    say); ``username_key`` (:func:`username_key`) is unique, and sign-in looks the account up by it, so two
    usernames that differ only in case (or in full-width letters) cannot both exist (migration 0004)."""

    __tablename__ = "web_users"
    __table_args__ = (
        CheckConstraint("role IN ('doctor', 'nurse', 'patient', 'admin')", name="role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    username_key: Mapped[str] = mapped_column(String(240), index=True, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str | None] = mapped_column(String(120))
    record_id: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @validates("username")
    def _keep_key(self, _: str, value: str) -> str:
        self.username_key = username_key(value)  # however an account is made or renamed, its key follows
        return value


class WebSession(Base):
    """A signed-in browser (cookie) or an API client (bearer token); only the SHA-256 of the secret is stored."""

    __tablename__ = "web_sessions"
    __table_args__ = (CheckConstraint("kind IN ('cookie', 'bearer')", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class Question(Base):
    """A question to the clinic's doctors, from a reader without an account or from a patient.

    ``public_topic``, ``public_body`` and ``public_answer`` are what the public Q&A shows: the doctor's wording for
    publication, anonymised (migration 0009 added ``public_answer``; before it the answer was published as sent to
    the asker). ``version`` goes up with every change of the answer or of its publication: a change names the
    version it was made from and is refused if the question changed since (migration 0009)."""

    __tablename__ = "web_questions"
    __table_args__ = (CheckConstraint("status IN ('open', 'answered')", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    asked_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    asker_user_id: Mapped[int | None] = mapped_column(Integer)
    asker_name: Mapped[str | None] = mapped_column(String(120))
    topic: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    follow_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="open")
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(120))
    answered_at: Mapped[dt.datetime | None]
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    public_topic: Mapped[str | None] = mapped_column(String(200))
    public_body: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[dt.datetime | None]
    public_answer: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class WebConfig(Base):
    """Key/value settings of the web app kept in the store (the signing secret, generated on first start)."""

    __tablename__ = "web_config"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
