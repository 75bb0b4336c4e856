"""The org side: the DX source is complete and deployable-looking, and it is the emulator's only schema."""

import json
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import requests

from cmsync_sandbox.salesforce import RecordError, SalesforceEmulator
from cmsync_sandbox.salesforce.dx_source import DEFAULT_SCHEMA_DIR, SchemaError, load_schema
from tests.conftest import REPOSITORY

OBJECTS = REPOSITORY / "salesforce" / "force-app" / "main" / "default" / "objects"
NS = "{http://soap.sforce.com/2006/04/metadata}"
EXTERNAL_IDS = {
    "CM_Client__c": "CM_Client_ID__c",
    "CM_List__c": "CM_List_ID__c",
    "CM_List_Member__c": "CM_Member_Key__c",
    "CM_Campaign__c": "CM_Campaign_ID__c",
    "CM_Email_Activity__c": "CM_Activity_Key__c",
}

NEW_FIELD = """<?xml version="1.0" encoding="UTF-8"?>
<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">
    <fullName>CM_Notes__c</fullName>
    <label>Notes</label>
    <length>20</length>
    <required>false</required>
    <type>Text</type>
</CustomField>
"""


def test_the_project_is_a_dx_project_of_the_default_package():
    project = json.loads((REPOSITORY / "salesforce" / "sfdx-project.json").read_text())
    assert project["packageDirectories"] == [{"path": "force-app", "default": True}]
    assert project["sourceApiVersion"] == "61.0"
    assert DEFAULT_SCHEMA_DIR == REPOSITORY / "salesforce"


def test_every_field_file_names_its_field_and_has_a_label_and_a_type():
    for path in OBJECTS.glob("*/fields/*.field-meta.xml"):
        root = ElementTree.parse(path).getroot()
        assert root.tag == f"{NS}CustomField"
        assert root.findtext(f"{NS}fullName") == path.name.removesuffix(".field-meta.xml")
        assert root.findtext(f"{NS}label")
        assert root.findtext(f"{NS}type")


def test_external_ids_are_unique_case_insensitive_required_text():
    schema = load_schema()
    for sobject, name in EXTERNAL_IDS.items():
        field = schema.get(sobject).field(name)
        assert (field.external_id, field.unique, field.case_sensitive, field.required) == (True, True, False, True)
        assert field.type == "string"
    assert schema.get("CM_Client__c").field("CM_Client_ID__c").length == 32
    assert schema.get("CM_List_Member__c").field("CM_Member_Key__c").length == 255
    assert schema.get("CM_Email_Activity__c").field("CM_Activity_Key__c").length == 64


def test_picklists_lookups_and_the_user_override_are_defined():
    schema = load_schema()
    member = schema.get("CM_List_Member__c")
    assert member.field("CM_State__c").picklist == ("Active", "Unconfirmed", "Unsubscribed", "Bounced", "Deleted")
    assert member.field("CM_State__c").restricted
    assert member.field("CM_Contact__c").reference_to == "Contact"
    assert member.field("CM_Lead__c").reference_to == "Lead"
    assert member.field("CM_List__c").relationship_name == "CM_List__r"
    activity = schema.get("CM_Email_Activity__c")
    assert activity.field("CM_Type__c").picklist == ("Sent", "Opened", "Clicked", "Bounced", "Unsubscribed", "Spam")
    assert activity.field("CM_Activity_Date__c").type == "datetime"
    assert activity.field("CM_Activity_Day__c").external_id
    assert schema.get("CM_List__c").field("CM_Unsubscribe_Setting__c").picklist == ("AllClientLists", "OnlyThisList")
    assert schema.get("CM_Campaign__c").field("CM_Kind__c").picklist == ("Campaign", "Journey Email")
    access = schema.get("CM_Client_Access__c")
    assert access.field("CM_User__c").reference_to == "User"
    assert access.field("Name").auto_number == "CA-{000000}"
    assert schema.get("User").field("CM_User_Email__c").type == "email"


def test_custom_objects_get_distinct_key_prefixes_and_standard_ones_keep_theirs():
    schema = load_schema()
    prefixes = {sobject.name: sobject.key_prefix for sobject in schema}
    assert prefixes["Contact"] == "003" and prefixes["Lead"] == "00Q" and prefixes["Account"] == "001"
    assert len(set(prefixes.values())) == len(prefixes)


def _copy_of_the_project(tmp_path: Path) -> Path:
    copy = tmp_path / "salesforce"
    shutil.copytree(REPOSITORY / "salesforce", copy)
    return copy


def test_a_field_added_to_the_dx_source_becomes_writable(tmp_path):
    project = _copy_of_the_project(tmp_path)
    record = {"CM_Client_ID__c": "a" * 32, "CM_Notes__c": "hello"}
    before = SalesforceEmulator(project)
    with pytest.raises(KeyError):
        before.schema.get("CM_Client__c").fields["cm_notes__c"]
    (project / "force-app/main/default/objects/CM_Client__c/fields/CM_Notes__c.field-meta.xml").write_text(NEW_FIELD)
    after = SalesforceEmulator(project)
    with before.serve() as old_server, after.serve() as new_server:
        for server, expected in ((old_server, 400), (new_server, 201)):
            token = requests.post(
                f"{server.url}/services/oauth2/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": "sandbox-client-id",
                    "refresh_token": "sandbox-refresh-token",
                },
                timeout=10,
            ).json()["access_token"]
            response = requests.post(
                f"{server.url}/services/data/v61.0/sobjects/CM_Client__c",
                json=record,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert response.status_code == expected, response.text
    assert before.records("CM_Client__c") == []
    assert after.records("CM_Client__c")[0]["CM_Notes__c"] == "hello"
    too_long = {"CM_Client_ID__c": "b" * 32, "CM_Notes__c": "x" * 21}
    with pytest.raises(RecordError, match="max length=20"):
        after.create("CM_Client__c", too_long)


def test_an_unknown_field_type_in_the_source_is_refused(tmp_path):
    project = _copy_of_the_project(tmp_path)
    broken = NEW_FIELD.replace("<type>Text</type>", "<type>Hologram</type>")
    (project / "force-app/main/default/objects/CM_List__c/fields/CM_Notes__c.field-meta.xml").write_text(broken)
    with pytest.raises(SchemaError, match="Hologram"):
        load_schema(project)
