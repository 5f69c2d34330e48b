"""Loading and validating the knowledge data files under ``osteocare/knowledge``.

Every file is YAML or JSON with one envelope (see ``docs/knowledge-authoring.md``)::

    id, kind, version, title, status, sources[], facts{}, data{}, checks[], retired

Each *fact* has ``value``, ``unit``, ``source`` (a source id of the file), ``status`` and optional
``locator`` / ``note``. Bulk tables that come from one source as a whole (e.g. QFracture's coefficients)
live under ``data`` and take the file's ``status`` and ``data_source``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import KnowledgeError
from .status import FactStatus, Status, lowest

#: PyYAML's safe loader in C (libyaml) where this PyYAML has it: the same documents as the pure-Python
#: SafeLoader (compared on every knowledge file), 7.5 times as fast; all 51 files took 0.77 s in Python, a
#: start-up cost of every CLI command and worker process
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with the C loader when available (see :data:`_SAFE_LOADER`)."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # a safe loader (C or Python)

KNOWLEDGE_PACKAGE = "osteocare.knowledge"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    citation: str
    locator: str | None = None
    doi: str | None = None
    url: str | None = None


class Check(BaseModel):
    """A record of a status check against a primary source (README rule 5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    who: str
    when: date
    source: str
    note: str | None = None


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: Any
    unit: str
    source: str
    status: FactStatus
    locator: str | None = None
    note: str | None = None


class KnowledgeFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    kind: str
    version: str
    title: str
    status: Status = Field(description="Lowest status of the facts and data in this file")
    effective_from: date | None = None
    retired: date | None = None
    sources: tuple[Source, ...]
    data_source: str | None = None
    facts: dict[str, Fact] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> KnowledgeFile:
        ids = {s.id for s in self.sources}
        if len(ids) != len(self.sources):
            raise ValueError("duplicate source ids")
        for name, fact in self.facts.items():
            if fact.source not in ids:
                raise ValueError(f"fact {name!r} cites unknown source {fact.source!r}")
        if self.data and (self.data_source is None or self.data_source not in ids):
            raise ValueError("a file with 'data' must name its data_source among its sources")
        statuses = [f.status for f in self.facts.values()]
        if lowest([*statuses, self.status]) != self.status:
            raise ValueError(
                f"file status {self.status!r} is higher than its lowest fact status {lowest(statuses)!r}"
            )
        return self

    def fact(self, name: str) -> Fact:
        try:
            return self.facts[name]
        except KeyError:
            raise KnowledgeError(f"knowledge file {self.id!r} has no fact {name!r}") from None

    def value(self, name: str) -> Any:
        return self.fact(name).value

    def source(self, source_id: str) -> Source:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise KnowledgeError(f"knowledge file {self.id!r} has no source {source_id!r}")

    def citation(self, source_id: str | None = None) -> str:
        s = self.source(source_id or self.data_source or self.sources[0].id)
        extra = "".join(f"; {x}" for x in (s.locator, f"doi:{s.doi}" if s.doi else None) if x)
        return f"{s.citation}{extra}"


def _root() -> Traversable:
    return resources.files(KNOWLEDGE_PACKAGE)


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out: list[tuple[str, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            if not child.name.startswith(("_", ".")):
                out.extend(_walk(child, rel + "/"))
        elif child.name.endswith((".yaml", ".yml", ".json")) and child.name != "release.yaml":
            out.append((rel, child))
    return out


def _parse(rel: str, node: Traversable) -> dict[str, Any]:
    text = node.read_text(encoding="utf-8")
    try:
        raw = json.loads(text) if rel.endswith(".json") else safe_load_yaml(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"knowledge file {rel}: cannot parse: {exc}") from exc
    if not isinstance(raw, dict):
        raise KnowledgeError(f"knowledge file {rel}: top level must be a mapping")
    return raw


@cache
def all_files() -> dict[str, KnowledgeFile]:
    """Every knowledge file, by id, validated against the envelope schema."""
    files: dict[str, KnowledgeFile] = {}
    for rel, node in _walk(_root()):
        raw = _parse(rel, node)
        try:
            kf = KnowledgeFile.model_validate(raw)
        except ValidationError as exc:
            raise KnowledgeError(f"knowledge file {rel}: {exc}") from exc
        if kf.id in files:
            raise KnowledgeError(f"knowledge file {rel}: duplicate id {kf.id!r}")
        files[kf.id] = kf
    return files


def load(file_id: str) -> KnowledgeFile:
    try:
        return all_files()[file_id]
    except KeyError:
        raise KnowledgeError(f"no knowledge file with id {file_id!r}") from None


def paths() -> dict[str, str]:
    """Knowledge id -> path relative to the knowledge folder."""
    return {str(_parse(rel, node)["id"]): rel for rel, node in _walk(_root())}


class Release(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: str
    sha256: str


@cache
def release() -> Release:
    """The knowledge release: its declared version and a hash over every data file's bytes."""
    root = _root()
    meta = safe_load_yaml(root.joinpath("release.yaml").read_text(encoding="utf-8"))
    h = hashlib.sha256()
    for rel, node in _walk(root):
        h.update(rel.encode())
        h.update(b"\0")
        h.update(node.read_bytes())
        h.update(b"\0")
    return Release(version=str(meta["version"]), sha256=h.hexdigest())
