"""Languages (English, Vietnamese): gettext catalogues in ``translations/``, dates and numbers by Babel.

The ``.po`` files are the source; they are compiled in memory when the app starts (and ``.mo`` files are
written next to them by ``python -m osteocare.web.i18n``). Knowledge-file text (e.g. how to take a drug) is
translated with its English wording as the message id; text without a translation is shown in English.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from markupsafe import Markup, escape

from ..core.status import status_warning
from .translations.en_vocabulary import EN_VOCABULARY

LOCALES = ("en", "vi")
DEFAULT = "en"
HERE = Path(__file__).parent / "translations"


class _English(gettext.NullTranslations):
    """English: the message ids are English already, but for the ids shown from data (``lumbar_spine``)."""

    def gettext(self, message: str) -> str:
        return EN_VOCABULARY.get(message, message)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    po = HERE / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT:
        return _English()
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def compile_all() -> list[Path]:
    """Write ``messages.mo`` beside each ``messages.po``."""
    out = []
    for po in HERE.glob("*/LC_MESSAGES/messages.po"):
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as f:
            write_mo(f, catalog)
        out.append(mo)
    return out


def pick_locale(cookie: str | None, user_locale: str | None, accept: str | None) -> str:
    for c in (cookie, user_locale):
        if c in LOCALES:
            return c  # type: ignore[return-value]
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LOCALES:
            return tag
    return DEFAULT


class Lang:
    """The per-request language: ``_``, ``ngettext`` and locale-aware formatting for templates and messages."""

    def __init__(self, code: str, zone: dt.tzinfo | None = None) -> None:
        self.code = code if code in LOCALES else DEFAULT
        self.t = translations(self.code)
        self.locale = Locale.parse(self.code)
        self.zone = zone

    def gettext(self, msg: str, **kw: Any) -> str:
        text = self.t.gettext(msg)
        return text.format(**kw) if kw else text

    _ = gettext

    def ngettext(self, one: str, many: str, n: int, **kw: Any) -> str:
        return self.t.ngettext(one, many, n).format(n=n, **kw)

    def date(self, d: dt.date | str | None, fmt: str = "medium") -> str:
        """A date (or an ISO date string, as JSON gives it) in the reader's locale."""
        if d is None:
            return "—"
        if isinstance(d, str):
            d = dt.date.fromisoformat(d)
        if isinstance(d, dt.datetime):
            return format_datetime(d, format=fmt, locale=self.locale, tzinfo=self.zone)
        return format_date(d, format=fmt, locale=self.locale)

    def num(self, x: float | int | None, digits: int | None = None) -> str:
        if x is None:
            return "—"
        try:
            if digits is not None:
                return format_decimal(round(float(x), digits), format="#,##0." + "0" * digits if digits else "#,##0",
                                      locale=self.locale)
            return format_decimal(x, locale=self.locale)
        except (ArithmeticError, ValueError):  # NaN, infinity, or beyond decimal's 28 digits (1e30): as Python has it
            return str(x)

    def num_text(self, text: str) -> str:
        """A number written as English writes it (``-2.5``, ``+1``, ``0.25``) with the same digits in this locale
        (``-2,5`` in Vietnamese); anything else (an exponent, a word) as it is."""
        found = _NUMBER.fullmatch(text)
        if self.code == DEFAULT or not found:
            return text
        sign, whole, frac = found.groups()
        return sign + self.num(float(f"{whole}.{frac or 0}"), len(frac or ""))

    def advice(self, item: Mapping[str, Any]) -> str:
        """A generated advice item (``text`` and its ``parts``): each sentence's template translated when the
        catalogue has it and filled with the same values, numbers and dates as this locale writes them (the
        template's own format, e.g. ``{ng:.1f}``, is kept: ``30,4`` in Vietnamese); the English text if a translation
        does not fit."""
        parts = item.get("parts") or []
        if not parts:
            return self.knowledge(item.get("text"))
        out = []
        for p in parts:
            template = self.knowledge(p.get("template"))
            params = p.get("params") or {}
            kinds = p.get("kinds") or {}
            try:
                values = {k: (str(self._value(kinds[k], v)) if kinds.get(k) in _PLAIN_KINDS else self._advice_value(v))
                          for k, v in params.items()}
                out.append(template.format(**values) if params else template)
            except (KeyError, IndexError, ValueError, TypeError):
                return str(item.get("text") or "")
        return " ".join(out)

    def _advice_value(self, v: Any) -> Any:
        """An advice value without a kind: a number formatted by the template's spec, then in this locale; an ISO
        date (``YYYY-MM-DD``, as JSON gives a date) in this locale; anything else as it is. English pages get the
        value itself, so the English text stays what the API and the CLI give."""
        if self.code == DEFAULT:
            return v
        if isinstance(v, int | float) and not isinstance(v, bool):
            return _LocalNumber(v, self)
        if isinstance(v, str) and _ISO_DATE.fullmatch(v):
            try:
                return self.date(dt.date.fromisoformat(v))
            except ValueError:
                return v
        return v

    def problem_detail(self, text: Any) -> Markup:
        """An error page's detail: a fixed message (the CSRF check's) from the catalogue; the service's "no {what}
        {key}" (``services.errors.NotFound``) translated with its key kept as it was asked for; anything else
        English, marked ``lang="en"`` on pages in another language."""
        text = "" if text is None else str(text)
        if self.code == DEFAULT or not text:
            return escape(text)
        if self._known(text):
            return escape(self.t.gettext(text))
        found = _NOT_FOUND.fullmatch(text)
        if found and self._known(found.group("what")) and self._known("No {what} {key}"):
            return escape(self.t.gettext("No {what} {key}")).format(what=self.t.gettext(found.group("what")),
                                                                   key=found.group("key"))
        return _in_english(escape(text))

    def status_note(self, status: Any, what: str) -> Markup:
        """The visible warning a result from non-verified facts carries (``core.status.status_warning``, e.g. for
        ``what`` = "This due date"), in this language; empty for a verified one."""
        warning = status_warning(status, what) if status in ("secondary", "unverified") else None
        return self.status_warning(warning) if warning else Markup("")

    def text_parts(self, item: Any) -> Markup:
        """A generated text with its ``parts`` (an alert: templates with named values, see
        ``services.views.TextPart``) as HTML in this language: each template translated, dates in the locale, drug
        and lab ids by their names, counts with their unit. English shows ``text`` itself (what the CLI and the API
        give). A part the catalogue lacks (a knowledge sentence not translated yet) stays English, marked
        ``lang="en"`` (WCAG 3.1.2), as does the whole text if a translation does not fit its values."""
        text = str(_field(item, "text") or "")
        parts = [_plain(p) for p in (_field(item, "parts") or [])]
        if self.code == DEFAULT:
            return escape(text)
        if not parts:
            return self._part({"template": text})
        try:
            return Markup(" ").join(self._part(p) for p in parts)
        except Exception:  # parts that do not fit their template or kinds: the English text, marked as such
            return _in_english(escape(text))

    def sentence(self, text: Any) -> Markup:
        """A sentence without values (a knowledge text): translated where the catalogue has it, else English,
        marked ``lang="en"`` on pages in another language."""
        return self.text_parts({"text": "" if text is None else str(text)})

    def _part(self, p: Mapping[str, Any]) -> Markup:
        template = str(p.get("template") or "")
        if not template:
            return Markup("")
        known = self.code == DEFAULT or template in getattr(self.t, "_catalog", {})
        lang = self if known else Lang(DEFAULT, self.zone)
        params, kinds = p.get("params") or {}, p.get("kinds") or {}
        html = escape(self.t.gettext(template) if known else template)
        if params:
            html = html.format(**{k: lang._value(kinds.get(k), v) for k, v in params.items()})
        return html if known else _in_english(html)

    def _value(self, kind: str | None, v: Any) -> Markup | str:
        if v is None:
            return "—"
        if kind == "date":
            return self.date(dt.date.fromisoformat(v) if isinstance(v, str) else v)
        if kind in ("drug", "lab"):
            return self.gettext(str(v))
        if kind == "days":  # one form in Vietnamese; English picks "day" or "days" by its own rule
            return self.gettext("{n} day" if v == 1 else "{n} days", n=self.num(v))
        if kind == "months":
            return self.gettext("{n} month" if v == 1 else "{n} months", n=self.num(v))
        if kind == "part":
            return self._part(_plain(v))
        if kind == "list":
            return Markup("; ").join(self._part(_plain(x)) for x in v)
        if kind == "en":
            return escape(v) if self.code == DEFAULT else _in_english(escape(v))
        if kind == "num":
            return self.num_text(str(v))
        if kind == "term":
            if self.code == DEFAULT:
                return escape(v)
            return escape(self.t.gettext(v)) if self._known(str(v)) else _in_english(escape(v))
        if isinstance(v, int) and not isinstance(v, bool):
            return self.num(v)
        return str(v)

    def en(self, text: Any) -> Markup:
        """Text that stays English (a rule text, a citation, a reason from the calculators): as it is on English
        pages, marked ``lang="en"`` (WCAG 3.1.2) on the others."""
        html = escape("" if text is None else str(text))
        return html if self.code == DEFAULT or not html else _in_english(html)

    def title(self, name: Any) -> Markup:
        """A calculator's or a result's title (``CalculatorResult.name``, a part of the recommendation): from the
        catalogue, or one of the fixed patterns ``{guideline} risk stratum`` and ``{guideline} FRAX threshold
        ({rule_id})`` with the guideline's name kept in English; otherwise English, marked ``lang="en"``."""
        text = "" if name is None else str(name)
        if self.code == DEFAULT or not text:
            return escape(text)
        if self._known(text):
            return escape(self.t.gettext(text))
        for pattern, template in _TITLE_PATTERNS:
            found = pattern.fullmatch(text)
            if found and self._known(template):
                values = {k: (_in_english(escape(v)) if k == "guideline" else escape(v))
                          for k, v in found.groupdict().items()}
                return escape(self.t.gettext(template)).format(**values)
        return _in_english(escape(text))

    def status_warning(self, text: Any) -> Markup:
        """A warning of the assessment panel. The fixed status sentence of ``core.status.status_warning``
        (``{what}: based on facts ... (status: secondary|unverified).``) is translated, its ``{what}`` by
        :meth:`title`; any other warning stays English, marked ``lang="en"``. English pages show the text itself."""
        text = "" if text is None else str(text)
        if self.code == DEFAULT or not text:
            return escape(text)
        if self._known(text):  # a fixed warning (the FRAX threshold tables OsteoCare does not have)
            return escape(self.t.gettext(text))
        for pattern, template in _WARNING_PATTERNS:
            found = pattern.fullmatch(text)
            if found and self._known(template):
                return escape(self.t.gettext(template)).format(
                    **{k: _in_english(escape(v)) for k, v in found.groupdict().items()})
        found = _STATUS_WARNING.fullmatch(text)
        template = "{what}: " + found.group("sentence") if found else ""
        if not found or not self._known(template):
            return _in_english(escape(text))
        return escape(self.t.gettext(template)).format(what=self.title(found.group("what")))

    def _known(self, msgid: str) -> bool:
        return msgid in getattr(self.t, "_catalog", {})

    def knowledge(self, text: str | None) -> str:
        """Text from a knowledge file, translated when the catalogue has it (message id = the English text)."""
        if not text:
            return ""
        return self.t.gettext(text)


