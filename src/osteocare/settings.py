"""One typed settings object, read from environment variables by the adapters (never by ``osteocare.core``).

Nothing connects or creates files at import time: :func:`get_settings` reads the environment, validates every
value and fails fast with a message naming the variable, the value and what is allowed.

=========================================  ==========================================================
Variable                                   Meaning (default)
=========================================  ==========================================================
``OSTEOCARE_DATABASE_URL``                 SQLAlchemy URL. Default: a SQLite file
                                           ``./data/osteocare.sqlite3`` (the folder is created on first
                                           use). ``postgresql://...`` selects PostgreSQL (psycopg 3).
                                           A configured SQLite file must exist, except for ``db
                                           upgrade`` and ``demo``, which create it.
``OSTEOCARE_ACTOR``                        Who the CLI acts as in the audit log (default: OS user name).
``OSTEOCARE_TIMEZONE``                     The clinic's IANA time zone for appointment times and
                                           calendar export (default ``UTC``).
``OSTEOCARE_GUIDELINE``                    Guideline profile id used when the clinic asks for an
                                           assessment without naming one (default: none).
``OSTEOCARE_OBSERVATION_MINUTES``          Local policy: minutes of observation after an injection or
                                           infusion. No drug label sets one (treatment.md 0), so the
                                           default is *not configured* (empty).
``OSTEOCARE_PREDOSE_LAB_MAX_AGE_DAYS``     Local policy: how old a calcium / creatinine / vitamin D
                                           result may be and still count as a pre-dose check. The
                                           knowledge briefs give no number, so the default is *not
                                           configured*: the check then shows the latest result for the
                                           clinician to judge.
``OSTEOCARE_REMINDER_HOME``                iCalendar alarm before a home dose, an RFC 5545 duration
                                           (default ``-PT30M``, the example in codes.md 6).
``OSTEOCARE_REMINDER_CLINIC``              Alarms before a clinic appointment, comma-separated RFC 5545
                                           durations (default ``-P14D,-P1D``; codes.md 6 suggests a
                                           second, early alarm for denosumab).
``OSTEOCARE_HOME_DOSE_TIME``              Local time of home-dose reminders, HH:MM (default ``08:00``;
                                           twice-daily drugs also at +12 h).
``OSTEOCARE_SQL_ECHO``                     ``1`` to log SQL (default off).
=========================================  ==========================================================
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import re
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from .core.errors import OsteoCareError

DEFAULT_SQLITE_PATH = Path("data") / "osteocare.sqlite3"
_DURATION = re.compile(r"^-?P(?:\d+W|(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+S)?)?)$")


class SettingsError(OsteoCareError):
    """An environment variable holds a value OsteoCare cannot use."""

    def __init__(self, variable: str, value: object, allowed: str) -> None:
        self.variable = variable
        self.value = value
        self.allowed = allowed
        super().__init__(f"{variable}={value!r} is not allowed; expected {allowed}")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = Field(description="SQLAlchemy URL of the clinic store")
    actor: str = Field(description="Audit-log actor for this process")
    timezone: str = "UTC"
    guideline: str | None = None
    observation_minutes: int | None = Field(default=None, description="Local policy; None = not configured")
    predose_lab_max_age_days: int | None = Field(default=None, description="Local policy; None = not configured")
    reminder_home: str = "-PT30M"
    reminder_clinic: tuple[str, ...] = ("-P14D", "-P1D")
    home_dose_time: dt.time = dt.time(8, 0)
    sql_echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite URL (None for in-memory or other databases)."""
        if not self.is_sqlite:
            return None
        rest = self.database_url.split("://", 1)[1]
        path = rest[1:] if rest.startswith("/") else rest
        path = path.split("?", 1)[0]
        if path in ("", ":memory:"):
            return None
        return Path(path)


def _int(env: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, raw, f"a whole number >= {minimum}, or empty for 'not configured'") from None
    if value < minimum:
        raise SettingsError(name, raw, f"a whole number >= {minimum}, or empty for 'not configured'")
    return value


