"""The little of ASGI the gate and the server's retry need: types, reading a request's body within a limit, and
handing a read body on as if it had not been read."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import Response

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 1024 * 1024  # 1 MB: more than any form answer or API call of the system; a larger body is refused
TOO_LARGE = "the request is larger than 1 MB and was not read"


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: int | None = None) -> bytes:
    """The whole body, refused with BodyTooLarge as soon as it passes ``limit`` (never held beyond it)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away before sending it all
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then waits on the real connection (for the client going away)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def limited(receive: Receive, limit: int) -> Receive:
    """A ``receive`` that raises BodyTooLarge once more than ``limit`` bytes of body have come."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLarge
        return message

    return counted


def header(scope: Scope, name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


def cookies(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in (header(scope, "cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name and name not in found:
            found[name] = value
    return found


def response_headers(
    body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None
) -> list[tuple[bytes, bytes]]:
    """The headers of every answer the gate makes itself: its type and length, ``headers``, never stored, never
    sniffed."""
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers or []]
    raw += [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]
    return raw


async def respond(
    send: Send, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None
) -> None:
    raw = response_headers(body, content_type, headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, status: int, detail: str, headers: list[tuple[str, str]] | None = None) -> None:
    await respond(send, status, json.dumps({"detail": detail}).encode(), "application/json", headers)


def with_headers(send: Send, headers: list[tuple[str, str]]) -> Send:
    """A ``send`` that adds ``headers`` to the response's start, for a response made elsewhere."""
    extra = [(name.encode(), value.encode()) for name, value in headers]

    async def adding(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return adding


class Answer(Response):
    """A Starlette response with the headers of every answer the gate makes itself (``respond``): for its own pages
    (the sign-in pages, the tasks pages)."""

    def __init__(
        self, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(body, status_code=status)
        self.raw_headers = response_headers(body, content_type, headers)
