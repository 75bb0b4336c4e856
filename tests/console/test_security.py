"""What the console refuses over plain HTTP: no page or action without a session, sessions in HttpOnly
SameSite=Strict cookies, a strict Content-Security-Policy, nothing secret in any page, sign-in attempts
rate-limited, and a reload with a new password signing everyone out."""

import re
import signal

import pytest
import requests
import yaml

from tests.console.conftest import PASSWORD, REJECTED_EMAIL, Console

SECRETS = (PASSWORD, "sandbox-api-key", "sandbox-client-secret", "sandbox-refresh-token")
PAGES = ("/", "/api/live", "/runs", "/runs/table", "/runs/1", "/rejected", "/disconnect", "/reimport")


def _sign_in_form(http: requests.Session, console: Console) -> str:
    page = http.get(f"{console.url}/signin", timeout=10)
    match = re.search(r'name="signin_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def _sign_in(console: Console, password: str = PASSWORD) -> tuple[requests.Session, requests.Response]:
    http = requests.Session()
    token = _sign_in_form(http, console)
    answer = http.post(
        f"{console.url}/signin",
        data={"signin_token": token, "password": password, "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    return http, answer


def test_the_session_cookie_is_httponly_and_samesite_strict_and_pages_load_nothing_from_elsewhere(
    console: Console,
) -> None:
    banner = f"  console:  {console.url}/ (sign in with console.password from {console.config})"
    assert banner in console.daemon.text()
    http, answer = _sign_in(console)
    assert answer.status_code == 303
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("cmsync_console=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = http.get(f"{console.url}/", timeout=10)
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    references = re.findall(r'(?<![\w-])(?:src|href|action)="([^"]*)"', page.text)
    elsewhere = [reference for reference in references if not reference.startswith(("/", "#"))]
    assert references and not elsewhere, elsewhere
    assert "<script>" not in page.text and " on" + "click=" not in page.text
    script = http.get(f"{console.url}/static/console.js", timeout=10)
    assert script.headers["Content-Type"].startswith("text/javascript")


def test_no_page_shows_a_secret(console: Console) -> None:
    http, _ = _sign_in(console)
    shown = {path: http.get(f"{console.url}{path}", timeout=60) for path in PAGES}
    shown["explain"] = http.get(f"{console.url}/explain", params={"email": REJECTED_EMAIL}, timeout=60)
    for path, page in shown.items():
        assert page.status_code == 200, path
        for secret in SECRETS:
            assert secret not in page.text, f"{path} shows a secret"
    assert "STRING_TOO_LONG" in shown["explain"].text


def test_without_a_session_no_page_or_action_is_served(console: Console) -> None:
    anonymous = requests.Session()
    for path in PAGES:
        answer = anonymous.get(f"{console.url}{path}", allow_redirects=False, timeout=10)
        assert answer.status_code in (303, 401), path
        if answer.status_code == 303:
            assert answer.headers["Location"].startswith("/signin?next=")
    store = console.store()
    try:
        runs = len(store.runs.recent(1000))
        for action in ("/sync-now", "/disconnect", "/connect", "/retry-rejected", "/reimport"):
            assert anonymous.post(f"{console.url}{action}", timeout=10).status_code == 401, action
        assert len(store.runs.recent(1000)) == runs and store.connection.connected()
    finally:
        store.close()


def test_a_reload_with_a_new_password_signs_everyone_out(console: Console) -> None:
    http, _ = _sign_in(console)
    assert http.get(f"{console.url}/", allow_redirects=False, timeout=10).status_code == 200
    settings = yaml.safe_load(console.config.read_text())
    settings["console"]["password"] = "a new console password ✓"
    console.config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    reloads = len([line for line in console.daemon.logs() if line.get("event") == "configuration reloaded"])
    console.daemon.signal(signal.SIGHUP)
    console.daemon.wait_for("configuration reloaded", count=reloads + 1)
    assert http.get(f"{console.url}/", allow_redirects=False, timeout=10).status_code == 303
    assert _sign_in(console)[1].status_code == 401
    assert _sign_in(console, "a new console password ✓")[1].status_code == 303


@pytest.mark.parametrize("attempts", [5])
def test_sign_in_attempts_are_rate_limited(console: Console, attempts: int) -> None:
    password = yaml.safe_load(console.config.read_text())["console"]["password"]
    password = PASSWORD if password.startswith("${") else password
    for _ in range(attempts):
        assert _sign_in(console, "guess")[1].status_code == 401
    http, refused = _sign_in(console, password)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many sign-in attempts" in refused.text
    assert "cmsync_console=" not in refused.headers.get("Set-Cookie", "")
    assert http.get(f"{console.url}/", allow_redirects=False, timeout=10).status_code == 303
