"""``cspr audit``: verifying every review's hash chains against the signed anchor, and writing an anchor."""

from __future__ import annotations

import typer

from cli.common import console, err

app = typer.Typer(help="The audit trail of every review's stages and decisions.", no_args_is_help=True)


@app.command("verify")
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


@app.command("anchor")
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
