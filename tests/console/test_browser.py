"""The console in headless Chromium against ``cmsync run``: sign in, the live settings page, Sync Now,
Disconnect and Connect, run history, rejected records explained, and what it refuses."""

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.console.conftest import PASSWORD, PHONE, REJECTED_EMAIL, Console, add_members, sign_in

RECORD_CHANGES = """() => {
  window.__seen = [];
  window.__stillThisPage = true;
  const panel = document.getElementById("current-run");
  const note = () => window.__seen.push({
    text: panel.innerText,
    syncNowDisabled: document.getElementById("sync-now-button").disabled,
  });
  new MutationObserver(note).observe(panel, { subtree: true, childList: true, characterData: true });
}"""


def test_a_page_without_a_session_redirects_to_sign_in(console: Console, page) -> None:
    page.goto(console.url + "/runs")
    assert page.url == console.url + "/signin?next=/runs"
    assert page.locator("h1").inner_text() == "Sign in"
    page.fill("#password", PASSWORD[:-1])
    page.click("button[type=submit]")
    assert "Wrong password." in page.locator("[role=alert]").inner_text()
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(console.url + "/runs")
    assert page.locator("h1").inner_text() == "Run history"


def test_the_settings_page_shows_last_sync_humanized_at_desktop_and_phone_width(
    console: Console, page, tmp_path: Path
) -> None:
    sign_in(page, console)
    assert re.fullmatch(r"(seconds|a minute|\d+ minutes) ago", page.locator("[data-live=last_sync]").inner_text())
    assert re.fullmatch(
        r"in (a few seconds|a minute|\d+ minutes|an hour)", page.locator("[data-live=next_run]").inner_text()
    )
    assert page.locator("[data-live=connection]").inner_text() == "connected"
    client_name = console.world.cm.state.clients[console.world.clients[0]].name
    assert client_name in page.locator("#clients").inner_text()
    assert "Days to keep in Salesforce" in page.locator("#tracking").inner_text()
    assert "systemctl reload cmsync" in page.locator(".howto").inner_text()
    page.screenshot(path=str(tmp_path / "console-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("#sync-now-button").is_visible()
    page.screenshot(path=str(tmp_path / "console-phone.png"))
    assert (tmp_path / "console-desktop.png").stat().st_size > 10_000
    assert (tmp_path / "console-phone.png").stat().st_size > 10_000


def test_the_outbound_card_says_which_source_runs_and_why(console: Console, page) -> None:
    """The sandbox world's org signs in on 127.0.0.1 with no Pub/Sub endpoint: outbound polls, and says why."""
    sign_in(page, console)
    card = page.locator("#outbound").inner_text()
    assert "polling every 15s (change events unavailable: outbound.pubsub_endpoint is not set" in card, card


def test_sync_now_shows_records_growing_without_a_reload_then_the_outcome(console: Console, page) -> None:
    world = console.world
    add_members(world, 40, "grow")
    lists = sum(len(world.cm.state.clients[client_id].lists) for client_id in world.clients)
    sign_in(page, console)
    page.evaluate(RECORD_CHANGES)
    world.cm.faults.set_latency(0.15)
    try:
        page.click("#sync-now-button")
        page.wait_for_function(
            "() => /Run \\d+ \\(sync-now\\): (succeeded|partial)/.test(document.getElementById('run-line').innerText)",
            timeout=60_000,
        )
    finally:
        world.cm.faults.set_latency(0)
    assert page.evaluate("window.__stillThisPage") is True
    assert re.fullmatch(r"run \d+ started", page.locator("#action-result").inner_text())
    seen = page.evaluate("window.__seen")
    running = [state for state in seen if "sync-now): running" in state["text"]]
    assert running, seen
    assert all(state["syncNowDisabled"] for state in running)
    totals = [sum(map(int, re.findall(r"(\d+) [a-z]+", state["text"]))) for state in running]
    assert totals == sorted(totals) and len(set(totals)) >= 2, f"the records never grew on the page: {seen}"
    final = page.locator("#run-counts").inner_text()
    assert f"{lists * 40} created" in final.split("CM_List_Member__c")[1].splitlines()[0]
    assert not page.locator("#sync-now-button").is_disabled()
    in_salesforce = world.query("SELECT CM_Email__c FROM CM_List_Member__c WHERE CM_Email__c LIKE 'grow.%'")
    assert len(in_salesforce) == lists * 40


def test_run_history_lists_every_run_and_follows_one_in_flight(console: Console, page) -> None:
    world = console.world
    add_members(world, 25, "history")
    sign_in(page, console)
    world.cm.faults.set_latency(0.15)
    try:
        page.click("#sync-now-button")
        page.wait_for_function("() => /running/.test(document.getElementById('run-line').innerText)")
        run_id = int(re.search(r"Run (\d+)", page.locator("#run-line").inner_text()).group(1))
        page.goto(console.url + "/runs")
        page.evaluate("window.__stillThisPage = true")
        row = page.locator(f"#runs tr:has(a[href='/runs/{run_id}'])")
        row.filter(has_text="running").wait_for()
        row.filter(has_text=re.compile(r"\bpartial\b")).wait_for(timeout=60_000)
    finally:
        world.cm.faults.set_latency(0)
    assert page.evaluate("window.__stillThisPage") is True
    text = row.inner_text()
    assert "sync-now" in text and "CM_List_Member__c: 100 created, 1 rejected" in text
    assert re.search(r"\d+s", text)
    first = page.locator("#runs tr:has(a[href='/runs/1'])").inner_text()
    assert "schedule" in first and "partial" in first
    page.click(f"a[href='/runs/{run_id}']")
    jobs = page.locator("table").nth(1).inner_text()
    assert re.search(r"list:\w+\s+done", jobs)


def test_full_sync_starts_a_full_pass(console: Console, page) -> None:
    sign_in(page, console)
    page.click("#full-sync-button")
    said = page.locator("#action-result")
    said.filter(has_text=re.compile(r"run \d+ started")).wait_for()
    run_id = int(re.search(r"run (\d+)", said.inner_text()).group(1))
    page.wait_for_function(
        f"() => /Run {run_id} \\(sync-now\\): (succeeded|partial)/.test(document.getElementById('run-line').innerText)"
    )
    store = console.store()
    try:
        assert store.runs.get(run_id).full_pass
    finally:
        store.close()
    page.goto(console.url + "/runs")
    assert "sync-now (full)" in page.locator(f"#runs tr:has(a[href='/runs/{run_id}'])").inner_text()


def test_an_email_with_a_rejected_record_is_explained_with_its_reason(console: Console, page) -> None:
    sign_in(page, console, "/rejected")
    table = page.locator("#rejections").inner_text()
    assert "STRING_TOO_LONG" in table and "CM_List_Member__c" in table
    page.select_option("#object", "CM_List_Member__c")
    page.fill("#reason", "no such reason")
    page.click("form.filters button")
    assert "None matching the filter." in page.locator("#rejections").inner_text()
    page.goto(console.url + "/rejected")
    page.click("#rejections a")
    assert page.input_value("#email") == REJECTED_EMAIL
    rejections = page.locator("#explain-rejections").inner_text()
    assert "STRING_TOO_LONG" in rejections and "CM_List_Member__c" in rejections
    first_list = console.world.cm.state.clients[console.world.clients[0]].lists[0]
    on_list = page.locator(".list-answer", has_text=first_list.list_id).inner_text()
    assert "Active" in on_list and "No member row yet" in on_list
    assert re.search(
        r"cost [1-9]\d* Campaign Monitor calls and [1-9]\d* Salesforce queries", page.inner_text("#explain-cost")
    )


def test_an_email_on_a_list_is_explained_with_its_links_and_the_rule_that_does_not_match(
    console: Console, page
) -> None:
    world = console.world
    first_list = world.cm.state.clients[world.clients[0]].lists[0]
    contacts = {row["Email"].lower(): row["Id"] for row in world.query("SELECT Id, Email FROM Contact")}
    leads = {row["Email"].lower() for row in world.query("SELECT Email FROM Lead")}
    email = next(key for key in sorted(first_list.members) if key in contacts and key in leads)
    sign_in(page, console, "/explain")
    page.fill("#email", email.upper())
    page.click("form.filters button")
    on_list = page.locator(".list-answer", has_text=first_list.list_id).inner_text()
    key = f"{first_list.list_id}:{email}"
    member = world.query(f"SELECT CM_Contact__c, CM_Lead__c FROM CM_List_Member__c WHERE CM_Member_Key__c = '{key}'")[0]
    assert member["CM_Contact__c"] in on_list and member["CM_Lead__c"] in on_list
    assert (
        f"Contact {member['CM_Contact__c']}" in on_list
        and "a Contact and a Lead both match: both are linked" in on_list
    )
    rules = page.locator("#explain-rules").inner_text()
    assert "Partners join the first list on Contact" in rules
    assert "does not match: criterion 2 (LeadSource equals 'Partner (console test)') fails" in rules
    assert "No record with this email is kept as rejected." in page.locator("#explain-rejections").inner_text()


def test_tracking_is_reimported_for_a_window_after_its_dry_run_count(console: Console, page) -> None:
    since = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
    sign_in(page, console, "/reimport")
    page.fill("#since", since)
    page.click("text=Count first (dry run)")
    counted = page.locator("#reimport-count").inner_text()
    events = int(re.search(r"would import (\d+) events", counted).group(1))
    assert events > 0 and re.search(r"expected API calls: Campaign Monitor \d+, Salesforce \d+", counted)
    page.click("text=Re-import this window")
    page.wait_for_url(console.url + "/")
    assert "re-import queued" in page.locator(".message").first.inner_text()
    store = console.store()
    try:
        deadline = time.monotonic() + 60
        while (store.facts.last_reimport.get() or {}).get("since", "")[:10] != since and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert store.facts.last_reimport.get()["events"] == events
    finally:
        store.close()
    page.reload()
    assert f"{events} events from {since}" in page.locator("#tracking").inner_text()


def test_retry_rejected_records_now_offers_them_to_salesforce_again(console: Console, page) -> None:
    store = console.store()
    try:
        (before,) = [r for r in store.rejections.list() if r.object == "CM_List_Member__c"]
        sign_in(page, console, "/rejected")
        page.click("#retry-rejected")
        page.wait_for_url(console.url + "/rejected")
        said = page.locator(".message").first.inner_text()
        run_id = int(re.match(r"run (\d+) started: every run offers the rejected records again", said).group(1))
        deadline = time.monotonic() + 60
        while store.runs.get(run_id).in_flight and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        (after,) = [r for r in store.rejections.list() if r.object == "CM_List_Member__c"]
        assert after.key == before.key and after.attempts == before.attempts + 1
    finally:
        store.close()


def test_a_forged_post_without_the_csrf_token_is_refused(console: Console, page) -> None:
    sign_in(page, console)
    without = page.evaluate("fetch('/disconnect', {method: 'POST'}).then(r => r.status)")
    wrong = page.evaluate(
        "fetch('/disconnect', {method: 'POST', headers: {'X-CSRF-Token': 'forged'}}).then(r => r.status)"
    )
    assert (without, wrong) == (403, 403)
    store = console.store()
    try:
        assert store.connection.connected()
    finally:
        store.close()
    page.reload()
    assert page.locator("[data-live=connection]").inner_text() == "connected"


def test_disconnect_asks_first_then_sync_now_is_refused_until_connect(console: Console, page) -> None:
    sign_in(page, console)
    page.click("#disconnect-link")
    confirmation = page.locator("#disconnect-confirm").inner_text()
    assert "Stop records syncing between Salesforce and Campaign Monitor" in confirmation
    assert "Reset Campaign Monitor user overrides (User.CM_User_Email__c) and client ownership" in confirmation
    assert "Campaign Monitor data outside of Salesforce unchanged" in confirmation
    page.click("#confirm-disconnect")
    page.wait_for_url(console.url + "/")
    assert page.locator("[data-live=connection]").inner_text() == "disconnected"
    assert "disconnected: no syncing either way" in page.locator(".message").first.inner_text()
    assert page.locator("#sync-now-button").is_disabled()
    assert page.locator("#sync-now-reason").inner_text() == "disconnected: run `cmsync connect` first"
    store = console.store()
    try:
        runs_before = len(store.runs.recent(1000))
        page.evaluate("document.getElementById('sync-now-button').disabled = false")
        page.click("#sync-now-button")
        page.locator("#action-result", has_text="disconnected: run `cmsync connect` first").wait_for()
        assert len(store.runs.recent(1000)) == runs_before
        assert not store.connection.connected()
        page.click("#connect-button")
        page.wait_for_url(console.url + "/")
        assert page.locator("[data-live=connection]").inner_text() == "connected"
        assert not page.locator("#sync-now-button").is_disabled()
        assert store.connection.connected()
    finally:
        store.close()