_NUMBER = re.compile(r"([+-]?)(\d+)(?:\.(\d+))?")
#: ``services.errors.NotFound``'s message: ``no {what} {key!r}``.
_NOT_FOUND = re.compile(r"no (?P<what>[a-z ]+?) (?P<key>'.*'|\d+)", re.DOTALL)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Part kinds whose value :meth:`Lang._value` shows as plain text (the advice is plain text, escaped by the page).
_PLAIN_KINDS = ("date", "num", "drug", "lab", "days", "months")


class _LocalNumber:
    """A number for ``str.format`` in a translated template: formatted by the field's spec as English writes it
    (``{ng:.1f}`` -> ``30.4``), then with the same digits in the reader's locale (``30,4``, ``1.200``)."""

    def __init__(self, value: float, lang: Lang) -> None:
        self.value, self.lang = value, lang

    def __format__(self, spec: str) -> str:
        return self.lang.num_text(format(self.value, spec))

    def __str__(self) -> str:
        return format(self)
#: ``core.status.status_warning``'s sentences after ``{what}: `` (the catalogue has each as ``{what}: <sentence>``).
_STATUS_WARNING = re.compile(r"(?P<what>.+): (?P<sentence>based on facts [^:]*\(status: (?:secondary|unverified)\)\.)",
                             re.DOTALL)
