"""Command-line tasks: `flask --app api seed | import-text FILE | gen-bank N`."""

from __future__ import annotations

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
    def seed(path: Path) -> None:
        """Load the curated question bank; safe to run again (nothing doubles)."""
        from api.services.bank import read_bank_file, seed_bank

        report = seed_bank(bank=read_bank_file(path))
        click.echo(
            f"seeded {path.name}: " + ", ".join(f"{k} {v}" for k, v in report.as_dict().items())
        )

    @app.cli.command("import-text")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_text_command(path: Path) -> None:
        """Import a plain-text Q&A document (numbered, or question line then paragraphs)."""
        from api.services.bank import import_text
        from api.services.textparse import ParseError

        try:
            report = import_text(text=path.read_text(encoding="utf-8"), document=path.name)
        except ParseError as exc:
            raise click.ClickException(f"{path.name}: {exc}") from exc
        click.echo(
            f"imported {path.name}: " + ", ".join(f"{k} {v}" for k, v in report.as_dict().items())
        )

    @app.cli.command("gen-bank")
    @click.argument("count", type=click.IntRange(1, 2_000_000))
    @click.option("--seed", "rng_seed", type=int, default=1, show_default=True)
    def gen_bank(count: int, rng_seed: int) -> None:
        """Add COUNT synthetic questions (for scale tests and benchmarks)."""
        from api.services.generate import generate_bank

        added = generate_bank(count=count, seed=rng_seed)
        click.echo(f"generated {added} questions")
