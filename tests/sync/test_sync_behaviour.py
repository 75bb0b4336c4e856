"""What the main sync promises beyond copying: overrides, mappings, opt-out, per-record rejections,
faults that slow it down without losing anything, and cancellation by disconnect."""

import io
import json

from cmsync.logs import configure_logging
from cmsync.mapping.records import member_key
from cmsync.workers.runs import request_run
from cmsync_sandbox.campaign_monitor.model import Subscriber
from cmsync_sandbox.campaign_monitor.state import FieldValue, SubscriberInput
from tests.sync.conftest import wait_for_end
from tests.sync.world import World
from tests.waiting import wait_until


def _first_list(world: World):
    return world.cm.state.clients[world.clients[0]].lists[0]


def _set_fields(world: World, list_id: str, email: str, fields: dict[str, str]) -> None:
    world.cm.state.update_subscriber(
        list_id,
        email,
        SubscriberInput(email, None, tuple(FieldValue(key, value) for key, value in fields.items()), "Unchanged"),
        resubscribe=False,
        restart_journeys=False,
    )


def _member(world: World, list_id: str, email: str) -> dict:
    key = f"{list_id}:{email.lower()}"
    return next(r for r in world.records("CM_List_Member__c") if r["CM_Member_Key__c"] == key)


def test_salesforce_id_field_wins_over_email(world: World, embedded) -> None:
    mailing_list = _first_list(world)
    world.cm.state.create_custom_field(mailing_list.list_id, "Salesforce ID", "Text")
    subscriber = next(iter(mailing_list.members.values()))
    chosen = world.sf.create("Contact", {"LastName": "Chosen", "Email": "someone.else@example.net"})
    _set_fields(world, mailing_list.list_id, subscriber.email, {"Salesforce ID": chosen})
    embedded().sync()
    assert _member(world, mailing_list.list_id, subscriber.email)["CM_Contact__c"] == chosen


def test_cm2sf_mappings_update_linked_records(world: World, embedded) -> None:
    mailing_list = _first_list(world)
    state = world.cm.state
    state.create_custom_field(mailing_list.list_id, "Favourite Colour", "Text")
    state.create_custom_field(mailing_list.list_id, "Shoe Size", "Text")
    linked = [
        m for m in mailing_list.members.values()
        if any(str(c.get("Email") or "").lower() == m.key for c in world.records("Contact"))
    ]  # fmt: skip
    painted, plain = linked[0], linked[1]
    _set_fields(world, mailing_list.list_id, painted.email, {"Favourite Colour": "Teal", "Shoe Size": "44"})
    contact = next(c for c in world.records("Contact") if str(c["Email"]).lower() == plain.key)
    world.sf.update(contact["Id"], {"Title": "Already set"})
    mappings = [
        {"list": mailing_list.list_id, "cm_field": "[FavouriteColour]", "contact_field": "Department",
         "lead_field": "Industry", "direction": "cm2sf", "default_contact_value": "unknown"},
        {"list": mailing_list.list_id, "cm_field": "[ShoeSize]", "contact_field": "Title", "direction": "cm2sf",
         "create_only": True, "default_contact_value": "none given"},
    ]  # fmt: skip
    run = embedded(field_mappings=mappings).sync()
    assert run.status == "succeeded", run.error
    member = _member(world, mailing_list.list_id, painted.email)
    painted_contact = world.sf.get(member["CM_Contact__c"])
    assert painted_contact["Department"] == "Teal"
    assert painted_contact["Title"] in ("44", "Already set")
    plain_contact = world.sf.get(_member(world, mailing_list.list_id, plain.email)["CM_Contact__c"])
    assert plain_contact["Department"] == "unknown"
    if plain_contact["Id"] == contact["Id"]:
        assert plain_contact["Title"] == "Already set"


def test_opt_out_when_unsubscribed_on_every_list(world: World, embedded) -> None:
    state = world.cm.state
    client = state.clients[world.clients[0]]
    contact_email = next(
        m.email for m in client.lists[0].members.values()
        if m.state == "Active" and any(str(c.get("Email") or "").lower() == m.key for c in world.records("Contact"))
    )  # fmt: skip
    cmsync = embedded(email_opt_out={"opt_out_when_unsubscribed_everywhere": True})
    cmsync.sync()
    state.clock.advance(120)
    for mailing_list in client.lists:
        if contact_email.lower() in mailing_list.members:
            state.change_state(mailing_list.list_id, contact_email, "Unsubscribed")
    run = cmsync.sync()
    assert run.status == "succeeded", run.error
    contact_id = _member(world, client.lists[0].list_id, contact_email)["CM_Contact__c"]
    assert world.sf.get(contact_id)["HasOptedOutOfEmail"] is True
    assert run.counts.get("Contact", {}).get("opted_out", 0) >= 1


def test_a_bad_record_is_rejected_alone_and_retried(world: World, embedded) -> None:
    mailing_list = _first_list(world)
    now = world.cm.state.clock.now()
    broken = "broken." + "x" * 250 + "@example.com"
    with world.cm.state.lock:
        mailing_list.insert(Subscriber(broken, broken, "Broken", "Active", now, now))
    cmsync = embedded()
    run = cmsync.sync()
    assert run.status == "partial"
    assert run.counts["CM_List_Member__c"]["rejected"] == 1
    (rejection,) = cmsync.store.rejections.list(f"members:{mailing_list.list_id}:active")
    assert rejection.key == member_key(mailing_list.list_id, broken)
    assert "STRING_TOO_LONG" in rejection.reason
    expected = sum(len(ml.members) for cid in world.clients for ml in world.cm.state.clients[cid].lists)
    assert len(world.records("CM_List_Member__c")) == expected - 1
    again = cmsync.sync()
    assert again.counts["CM_List_Member__c"]["rejected"] == 1
    assert cmsync.store.rejections.list(f"members:{mailing_list.list_id}:active")[0].attempts == 2


