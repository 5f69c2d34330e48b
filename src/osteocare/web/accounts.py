"""Accounts, sign-in, sessions and bearer tokens, and the login rate limiter.

Passwords are hashed with Argon2id (argon2-cffi); a session or API token is a random secret of which only the
SHA-256 is stored. There is no default account and no default password: the first admin is made with
``osteocare create-admin``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..core.errors import InputError
from ..services.context import Clinic
from ..services.errors import Conflict, NotFound
from ..store import models as sm
from ..store.models import utcnow
from .models import LOCALES, ROLES, User, WebConfig, WebSession, username_key

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
MAX_USERNAME = 80  # characters, after NFC normalisation; the sign-in form refuses longer ones before any work
SESSION_HOURS = 12
TOKEN_HOURS = 8


@dataclass(frozen=True)
class Principal:
    """Who is making a request."""

    user_id: int
    username: str
    role: str
    record_id: str | None
    locale: str
    display_name: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.username}"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError("password", "(hidden)", f"at least {MIN_PASSWORD_LENGTH} characters")


def create_user(clinic: Clinic, *, username: str, password: str, role: str, record_id: str | None = None,
                display_name: str | None = None, locale: str = "en") -> Principal:
    """Create an account. A patient account must name an existing patient record. The username is kept as
    typed (NFC-normalised); it must differ from every other one in more than case (see ``models.username_key``)."""
    username = unicodedata.normalize("NFC", username.strip())
    if not username or len(username) > MAX_USERNAME or not all(c.isalnum() or c in "._-@" for c in username):
        raise InputError("username", username, f"1-{MAX_USERNAME} letters, digits or . _ - @")
    if len(username_key(username)) > 240:  # a few letters (e.g. U+FDFA) expand to many when normalised
        raise InputError("username", username, f"1-{MAX_USERNAME} plain letters, digits or . _ - @")
    if role not in ROLES:
        raise InputError("role", role, "one of " + ", ".join(ROLES))
    if locale not in LOCALES:
        raise InputError("locale", locale, "one of " + ", ".join(LOCALES))
    check_password_rules(password)
    if role == "patient":
        if not record_id:
            raise InputError("record_id", record_id, "the patient's record id (a patient account sees only it)")
    else:
        record_id = None
    with clinic.db.write() as s:
        if role == "patient" and s.scalar(select(sm.Patient.id).where(sm.Patient.record_id == record_id)) is None:
            raise NotFound("patient", record_id)
        taken = s.scalar(select(User.username).where(User.username_key == username_key(username)))
        if taken is not None:
            same = "" if taken == username else f" as {taken!r} (usernames are the same regardless of case)"
            raise Conflict(f"user {username!r} already exists{same}")
        u = User(username=username, password_hash=hash_password(password), role=role, record_id=record_id,
                 display_name=display_name, locale=locale)
        s.add(u)
        try:
            s.flush()
        except IntegrityError:  # the same name made at the same moment by another request
            raise Conflict(f"user {username!r} already exists (usernames are the same regardless of case)") from None
        from ..store.audit import audit

        audit(s, actor=clinic.actor, action="create", entity="user", entity_id=u.id,
              detail={"username": username, "role": role, "record_id": record_id})
        return _principal(u)


def _principal(u: User) -> Principal:
    return Principal(u.id, u.username, u.role, u.record_id, u.locale, u.display_name)


def count_admins(clinic: Clinic) -> int:
    with clinic.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(User).where(User.role == "admin")) or 0)


def list_users(clinic: Clinic, *, offset: int = 0, limit: int = 50) -> tuple[list[Principal], int]:
    with clinic.db.read() as s:
        total = int(s.scalar(select(func.count()).select_from(User)) or 0)
        rows = s.scalars(select(User).order_by(User.username).offset(offset).limit(limit))
        return [_principal(u) for u in rows], total


def authenticate(clinic: Clinic, username: str, password: str) -> Principal | None:
    with clinic.db.read() as s:
        u = s.scalars(select(User).where(User.username_key == username_key(username))).one_or_none()
    if u is None or not u.active:
        _hasher.hash(password)  # same work whether or not the user exists
        return None
    try:
        _hasher.verify(u.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return _principal(u)


def new_session(clinic: Clinic, user: Principal, *, kind: str) -> str:
    token = secrets.token_urlsafe(32)
    hours = SESSION_HOURS if kind == "cookie" else TOKEN_HOURS
    with clinic.db.write() as s:
        s.add(WebSession(token_sha256=sha256(token), kind=kind, user_id=user.user_id,
                         expires_at=utcnow() + dt.timedelta(hours=hours)))
    return token


def end_session(clinic: Clinic, token: str) -> None:
    with clinic.db.write() as s:
        s.execute(delete(WebSession).where(WebSession.token_sha256 == sha256(token)))


class _SessionCache:
    """A few seconds of memory for session look-ups (the load on the store of every request)."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._d: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, Principal | None]:
        with self._lock:
            hit = self._d.get(key)
            if hit and hit[0] > time.monotonic():
                return True, hit[1]
            return False, None

    def put(self, key: str, value: Principal | None) -> None:
        with self._lock:
            if len(self._d) > 10_000:
                self._d.clear()
            self._d[key] = (time.monotonic() + self.ttl, value)

    def drop(self, key: str) -> None:
        with self._lock:
            self._d.pop(key, None)


