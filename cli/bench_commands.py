"""``cspr bench``: the benchmarks (not part of the test suite), each printing its figures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import console, stop_on_sigterm
from cli.demo_commands import DemoPath
from cli.listing import print_json

app = typer.Typer(help="Benchmarks (not part of the test suite): each prints its figures.", no_args_is_help=True)


def _print_figures(result: dict[str, Any], as_json: bool) -> None:
    """A benchmark's figures, with the machine's cores: one JSON object, or a line each."""
    import os

    result["cores"] = os.cpu_count()
    if as_json:
        print_json(result)
        return
    width = max(len(key) for key in result)
    for key, value in result.items():
        console.print(f"{key:>{width}}: {value}")


def _timed(doing: str, run: Callable[[], dict[str, Any]], as_json: bool) -> None:
    """Run a benchmark, saying what it does while it runs, then print its figures."""
    with console.status(doing):
        result = run()
    _print_figures(result, as_json)


@contextmanager
def _home_of_its_own(prefix: str) -> Iterator[Path]:
    """A temporary home for a benchmark's own system: nobody's reviews, nobody's server, nobody's database or bucket
    (every CSPR_, PREFECT_ and AWS_ setting of this shell is dropped); removed afterwards."""
    import os
    import tempfile

    from models.key_rotation import new_key
    from models.settings import get_settings

    for name in [n for n in os.environ if n.startswith(("CSPR_", "PREFECT_", "AWS_"))]:
        del os.environ[name]
    with tempfile.TemporaryDirectory(prefix=prefix) as home:
        os.environ |= {"CSPR_HOME": home, "CSPR_ENCRYPTION_KEY": new_key()}
        get_settings.cache_clear()
        yield Path(home)


def _prefect_of_its_own(home: Path) -> int:
    """Prefect's settings for a local system in ``home`` on a free port, set in this process; the port."""
    import os

    from cli.seaweed import free_port
    from cli.system import LocalSystem, prefect_env

    port = free_port()
    (home / "prefect").mkdir(parents=True)
    os.environ.update({k: v for k, v in prefect_env(LocalSystem(port=port).api_url).items() if v})
    return port


@app.command("sweep")
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

    _timed(
        f"Generating {reviews:,} reviews and timing the sweep ...",
        lambda: run(reviews, naive_sample, database),
        as_json,
    )


@app.command("step")
def bench_step(
    reviews: Annotated[int, typer.Option(help="How many invented reviews to drive from notification to closure.")] = 2,
    path: Annotated[DemoPath, typer.Option(help="Which branch the partners take.")] = DemoPath.local,
    team: Annotated[bool, typer.Option("--team", help="On the team set-up: PostgreSQL, two workers, S3.")] = False,
    postgres: Annotated[
        str, typer.Option(help="--team: a PostgreSQL URL allowed to create (and then drop) two databases and roles.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    compare: Annotated[
        bool,
        typer.Option("--compare", help="Start the steps' runs the ordinary way and warm in turn, and compare the two."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time each step as a person waits for it, from Submit to the next form, on a set-up of its own; with
    --compare, runs started warm against runs started the ordinary way, step by step in turn, in one drive."""
    import secrets

    from cli.team import Team

    stop_on_sigterm()
    with _home_of_its_own("cspr-bench-step-") as home:
        suffix = secrets.token_hex(4)
        crew = Team(home, postgres, f"cspr_bench_{suffix}", f"cspr_bench_prefect_{suffix}") if team else None
        try:
            if crew is not None:
                with console.status("Making the team set-up's databases and S3 ..."):
                    crew.prepare()
            port = _prefect_of_its_own(home)
            from benchmarks.step import run

            where = "the team set-up" if team else "a local set-up"
            how = ", its runs started the ordinary way and warm in turn" if compare else ""
            with console.status(f"Driving {reviews} review(s) through {where} of its own{how} ..."):
                result = run(reviews, port, path=path.value, team=team, compare=compare)
        finally:
            if crew is not None:
                crew.stop()
                crew.drop()
    _print_figures(result, as_json)


@app.command("submit")
def bench_submit(
    reviews: Annotated[
        int, typer.Option(help="How many invented reviews to answer, the two ways in turn (at least 2).", min=2)
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time Submit on a task page, until the page saying the answer is accepted, against the same answer sent to
    Prefect's resume route through the gate, in one run, on a local set-up of its own."""
    stop_on_sigterm()
    with _home_of_its_own("cspr-bench-submit-") as home:
        port = _prefect_of_its_own(home)
        from benchmarks.submit import run

        with console.status(f"Answering {reviews} reviews' first step, the two ways in turn ..."):
            result = run(reviews, port)
    _print_figures(result, as_json)


@app.command("report")
def bench_report(
    reviews: Annotated[int, typer.Option(help="How many reviews to generate.")] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time the compliance report for every partnership over a year on N synthetic reviews, step by step."""

    from benchmarks.report import run

    _timed(f"Generating {reviews:,} reviews and timing the compliance report ...", lambda: run(reviews), as_json)


@app.command("gate")
def bench_gate(
    requests: Annotated[int, typer.Option(help="Requests timed on each path.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time what the sign-in gate adds to an API request (median and 99th percentile), against the same request sent
    to Prefect without it, in one run."""

    from benchmarks.gate import run

    _timed(f"Timing {requests:,} requests with and without the gate ...", lambda: run(requests), as_json)


@app.command("worklist")
def bench_worklist(
    reviews: Annotated[int, typer.Option(help="How many open reviews the larger size has (the smaller has 1).")] = 200,
    steps: Annotated[int, typer.Option(help="Turns in each burst timed.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time the worklist's work per step, as a review's turn does it, at 1 and at N open reviews of a partnership, in
    one run, on a Prefect server and database of its own."""
    stop_on_sigterm()
    with _home_of_its_own("cspr-bench-worklist-") as home:
        port = _prefect_of_its_own(home)
        from benchmarks.worklist import run

        with console.status(f"Timing the worklist's work per step at 1 and at {reviews} open reviews ..."):
            result = run(reviews, steps, port)
    _print_figures(result, as_json)