#: Warnings built from a guideline's name and the FRAX country model (``core.guidelines.engine``): pattern, message id;
#: the values stay English (names).
_WARNING_PATTERNS = (
    (re.compile(r"(?P<guideline>.+) assumes the (?P<model>.+) FRAX model; the FRAX result entered used '(?P<used>.*)'\.",
                re.DOTALL), "{guideline} assumes the {model} FRAX model; the FRAX result entered used '{used}'."),
    (re.compile(r"(?P<guideline>.+) assumes the (?P<model>.+) FRAX model; the FRAX country model used is not "
                r"recorded\.", re.DOTALL),
     "{guideline} assumes the {model} FRAX model; the FRAX country model used is not recorded."),
)
#: Titles built from a guideline's name (``core.guidelines.engine``, ``core.risk.frax_adjust``): pattern, message id.
_TITLE_PATTERNS = (
    (re.compile(r"(?P<guideline>.+) risk stratum", re.DOTALL), "{guideline} risk stratum"),
    (re.compile(r"(?P<guideline>.+) FRAX threshold \((?P<rule_id>[^()]+)\)", re.DOTALL),
     "{guideline} FRAX threshold ({rule_id})"),
)


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _plain(part: Any) -> Mapping[str, Any]:
    return part if isinstance(part, Mapping) else part.model_dump()


def _in_english(html: Markup) -> Markup:
    return Markup('<span lang="en">{}</span>').format(html)


if __name__ == "__main__":
    for p in compile_all():
        print(p)
