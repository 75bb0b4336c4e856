"""A job delivered twice at once (RabbitMQ redelivers a message when the connection that held it drops,
though its first attempt still runs): the second delivery waits for the first attempt and then finds the
job done, so no list is imported twice side by side, no row is deleted that Campaign Monitor still has,
and the run counts each member once."""

from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from tests.faults.converged import assert_converged
from tests.sync.world import World


class DeliverListJobsTwice(Middleware):
    """Sends every list job a second time, the same message, as soon as it is first sent."""

    def __init__(self) -> None:
        self.twins: set[str] = set()

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message[Any], delay: int | None) -> None:
        if message.actor_name == "import_list" and message.message_id not in self.twins:
            self.twins.add(message.message_id)
            broker.enqueue(message)


def _states(world: World) -> dict[str, str]:
    return {record["CM_Member_Key__c"]: record["CM_State__c"] for record in world.records("CM_List_Member__c")}


def test_a_list_job_delivered_twice_at_once_is_imported_once(world: World, embedded) -> None:
    cmsync = embedded()
    twice = DeliverListJobsTwice()
    cmsync.broker.add_middleware(twice)
    world.cm.faults.set_latency(0.01)
    members = sum(1 for _ in world.members())
    first = cmsync.sync()
    assert first.status == "succeeded", first.error
    assert first.counts["CM_List_Member__c"] == {"created": members}
    assert_converged(world)
    before = _states(world)
    state = world.cm.state
    mailing_list = state.clients[world.clients[0]].lists[0]
    leaving = next(member for member in mailing_list.members.values() if member.state == "Active")
    state.clock.advance(120)
    state.unsubscribe(mailing_list.list_id, leaving.email)
    full = cmsync.sync(full_pass=True)
    assert full.status == "succeeded", full.error
    assert_converged(world)
    after = _states(world)
    changed = sum(1 for key, state in after.items() if before[key] != state)
    assert after.keys() == before.keys() and changed >= 1
    assert full.counts["CM_List_Member__c"] == {"rewritten": changed, "unchanged": members - changed}
    assert len(twice.twins) == 2 * len(world.records("CM_List__c"))
    cmsync.wait_until_idle()
    assert cmsync.store.leases.job(full.id, f"list:{mailing_list.list_id}").holder() is None