SESSIONS = _SessionCache()


def principal_for(clinic: Clinic, token: str, *, kind: str) -> Principal | None:
    key = f"{kind}:{sha256(token)}"
    hit, value = SESSIONS.get(key)
    if hit:
        return value
    with clinic.db.read() as s:
        row = s.execute(select(User, WebSession.expires_at).join(WebSession, WebSession.user_id == User.id)
                        .where(WebSession.token_sha256 == sha256(token), WebSession.kind == kind)).first()
    p = None
    if row is not None and row[1] > utcnow() and row[0].active:
        p = _principal(row[0])
    SESSIONS.put(key, p)
    return p


def set_locale(clinic: Clinic, user: Principal, locale: str) -> None:
    if locale not in LOCALES:
        raise InputError("locale", locale, "one of " + ", ".join(LOCALES))
    with clinic.db.write() as s:
        u = s.get(User, user.user_id)
        if u is not None:
            u.locale = locale


def web_secret(clinic: Clinic) -> str:
    """The app's signing secret: generated on first start and kept in the store (never a default)."""
    with clinic.db.read() as s:
        row = s.get(WebConfig, "secret")
        if row is not None:
            return row.value
    try:
        with clinic.db.write() as s:
            s.add(WebConfig(key="secret", value=secrets.token_urlsafe(48)))
    except Exception:  # another process made it first
        pass
    with clinic.db.read() as s:
        row = s.get(WebConfig, "secret")
        assert row is not None
        return row.value


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (in memory, per process).

    Memory is bounded: a key whose events have all left the window is dropped, reading a key never stores it, and
    at most ``max_keys`` keys are kept; above that, keys with only old events are swept, then the least recently
    hit ones dropped. Callers pass fixed-size keys (a digest), so that one key costs the same whatever was typed."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}  # in order of each key's latest event (oldest first)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float] | None:
        q = self._events.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._events[key]
            return None
        return q

    def _evict(self, now: float) -> None:
        """Room for a tenth of ``max_keys`` again: every key with no event in the window goes (they are the first in
        the dict, which is in order of latest event), then the least recently hit ones."""
        target = self.max_keys - max(1, self.max_keys // 10)
        while self._events:
            key = next(iter(self._events))
            if len(self._events) <= target and self._events[key][-1] > now - self.window:
                break
            del self._events[key]

    def retry_after(self, key: str) -> int:
        """Seconds to wait before the next event is allowed (0 = allowed now)."""
        now = time.monotonic()
        with self._lock:
            q = self._trim(key, now)
            if q is None or len(q) < self.limit:
                return 0
            return max(1, int(q[0] + self.window - now + 0.999))

    def _push(self, key: str, q: deque[float] | None, now: float) -> None:
        """Record an event of ``key`` (its trimmed events ``q``) at ``now``; the key becomes the most recent."""
        if q is None:
            if len(self._events) >= self.max_keys:
                self._evict(now)
            q = self._events[key] = deque()
        else:
            self._events[key] = self._events.pop(key)
        q.append(now)
        while len(q) > self.limit:  # only the latest ``limit`` events decide anything
            q.popleft()

    def hit(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._push(key, self._trim(key, now), now)

    def take(self, key: str) -> tuple[int, float | None]:
        """Take one event now if the key has room, in one step (two requests at once cannot both take the last
        one): (0, the event's time, for :meth:`give_back`), or (seconds to wait, None)."""
        now = time.monotonic()
        with self._lock:
            q = self._trim(key, now)
            if q is not None and len(q) >= self.limit:
                return max(1, int(q[0] + self.window - now + 0.999)), None
            self._push(key, q, now)
            return 0, now

    def give_back(self, key: str, at: float) -> None:
        """Undo :meth:`take` (the event of time ``at``), for an event that did not count after all."""
        with self._lock:
            q = self._events.get(key)
            if q is not None:
                try:
                    q.remove(at)
                except ValueError:
                    pass
                if not q:
                    del self._events[key]

    def failures(self, key: str) -> int:
        with self._lock:
            q = self._trim(key, time.monotonic())
            return 0 if q is None else len(q)

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
