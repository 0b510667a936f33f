"""The ``cspr`` command line, assembled: each command and command group lives in a module of its own under cli/,
registered below in the order ``cspr --help`` lists them.

Commands import what they need when they run, so ``cspr deadlines`` answers without loading Prefect.

What they share (the consoles, a refusal's exit, dates, the operator) is cli/common.py; every listing, JSON or a
table, is cli/listing.py.
"""

from __future__ import annotations

import typer

from cli import (
    agencies_commands,
    audit_commands,
    bank_holidays_commands,
    bench_commands,
    database_commands,
    keys_commands,
    partnerships_commands,
    people_commands,
    person_commands,
    report_commands,
    retention_commands,
)
from cli.checker_commands import checker_command
from cli.demo_commands import demo
from cli.document_commands import document
from cli.sweep_commands import sweep_command
from cli.timetable_commands import deadlines
from cli.up_commands import up
from cli.worker_commands import worker_command
from cli.worklist_commands import tasks_command

app = typer.Typer(
    name="cspr",
    help="Child safeguarding practice reviews: statutory timetables, the local system, demos and checks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(deadlines)
app.command()(up)
app.command()(demo)
app.command()(document)
app.command("sweep")(sweep_command)
app.command("tasks")(tasks_command)
app.add_typer(report_commands.app, name="report")
app.command("checker")(checker_command)
app.command("worker")(worker_command)
app.add_typer(database_commands.app, name="db")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(keys_commands.app, name="keys")
app.add_typer(people_commands.app, name="people")
app.add_typer(partnerships_commands.app, name="partnerships")
app.add_typer(agencies_commands.app, name="agencies")
app.add_typer(retention_commands.app, name="retention")
app.add_typer(person_commands.app, name="person")
app.add_typer(bank_holidays_commands.app, name="calendar")
app.add_typer(bench_commands.app, name="bench")


def main() -> None:
    from models.files import owner_only

    owner_only()  # everything under CSPR_HOME, from its first byte
    app()


if __name__ == "__main__":
    main()
