"""osteocare.core stays pure: no adapter, web, database or dataframe framework."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "src/osteocare/core"
FORBIDDEN = {
    "fastapi", "starlette", "flask", "django", "sqlalchemy", "alembic", "psycopg", "psycopg2", "sqlite3",
    "pandas", "polars", "pyarrow", "dask", "distributed", "duckdb", "typer", "click", "rich", "httpx",
    "requests", "jinja2", "matplotlib", "fhir",
}
ADAPTERS = {"osteocare.cli", "osteocare.web", "osteocare.store", "osteocare.services", "osteocare.batch",
            "osteocare.fhir", "osteocare.settings", "osteocare.report"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                rel = path.relative_to(CORE.parent.parent).with_suffix("").parts[: -node.level]
                names.add(".".join([*rel, *(node.module.split(".") if node.module else [])]))
            elif node.module:
                names.add(node.module)
    return names


def test_core_imports_no_adapter_and_no_web_database_or_dataframe_framework() -> None:
    files = list(CORE.rglob("*.py"))
    assert len(files) > 5
    bad = []
    for f in files:
        for name in _imports(f):
            top = name.split(".")[0]
            if top in FORBIDDEN or any(name == a or name.startswith(a + ".") for a in ADAPTERS):
                bad.append(f"{f.relative_to(CORE)} imports {name}")
    assert not bad, bad


def test_the_architecture_check_would_catch_a_forbidden_import(tmp_path: Path) -> None:
    f = CORE / "_probe_tmp.py"
    f.write_text("import sqlalchemy\nfrom ..web import app\n")
    try:
        names = _imports(f)
    finally:
        f.unlink()
    assert ("sqlalchemy" in names and "osteocare.web.app" in names) or "osteocare.web" in names
