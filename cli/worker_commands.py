"""``cspr worker``: one of the work pool's workers, as ``cspr up`` starts it (cli/worker.py)."""

from __future__ import annotations

from typing import Annotated

import typer


def worker_command(
    pool: Annotated[str, typer.Option("--pool", help="The work pool to take runs from.")],
    name: Annotated[str, typer.Option("--name", help="This worker's name, unique in the pool.")],
) -> None:
    """Run a worker: Prefect's process worker, taking only its share of the pool's runs so that two do not race.

    `cspr up` starts it with the workers' settings. Stops on Ctrl-C or SIGTERM, terminating the runs it started.
    """
    from cli.worker import run_worker

    run_worker(pool, name)
