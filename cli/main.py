"""The ``cspr`` command line.

Commands import what they need when they run, so ``cspr deadlines`` answers without loading Prefect.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from models.refusals import Refused
from models.roles import Role

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from models.people import Enrolment
    from models.records import Actor

app = typer.Typer(
    name="cspr",
    help="Child safeguarding practice reviews: statutory timetables, the local system, demos and checks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The project database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
audit_app = typer.Typer(help="The audit trail of every review's stages and decisions.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
keys_app = typer.Typer(help="The key that encrypts names and dates of birth at rest.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
people_app = typer.Typer(help="The register of people who may act, and their accounts.", no_args_is_help=True)
app.add_typer(people_app, name="people")
partnerships_app = typer.Typer(
    help="Each partnership's partner bodies and who represents them, with dates (bodies merge).", no_args_is_help=True
)
app.add_typer(partnerships_app, name="partnerships")
retention_app = typer.Typer(
    help="The retention schedule: what is erased or deleted when, and legal holds.", invoke_without_command=True
)
app.add_typer(retention_app, name="retention")
person_app = typer.Typer(help="The people recorded in a review (children and family members).", no_args_is_help=True)
app.add_typer(person_app, name="person")
calendar_app = typer.Typer(help="The bank holidays that working days are counted with.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
bench_app = typer.Typer(help="Benchmarks (not part of the test suite): each prints its figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

console = Console(width=140) if not Console().is_terminal else Console()
err = Console(stderr=True)


class RapidReviewFrom(StrEnum):
    aware = "aware"
    notification = "notification"


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date: write it as YYYY-MM-DD", param_hint=option) from None


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]cspr:[/] {message}")
    return typer.Exit(code=2)


@app.command()
def deadlines(
    aware_on: Annotated[str, typer.Option(help="Date the local authority became aware of the incident (day 0).")],
    # any edition the rulebook files hold (checked when the timetable is computed): a new edition file needs no
    # change here, and the rulebooks are read only by the command that needs them
    edition: Annotated[
        str | None,
        typer.Option(help="Guidance edition, e.g. wt2023; default: the one in force on --aware-on."),
    ] = None,
    notified_on: Annotated[str | None, typer.Option(help="Date the Panel was notified, if it has been.")] = None,
    rapid_review_from: Annotated[
        RapidReviewFrom, typer.Option(help="Count the rapid review's 15 working days from awareness or notification.")
    ] = RapidReviewFrom.aware,
    lcspr_decided_on: Annotated[
        str | None, typer.Option(help="Date the partners decided to start a local review (6 months run from it).")
    ] = None,
    publish_on: Annotated[
        str | None,
        typer.Option(help="Planned publication date (the final report must go at least 7 working days before)."),
    ] = None,
    closure_day: Annotated[
        list[str] | None, typer.Option(help="An extra local closure day (repeatable), YYYY-MM-DD.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Print the statutory timetable of a review, with the source of each rule."""
    from models import rulebook
    from models.bank_holidays import published_list
    from models.calendar import PROVISIONAL_NOTE, CalendarRangeError
    from models.rulebook import Entry, Event, RulebookError

    # only what follows from the dates given; an event's own follow-ups (retention) need it to happen
    wanted = {
        Entry.NOTIFY_PANEL,
        Entry.NOTIFY_PARTNERS,
        Entry.RAPID_REVIEW,
        Entry.LCSPR_PUBLICATION,
        Entry.SEND_FINAL_REPORT_BY,
    }

    aware = _date(aware_on, "--aware-on")
    assert aware is not None
    events: dict[Event, dt.date] = {Event.AWARE_ON: aware}
    notified = _date(notified_on, "--notified-on")
    if notified is not None:
        if notified < aware:
            raise _fail("--notified-on is before --aware-on: the Panel cannot be notified before the LA knew")
        events[Event.NOTIFIED_ON] = notified
    start = Event.AWARE_ON if rapid_review_from is RapidReviewFrom.aware else Event.NOTIFIED_ON
    if start is Event.NOTIFIED_ON and notified is None:
        raise _fail("counting the rapid review from the notification needs --notified-on")
    decided = _date(lcspr_decided_on, "--lcspr-decided-on")
    if decided is not None:
        events[Event.LCSPR_DECIDED_ON] = decided
    planned: dict[Event, dt.date] = {}
    publish = _date(publish_on, "--publish-on")
    if publish is not None:
        planned[Event.PUBLISHED_ON] = publish
    closures = tuple(d for d in (_date(c, "--closure-day") for c in closure_day or ()) if d is not None)

    try:
        book = rulebook.edition(edition) if edition else rulebook.edition_in_force(aware)
        entries = book.timetable(events, planned=planned, closure_days=closures, rapid_review_from=start)
    except (CalendarRangeError, RulebookError) as exc:
        raise _fail(str(exc)) from None

    shown = [e for e in entries if e.name in wanted]
    if as_json:
        print(
            json.dumps(
                {
                    "edition": book.id,
                    "aware_on": aware.isoformat(),
                    "deadlines": {e.name: e.due_on.isoformat() for e in shown},
                    "provisional": [e.name for e in shown if e.provisional],
                    "bank_holidays_published_to": published_list().last_year,
                }
            )
        )
        return
    table = Table(title=f"Statutory timetable under {book.title}", title_justify="left", show_lines=False)
    table.add_column("What", ratio=3)
    table.add_column("Date", no_wrap=True)
    table.add_column("Counted", ratio=3)
    table.add_column("Source", ratio=2)
    for e in shown:
        when = f"{e.meaning} {e.due_on:%a %d %b %Y}" + ("\n[yellow]provisional[/]" if e.provisional else "")
        table.add_row(e.rule.title, when, e.explain(), e.rule.source)
    console.print(table)
    if any(e.provisional for e in shown):
        console.print(f"[yellow]A provisional date is {PROVISIONAL_NOTE}.[/]")
    console.print(
        "Working days: Monday to Friday, less the bank holidays of England and Wales (with substitute days), "
        "Christmas Day and Good Friday" + (f", and {len(closures)} local closure day(s)" if closures else "") + ". "
        "The awareness date is day 0.",
        style="dim",
    )


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Port of the Prefect server and UI.")] = 4200,
    team: Annotated[
        bool, typer.Option("--team", help="Prefect and the project database on PostgreSQL, two workers, S3 storage.")
    ] = False,
    postgres: Annotated[
        str, typer.Option(help="--team: a PostgreSQL URL allowed to create the two databases if they are missing.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    project_database: Annotated[str, typer.Option(help="--team: the project database's name.")] = "cspr",
    prefect_database: Annotated[str, typer.Option(help="--team: Prefect's database's name.")] = "cspr_prefect",
) -> None:
    """Run the system: the Prefect server and UI, the deployments, the worker(s), and the project database.

    Stops everything it started on Ctrl-C.
    """
    from cli.system import LocalSystem, running
    from cli.team import Team
    from models.db import current_revision, get_engine, transaction
    from models.seed import seed_demo
    from models.settings import get_settings

    _stop_on_sigterm()
    if team:
        from models.keys import KeyProblem, require_real_key

        try:
            require_real_key()
        except KeyProblem as exc:
            raise _fail(str(exc)) from None
    crew = Team(get_settings().resolved_home, postgres, project_database, prefect_database) if team else None
    try:
        if crew is not None:
            crew.home.mkdir(parents=True, exist_ok=True)
            crew.prepare()
            get_settings.cache_clear()  # the project database is now the team's
        settings = get_settings()
        engine = get_engine()
        _migrate(engine)
        with transaction(engine) as session:
            seeded = seed_demo(session)
        system = LocalSystem(port=port, workers=2 if team else 1)
        console.print(f"Local state:      {settings.resolved_home}")
        console.print(
            f"Project database: {engine.url.render_as_string(hide_password=True)} (revision {current_revision(engine)})"
        )
        if crew is not None:
            console.print(f"Prefect database: {_hide_password(crew.env['PREFECT_API_DATABASE_CONNECTION_URL'])}")
            console.print(
                f"Documents:        {crew.env['CSPR_STORAGE_URL']} at {crew.env.get('CSPR_S3_ENDPOINT_URL', 'AWS')}"
            )
            console.print(f"Settings for other cspr commands: set -a; . {settings.resolved_home / 'team.env'}; set +a")
        console.print("Demo partnership and reviewer pool: " + ("added" if seeded else "already present"))
        _show_demo_passwords(seeded)
        console.print(f"Starting the Prefect server, the deployments and {system.workers} worker(s) ...")
        with running(system):
            console.print(f"\n[bold]Prefect UI: {system.ui_url}[/]  (Deployments -> notify-incident -> Run)")
            console.print(f"Logs: {system.home / 'logs'}.  Stop with Ctrl-C.")
            while True:
                system.check_alive()
                time.sleep(2)
    except KeyboardInterrupt:
        console.print("\nStopped.")
    finally:
        if crew is not None:
            crew.stop()


def _show_demo_passwords(enrolments: list[Enrolment]) -> None:
    """The demo people's first passwords, once, as their accounts are made: nowhere else keeps them."""
    if not enrolments:
        return
    if enrolments[0].totp_uri is None:
        console.print("Demo people (demo accounts: a password alone; never in the team set-up), shown this once:")
    else:  # the team set-up allows no demo accounts: these set up the authenticator app when they first sign in
        console.print("The demo partnership's people (they set up their authenticator app at first sign-in), once:")
    for enrolment in enrolments:
        console.print(f"  {enrolment.email}  {enrolment.password}", highlight=False, markup=False)


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _stop_on_sigterm() -> None:
    """Make SIGTERM (a service manager stopping us, `timeout`, `kill`) unwind like Ctrl-C, so that everything
    started is stopped too instead of being left running."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class DemoPath(StrEnum):
    local = "local"
    national = "national"
    no_review = "no-review"


@app.command()
def demo(
    path: Annotated[DemoPath, typer.Option(help="Which branch the partners take.")] = DemoPath.local,
    child_name: Annotated[
        str | None, typer.Option(help="An invented child's name to try (it stays in the encrypted database).")
    ] = None,
    child_dob: Annotated[str | None, typer.Option(help="The invented child's date of birth, YYYY-MM-DD.")] = None,
    port: Annotated[int, typer.Option(help="Port of the local Prefect server (started if not running).")] = 4200,
) -> None:
    """Drive one invented review through the whole process, answering every form as the people would."""
    import os

    from cli.system import LocalSystem, prefect_env, running, server_is_up

    system = LocalSystem(port=port)
    (system.home / "prefect").mkdir(parents=True, exist_ok=True)  # before Prefect is imported and looks for it
    os.environ.update({k: v for k, v in prefect_env(system.api_url).items() if v})
    from cli.demo import AtTheGate, Case, DemoError, drive, notify
    from models.db import get_engine, migrate, transaction
    from models.seed import seed_demo

    dob = _date(child_dob, "--child-dob")
    case = Case(path=path.value)
    if child_name:
        case.child_name = child_name
    if dob:
        case.child_dob = dob
    migrate(get_engine())
    with transaction() as session:
        seed_demo(session)

    def go() -> None:
        people = AtTheGate(system.ui_url, partial(console.print, highlight=False, markup=False))
        try:
            reference = notify(case, people, console.print)
            drive(reference, case, people, console.print)
        except DemoError as exc:
            raise _fail(str(exc)) from None
        finally:
            people.sign_out()
        from tasks.archive import stored_documents
        from tasks.notices import outbox_folder
        from tasks.storage import open_store

        store = open_store()
        # soft_wrap: paths and links are printed whole, never folded at the console's width
        say = partial(console.print, soft_wrap=True)
        say(f"\nDone. Run history and the timeline artifact ({reference.lower()}): {system.ui_url}")
        say(f"Messages to the Panel, Ofsted, DfE and the Secretary of State: {outbox_folder()}")
        say(f"Documents ({store.describe()}):")
        for report in stored_documents(reference):
            say(f"  {'published ' if report.published else 'restricted'}  {report.object_key}")
        for report in stored_documents(reference, published=True):
            say(f"Published report: {store.link(report.object_key)}")

    if server_is_up(system.api_url):
        go()
    else:
        _stop_on_sigterm()
        console.print(f"No Prefect server at {system.api_url}: starting one for the demo ...")
        with running(system):
            go()


@app.command()
def document(
    reference: Annotated[str, typer.Argument(help="The review reference, e.g. CSPR-2026-0042.")],
    kind: Annotated[str, typer.Argument(help="e.g. final-report, rapid-review, decision-letter.")],
    out: Annotated[str | None, typer.Option(help="Save the document here (checked against its SHA-256).")] = None,
    minutes: Annotated[int, typer.Option(help="How long the link works.")] = 5,
) -> None:
    """Open one of a review's stored documents: a short-lived link, or a checked copy saved to a file."""
    from pathlib import Path

    from models.keyring import Erased
    from models.records import UnknownReview
    from tasks.archive import read_document, stored_documents
    from tasks.storage import open_store

    try:
        matches = [r for r in stored_documents(reference) if r.kind == kind]
    except UnknownReview:
        raise _fail(f"there is no review {reference!r}") from None
    if not matches:
        raise _fail(f"{reference} has no stored {kind!r}")
    store = open_store()
    if out:
        try:
            Path(out).write_bytes(read_document(matches[0], store))
        except Erased:
            raise _fail(f"{reference} was erased: its restricted documents can no longer be opened") from None
        console.print(f"Saved {matches[0].object_key} (version {matches[0].version}, checksum verified) to {out}")
    elif not matches[0].published:  # sealed in the store: a link would hand out what nobody can read
        raise _fail(f"{reference}'s {kind} is restricted and sealed with the review's key: save a copy with --out FILE")
    else:
        console.print(store.link(matches[0].object_key, expires_in=minutes * 60), soft_wrap=True)


@app.command("sweep")
def sweep_command(
    as_of: Annotated[
        str | None,
        typer.Option(help="The day to sweep as of (default today), YYYY-MM-DD; a day to come only with --dry-run."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be overdue on that day, and change nothing.")
    ] = False,
) -> None:
    """Classify every open deadline and raise the escalations due, straight against the project database.

    The scheduled `deadline-sweep` deployment does the same and also emits a Prefect event per escalation.
    """
    from rich.markdown import Markdown
    from sqlmodel import Session

    from models import sweep
    from models.calendar import CalendarRangeError, StillToCome, today_in_england
    from models.db import get_engine, transaction
    from models.summaries import sweep_summary

    day = _date(as_of, "--as-of") or today_in_england()
    try:
        sweep.check_day(day, dry_run=dry_run)
        if dry_run:
            with console.status("Looking at every open deadline ..."), Session(get_engine()) as session:
                frame, raised = sweep.preview(session, day)  # read only, never committed
        else:
            with console.status("Sweeping every open deadline ..."), transaction() as session:
                frame, raised = sweep.sweep(session, day)
    except (CalendarRangeError, StillToCome) as exc:
        raise _fail(str(exc)) from None
    console.print(Markdown(sweep_summary(sweep.sweep_result(day, frame, raised, dry_run=dry_run))))


@calendar_app.command("show")
def calendar_show() -> None:
    """Which bank holiday list is in use, the years it covers, and its holidays of this year and the next."""
    from models.bank_holidays import published_list
    from models.calendar import today_in_england

    published = published_list()
    console.print(f"{published.source}: {published.first_year} to {published.last_year}.")
    console.print(f"Dates counted past {published.last_year} use the regular holidays and are provisional.")
    year = today_in_england().year
    for day, name in sorted(published.days.items()):
        if year <= day.year <= year + 1:
            console.print(f"  {day:%a %d %b %Y}  {name}")


@calendar_app.command("import")
def calendar_import(
    file: Annotated[
        Path, typer.Argument(help="A bank-holidays.json downloaded from https://www.gov.uk/bank-holidays.json")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Count working days with a newer GOV.UK list: checks it, keeps it, and counts every open deadline
    again, reporting each one that moved. A file that cannot be used changes nothing."""
    from models.bank_holidays import BankHolidayListError, import_list
    from models.db import transaction
    from models.records import recount_open

    try:
        before, now = import_list(file)
    except BankHolidayListError as exc:
        raise _fail(f"{exc}. The calendar is unchanged.") from None
    with transaction() as session:
        recounted = recount_open(session)
    moved = [r for r in recounted if r.moved]
    if as_json:
        print(
            json.dumps(
                {
                    "published_to": now.last_year,
                    "was_published_to": before.last_year,
                    "recounted": len(recounted),
                    "moved": [
                        {
                            "reference": r.reference,
                            "deadline": r.title,
                            "was": r.was.isoformat(),
                            "now": r.now.isoformat(),
                            "provisional": r.provisional,
                        }
                        for r in moved
                    ],
                    "still_provisional": sum(r.provisional for r in recounted),
                }
            )
        )
        return
    console.print(f"Bank holidays now published to {now.last_year} (was {before.last_year}).")
    console.print(f"{len(recounted)} open deadline(s) counted again; {len(moved)} moved.")
    for r in moved:
        console.print(
            f"  {r.reference}: {r.title}: {r.was:%a %d %b %Y} -> {r.now:%a %d %b %Y}"
            + (" (still provisional)" if r.provisional else "")
        )


@app.command("tasks")
def tasks_command(
    partnership: Annotated[str | None, typer.Option(help="Only this partnership's (its code).")] = None,
    role: Annotated[Role | None, typer.Option(help="Only the steps this role may answer.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
    port: Annotated[int, typer.Option(help="Port of the local Prefect server, for the links to each form.")] = 4200,
) -> None:
    """Every step waiting for a person: reference, step, who may answer, since when, deadline, working days left and
    the link to its form; soonest deadline first."""
    import os

    from cli.system import LocalSystem, prefect_env, server_is_up

    system = LocalSystem(port=port)
    os.environ.update({k: v for k, v in prefect_env(system.api_url).items() if v and k not in os.environ})
    from tasks import worklist

    up = server_is_up(os.environ["PREFECT_API_URL"])
    if not up:  # no server to ask for the runs: each links to the review's page instead
        console.print(f"[dim]No Prefect server at {os.environ['PREFECT_API_URL']}: links go to each review.[/]")
    table = worklist.rows(partnership=partnership, role=role, with_runs=up)
    if as_json:
        print(json.dumps(table))
        return
    if not table:
        console.print("Nothing is waiting for anyone.")
        return
    grid = Table("reference", "step", "who may answer", "waiting since", "deadline", "days left", "link")
    for row in table:
        left = row["working days left"]
        grid.add_row(
            str(row["reference"]),
            str(row["step"]),
            str(row["who may answer"]),
            str(row["waiting since"]),
            str(row["deadline"] or "none"),
            "" if left is None else str(left),
            str(row["link"]),
        )
    console.print(grid, soft_wrap=True)


@app.command("report")
def report_command(
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day of the period (default: last month).")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day of the period (default: last month).")] = None,
    partnership: Annotated[str | None, typer.Option(help="One partnership's code; default every partnership.")] = None,
    out: Annotated[str | None, typer.Option(help="Also save a copy of the PDF here.")] = None,
) -> None:
    """Produce the compliance report for a period (a PDF kept in the object store), as `partnership-report` does."""
    from pathlib import Path

    from rich.markdown import Markdown
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from models.calendar import CalendarRangeError, today_in_england
    from models.compliance import Period, UnknownPartnership
    from models.summaries import compliance_summary
    from tasks.compliance import STEPS, produce

    month = Period.month_before(today_in_england())
    start, end = _date(date_from, "--from") or month.start, _date(date_to, "--to") or month.end
    try:
        period = Period(start, end)
    except Refused as exc:
        raise _fail(str(exc)) from None
    columns = (TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            job = bar.add_task("Compliance report", total=len(STEPS))
            produced = produce(
                period,
                partnership,
                progress=lambda step: bar.update(job, description=STEPS[step], completed=list(STEPS).index(step)),
            )
    except (UnknownPartnership, CalendarRangeError) as exc:
        raise _fail(str(exc)) from None
    summary = compliance_summary(produced.figures, key=produced.key, version=produced.version, size=produced.size)
    console.print(Markdown(summary))
    if out:
        from tasks.storage import open_store

        Path(out).write_bytes(open_store().get(produced.key, sha256=produced.sha256))
        console.print(f"Saved a copy to {out}")


def _print_benchmark(result: dict[str, Any], as_json: bool) -> None:
    """A benchmark's figures, with the machine's cores: one JSON object, or a line each."""
    import os

    result["cores"] = os.cpu_count()
    if as_json:
        print(json.dumps(result))
        return
    width = max(len(key) for key in result)
    for key, value in result.items():
        console.print(f"{key:>{width}}: {value}")


@bench_app.command("sweep")
def bench_sweep(
    reviews: Annotated[int, typer.Option(help="How many open reviews to generate.")] = 10_000,
    naive_sample: Annotated[int, typer.Option(help="Reviews timed the naive way (scaled linearly to N).")] = 500,
    database: Annotated[
        str | None,
        typer.Option(help="A PostgreSQL URL allowed to create databases: run on a temporary database there."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time the deadline sweep on N synthetic open reviews against the raw read and a naive per-review sweep."""

    from benchmarks.sweep import run

    with console.status(f"Generating {reviews:,} reviews and timing the sweep ..."):
        result = run(reviews, naive_sample, database)
    _print_benchmark(result, as_json)


@bench_app.command("step")
def bench_step(
    reviews: Annotated[int, typer.Option(help="How many invented reviews to drive from notification to closure.")] = 2,
    path: Annotated[DemoPath, typer.Option(help="Which branch the partners take.")] = DemoPath.local,
    team: Annotated[bool, typer.Option("--team", help="On the team set-up: PostgreSQL, two workers, S3.")] = False,
    postgres: Annotated[
        str, typer.Option(help="--team: a PostgreSQL URL allowed to create (and then drop) two databases and roles.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time each step as a person waits for it, from Submit to the next form, on a set-up of its own."""
    import os
    import secrets
    import tempfile

    from cli.seaweed import free_port
    from cli.system import LocalSystem, prefect_env
    from cli.team import Team
    from models.keys import new_key
    from models.settings import get_settings

    _stop_on_sigterm()
    # a system of its own: nobody's reviews, nobody's server, nobody's database or bucket
    for name in [n for n in os.environ if n.startswith(("CSPR_", "PREFECT_", "AWS_"))]:
        del os.environ[name]
    with tempfile.TemporaryDirectory(prefix="cspr-bench-step-") as home:
        os.environ |= {"CSPR_HOME": home, "CSPR_ENCRYPTION_KEY": new_key()}
        get_settings.cache_clear()
        suffix = secrets.token_hex(4)
        crew = Team(Path(home), postgres, f"cspr_bench_{suffix}", f"cspr_bench_prefect_{suffix}") if team else None
        try:
            if crew is not None:
                with console.status("Making the team set-up's databases and S3 ..."):
                    crew.prepare()
            port = free_port()
            (Path(home) / "prefect").mkdir(parents=True)
            os.environ.update({k: v for k, v in prefect_env(LocalSystem(port=port).api_url).items() if v})
            from benchmarks.step import run

            where = "the team set-up" if team else "a local set-up"
            with console.status(f"Driving {reviews} review(s) through {where} of its own ..."):
                result = run(reviews, port, path=path.value, team=team)
        finally:
            if crew is not None:
                crew.stop()
                crew.drop()
    _print_benchmark(result, as_json)


@bench_app.command("report")
def bench_report(
    reviews: Annotated[int, typer.Option(help="How many reviews to generate.")] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time the compliance report for every partnership over a year on N synthetic reviews, step by step."""

    from benchmarks.report import run

    with console.status(f"Generating {reviews:,} reviews and timing the compliance report ..."):
        result = run(reviews)
    _print_benchmark(result, as_json)


@bench_app.command("gate")
def bench_gate(
    requests: Annotated[int, typer.Option(help="Requests timed on each path.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time what the sign-in gate adds to an API request (median and 99th percentile), against the same request sent
    to Prefect without it, in one run."""

    from benchmarks.gate import run

    with console.status(f"Timing {requests:,} requests with and without the gate ..."):
        result = run(requests)
    _print_benchmark(result, as_json)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute every review's hash chains (stage events and decisions) and signed head, and check them against
    the latest anchor in the object store; exit 1 if anything was changed, inserted or removed."""
    from models.audit import verify
    from models.db import transaction
    from tasks.anchors import latest_anchor
    from tasks.storage import open_store

    store = open_store()
    try:
        anchor = latest_anchor(store)
    except Exception as exc:  # the store unreachable: say so, and check what can be checked without it
        err.print(f"[bold red]problem:[/] the anchor log in {store.describe()} could not be read ({exc})")
        anchor, unread = None, 1
    else:
        unread = 0
    with console.status("Verifying the audit trail ..."), transaction() as session:
        result = verify(session, anchor)
    for finding in result.findings:
        err.print(f"[bold red]tampered:[/] {finding}")
    if result.anchor is not None:
        console.print(f"Checked against the anchor of {result.anchor.when} ({result.anchor_name}).")
    elif anchor is None and not unread:
        console.print("No anchor yet: `cspr audit anchor` writes one (the deadline sweep writes one every weekday).")
    problems = len(result.findings) + unread
    console.print(
        f"{result.reviews} review(s), {result.events} stage event(s), {result.decisions} decision(s), "
        f"{result.register_events} change(s) to the register: "
        + (f"{problems} problem(s)" if problems else "the trail is intact")
    )
    if problems:
        raise typer.Exit(code=1)


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Write where every review's audit trail stands, signed with the audit key, to the object store under
    retention (the deadline sweep does it at the end of every run)."""
    from tasks.anchors import write_anchor

    with console.status("Anchoring the audit trail ..."):
        anchored = write_anchor()
    console.print(
        f"Anchored {anchored.reviews} review(s) and the register as {anchored.key} in {anchored.store}, "
        f"kept until {anchored.retain_until:%d %B %Y}."
    )
    if not anchored.locked:
        err.print(f"[bold yellow]warning:[/] {anchored.store} cannot lock objects: the anchor can be deleted")


@keys_app.command("new")
def keys_new() -> None:
    """Print a new key for CSPR_ENCRYPTION_KEY (keep it in the partnership's secrets store)."""
    from models.keys import new_key

    print(new_key())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every review's data key with the newest master key (or CSPR_KMS_KEY_ID), all or nothing.

    Local mode makes the new key itself. With CSPR_ENCRYPTION_KEY, put the new key first (new,old) everywhere
    and restart before rotating; drop the old key afterwards. The sealed values themselves are not rewritten.
    """
    from models.db import transaction
    from models.keys import KeyProblem, rotate

    try:
        with transaction() as session:
            done = rotate(session)
    except KeyProblem as exc:
        raise _fail(str(exc)) from None
    made = "a new development key was made; " if done.new_key_made else ""
    console.print(
        f"Rotated: {made}{done.data_keys} review data key(s) re-wrapped ({done.wrapped_by}); "
        "the values sealed under them are unchanged."
    )


@retention_app.callback()
def retention_run(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would go, and change nothing.")] = False,
    as_of: Annotated[str | None, typer.Option(help="The day to apply the schedule on (YYYY-MM-DD).")] = None,
) -> None:
    """Erase the reviews past their retention and delete what else is past it (or, with --dry-run, list it)."""
    if ctx.invoked_subcommand is not None:
        return
    import os

    from rich.markdown import Markdown

    from cli.system import LocalSystem, prefect_env, server_is_up
    from models.calendar import today_in_england
    from models.retention import check_day
    from models.summaries import retention_summary
    from tasks.retention import apply_schedule, runs_due, what_is_due
    from tasks.storage import open_store

    day = _date(as_of, "--as-of") or today_in_england()
    try:
        check_day(day, dry_run=dry_run)
    except Refused as exc:
        raise _fail(str(exc)) from None
    os.environ.update({k: v for k, v in prefect_env(LocalSystem().api_url).items() if v and k not in os.environ})
    up = server_is_up(os.environ["PREFECT_API_URL"])
    failed: list[str] = []
    if dry_run:
        due, runs = what_is_due(day), runs_due(day) if up else 0
    else:
        applied = apply_schedule(day, open_store(), runs=up)
        due, runs, failed = applied.due, applied.runs_deleted, applied.failed
    console.print(Markdown(retention_summary(due, day, applied=not dry_run, runs=runs, failed=failed)))
    if not up:
        console.print(
            f"[dim]No Prefect server at {os.environ['PREFECT_API_URL']}: its run history was not looked at.[/]"
        )


@retention_app.command("hold")
def retention_hold(
    reference: Annotated[str, typer.Argument(help="The review's reference, e.g. CSPR-2026-0042.")],
    reason: Annotated[str, typer.Option(help="The inquiry, court or case the hold is for.")],
    lift: Annotated[bool, typer.Option("--lift", help="Lift the hold instead.")] = False,
) -> None:
    """Keep a review whatever its retention says (an inquiry, a court, the coroner), or lift the hold."""
    from models import records, retention

    with review_change() as session:
        retention.hold(
            session, records.review_by_reference(session, reference), reason=reason, by=_operator(), lift=lift
        )
    console.print(f"{reference}: legal hold {'lifted' if lift else 'in place'}, recorded in its history.")


@person_app.command("correct")
def person_correct(
    reference: Annotated[str, typer.Argument(help="The review's reference, e.g. CSPR-2026-0042.")],
    pseudonym: Annotated[str, typer.Argument(help="Who, as the review knows them: 'Child Q'.")],
) -> None:
    """Correct a recorded name or date of birth. Both are asked for here, not taken as options, so that neither is
    left in the shell's history or the list of processes."""
    from models import records
    from models.corrections import correct_person

    name = typer.prompt("Correct name (Enter to keep the one recorded)", default="", show_default=False)
    born = typer.prompt("Correct date of birth, YYYY-MM-DD (Enter to keep)", default="", show_default=False)
    with review_change() as session:
        review = records.review_by_reference(session, reference)
        person = correct_person(
            session,
            review,
            pseudonym,
            name=name or None,
            date_of_birth=_date(born or None, "date of birth"),
            by=_operator(),
        )
    console.print(f"{reference}: {person.pseudonym}'s record corrected; the change is in the review's history.")


@contextmanager
def review_change() -> Iterator[Session]:
    """A transaction for a change to a review from the command line: a refusal rolls back and becomes the message."""
    from models.db import transaction
    from models.keyring import Erased

    try:
        with transaction() as session:
            yield session
    except Erased:
        raise _fail("that review was erased: nothing more can be recorded about it") from None
    except Refused as exc:
        raise _fail(str(exc)) from None


@contextmanager
def register_change() -> Iterator[Session]:
    """A transaction for a change to the register (people, partner bodies): a change it refuses rolls back and the
    command exits with the reason."""
    from models.db import transaction
    from models.people import RegisterRefusal

    try:
        with transaction() as session:
            yield session
    except RegisterRefusal as exc:
        raise _fail(str(exc)) from None


def _operator() -> Actor:
    """Who changes the register from the command line: the machine's user, acting as an operator."""
    from models.records import Actor

    return Actor(f"{getpass.getuser()} (command line)", Role.OPERATOR)


@people_app.command("add")
def people_add(
    name: Annotated[str, typer.Option(help="The person's name, as colleagues know them.")],
    email: Annotated[str, typer.Option(help="Their work email address: they sign in with it.")],
    role: Annotated[Role, typer.Option(help="What they act as.")],
    partnership: Annotated[
        str | None, typer.Option(help="The partnership's code (every role but operator), e.g. northshire.")
    ] = None,
    organisation: Annotated[str, typer.Option(help="Their organisation, e.g. Northshire Police.")] = "",
    demo: Annotated[bool, typer.Option(help="A demo person: signs in with a password alone; never in a team.")] = False,
) -> None:
    """Register a person in a role and make their account; a new account's first password and its authenticator
    enrolment are shown once, here, for the person alone."""
    from models.people import add_person

    with register_change() as session:
        enrolment = add_person(
            session,
            name=name,
            email=email,
            role=role,
            partnership_code=partnership,
            organisation=organisation,
            by=_operator(),
            demo=demo,
        )
    where = f" for {partnership}" if partnership else ""
    console.print(f"Registered {enrolment.email} as {role.label}{where}.")
    if enrolment.password is None:
        console.print("The address had an account already: its password and second factor stand.")
        return
    _show_enrolment(enrolment)


def _show_enrolment(enrolment: Any) -> None:
    """A first password and authenticator enrolment, shown once, here, for the person alone."""
    from models.signin import enrolment_qr_text

    console.print("Give the person these, in person or by a channel only they read; they are not shown again:")
    console.print(f"  first password: {enrolment.password}", highlight=False, markup=False)
    if enrolment.totp_uri:
        console.print("  authenticator app: scan the code below, or enter this address in the app:")
        console.print(f"  {enrolment.totp_uri}", markup=False, highlight=False, soft_wrap=True)
        print(enrolment_qr_text(enrolment.totp_uri))
        console.print("  (or sign in with the password alone the first time: the sign-in page shows the same code)")


@people_app.command("reset")
def people_reset(email: Annotated[str, typer.Argument(help="The person's email address.")]) -> None:
    """A new first password and authenticator enrolment for a person who lost either; the old ones stop working."""
    from models.people import reset_credentials

    with register_change() as session:
        enrolment = reset_credentials(session, email, by=_operator())
    console.print(f"Reset the sign-in of {enrolment.email}.")
    _show_enrolment(enrolment)


@partnerships_app.command("list")
def partnerships_list(
    partnership: Annotated[str | None, typer.Option(help="Only this partnership (its code).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """Every partner body, the dates it holds its place, and who represents it, from and to when."""
    from dataclasses import asdict

    from models.partners import bodies

    with register_change() as session:
        rows = bodies(session, partnership)
    if as_json:
        print(json.dumps([asdict(r) for r in rows], default=str))
        return
    if not rows:
        console.print("No partner bodies recorded yet: add them with cspr partnerships add-body.")
        return
    grid = Table("partnership", "partner", "body", "from", "to", "representatives")
    for r in rows:
        grid.add_row(
            r.partnership,
            Role(r.role).label,
            r.name,
            str(r.from_on),
            str(r.to_on or "now"),
            "\n".join(r.representatives),
        )
    console.print(grid)


@partnerships_app.command("add-body")
def partnerships_add_body(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    role: Annotated[Role, typer.Option(help="Which partner it is: local_authority, police or health.")],
    name: Annotated[str, typer.Option(help='The body\'s name, e.g. "NHS Northshire Integrated Care Board".')],
    from_on: Annotated[str, typer.Option("--from", help="The first day it holds its place, YYYY-MM-DD.")],
) -> None:
    """Record a partner body of a partnership, from a date."""
    from models.partners import add_body

    first = _date(from_on, "--from")
    assert first is not None
    with register_change() as session:
        add_body(session, partnership, role, name, first, by=_operator())
    console.print(f"{name} is the {role.label} partner of {partnership} from {first:%d %B %Y}.")


@partnerships_app.command("merge")
def partnerships_merge(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    body: Annotated[list[str], typer.Option(help="A body that merges (repeat for each).")],
    into: Annotated[str, typer.Option(help="The name of the body they become.")],
    on: Annotated[str, typer.Option(help="The first day of the merged body, YYYY-MM-DD.")],
) -> None:
    """Partner bodies become one on a date: reviews running across it stay valid, and each sign-off keeps the body it
    was given for."""
    from models.partners import merge_bodies

    day = _date(on, "--on")
    assert day is not None
    with register_change() as session:
        merge_bodies(session, partnership, body, into, day, by=_operator())
    console.print(f"{' and '.join(body)} became {into} on {day:%d %B %Y}; their representatives act for it.")


@partnerships_app.command("represent")
def partnerships_represent(
    partnership: Annotated[str, typer.Option(help="The partnership's code.")],
    email: Annotated[str, typer.Option(help="The registered person's email address.")],
    body: Annotated[str | None, typer.Option(help="The partner body they act for.")] = None,
    from_on: Annotated[str | None, typer.Option("--from", help="Their first day, YYYY-MM-DD.")] = None,
    to_on: Annotated[str | None, typer.Option("--to", help="Their last day, YYYY-MM-DD (included).")] = None,
) -> None:
    """Which body a person represents, and from and to when: a sign-off is accepted only on those days."""
    from models.partners import represent

    with register_change() as session:
        row = represent(
            session,
            partnership,
            email,
            body=body,
            from_on=_date(from_on, "--from"),
            to_on=_date(to_on, "--to"),
            by=_operator(),
        )
        said = f"{row.email} represents {row.organisation or Role(row.role).label}"
        said += f" from {row.from_on or 'registration'} to {row.to_on or 'further notice'}."
    console.print(said)


@people_app.command("disable")
def people_disable(email: Annotated[str, typer.Argument(help="The person's email address.")]) -> None:
    """Disable a person's account and every registration of it: they can no longer sign in or answer any step."""
    from models.people import disable_person

    with register_change() as session:
        account = disable_person(session, email, by=_operator())
    console.print(f"Disabled {account.email}: every registration of it is inactive.")


@people_app.command("digest")
def people_digest(
    email: Annotated[str, typer.Argument(help="The person's email address.")],
    daily: Annotated[
        bool, typer.Option("--daily/--each", help="One email a day with everything, or each message as it comes.")
    ] = True,
) -> None:
    """Choose how a person gets cspr's email: one daily digest (sent by the morning's deadline sweep), or each
    message as it comes. A national body's mailbox always gets each message."""
    from models.people import set_digest

    with register_change() as session:
        account = set_digest(session, email, daily=daily, by=_operator())
    how = "one daily digest" if daily else "each message as it comes"
    console.print(f"{account.email} now gets cspr's email as {how}.")


@people_app.command("list")
def people_list(
    partnership: Annotated[str | None, typer.Option(help="Only this partnership's people.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Everyone registered, with their role, partnership and how they sign in."""
    from dataclasses import asdict

    from models.db import transaction
    from models.people import people

    with transaction() as session:
        rows = people(session, partnership)
    if as_json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return
    table = Table(title="People registered", title_justify="left")
    for column in ("name", "email", "role", "partnership", "organisation", "active", "sign-in"):
        table.add_column(column)
    for r in rows:
        sign_in = f"{r.sign_in} (demo)" if r.demo else r.sign_in
        table.add_row(
            r.name,
            r.email,
            Role(r.role).label,
            r.partnership or "-",
            r.organisation,
            "yes" if r.active else "no",
            sign_in,
        )
    console.print(table)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the project database to the latest schema."""
    from models.db import current_revision, get_engine

    engine = get_engine()
    _migrate(engine)
    console.print(
        f"Database {engine.url.render_as_string(hide_password=True)} is at revision {current_revision(engine)}."
    )


def _migrate(engine: Engine) -> None:
    """The schema brought up to date, or a message saying whose role can do it."""
    import sqlalchemy as sa

    from models.db import migrate

    try:
        migrate(engine)
    except sa.exc.ProgrammingError as exc:
        if "permission denied" not in str(exc.orig) and "must be owner" not in str(exc.orig):
            raise
        who = engine.url.username or "this role"
        raise _fail(
            f"the database role {who!r} may read and write rows but not change the schema (the team set-up's "
            "least privilege). Upgrade as the administrator: CSPR_DATABASE_URL=<the administrator's URL> cspr db "
            "upgrade, or start `cspr up --team` without team.env's CSPR_DATABASE_URL so that it migrates first"
        ) from None


def main() -> None:
    from models.files import owner_only

    owner_only()  # everything under CSPR_HOME, from its first byte
    app()


if __name__ == "__main__":
    main()