def _duration(name: str, raw: str) -> str:
    value = raw.strip().upper()
    if not value or not _DURATION.match(value) or value in ("P", "-P", "PT", "-PT"):
        raise SettingsError(name, raw, "an RFC 5545 duration such as -PT30M, -P1D or -P2W")
    return value


def normalise_database_url(url: str, variable: str = "OSTEOCARE_DATABASE_URL") -> str:
    """Accept ``sqlite:///...`` and ``postgresql[+psycopg]://...``; PostgreSQL always goes through psycopg 3."""
    url = url.strip()
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("postgresql+psycopg://", "sqlite://", "sqlite+pysqlite://")):
        return url
    raise SettingsError(variable, url, "sqlite:///path/to/file.sqlite3 or postgresql://user@host:port/database")


def default_database_url() -> str:
    """The URL used when ``OSTEOCARE_DATABASE_URL`` is not set (a SQLite file under ``./data/``)."""
    return f"sqlite:///{DEFAULT_SQLITE_PATH.as_posix()}"


def require_existing_database(settings: Settings) -> None:
    """Refuse a configured SQLite file that does not exist (a mistyped ``OSTEOCARE_DATABASE_URL`` would otherwise
    silently create an empty clinic whose worklist is all clear). The default ``./data/`` file may be created on
    first use; ``osteocare db upgrade`` and ``osteocare demo`` create any configured file."""
    path = settings.sqlite_path()
    if path is None or settings.database_url == default_database_url() or path.exists():
        return
    where = "its folder does not exist" if not path.parent.is_dir() else "the file does not exist"
    raise SettingsError("OSTEOCARE_DATABASE_URL", settings.database_url,
                        f"an existing SQLite database ({where}: {path}); check the URL, or create the database "
                        "with `osteocare db upgrade`")


def get_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    raw_url = env.get("OSTEOCARE_DATABASE_URL", "").strip()
    url = normalise_database_url(raw_url) if raw_url else default_database_url()
    tz = env.get("OSTEOCARE_TIMEZONE", "").strip() or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError("OSTEOCARE_TIMEZONE", tz, "an IANA time zone such as Asia/Ho_Chi_Minh or UTC") from None
    try:
        default_actor = getpass.getuser()
    except (KeyError, OSError):
        default_actor = "osteocare"
    actor = env.get("OSTEOCARE_ACTOR", "").strip() or default_actor
    clinic_raw = env.get("OSTEOCARE_REMINDER_CLINIC", "").strip()
    clinic = (
        tuple(_duration("OSTEOCARE_REMINDER_CLINIC", p) for p in clinic_raw.split(",") if p.strip())
        if clinic_raw
        else ("-P14D", "-P1D")
    )
    raw_time = env.get("OSTEOCARE_HOME_DOSE_TIME", "").strip() or "08:00"
    try:
        home_time = dt.time.fromisoformat(raw_time)
    except ValueError:
        raise SettingsError("OSTEOCARE_HOME_DOSE_TIME", raw_time, "a local time HH:MM such as 08:00") from None
    echo = env.get("OSTEOCARE_SQL_ECHO", "").strip().lower()
    if echo not in ("", "0", "1", "true", "false"):
        raise SettingsError("OSTEOCARE_SQL_ECHO", echo, "1 or 0")
    return Settings(
        database_url=url,
        actor=actor,
        timezone=tz,
        guideline=env.get("OSTEOCARE_GUIDELINE", "").strip() or None,
        observation_minutes=_int(env, "OSTEOCARE_OBSERVATION_MINUTES", minimum=0),
        predose_lab_max_age_days=_int(env, "OSTEOCARE_PREDOSE_LAB_MAX_AGE_DAYS", minimum=0),
        reminder_home=_duration("OSTEOCARE_REMINDER_HOME", env.get("OSTEOCARE_REMINDER_HOME", "-PT30M")),
        reminder_clinic=clinic,
        home_dose_time=home_time,
        sql_echo=echo in ("1", "true"),
    )
