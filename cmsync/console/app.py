"""The console as a WSGI application: routes, the sign-in gate, CSRF checks, and pages rendered from
Jinja2 templates (autoescaped). Every page and action needs a session; only the sign-in form and the
static files do not."""

import hmac
import json
import secrets
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import quote as url_quote

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from cmsync.commands.connection import disconnect_installation
from cmsync.config import Settings
from cmsync.console import actions, pages
from cmsync.console.explain import explain
from cmsync.console.live import live_state
from cmsync.console.security import harden
from cmsync.console.sessions import COOKIE, Session, Sessions
from cmsync.console.throttle import SignInThrottle
from cmsync.logs import get_logger
from cmsync.state import StateStore

log = get_logger(__name__)
SIGN_IN_COOKIE = "cmsync_console_signin"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png"}
PUBLIC = {"signin", "static", "favicon"}
CSRF_REFUSED = "refused: this request does not carry the page's CSRF token; reload the page and try again"

Handler = Callable[..., Response]

URLS = Map(
    [
        Rule("/", endpoint="settings", methods=["GET"]),
        Rule("/api/live", endpoint="live", methods=["GET"]),
        Rule("/sync-now", endpoint="sync_now", methods=["POST"]),
        Rule("/retry-rejected", endpoint="retry_rejected", methods=["POST"]),
        Rule("/disconnect", endpoint="disconnect_confirm", methods=["GET"]),
        Rule("/disconnect", endpoint="disconnect", methods=["POST"]),
        Rule("/connect", endpoint="connect", methods=["POST"]),
        Rule("/reimport", endpoint="reimport_form", methods=["GET"]),
        Rule("/reimport/count", endpoint="reimport_count", methods=["POST"]),
        Rule("/reimport", endpoint="reimport", methods=["POST"]),
        Rule("/runs", endpoint="runs", methods=["GET"]),
        Rule("/runs/table", endpoint="runs_table", methods=["GET"]),
        Rule("/runs/<int:run_id>", endpoint="run", methods=["GET"]),
        Rule("/rejected", endpoint="rejected", methods=["GET"]),
        Rule("/explain", endpoint="explain", methods=["GET"]),
        Rule("/signin", endpoint="signin", methods=["GET", "POST"]),
        Rule("/signout", endpoint="signout", methods=["POST"]),
        Rule("/static/<name>", endpoint="static", methods=["GET"]),
        Rule("/favicon.ico", endpoint="favicon", methods=["GET"]),
    ]
)


def _wants_json(request: Request) -> bool:
    return request.accept_mimetypes.best == "application/json"


