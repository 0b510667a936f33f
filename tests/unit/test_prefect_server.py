"""The server's retry of requests refused because its database was busy (cli/prefect_server.py), around a small
Starlette app shaped like Prefect's: the API mounted under /api, a POST that reads its body."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from cli.prefect_server import RetryWhenBusy

NO_PAUSES = (0.0, 0.0, 0.0)


class Locked(Exception):
    """Stands for sqlite3's "database is locked"."""


def api(busy_times: int, status: int = 503) -> tuple[Starlette, list[bytes]]:
    """An app whose /api/answer fails the first `busy_times` times, then answers 200 with the body it read.

    It fails as Prefect's does: the endpoint raises, the app's exception handler turns that into the answer
    (`status`), and Starlette raises the exception again after sending it."""
    seen: list[bytes] = []

    async def answer(request: Request) -> Response:
        seen.append(await request.body())
        if len(seen) <= busy_times:
            raise Locked
        return JSONResponse({"body": seen[-1].decode()})

    async def refuse(request: Request, exc: Exception) -> Response:
        return JSONResponse({"exception_message": "Service Unavailable"}, status_code=status)

    routes = Starlette(routes=[Route("/answer", answer, methods=["POST"])], exception_handlers={Exception: refuse})
    return Starlette(routes=[Mount("/api", app=routes)]), seen


def post(app: RetryWhenBusy, body: bytes) -> httpx.Response:
    # an exception that reaches the server is answered 500 by it, as uvicorn does
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
            return await client.post("/api/answer", content=body)

    return asyncio.run(go())


def test_a_request_refused_while_the_database_is_busy_is_tried_again_with_its_body() -> None:
    inner, seen = api(busy_times=2)
    response = post(RetryWhenBusy(inner, pauses=NO_PAUSES), b'{"decision": "sign off"}')
    assert response.status_code == 200
    assert response.json() == {"body": '{"decision": "sign off"}'}
    assert seen == [b'{"decision": "sign off"}'] * 3  # the same body each time, through the mounted API


def test_the_refusal_goes_back_when_the_database_stays_busy() -> None:
    inner, seen = api(busy_times=10)
    response = post(RetryWhenBusy(inner, pauses=NO_PAUSES), b"{}")
    assert response.status_code == 503
    assert response.json() == {"exception_message": "Service Unavailable"}
    assert len(seen) == len(NO_PAUSES) + 1


def test_other_answers_pass_straight_through() -> None:
    for status in (200, 409, 422, 500):
        inner, seen = api(busy_times=1, status=status)
        response = post(RetryWhenBusy(inner, pauses=NO_PAUSES), b"{}")
        assert response.status_code == status and len(seen) == 1


def test_every_sqlite_connection_of_the_server_zeroes_what_it_deletes(tmp_path: Path) -> None:
    """Whatever the SQLite build's default, a connection of the server's async engine (aiosqlite) gets it."""
    import asyncio

    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    from cli.prefect_server import zero_what_sqlite_deletes

    def off(dbapi_connection: object, _record: object) -> None:  # a build that does not zero by default
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA secure_delete=OFF")
        cursor.close()

    async def setting(listen: bool) -> int:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}")
        sa.event.listen(engine.sync_engine.pool, "connect", off)
        if listen:
            sa.event.listen(engine.sync_engine.pool, "connect", zero_what_sqlite_deletes)
        async with engine.connect() as connection:
            value = int((await connection.exec_driver_sql("PRAGMA secure_delete")).scalar_one())
        await engine.dispose()
        return value

    assert asyncio.run(setting(listen=False)) == 0  # the control: off without it
    assert asyncio.run(setting(listen=True)) == 1