def test_rate_limits_locks_outages_and_expired_tokens_only_slow_it_down(world: World, embedded) -> None:
    world.cm.faults.rate_limit(every=9, reset=0)
    world.sf.faults.update({"lock_rate": 0.15, "unavailable_rate": 0.05})
    world.cm.tokens.expire_all()
    cmsync = embedded()
    run_id = request_run(cmsync.store, "test").run.id
    wait_until(lambda: any("/services/data/" in call.path for call in world.sf.calls.calls()), "a Salesforce call")
    world.sf.expire_tokens()
    run = wait_for_end(cmsync.store, run_id, timeout=180)
    assert run.status in ("succeeded", "partial"), run.error
    world.cm.faults.clear()
    world.sf.faults.update({"lock_rate": 0.0, "unavailable_rate": 0.0})
    next_run = cmsync.sync()
    assert next_run.status == "succeeded", next_run.error
    assert cmsync.store.rejections.list() == [], (
        run.counts,
        next_run.counts,
        [r.stream for r in cmsync.store.rejections.list()],
        [r.reason for r in cmsync.store.rejections.list()],
    )
    expected = {f"{list_id}:{s.email.lower()}": s.state.value for list_id, s in world.members()}
    assert {r["CM_Member_Key__c"]: r["CM_State__c"] for r in world.records("CM_List_Member__c")} == expected
    assert world.duplicates("CM_Email_Activity__c", "CM_Activity_Key__c") == []
    rate_limited = [call for call in world.cm.calls.calls() if call.status == 429]
    assert rate_limited


def test_disconnect_stops_jobs_at_a_page_boundary(world: World, embedded) -> None:
    cmsync = embedded()
    world.cm.faults.set_latency(0.05)
    run_id = request_run(cmsync.store, "test").run.id
    wait_until(lambda: any("/active" in call.path for call in world.cm.calls.calls()), "a list job reading members")
    cmsync.store.connection.set(False)
    cmsync.store.runs.finish(run_id, "cancelled", "disconnected")
    calls = len(world.cm.calls.calls())
    cmsync.wait_until_idle()
    assert len(world.cm.calls.calls()) - calls <= cmsync.threads, "a job stops at its page boundary"
    world.cm.faults.set_latency(0)
    cmsync.store.connection.set(True)
    run = cmsync.sync()
    assert run.status == "succeeded"
    expected = {f"{list_id}:{s.email.lower()}" for list_id, s in world.members()}
    assert {r["CM_Member_Key__c"] for r in world.records("CM_List_Member__c")} == expected


def test_directory_follows_salesforce_changes(world: World, embedded) -> None:
    mailing_list = _first_list(world)
    unlinked = next(
        m for m in mailing_list.members.values()
        if not any(str(r.get("Email") or "").lower() == m.key for r in world.records("Contact") + world.records("Lead"))
    )  # fmt: skip
    cmsync = embedded()
    cmsync.sync()
    assert _member(world, mailing_list.list_id, unlinked.email)["CM_Contact__c"] is None
    contact_id = world.sf.create("Contact", {"LastName": "Newcomer", "Email": unlinked.email.upper()})
    linked_before = _member(world, mailing_list.list_id, next(iter(mailing_list.members.values())).email)
    cmsync.sync(full_pass=True)
    assert _member(world, mailing_list.list_id, unlinked.email)["CM_Contact__c"] == contact_id
    world.sf.delete(contact_id)
    if linked_before["CM_Contact__c"]:
        world.sf.delete(linked_before["CM_Contact__c"])
    cmsync.sync(full_pass=True)
    assert _member(world, mailing_list.list_id, unlinked.email)["CM_Contact__c"] is None
    emails = {row[2] for row in cmsync.store.directory.by_email([unlinked.email])}
    assert emails == set()


def test_every_log_line_of_a_job_names_its_run_and_what_it_works_on(world: World, embedded) -> None:
    stream = io.StringIO()
    configure_logging("json", "info", stream)
    try:
        run = embedded().sync()
    finally:
        configure_logging("json", "warning")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    imported = [line for line in lines if line["event"] == "list imported"]
    assert imported and all(line["run_id"] == run.id and line["client"] and line["list"] for line in imported)
    signed_in = [line for line in lines if line["event"] == "signed in to salesforce"]
    assert signed_in and all(line.get("run_id") == run.id and line.get("job") == "plan" for line in signed_in)


def test_a_job_refused_for_good_is_recorded_once_and_its_run_still_closes(world: World, embedded) -> None:
    cmsync = embedded()
    world.cm.faults.set_latency(0.05)
    run_id = request_run(cmsync.store, "test").run.id
    wait_until(lambda: any("/active" in call.path for call in world.cm.calls.calls()), "a list job reading members")
    keys = set(world.cm.api_keys)
    world.cm.api_keys.clear()
    try:
        run = wait_for_end(cmsync.store, run_id)
    finally:
        world.cm.api_keys.update(keys)
        world.cm.faults.set_latency(0)
    assert run.status == "failed"
    assert run.error is not None and run.error.startswith(("list:", "tracking:")), run.error
    assert "Invalid API Key" in run.error
    ended = cmsync.store.runs.get(run_id)
    assert ended is not None and ended.pending_jobs == 0 and ended.finished_at == run.finished_at
    assert run.counts["jobs"]["failed"] >= 1
    assert cmsync.sync().status == "succeeded"
