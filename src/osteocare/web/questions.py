"""Questions to doctors: ask (readers and patients), the doctors' queue, answer (an open question), edit an answer
(naming the version it was made from; a published one goes off the public page until published again), publish
anonymised (topic, question and answer), unpublish, search.

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
from ..services.errors import Conflict, InvalidState, NotFound
from ..store.audit import audit
from ..store.models import utcnow
from .accounts import Principal, sha256
from .models import Question
from .queries import contains, fold_text, with_fold

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
    version: int = 1
    published_at: Any = None
    public_topic: str | None = None
    public_body: str | None = None
    public_answer: str | None = None


class PublicQuestion(BaseModel):
    id: int
    topic: str
    body: str
    answer: str
    published_at: Any


class StaleVersion(Conflict):
    """The question was changed (by another doctor) since the version a change was made from: nothing written."""

    def __init__(self, question_id: int, expected: int, stored: int) -> None:
        super().__init__(f"question {question_id} was changed by someone else since you read it (you had version "
                         f"{expected}, it is now version {stored}); nothing was saved: read it again, then make "
                         "the change")
        self.stored = stored


def _view(q: Question) -> QuestionView:
    return QuestionView(id=q.id, topic=q.topic, body=q.body, status=q.status, asked_at=q.asked_at, answer=q.answer,
                        answered_at=q.answered_at, published=q.published, locale=q.locale, version=q.version or 1,
                        published_at=q.published_at if q.published else None, public_topic=q.public_topic,
                        public_body=q.public_body, public_answer=q.public_answer)


def _public(q: Question) -> PublicQuestion:
    return PublicQuestion(id=q.id, topic=q.public_topic or "", body=q.public_body or "", answer=q.public_answer or "",
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


def _locked(s: Any, question_id: int, expected_version: int | None) -> Question:
    """The question, locked for this transaction (PostgreSQL; SQLite's writer lock covers it), at the version the
    change was made from (``None``: any)."""
    q = get_row(s, Question, question_id, for_update=True)
    if q is None:
        raise NotFound("question", question_id)
    if expected_version is not None and q.version != expected_version:
        raise StaleVersion(question_id, expected_version, q.version)
    return q


def answer(clinic: Clinic, question_id: int, *, text: str, doctor: Principal,
           expected_version: int | None = None) -> QuestionView:
    """Answer an open question. An answered one is refused (409): its answer changes only by :func:`edit_answer`,
    which names the version it was made from (so a published answer is never rewritten by a second answer)."""
    a = clean_text(text, "answer", max_len=MAX_BODY * 2)
    with clinic.db.write() as s:
        q = _locked(s, question_id, expected_version)
        if q.status != "open":
            raise InvalidState(f"question {question_id} is already answered (version {q.version}); to change its "
                               "answer, edit it, naming the version you read")
        q.answer = a
        q.status = "answered"
        q.answered_by = doctor.actor
        q.answered_at = utcnow()
        q.version += 1
        audit(s, actor=clinic.actor, action="update", entity="question", entity_id=q.id,
              detail={"answered": True, "answer": {"old": None, "new": a}, "version": q.version})
        return _view(q)


def edit_answer(clinic: Clinic, question_id: int, *, text: str, expected_version: int) -> QuestionView:
    """Change the answer of an answered question, made from ``expected_version`` (else :class:`StaleVersion`,
    nothing written). The audit entry keeps the old and the new text. A published answer is taken off the public
    page: the new text is public only once a doctor publishes it again (the publish form shows it for anonymising).
    ``answered_by`` and ``answered_at`` stay those of the first answer; the audit entry names who edited."""
    a = clean_text(text, "answer", max_len=MAX_BODY * 2)
    with clinic.db.write() as s:
        q = _locked(s, question_id, expected_version)
        if q.status != "answered":
            raise InvalidState(f"question {question_id} is not answered yet: answer it first")
        if a == q.answer:
            return _view(q)  # nothing changes (and a published answer stays published)
        old, was_published = q.answer, q.published
        q.answer = a
        q.public_answer = None  # the publish form starts again from the new text
        q.published = False
        q.published_at = None
        q.version += 1
        audit(s, actor=clinic.actor, action="update", entity="question", entity_id=q.id,
              detail={"answer": {"old": old, "new": a}, "unpublished": was_published, "version": q.version})
        return _view(q)


def publish(clinic: Clinic, question_id: int, *, topic: str | None = None, body: str | None = None,
            answer: str | None = None, expected_version: int | None = None) -> PublicQuestion:
    """:func:`publish_versioned` without the new version."""
    return publish_versioned(clinic, question_id, topic=topic, body=body, answer=answer,
                             expected_version=expected_version)[0]


def publish_versioned(clinic: Clinic, question_id: int, *, topic: str | None = None, body: str | None = None,
                      answer: str | None = None, expected_version: int | None = None) -> tuple[PublicQuestion, int]:
    """Publish an answered question on the public Q&A page, anonymised: no name or account, e-mail addresses
    and phone numbers removed from the topic, the question and the answer; the doctor may also rewrite each
    (``topic``, ``body``, ``answer``; by default the wording published before, else the question and answer as
    sent). With ``expected_version``, refused if the question changed since (:class:`StaleVersion`). Returns what
    the public page shows and the question's new version."""
    with clinic.db.write() as s:
        q = _locked(s, question_id, expected_version)
        if q.status != "answered" or not q.answer:
            raise InvalidState("only an answered question can be published; answer it first")
        t = clean_text(topic, "topic", max_len=MAX_TOPIC) if topic else q.public_topic or q.topic
        b = clean_text(body, "body", max_len=MAX_BODY) if body else q.public_body or q.body
        a = clean_text(answer, "answer", max_len=MAX_BODY * 2) if answer else q.public_answer or q.answer
        q.public_topic = anonymise(t)
        q.public_body = anonymise(b)
        q.public_answer = anonymise(a)
        q.published = True
        q.published_at = utcnow()
        q.version += 1
        audit(s, actor=clinic.actor, action="update", entity="question", entity_id=q.id,
              detail={"published": True, "public_topic": q.public_topic, "public_body": q.public_body,
                      "public_answer": q.public_answer, "version": q.version})
        return _public(q), q.version


def unpublish(clinic: Clinic, question_id: int, *, expected_version: int | None = None) -> QuestionView:
    """Take a question off the public Q&A page (its public wording is kept for publishing again). A question that
    is not published stays as it is."""
    with clinic.db.write() as s:
        q = _locked(s, question_id, expected_version)
        if not q.published:
            return _view(q)
        q.published = False
        q.published_at = None
        q.version += 1
        audit(s, actor=clinic.actor, action="update", entity="question", entity_id=q.id,
              detail={"published": False, "version": q.version})
        return _view(q)


def search_public(clinic: Clinic, text: str = "", *, offset: int = 0, limit: int = 20) -> tuple[list[PublicQuestion], int]:
    """Published questions holding every word of ``text`` (at most 8) in their public topic, question or answer,
    regardless of case (also of Vietnamese capitals); ``%`` and ``_`` are plain characters."""
    with clinic.db.read() as s:
        stmt = select(Question).where(Question.published.is_(True))
        words = [w for w in fold_text(text or "").split() if w][:8]
        if words:
            with_fold(s)
        for w in words:
            stmt = stmt.where(or_(contains(Question.public_topic, w), contains(Question.public_body, w),
                                  contains(Question.public_answer, w)))
        total = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        rows = s.scalars(stmt.order_by(Question.published_at.desc(), Question.id.desc()).offset(offset).limit(limit))
        return [_public(q) for q in rows], total


def public_one(clinic: Clinic, question_id: int) -> PublicQuestion:
    with clinic.db.read() as s:
        q = get_row(s, Question, question_id)
        if q is None or not q.published:
            raise NotFound("published question", question_id)
        return _public(q)
