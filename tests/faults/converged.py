"""Both systems compared record by record through their APIs: every Campaign Monitor member is one
CM_List_Member__c row in Salesforce with the same state, and no row is left over."""

from tests.sync.world import World


def assert_converged(world: World) -> None:
    expected = {
        f"{list_id}:{subscriber.email.lower()}": subscriber.state.value for list_id, subscriber in world.members()
    }
    members = world.records("CM_List_Member__c")
    assert {record["CM_Member_Key__c"]: record["CM_State__c"] for record in members} == expected
    assert len(members) == len(expected)
