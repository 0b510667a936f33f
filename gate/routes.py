"""Which of Prefect's own routes a request is for, by the templates of Prefect's OpenAPI document.

The gate's rules name routes as Prefect does (``GET /api/flow_runs/{id}``), so a rule can never reach past the route
it names: a parameter matches one path segment, never a slash, so ``/api/work_queues/count`` (a work queue named
"count") is ``/api/work_queues/{id}``, not a read of counts. A path that is no route of Prefect's API resolves to
nothing, and the policy refuses it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

API = "/api"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True, order=True)
class Route:
    """One of Prefect's routes: a method and a path template, as its OpenAPI document names them."""

    method: str
    template: str

    def __str__(self) -> str:
        return f"{self.method} {self.template}"

    @classmethod
    def parse(cls, text: str) -> Route:
        method, _, template = text.partition(" ")
        return cls(method, template)


@dataclass(frozen=True)
class Resolved:
    """A request matched to its route, with the values of the template's parameters."""

    route: Route
    params: Mapping[str, str]


def _segments(path: str) -> tuple[str, ...]:
    # the trailing slash of a template such as "/api/flow_runs/" is a segment of its own: Prefect's routes differ by it
    return tuple(path.split("/")[1:])


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


class RouteTable:
    """Every route of Prefect's API, for resolving a request's method and path to one of them."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = frozenset(routes)
        buckets: dict[tuple[str, int], list[tuple[tuple[str, ...], Route]]] = defaultdict(list)
        for route in self.routes:
            segments = _segments(route.template)
            buckets[(route.method, len(segments))].append((segments, route))
        # a literal segment wins over a parameter at the first place two templates differ (the one pair in Prefect
        # 3.8 that can both match a path, /work_queues/name/{name} and /work_queues/{id}/status, reads alike)
        for candidates in buckets.values():
            candidates.sort(key=lambda pair: tuple(_is_param(s) for s in pair[0]))
        self._buckets = dict(buckets)

    @classmethod
    def from_openapi(cls, document: Mapping[str, Any], prefix: str = API) -> RouteTable:
        """The routes of an OpenAPI document (Prefect's ``/api/openapi.json``), mounted under ``prefix``."""
        return cls(
            Route(method.upper(), prefix + path)
            for path, operations in document["paths"].items()
            for method in operations
            if method.upper() in METHODS
        )

    def resolve(self, method: str, path: str) -> Resolved | None:
        """The route a request is for, or None when it is for none of Prefect's API routes."""
        segments = _segments(path)
        for template, route in self._buckets.get((method, len(segments)), ()):
            params: dict[str, str] = {}
            for want, have in zip(template, segments, strict=True):
                if _is_param(want):
                    if not have:
                        break
                    params[want[1:-1]] = have
                elif want != have:
                    break
            else:
                return Resolved(route, params)
        return None


@cache  # building Prefect's API to read its document takes seconds; the installed Prefect's routes never change
def prefect_routes() -> RouteTable:
    """The routes of the installed Prefect's API (imports Prefect's server: for the server's process and tests)."""
    from prefect.server.api.server import create_api_app

    return RouteTable.from_openapi(create_api_app().openapi())
