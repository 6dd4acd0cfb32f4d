"""Command-line tasks: `flask --app api seed | import-text | import-bank | regrade |
purge-idempotency | gen-bank | create-admin`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask

DEFAULT_BANK = Path(__file__).resolve().parents[1] / "seeds" / "bank.yaml"


def register(app: Flask) -> None:
    @app.cli.command("seed")
    @click.option(
        "--file",
        "path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=DEFAULT_BANK,
        show_default=True,
        help="Curated bank file (YAML).",
    )
    @click.option(
        "--reset",
        "reset",
        multiple=True,
        metavar="SLUG",
        help="Force this item's seed content back (a question or topic slug; '*' for all), "
        "overwriting an editor's changes or recreating it if deleted. Repeatable.",
    )
    @click.option("--dry-run", is_flag=True, help="Report what would happen, change nothing.")
    def seed(path: Path, reset: tuple[str, ...], dry_run: bool) -> None:
        """Load the curated question bank; safe to run again: editors' work is kept.

        New seed items are created, rows seeding wrote and nobody touched since follow the
        file, and what an editor changed or deleted is left as it is (reported as
        `kept (edited)` and `kept deleted`). Only --reset forces seed content back, and it
        first lists what it will overwrite.
        """
        from api.bank.transfer.seeding import reset_plan, seed_bank
        from api.bank.transfer.writing import read_bank_file

        bank = read_bank_file(path)
        if reset:
            plan = reset_plan(bank=bank, reset=reset)
            click.echo(f"--reset will {'; '.join(plan)}" if plan else "--reset: nothing to undo")
        report = seed_bank(bank=bank, reset=reset, dry_run=dry_run)
        verb = "would seed" if dry_run else "seeded"
        click.echo(
            f"{verb} {path.name}: " + ", ".join(f"{k} {v}" for k, v in report.as_dict().items())
        )
        click.echo("topics: " + ", ".join(f"{k} {v}" for k, v in report.topic_counts.items()))

    on_conflict_option = click.option(
        "--on-conflict",
        type=click.Choice(["fail", "update", "skip"]),
        default="fail",
        show_default=True,
        help="An item whose slug the bank has: fail (import nothing and list them), "
        "update (overwrite the question) or skip (leave it).",
    )

    @app.cli.command("import-text")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @on_conflict_option
    def import_text_command(path: Path, on_conflict: str) -> None:
        """Import a plain-text Q&A document (numbered, or question line then paragraphs)."""
        from api.bank.transfer.exchange import import_bank, text_bank
        from api.bank.transfer.textparse import ParseError
        from api.platform.errors import Conflict, InvalidBody

        try:
            bank = text_bank(text=path.read_text(encoding="utf-8"), document=path.name)
            report = import_bank(bank=bank, dry_run=False, on_conflict=on_conflict)
        except ParseError as exc:
            raise click.ClickException(f"{path.name}: {exc}") from exc
        except InvalidBody as exc:
            raise click.ClickException(f"{path.name}: {exc.detail} {exc.errors}") from exc
        except Conflict as exc:
            raise click.ClickException(f"{path.name}: {exc.detail}") from exc
        click.echo(
            f"imported {path.name}: " + ", ".join(f"{k} {v}" for k, v in report.as_dict().items())
        )

    @app.cli.command("import-document")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--format",
        "kind",
        type=click.Choice(["gift", "aiken", "moodle-xml"]),
        default=None,
        help="The document's format (by default from its name: .gift, .xml, else Aiken).",
    )
    @click.option("--dry-run", is_flag=True, help="Validate and report, then roll back.")
    @click.option(
        "--on-error",
        type=click.Choice(["fail", "skip"]),
        default="fail",
        show_default=True,
        help="Items that cannot be imported: fail (import nothing) or skip (import the others).",
    )
    @on_conflict_option
    def import_document_command(
        path: Path, kind: str | None, dry_run: bool, on_error: str, on_conflict: str
    ) -> None:
        """Import a GIFT, Aiken or Moodle XML document, as POST /questions/import does."""
        from api.bank.transfer import foreign
        from api.platform.errors import ApiError

        kind = kind or foreign.format_of_name(path.name)
        limit = app.config["IMPORT_MAX_ITEMS"]
        try:
            found = foreign.read_document(
                kind, path.read_bytes(), document=path.name, max_items=limit, on_error=on_error
            )
            report = foreign.import_document(found, dry_run=dry_run, on_conflict=on_conflict)
        except ApiError as exc:
            where = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.errors or {}).items())
            raise click.ClickException(f"{path.name}: {exc.detail} {where}".strip()) from exc
        verb = "would import" if dry_run else "imported"
        click.echo(
            f"{verb} {path.name} ({kind}): "
            + ", ".join(f"{k} {v}" for k, v in report.as_dict().items())
        )
        for item in sorted(found.rejected, key=lambda r: r.position):
            title = f" ({item.title})" if item.title else ""
            click.echo(f"rejected {item.position}{title}: {item.reason}")

    @app.cli.command("import-bank")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Validate and report, then roll back.")
    @on_conflict_option
    def import_bank_command(path: Path, dry_run: bool, on_conflict: str) -> None:
        """Import a bank file of any size (export format, JSON), streamed, all or nothing."""
        from api.bank.transfer.exchange import stream_bank_file
        from api.platform.errors import Conflict, InvalidBody

        try:
            report = stream_bank_file(path, dry_run=dry_run, on_conflict=on_conflict)
        except InvalidBody as exc:
            where = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.errors or {}).items())
            raise click.ClickException(f"{path.name}: {exc.detail} {where}".strip()) from exc
        except Conflict as exc:
            raise click.ClickException(f"{path.name}: {exc.detail}") from exc
        verb = "would import" if dry_run else "imported"
        click.echo(
            f"{verb} {path.name}: " + ", ".join(f"{k} {v}" for k, v in report.as_dict().items())
        )

    @app.cli.command("regrade")
    @click.option(
        "--all", "everything", is_flag=True, help="Also attempts graded by the current grader."
    )
    @click.option(
        "--reschedule",
        is_flag=True,
        help="Also rate each re-graded attempt by its new score and rebuild the learners' "
        "review schedules (learners' own re-ratings are kept).",
    )
    @click.option("--dry-run", is_flag=True, help="Report what would change, change nothing.")
    def regrade_command(everything: bool, reschedule: bool, dry_run: bool) -> None:
        """Grade stored free-text attempts again with the current grader; report changes.

        By default only attempts graded by an older grader version are re-graded, and
        review schedules are left as they are.
        """
        from api.practice.grading import GRADER_VERSION
        from api.practice.regrading import regrade

        report = regrade(everything=everything, reschedule=reschedule, dry_run=dry_run)
        verb = "would re-grade" if dry_run else "re-graded"
        click.echo(
            f"{verb} with grader v{GRADER_VERSION}: "
            + ", ".join(f"{k} {v}" for k, v in report.as_dict().items())
        )

    @app.cli.command("purge-idempotency")
    def purge_idempotency_command() -> None:
        """Delete Idempotency-Key records older than IDEMPOTENCY_KEY_LIFETIME.

        An expired key is treated as new whether or not its record is still there; this
        only frees the space (run it daily, e.g. from cron).
        """
        from api.practice.idempotency import purge_expired

        lifetime = app.config["IDEMPOTENCY_KEY_LIFETIME"]
        purged = purge_expired(lifetime=lifetime)
        hours = f"{lifetime.total_seconds() / 3600:g}"
        click.echo(f"purged {purged} idempotency records older than {hours} hours")

    @app.cli.command("gen-bank")
    @click.argument("count", type=click.IntRange(1, 2_000_000))
    @click.option("--seed", "rng_seed", type=int, default=1, show_default=True)
    def gen_bank(count: int, rng_seed: int) -> None:
        """Add COUNT synthetic questions (for scale tests and benchmarks)."""
        from api.bank.synthetic import generate_bank

        added = generate_bank(count=count, seed=rng_seed)
        click.echo(f"generated {added} questions")

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input.",
    )
    def create_admin(email: str, password_stdin: bool) -> None:
        """Create an admin account for EMAIL, or make an existing account an admin.

        A new account's password comes from --password-stdin or QBANK_ADMIN_PASSWORD; only
        on an interactive terminal is it asked for. An existing account keeps its password.
        """
        from marshmallow import ValidationError

        from api.accounts.models import PASSWORD_MAX, PASSWORD_MIN
        from api.accounts.passwords import WeakPassword
        from api.accounts.schemas import EmailAddress
        from api.accounts.users import create_or_promote_admin, find_by_email

        try:
            email = EmailAddress().deserialize(email)
        except ValidationError as exc:
            raise click.ClickException(f"{email!r} is not an email address") from exc
        password = None
        if find_by_email(email) is None:
            password = _admin_password(password_stdin)
            if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
                raise click.ClickException(
                    f"the password must have {PASSWORD_MIN} to {PASSWORD_MAX} characters"
                )
        try:
            user, created = create_or_promote_admin(email=email, password=password)
        except WeakPassword as exc:
            raise click.ClickException(exc.detail) from exc
        if created:
            click.echo(f"created admin {user.email} (id {user.id})")
        else:
            click.echo(f"{user.email} (id {user.id}) is now an admin; password unchanged")


def _admin_password(from_stdin: bool) -> str:
    """--password-stdin, else QBANK_ADMIN_PASSWORD, else a prompt on a terminal only."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    from_env = os.environ.get("QBANK_ADMIN_PASSWORD")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise click.ClickException(
            "no password: set QBANK_ADMIN_PASSWORD or pass --password-stdin "
            "(standard input is not a terminal, so nothing is asked)"
        )
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)
