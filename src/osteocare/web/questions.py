"""Questions to doctors: ask (readers and patients), the doctors' queue, answer, publish anonymised, search.

All text is sanitised with nh3 before it is stored (no markup at all is kept), and templates escape it again on
output. The asker follows the answer through a link with a secret token (only its SHA-256 is stored).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import nh3
from pydantic import BaseModel
from sqlalchemy import func, or_, select

from ..core.errors import InputError
from ..services._common import get_row
from ..services.context import Clinic
from ..services.errors import InvalidState, NotFound
from ..store.audit import audit
from ..store.models import utcnow
from .accounts import Principal, sha256
from .models import Question

MAX_TOPIC = 200
MAX_BODY = 5000
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ().-]{6,}\d")


def clean_text(value: str, field: str, *, max_len: int, required: bool = True) -> str:
    """Plain text: every tag removed (script and style with their content), whitespace tidied."""
    text = nh3.clean(value or "", tags=set(), attributes={}, clean_content_tags={"script", "style"})
    text = _unescape(text).replace("\r\n", "\n").strip()
    if required and not text:
        raise InputError(field, value, "some text")
    if len(text) > max_len:
        raise InputError(field, f"{len(text)} characters", f"at most {max_len} characters")
    return text


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def anonymise(text: str) -> str:
    """Remove e-mail addresses and phone numbers (the doctor edits out anything else before publishing)."""
    return _PHONE.sub("[…]", _EMAIL.sub("[…]", text))


class QuestionView(BaseModel):
    id: int
    topic: str
    body: str
    status: str
    asked_at: Any
    answer: str | None = None
    answered_at: Any = None
    published: bool = False
    locale: str = "en"


class PublicQuestion(BaseModel):
    id: int
    topic: str
    body: str
    answer: str
    published_at: Any


def _view(q: Question) -> QuestionView:
    return QuestionView(id=q.id, topic=q.topic, body=q.body, status=q.status, asked_at=q.asked_at, answer=q.answer,
                        answered_at=q.answered_at, published=q.published, locale=q.locale)


def _public(q: Question) -> PublicQuestion:
    return PublicQuestion(id=q.id, topic=q.public_topic or "", body=q.public_body or "", answer=q.answer or "",
                          published_at=q.published_at)


def ask(clinic: Clinic, *, topic: str, body: str, asker: Principal | None, name: str | None = None,
        locale: str = "en") -> tuple[QuestionView, str]:
    """Store a question; returns it and the secret follow token (shown once to the asker)."""
    t = clean_text(topic, "topic", max_len=MAX_TOPIC)
    b = clean_text(body, "body", max_len=MAX_BODY)
    n = clean_text(name or "", "name", max_len=120, required=False) or None
    token = secrets.token_urlsafe(24)
    with clinic.db.write() as s:
        q = Question(topic=t, body=b, asker_user_id=asker.user_id if asker else None, asker_name=n,
                     locale=locale if locale in ("en", "vi") else "en", follow_sha256=sha256(token), status="open",
                     published=False)
        s.add(q)
        s.flush()
        return _view(q), token


def follow(clinic: Clinic, token: str) -> QuestionView:
    with clinic.db.read() as s:
        q = s.scalars(select(Question).where(Question.follow_sha256 == sha256(token))).one_or_none()
        if q is None:
            raise NotFound("question", "token")
        return _view(q)


def mine(clinic: Clinic, user: Principal) -> list[QuestionView]:
    with clinic.db.read() as s:
        rows = s.scalars(select(Question).where(Question.asker_user_id == user.user_id).order_by(Question.id.desc()))
        return [_view(q) for q in rows]


def queue(clinic: Clinic, *, status: str = "open", offset: int = 0, limit: int = 50) -> tuple[list[QuestionView], int]:
    if status not in ("open", "answered"):
        raise InputError("status", status, "open or answered")
    with clinic.db.read() as s:
        where = Question.status == status
        total = int(s.scalar(select(func.count()).select_from(Question).where(where)) or 0)
        order = Question.asked_at.asc() if status == "open" else Question.answered_at.desc()
        rows = s.scalars(select(Question).where(where).order_by(order, Question.id).offset(offset).limit(limit))
        return [_view(q) for q in rows], total


def get(clinic: Clinic, question_id: int) -> QuestionView:
    with clinic.db.read() as s:
        q = get_row(s, Question, question_id)
        if q is None:
            raise NotFound("question", question_id)
        return _view(q)


def answer(clinic: Clinic, question_id: int, *, text: str, doctor: Principal) -> QuestionView:
    a = clean_text(text, "answer", max_len=MAX_BODY * 2)
    with clinic.db.write() as s:
        q = get_row(s, Question, question_id)
        if q is None:
            raise NotFound("question", question_id)
        q.answer = a
        q.status = "answered"
        q.answered_by = doctor.actor
        q.answered_at = utcnow()
        audit(s, actor=clinic.actor, action="update", entity="question", entity_id=q.id, detail={"answered": True})
        return _view(q)


def publish(clinic: Clinic, question_id: int, *, topic: str | None = None, body: str | None = None) -> PublicQuestion:
    """Publish an answered question on the public Q&A page, anonymised: no name or account, e-mail addresses
    and phone numbers removed; the doctor may also rewrite the question (``topic``, ``body``)."""
    with clinic.db.write() as s:
        q = get_row(s, Question, question_id)
        if q is None:
            raise NotFound("question", question_id)
        if q.status != "answered" or not q.answer:
            raise InvalidState("only an answered question can be published; answer it first")
        t = clean_text(topic, "topic", max_len=MAX_TOPIC) if topic else q.topic
        b = clean_text(body, "body", max_len=MAX_BODY) if body else q.body
        q.public_topic = anonymise(t)
        q.public_body = anonymise(b)
        q.published = True
        q.published_at = utcnow()
        audit(s, actor=clinic.actor, action="update", entity="question", entity_id=q.id, detail={"published": True})
        return _public(q)


def unpublish(clinic: Clinic, question_id: int) -> None:
    with clinic.db.write() as s:
        q = get_row(s, Question, question_id)
        if q is None:
            raise NotFound("question", question_id)
        q.published = False
        audit(s, actor=clinic.actor, action="update", entity="question", entity_id=q.id, detail={"published": False})


def search_public(clinic: Clinic, text: str = "", *, offset: int = 0, limit: int = 20) -> tuple[list[PublicQuestion], int]:
    with clinic.db.read() as s:
        stmt = select(Question).where(Question.published.is_(True))
        words = [w for w in (text or "").lower().split() if w][:8]
        for w in words:
            like = f"%{w}%"
            stmt = stmt.where(or_(func.lower(Question.public_topic).like(like), func.lower(Question.public_body).like(like),
                                  func.lower(Question.answer).like(like)))
        total = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        rows = s.scalars(stmt.order_by(Question.published_at.desc(), Question.id.desc()).offset(offset).limit(limit))
        return [_public(q) for q in rows], total


def public_one(clinic: Clinic, question_id: int) -> PublicQuestion:
    with clinic.db.read() as s:
        q = get_row(s, Question, question_id)
        if q is None or not q.published:
            raise NotFound("published question", question_id)
        return _public(q)
