"""How both emulators route a call: every endpoint is a ``Route`` (a Werkzeug rule, its name in the call log,
its API-call class and the handler method that serves it), and a ``Router`` finds the route of a request.

Each module of endpoints (an API's resources, or the ``/_sandbox`` controls) is a class whose small handler
methods serve one endpoint each and whose ``routes()`` lists them; the emulator's WSGI app matches a request
with its ``Router`` and runs what every call of that API shares (sign-in, faults, error shapes) around it.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.routing import Map, Rule

Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    """One endpoint: its Werkzeug rule and methods, its name and API-call class in the call log, its handler.

    ``api`` routes are calls of the emulated API (signed in, faulted, counted); the others are sign-in,
    discovery and the sandbox's own ``/_sandbox`` controls."""

    path: str
    methods: tuple[str, ...]
    name: str
    call_class: str
    handler: Handler
    api: bool = True


class Router:
    """The routes of one app, matched by path and method (Werkzeug's 404 and 405 exceptions when none fits)."""

    def __init__(self, routes: Iterable[Route], **map_options: Any) -> None:
        self.routes = list(routes)
        rules = [
            Rule(route.path, methods=list(route.methods), endpoint=position)
            for position, route in enumerate(self.routes)
        ]
        self._map = Map(rules, **map_options)

    def match(self, environ: dict[str, Any], path: str | None = None) -> tuple[Route, dict[str, Any]]:
        """The route of the call in ``environ`` and its path arguments; ``path`` replaces the environ's path."""
        position, arguments = self._map.bind_to_environ(environ).match(path)
        return self.routes[position], arguments


def control(method: str, path: str, handler: Handler) -> Route:
    """A test control under ``/_sandbox`` (not an API call: never signed in, faulted or logged as a call)."""
    return Route(f"/_sandbox{path}", (method,), f"{method} /_sandbox{path}", "sandbox", handler, api=False)
