"""The oracle itself: every difference made in Salesforce after a run is reported, as exactly one line
each, and nothing else changes in its answer."""

from tests.e2e.conftest import Convergence

GHOST = "ghost@nowhere.example.com"


def test_each_difference_is_one_line(convergence: Convergence) -> None:
    world, records = convergence, convergence.sf_controls
    list_id, seeded = world.hostile.list_id, world.hostile.seeded
    world.sync("first run")
    before = {str(mismatch) for mismatch in world.oracle()}

    gone, changed = f"{list_id}:{seeded[0].lower()}", f"{list_id}:{seeded[1].lower()}"
    records.call("DELETE", f"records/CM_List_Member__c/{world.member_id(list_id, seeded[0])}")
    records.call(
        "PATCH", f"records/CM_List_Member__c/{world.member_id(list_id, seeded[1])}", {"CM_State__c": "Bounced"}
    )
    list_record = world.salesforce.query(f"SELECT Id FROM CM_List__c WHERE CM_List_ID__c = '{list_id}'")[0]["Id"]
    ghost = f"{list_id}:{GHOST}"
    values = {"CM_Member_Key__c": ghost, "Name": GHOST, "CM_Email__c": GHOST, "CM_State__c": "Active"}
    records.call("POST", "records/CM_List_Member__c", {**values, "CM_List__c": list_record})
    campaigns = world.salesforce.query("SELECT Id, CM_Campaign_ID__c, CM_Opens__c FROM CM_Campaign__c")
    campaign = next(row for row in campaigns if not any(row["CM_Campaign_ID__c"] in line for line in before))
    records.call("PATCH", f"records/CM_Campaign__c/{campaign['Id']}", {"CM_Opens__c": campaign["CM_Opens__c"] + 7})
    columns = "CM_Type__c, CM_Activity_Date__c, CM_Email__c, CM_Campaign__c, CM_URL__c"
    event = world.salesforce.query(f"SELECT {columns} FROM CM_Email_Activity__c WHERE CM_Type__c = 'Opened'")[0]
    twin = {name: value for name, value in event.items() if value is not None}
    records.call("POST", "records/CM_Email_Activity__c", {**twin, "CM_Activity_Key__c": "f" * 64})
    identity = f"{campaign_id(world, event['CM_Campaign__c'])}|Opened|{event['CM_Email__c'].lower()}|"
    identity += f"{event['CM_Activity_Date__c'][:19]}|{event.get('CM_URL__c') or ''}"

    after = {str(mismatch) for mismatch in world.oracle()}
    assert after - before == {
        f"CM_List_Member__c {gone} (record): expected 'present', actual 'missing'",
        f"CM_List_Member__c {changed} CM_State__c: expected 'Active', actual 'Bounced'",
        f"CM_List_Member__c {ghost} (record): expected 'absent', actual 'present'",
        f"CM_Campaign__c {campaign['CM_Campaign_ID__c']} CM_Opens__c: expected {int(campaign['CM_Opens__c'])}, "
        f"actual {int(campaign['CM_Opens__c']) + 7}",
        f"CM_Email_Activity__c {identity} (record): expected '1 record', actual '2 records'",
    }, sorted(after ^ before)
    assert before - after == set()


def campaign_id(world: Convergence, record_id: str) -> str:
    rows = world.salesforce.query(f"SELECT CM_Campaign_ID__c FROM CM_Campaign__c WHERE Id = '{record_id}'")
    return str(rows[0]["CM_Campaign_ID__c"])
