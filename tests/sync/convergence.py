"""What "converged" means, read from both systems' APIs: Salesforce holds exactly the CM data, once."""

from tests.sync.world import World


def assert_converged(world: World) -> None:
    """Every CM member is one CM_List_Member__c with its state; no key is doubled anywhere."""
    expected = {
        f"{list_id}:{subscriber.email.lower()}": subscriber.state.value for list_id, subscriber in world.members()
    }
    members = world.records("CM_List_Member__c")
    assert world.duplicates("CM_List_Member__c", "CM_Member_Key__c") == []
    assert {record["CM_Member_Key__c"]: record["CM_State__c"] for record in members} == expected
    assert len(members) == len(expected)
    assert world.duplicates("CM_Email_Activity__c", "CM_Activity_Key__c") == []
    assert world.duplicates("CM_Campaign__c", "CM_Campaign_ID__c") == []
