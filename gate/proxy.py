"""Forwarding a request the guard let through on to Prefect's server behind the gate, in the same process: as it
came, or with the body the gate read (and perhaps rewrote)."""

from __future__ import annotations

from dataclasses import dataclass

from gate.asgi import ASGIApp, Receive, Scope, Send, replay


@dataclass(frozen=True)
class Proxy:
    app: ASGIApp  # Prefect's server

    async def forward(self, scope: Scope, receive: Receive, send: Send, body: bytes | None = None) -> None:
        """On to Prefect, with ``body`` in place of the request's own (already read by the gate), or as it comes."""
        if body is None:
            await self.app(scope, receive, send)
            return
        await self.app({**scope, "headers": _with_length(scope, len(body))}, replay(body, receive), send)


def _with_length(scope: Scope, length: int) -> list[tuple[bytes, bytes]]:
    """The request's headers for a body the gate rewrote: its new length, no chunked transfer."""
    kept = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"content-length", b"transfer-encoding")]
    return [*kept, (b"content-length", str(length).encode())]
