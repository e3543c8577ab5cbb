"""Command-line tools: ``flask --app training <command>``, using the same services as the web."""

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from training import PROJECT_ROOT
from training.booking.models import Program
from training.booking.seeding import seed_program
from training.extensions import db, utcnow

DEMO_PROGRAM = Path(PROJECT_ROOT) / "seed" / "demo_program.toml"


@click.command("seed")
@click.option("--year", type=click.IntRange(2000, 2100), help="Window year (default: current).")
@click.option("--if-empty", is_flag=True, help="Do nothing if any program exists already.")
@with_appcontext
def seed_command(year: int | None, if_empty: bool) -> None:
    """Load the demo program and its sessions; running it again changes nothing."""
    if if_empty and db.session.scalar(select(Program.id).limit(1)) is not None:
        click.echo("Programs exist already; nothing seeded.")
        return
    program, data_year = seed_program(DEMO_PROGRAM, year, utcnow())
    if program is None:
        click.echo(f"The {data_year} demo program is already loaded; nothing changed.")
        return
    db.session.commit()
    click.echo(f"Loaded {program.name} with {len(program.sessions)} sessions.")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_command)
