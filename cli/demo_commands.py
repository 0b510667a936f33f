"""``cspr demo``: one invented review driven through the whole process against the local system (started for it
if none is running). The people's answers and the driving are in cli/demo.py."""

from __future__ import annotations

from enum import StrEnum
from functools import partial
from typing import Annotated

import typer

from cli.common import console, fail, parse_date, stop_on_sigterm


class DemoPath(StrEnum):
    local = "local"
    national = "national"
    no_review = "no-review"


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
    from cli.demo import AtTheGate, DemoError, drive, notify
    from models.db import get_engine, migrate, transaction
    from models.process.demo_case import Case
    from models.seed import DEMO_AGENCY_CONTACTS, seed_demo

    dob = parse_date(child_dob, "--child-dob")
    agencies = tuple(agency for agency, _, _ in DEMO_AGENCY_CONTACTS)
    case = Case(path=path.value, agencies=agencies, adopted_actions=True)
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
            raise fail(str(exc)) from None
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
        stop_on_sigterm()
        console.print(f"No Prefect server at {system.api_url}: starting one for the demo ...")
        with running(system):
            go()
