"""Generated text as parts, for translation: an English template (``str.format`` fields) with named values, and
how an adapter shows each value. The English text is the parts rendered (:meth:`TextPart.render`); an adapter
translates each template (message id = the English template) and fills in the same values in its language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

PartKind = Literal["date", "drug", "lab", "days", "months", "part", "list", "en", "num", "term"]


class TextPart(BaseModel):
    """One sentence or phrase of a generated text: an English template (``str.format`` fields), its values, and
    how an adapter shows each value (``kinds``). A part without values is shown verbatim: a sentence from a
    knowledge file, translated by its English wording where a catalogue has it.

    Kinds: ``date`` an ISO date (shown in the reader's locale), ``drug`` a drug id, ``lab`` a lab id, ``days`` /
    ``months`` a whole count shown with its unit ("1 day", "2 days"), ``part`` a nested part (a phrase), ``list``
    nested parts shown one after the other, separated by "; ",
    ``en`` text kept in English (a citation, an identifier), ``num`` a number written as English writes it
    (``"-2.5"``, ``"+1"``: shown with the same digits in the reader's locale), ``term`` an identifier or a short
    English term that a catalogue may translate (a site, a category, a reference's label). A value without a kind
    is shown as it is."""

    template: str
    params: dict[str, Any] = Field(default_factory=dict)
    kinds: dict[str, PartKind] = Field(default_factory=dict)

    def render(self, drug_name: Callable[[str], str] | None = None) -> str:
        """This part in English; a drug by ``drug_name(id)`` (``services.textparts.render`` passes the knowledge's
        names), else by its id. A value without a kind goes to ``str.format`` as it is, so the template may give it
        a format (``{intake:g}``)."""
        if not self.params:
            return self.template
        return self.template.format(**{k: english_value(self.kinds[k], v, drug_name) if k in self.kinds else v
                                         for k, v in self.params.items()})


def english_value(kind: str | None, value: Any, drug_name: Callable[[str], str] | None = None) -> str:
    """A part's value as the English text shows it (a drug by ``drug_name``, else by its id)."""
    if kind == "drug" and drug_name is not None:
        return drug_name(value)
    if kind == "days":
        return f"{value} day{'' if value == 1 else 's'}"
    if kind == "months":
        return f"{value} month{'' if value == 1 else 's'}"
    if kind == "part":
        return TextPart.model_validate(value).render(drug_name)
    if kind == "list":
        return "; ".join(TextPart.model_validate(x).render(drug_name) for x in value)
    return str(value)


def part(template: str, kinds: dict[str, PartKind] | None = None, **params: Any) -> TextPart:
    """A part; nested parts among the values are kept as plain data (as JSON gives them back)."""
    return TextPart(template=template, params={k: _plain(v) for k, v in params.items()}, kinds=kinds or {})


def _plain(value: Any) -> Any:
    if isinstance(value, TextPart):
        return value.model_dump()
    if isinstance(value, list):
        return [_plain(x) for x in value]
    return value


def num(value: Any, spec: str = "") -> str:
    """A number as the English text writes it (``format(value, spec)``), for a part's ``num`` value."""
    return format(value, spec)


def nums(template: str, **params: Any) -> TextPart:
    """A part whose values are all numbers (``num`` kind), each written as text (see :func:`num`)."""
    return TextPart(template=template, params={k: v if isinstance(v, str) else num(v) for k, v in params.items()},
                    kinds={k: "num" for k in params})


def joined(parts: list[TextPart] | tuple[TextPart, ...]) -> str:
    """Parts as one English text, separated by spaces."""
    return " ".join(p.render() for p in parts)
