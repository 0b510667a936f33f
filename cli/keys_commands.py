"""``cspr keys``: a new master key, and rotating every review's data key onto the newest one."""

from __future__ import annotations

import typer

from cli.common import console, fail

app = typer.Typer(help="The key that encrypts names and dates of birth at rest.", no_args_is_help=True)


@app.command("new")
def keys_new() -> None:
    """Print a new key for CSPR_ENCRYPTION_KEY (keep it in the partnership's secrets store)."""
    from models.key_rotation import new_key

    print(new_key())


@app.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every review's data key with the newest master key (or CSPR_KMS_KEY_ID), all or nothing.

    Local mode makes the new key itself. With CSPR_ENCRYPTION_KEY, put the new key first (new,old) everywhere
    and restart before rotating; drop the old key afterwards. The sealed values themselves are not rewritten.
    """
    from models.db import transaction
    from models.key_rotation import KeyProblem, rotate

    try:
        with transaction() as session:
            done = rotate(session)
    except KeyProblem as exc:
        raise fail(str(exc)) from None
    made = "a new development key was made; " if done.new_key_made else ""
    console.print(
        f"Rotated: {made}{done.data_keys} review data key(s) re-wrapped ({done.wrapped_by}); "
        "the values sealed under them are unchanged."
    )
