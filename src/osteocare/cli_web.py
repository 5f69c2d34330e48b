"""Web commands: ``serve`` (the web app; loads the demo clinic into an empty database), ``create-admin`` and
``create-user`` (passwords from a prompt or a file, never a default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            typer.echo(f"error: {password_file}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
    pw = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(pw)


def _clinic():  # type: ignore[no-untyped-def]
    from .services.context import Clinic
    from .settings import SettingsError, get_settings

    try:
        return Clinic.open(get_settings())
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _create(username: str, role: str, password_file: Path | None, record_id: str | None) -> None:
    from .core.errors import InputError, OsteoCareError
    from .web.accounts import create_user
    from .web.models import ROLES

    if role not in ROLES:  # before asking for a password that would be thrown away
        typer.echo(f"error: {InputError('--role', role, 'one of ' + ', '.join(ROLES))}", err=True)
        raise typer.Exit(2)
    clinic = _clinic()
    try:
        pw = _password(password_file)
        u = create_user(clinic, username=username, password=pw, role=role, record_id=record_id)
    except OsteoCareError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        clinic.close()
    typer.echo(f"created {u.role} account {u.username!r}")


def create_admin(
    username: Annotated[str, typer.Argument(help="The admin's username")],
    password_file: Annotated[Path | None, typer.Option(help="Read the password from this file (else a prompt)")] = None,
) -> None:
    """Create an admin account (there is no default account or password)."""
    _create(username, "admin", password_file, None)


def create_user_cmd(
    username: Annotated[str, typer.Argument(help="Username")],
    role: Annotated[str, typer.Option(help="doctor, nurse, patient or admin")],
    record_id: Annotated[str | None, typer.Option(help="Patient accounts: the patient's record id")] = None,
    password_file: Annotated[Path | None, typer.Option(help="Read the password from this file (else a prompt)")] = None,
) -> None:
    """Create a doctor, nurse, patient or admin account."""
    _create(username, role, password_file, record_id)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    demo: Annotated[bool, typer.Option(help="Load the demo clinic when the database has no patient")] = True,
    demo_patients: Annotated[int, typer.Option(help="Demo clinic size")] = 120,
) -> None:
    """Start the web app (SQLite by default; OSTEOCARE_DATABASE_URL=postgresql://... for PostgreSQL)."""
    import uvicorn
    from sqlalchemy import func, select

    from .core.errors import InputError
    from .store import models as m
    from .web.app import create_app

    clinic = _clinic()
    if demo:
        with clinic.db.read() as s:
            n = s.scalar(select(func.count()).select_from(m.Patient))
        if not n:
            from .services.demo import load_demo

            typer.echo(f"loading the demo clinic ({demo_patients} invented patients) ...")
            try:
                load_demo(clinic.as_actor("demo"), patients=demo_patients)
            except InputError as exc:
                typer.echo(f"error: --demo-{exc}", err=True)
                raise typer.Exit(2) from None
            _demo_accounts(clinic)
    from .web.accounts import count_admins

    if not count_admins(clinic):
        typer.echo("no admin account yet: create one with `osteocare create-admin NAME`")
    app = create_app(clinic.settings, clinic=clinic)
    typer.echo(f"OsteoCare on http://{host}:{port}/  (API docs: /docs, OpenAPI: /openapi.json)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _demo_accounts(clinic) -> None:  # type: ignore[no-untyped-def]
    """Sign-ins for the demo clinic: a doctor, a nurse and a patient (DEMO-0001), each with a random password made
    for this database (there is no default password), printed once and kept in a file beside a SQLite store."""
    import secrets

    from .web.accounts import create_user

    lines = []
    for username, role, record in (("demo-doctor", "doctor", None), ("demo-nurse", "nurse", None),
                                   ("demo-patient", "patient", "DEMO-0001")):
        password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
        create_user(clinic, username=username, password=password, role=role, record_id=record)
        lines.append(f"{role:8s} {username:13s} {password}")
    text = "Demo clinic sign-ins (invented patients; made for this database only):\n" + "\n".join(lines) + "\n"
    typer.echo(text)
    path = clinic.settings.sqlite_path()
    if path is not None:
        out = Path(path).with_name("demo-accounts.txt")
        out.write_text(text, encoding="utf-8")
        out.chmod(0o600)
        typer.echo(f"(also written to {out})")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("create-admin")(create_admin)
    app.command("create-user")(create_user_cmd)
