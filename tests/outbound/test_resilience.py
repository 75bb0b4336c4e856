"""Outbound under failure, over real HTTP: subscribers CM refuses are rejected alone with CM's reason and
not sent again; rate limits and server errors only slow pushes down; an outage stops a poll before its
watermark moves, and the next poll pushes what it could not."""

from tests.sync.world import World


def _created_rule(mailing_list) -> dict:
    return {"list": mailing_list.list_id, "object": "Contact", "action": "add"}


def test_a_subscriber_cm_refuses_is_rejected_alone_and_not_retried(world: World, daemon) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "Refusals")
    world.cm.state.add_members(mailing_list.list_id, [("gone@refused.example", "Gone")], state="Unsubscribed")
    running = daemon(subscription_rules=[_created_rule(mailing_list)])
    for name in ("gone", "first", "second"):
        world.sf.create("Contact", {"LastName": name, "Email": f"{name}@refused.example"})
    report = running.settle()
    assert {key: member.state for key, member in mailing_list.members.items()} == {
        "gone@refused.example": "Unsubscribed", "first@refused.example": "Active",
        "second@refused.example": "Active",
    }  # fmt: skip
    (rejection,) = running.store.rejections.list("outbound")
    assert rejection.object == "Contact"
    assert rejection.reason == "code 206: Is Unsubscribed"
    assert rejection.payload["email"] == "gone@refused.example"
    assert report["pushes"] == {"add:ok": 2, "add:rejected": 1}
    running.settle()
    assert world.cm.calls.counts()["POST /subscribers/{listid}/import"] == 1
    assert running.store.rejections.list("outbound")[0].attempts == 1


def test_rate_limits_and_server_errors_only_slow_pushes_down(world: World, daemon) -> None:
    lists = [world.cm.state.add_list(world.clients[0], f"Faults {number}") for number in range(3)]
    running = daemon(subscription_rules=[_created_rule(mailing_list) for mailing_list in lists])
    world.cm.faults.rate_limit(every=2, reset=0)
    world.cm.faults.server_errors(rate=0.3)
    for number in range(3):
        world.sf.create("Contact", {"LastName": f"Slow {number}", "Email": f"slow{number}@faults.example"})
    report = running.settle(timeout=60)
    world.cm.faults.clear()
    assert [set(mailing_list.members) for mailing_list in lists] == [
        {f"slow{number}@faults.example" for number in range(3)} for _ in lists
    ]
    assert report["error"] is None
    assert {call.status for call in world.cm.calls.calls()} >= {429, 500}


def test_an_outage_stops_the_poll_and_the_next_poll_pushes_what_it_could_not(world: World, daemon) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "Outage")
    running = daemon(subscription_rules=[_created_rule(mailing_list)])
    world.cm.faults.server_errors(rate=1.0)
    world.sf.create("Contact", {"LastName": "Patient", "Email": "patient@outage.example"})
    failed = running.settle(timeout=60)
    assert "HTTP 500" in failed["error"]
    assert mailing_list.members == {}
    world.cm.faults.clear()
    recovered = running.settle(timeout=60)
    assert recovered["error"] is None
    assert mailing_list.members["patient@outage.example"].state == "Active"
    adds = [call for call in world.cm.calls.calls() if call.endpoint == "POST /subscribers/{listid}"]
    assert [call.status for call in adds if call.status < 300] == [201]