def _safe_next(target: str | None) -> str:
    """Only a path on this console (never ``//host`` or a URL) is followed after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class ConsoleApp:
    """The console for one configuration; ``apply`` swaps in a reloaded one (a new password signs all out)."""

    def __init__(self, settings: Settings, config_path: str, store: StateStore) -> None:
        self.config_path = config_path
        self.store = store
        self.sessions = Sessions(settings.console.session_lifetime)
        self.throttle = SignInThrottle()
        self.templates = Environment(
            loader=PackageLoader("cmsync.console"), autoescape=select_autoescape(default=True), trim_blocks=True
        )
        self.templates.globals.update(ago=pages.ago, rejection_email=pages.rejection_email)
        self.settings = settings
        self.client_lists = pages.ClientLists(settings)

    def apply(self, settings: Settings) -> None:
        if settings.console.password != self.settings.console.password:
            self.sessions = Sessions(settings.console.session_lifetime)
        self.sessions.lifetime = settings.console.session_lifetime
        self.client_lists = pages.ClientLists(settings)
        self.settings = settings

    def _password_matches(self, given: str) -> bool:
        password = self.settings.console.password
        return password is not None and hmac.compare_digest(given.encode(), password.get_secret_value().encode())

    # WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except HTTPException as error:
            response = error.get_response()
        except Exception:
            log.exception("console request failed", path=request.path)
            response = Response("cmsync console: this request failed; the daemon's log says why", status=500)
        return harden(response)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        endpoint, arguments = URLS.bind_to_environ(request.environ).match()
        handler: Handler = getattr(self, f"page_{endpoint}")
        if endpoint in PUBLIC:
            return handler(request, **arguments)
        session = self.sessions.find(request.cookies.get(COOKIE))
        if session is None:
            if request.method == "GET" and endpoint not in ("live", "runs_table"):
                return redirect(f"/signin?next={url_quote(request.full_path.rstrip('?'))}", code=303)
            return Response("sign in first", status=401)
        if request.method == "POST":
            given = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
            if not session.csrf_matches(given):
                log.warning("console request refused: no valid CSRF token", path=request.path)
                return Response(CSRF_REFUSED, status=403)
        return handler(request, session, **arguments)

    def render(self, template: str, session: Session | None, status: int = 200, **context: Any) -> Response:
        page = self.templates.get_template(template).render(
            csrf=session.csrf if session else "",
            messages=session.take_messages() if session else [],
            config_path=self.config_path,
            settings=self.settings,
            **context,
        )
        return Response(page, status=status, mimetype="text/html")

    def _done(self, request: Request, session: Session, kind: str, text: str, to: str = "/") -> Response:
        """The outcome of an action: JSON for the page's script, else a message on the next page."""
        if _wants_json(request):
            return Response(
                _json({"ok": kind == "ok", "message": text}),
                status=200 if kind == "ok" else 409,
                mimetype="application/json",
            )
        session.flash(kind, text)
        return redirect(to, code=303)

    # Public: sign-in and static files.

    def page_static(self, request: Request, name: str) -> Response:
        suffix = name[name.rfind(".") :] if "." in name else ""
        folder = resources.files("cmsync.console") / "static"
        if suffix not in STATIC_TYPES or "/" in name or not (folder / name).is_file():
            raise NotFound()
        response = Response((folder / name).read_bytes(), mimetype=STATIC_TYPES[suffix].split(";")[0])
        response.headers["Content-Type"] = STATIC_TYPES[suffix]
        response.headers["Cache-Control"] = "no-cache"
        return response

    def page_favicon(self, request: Request) -> Response:
        return Response(status=204)

    def page_signin(self, request: Request) -> Response:
        target = _safe_next(request.args.get("next") or request.form.get("next"))
        if request.method == "GET":
            return self._signin_form(target, None, 200)
        address = request.remote_addr or "unknown"
        wait = self.throttle.wait_seconds(address)
        if wait:
            log.warning("console sign-in refused: too many attempts", address=address)
            response = self._signin_form(target, f"Too many sign-in attempts; try again in {wait} seconds.", 429)
            response.headers["Retry-After"] = str(wait)
            return response
        form_token, cookie_token = request.form.get("signin_token", ""), request.cookies.get(SIGN_IN_COOKIE, "")
        if not cookie_token or not hmac.compare_digest(form_token.encode(), cookie_token.encode()):
            return self._signin_form(target, "This sign-in form has expired; try again.", 403)
        if not self._password_matches(request.form.get("password", "")):
            self.throttle.failed(address)
            log.warning("console sign-in failed", address=address)
            return self._signin_form(target, "Wrong password.", 401)
        self.throttle.succeeded(address)
        session = self.sessions.create()
        log.info("console sign-in", address=address)
        response = redirect(target, code=303)
        response.set_cookie(
            COOKIE,
            session.token,
            max_age=int(self.sessions.lifetime.total_seconds()),
            httponly=True,
            samesite="Strict",
            secure=request.is_secure,
            path="/",
        )
        response.delete_cookie(SIGN_IN_COOKIE, path="/signin")
        return response

    def _signin_form(self, target: str, error: str | None, status: int) -> Response:
        token = secrets.token_urlsafe(24)
        response = self.render("signin.html", None, status=status, next=target, error=error, signin_token=token)
        response.set_cookie(SIGN_IN_COOKIE, token, httponly=True, samesite="Strict", path="/signin")
        return response

    def page_signout(self, request: Request, session: Session) -> Response:
        self.sessions.end(session.token)
        response = redirect("/signin", code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # Pages.

    def page_settings(self, request: Request, session: Session) -> Response:
        context = pages.settings_page(self.settings, self.store, self.client_lists)
        return self.render("settings.html", session, live=live_state(self.settings, self.store), **context)

    def page_live(self, request: Request, session: Session) -> Response:
        return Response(_json(live_state(self.settings, self.store)), mimetype="application/json")

    def page_runs(self, request: Request, session: Session) -> Response:
        return self.render("runs.html", session, **pages.run_history(self.store))

    def page_runs_table(self, request: Request, session: Session) -> Response:
        return self.render("runs_table.html", session, **pages.run_history(self.store))

    def page_run(self, request: Request, session: Session, run_id: int) -> Response:
        run = self.store.runs.get(run_id)
        if run is None:
            raise NotFound(f"there is no run {run_id}")
        row = pages.run_row(self.store, run)
        return self.render("run.html", session, row=row, jobs=self.store.runs.jobs(run_id))

    def page_rejected(self, request: Request, session: Session) -> Response:
        context = pages.rejected_page(self.store, request.args.get("object", ""), request.args.get("reason", ""))
        return self.render("rejected.html", session, **context)

    def page_explain(self, request: Request, session: Session) -> Response:
        email = request.args.get("email", "").strip()
        answer = explain(self.settings, self.store, email) if email else None
        return self.render("explain.html", session, email=email, answer=answer)

    def page_disconnect_confirm(self, request: Request, session: Session) -> Response:
        return self.render("disconnect.html", session, connected=self.store.connection.connected())

    def page_reimport_form(self, request: Request, session: Session) -> Response:
        return self.render("reimport.html", session, since="", until="", lines=None)

    # Actions: each calls the code of its command.

    def page_sync_now(self, request: Request, session: Session) -> Response:
        try:
            said = actions.start_sync(self.settings, full=request.form.get("full") == "1")
        except actions.ActionRefusedError as refused:
            return self._done(request, session, "error", str(refused))
        return self._done(request, session, "ok", said)

    def page_retry_rejected(self, request: Request, session: Session) -> Response:
        try:
            said = actions.start_sync(self.settings, full=False)
        except actions.ActionRefusedError as refused:
            return self._done(request, session, "error", str(refused), "/rejected")
        text = f"{said}: every run offers the rejected records again, and forgets those Salesforce now accepts"
        return self._done(request, session, "ok", text, "/rejected")

    def page_disconnect(self, request: Request, session: Session) -> Response:
        report = disconnect_installation(self.settings, self.store)
        log.info("disconnected from the console", cancelled_run=report.cancelled_run)
        return self._done(request, session, "error" if report.errors else "ok", "; ".join(report.lines()))

    def page_connect(self, request: Request, session: Session) -> Response:
        return self._done(request, session, "ok", actions.connect_installation(self.store))

    def page_reimport_count(self, request: Request, session: Session) -> Response:
        since, until = request.form.get("since", ""), request.form.get("until", "")
        try:
            lines = actions.count_reimport(self.settings, self.store, actions.reimport_request(since, until))
        except actions.ActionRefusedError as refused:
            session.flash("error", str(refused))
            lines = None
        return self.render("reimport.html", session, since=since, until=until, lines=lines)

    def page_reimport(self, request: Request, session: Session) -> Response:
        since, until = request.form.get("since", ""), request.form.get("until", "")
        try:
            said = actions.queue_reimport(self.settings, self.store, actions.reimport_request(since, until))
        except actions.ActionRefusedError as refused:
            return self._done(request, session, "error", str(refused), "/reimport")
        return self._done(request, session, "ok", said)


def _json(data: Any) -> str:
    return json.dumps(data, default=str)
