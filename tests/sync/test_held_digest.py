"""A list member's digest is the same computed from what cmsync writes and from what Salesforce returns."""

from cmsync.mapping.records import held_digest, id18

WRITTEN = {
    "CM_Member_Key__c": "l1:zoë.o'hara@example.org",
    "Name": "Zoë.O'Hara@example.org",
    "CM_Email__c": "Zoë.O'Hara@example.org",
    "CM_Subscriber_Name__c": None,
    "CM_State__c": "Active",
    "CM_Date__c": "2026-10-01T08:11:00.000Z",
    "CM_Joined_Date__c": None,
    "CM_Custom_Fields__c": '{"city": "Zürich, \\"Altstadt\\"\\n2nd line"}',
    "CM_Contact__c": "0035g000000001I",
    "CM_Lead__c": None,
    "CM_List__r": {"CM_List_ID__c": "l1"},
}
REST_ROW = {
    "attributes": {"type": "CM_List_Member__c"},
    "Id": "a045g0000000001AAA",
    **WRITTEN,
    "CM_Date__c": "2026-10-01T08:11:00.000+0000",
    "CM_Contact__c": "0035g000000001IAAQ",
    "CM_List__r": {"attributes": {"type": "CM_List__c"}, "CM_List_ID__c": "l1"},
}
BULK_ROW = {
    "Id": "a045g0000000001AAA",
    **{name: "" if value is None else value for name, value in WRITTEN.items() if name != "CM_List__r"},
    "CM_Contact__c": "0035g000000001IAAQ",
    "CM_List__r.CM_List_ID__c": "l1",
}


def test_what_is_written_and_what_salesforce_returns_agree() -> None:
    assert held_digest(WRITTEN) == held_digest(REST_ROW) == held_digest(BULK_ROW)


def test_any_field_edited_in_salesforce_disagrees() -> None:
    for name, edited in (("CM_State__c", "Bounced"), ("CM_Subscriber_Name__c", "Edited"), ("CM_Contact__c", ""),
                         ("CM_Date__c", "2026-10-01T08:12:00.000Z"), ("CM_List__r.CM_List_ID__c", "l2")):  # fmt: skip
        assert held_digest({**BULK_ROW, name: edited}) != held_digest(WRITTEN), name


def test_fifteen_character_ids_read_as_eighteen() -> None:
    assert id18("0035g000000001I") == "0035g000000001IAAQ"
    assert id18("0035g000000001IAAQ") == "0035g000000001IAAQ"
