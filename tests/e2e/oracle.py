"""The end-to-end oracle: after a run, does Salesforce hold exactly what Campaign Monitor says it must?

Both systems are read only through their public APIs (``apis``); the expectation is computed from CM and
the settings alone (``expected``), never from cmsync's code or bookkeeping. ``check`` answers every
difference as a ``Mismatch``, one line each: a field that differs, a record missing, unexpected, or
held twice under one external key.
"""

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.e2e.apis import CampaignMonitorApi, SalesforceApi
from tests.e2e.expected import Expectation, ExpectedWorld, OracleSettings, Ref, activity_identity
from tests.e2e.links import AnyOf, People

RECORD = "(record)"
COLUMNS = {
    "CM_Client__c": "Id, Name, CM_Client_ID__c, CM_Timezone__c",
    "CM_List__c": "Id, Name, CM_List_ID__c, CM_Unsubscribe_Setting__c, CM_Client__c",
    "CM_List_Member__c": "Id, Name, CM_Member_Key__c, CM_Email__c, CM_Subscriber_Name__c, CM_State__c, CM_Date__c, "
    "CM_Joined_Date__c, CM_Custom_Fields__c, CM_List__c, CM_Contact__c, CM_Lead__c",
    "CM_Campaign__c": "Id, Name, CM_Campaign_ID__c, CM_Kind__c, CM_Subject__c, CM_Sent_Date__c, CM_Recipients__c, "
    "CM_Opens__c, CM_Unique_Opens__c, CM_Clicks__c, CM_Unsubscribes__c, CM_Bounces__c, CM_Spam_Complaints__c, "
    "CM_Web_Version_URL__c, CM_Client__c",
    "CM_Email_Activity__c": "Id, CM_Activity_Key__c, CM_Type__c, CM_Activity_Date__c, CM_Activity_Day__c, "
    "CM_Email__c, CM_URL__c, CM_IP_Address__c, CM_City__c, CM_Region__c, CM_Country__c, CM_Bounce_Type__c, "
    "CM_Bounce_Reason__c, CM_List_ID__c, CM_Campaign__c, CM_Contact__c, CM_Lead__c",
}
EXTERNAL_IDS = {
    "CM_Client__c": "CM_Client_ID__c",
    "CM_List__c": "CM_List_ID__c",
    "CM_List_Member__c": "CM_Member_Key__c",
    "CM_Campaign__c": "CM_Campaign_ID__c",
    "CM_Email_Activity__c": "CM_Activity_Key__c",
}


@dataclass(frozen=True)
class Mismatch:
    """One difference between what Salesforce holds and what it must hold."""

    sobject: str
    key: str
    field: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return f"{self.sobject} {self.key} {self.field}: expected {self.expected!r}, actual {self.actual!r}"


def _plain(value: Any) -> Any:
    """A Salesforce value in the expectation's terms: DateTimes to the second, whole numbers as int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and len(value) >= 24 and value[10] == "T" and value[4] == "-":
        return value[:19]
    return None if value == "" else value


def _custom_fields(text: Any) -> Any:
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        return text
    if not isinstance(parsed, dict):
        return parsed
    return {key: sorted(value) if isinstance(value, list) else value for key, value in parsed.items()}


class Salesforce:
    """The records cmsync writes, as the REST query API shows them, with Id ↔ external key."""

    def __init__(self, api: SalesforceApi) -> None:
        self.rows = {sobject: api.query(f"SELECT {columns} FROM {sobject}") for sobject, columns in COLUMNS.items()}
        self.ids: dict[tuple[str, str], str] = {}
        self.keys: dict[str, str] = {}
        for sobject, rows in self.rows.items():
            for row in rows:
                key = str(row.get(EXTERNAL_IDS[sobject]) or "")
                self.ids.setdefault((sobject, key.lower()), row["Id"])
                self.keys[row["Id"]] = key

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            return self.ids.get((value.sobject, value.key.lower()), f"<no {value.sobject} {value.key}>")
        return value

    def activity_identity(self, row: dict[str, Any]) -> str:
        source = self.keys.get(row.get("CM_Campaign__c") or "", f"<{row.get('CM_Campaign__c')}>")
        date = _plain(row.get("CM_Activity_Date__c"))
        return activity_identity(
            source, str(row.get("CM_Type__c")), str(row.get("CM_Email__c") or ""), date, row.get("CM_URL__c")
        )


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, AnyOf):
        return actual in expected.choices
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    return bool(expected == actual)


def _compare(
    sobject: str,
    expected: dict[str, dict[str, Any]],
    optional: set[str],
    rows: list[dict[str, Any]],
    key_of: Callable[[dict[str, Any]], str],
    salesforce: Salesforce,
) -> list[Mismatch]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        found[key_of(row).lower()].append(row)
    wanted = {key.lower(): key for key in expected}
    mismatches: list[Mismatch] = []
    for folded, held in sorted(found.items()):
        key = wanted.get(folded, key_of(held[0]))
        if len(held) > 1:
            mismatches.append(Mismatch(sobject, key, RECORD, "1 record", f"{len(held)} records"))
        if folded not in wanted:
            if key not in optional:
                mismatches.append(Mismatch(sobject, key, RECORD, "absent", "present"))
            continue
        row = held[0]
        for name, value in expected[key].items():
            want = salesforce.resolve(value)
            actual = _custom_fields(row.get(name)) if name == "CM_Custom_Fields__c" else _plain(row.get(name))
            if not _equal(want, actual):
                mismatches.append(Mismatch(sobject, key, name, want, actual))
    for folded, key in sorted(wanted.items()):
        if folded not in found and key not in optional:
            mismatches.append(Mismatch(sobject, key, RECORD, "present", "missing"))
    return mismatches


def _mapped_fields(salesforce: SalesforceApi, expectation: Expectation) -> list[Mismatch]:
    """The Contact and Lead fields cm2sf mappings write, against the values CM holds for them."""
    mismatches: list[Mismatch] = []
    for object_name in ("Contact", "Lead"):
        wanted = {key[1]: fields for key, fields in expectation.mapped.items() if key[0] == object_name}
        columns = sorted({name for fields in wanted.values() for name in fields})
        if not columns:
            continue
        held = {row["Id"]: row for row in salesforce.query(f"SELECT Id, {', '.join(columns)} FROM {object_name}")}
        for record_id, fields in sorted(wanted.items()):
            for name, values in sorted(fields.items()):
                actual = _plain(held.get(record_id, {}).get(name))
                if str(actual) not in values:
                    expected = next(iter(values)) if len(values) == 1 else AnyOf(tuple(sorted(values)))
                    mismatches.append(Mismatch(object_name, record_id, name, expected, actual))
    return mismatches


def check(cm: CampaignMonitorApi, salesforce_api: SalesforceApi, settings: OracleSettings) -> list[Mismatch]:
    """Every difference between Salesforce and what CM and the settings say it must hold."""
    people = People(salesforce_api)
    expectation = ExpectedWorld(cm, people, settings).build()
    salesforce = Salesforce(salesforce_api)
    mismatches: list[Mismatch] = []
    for sobject, external_id in EXTERNAL_IDS.items():
        rows = salesforce.rows[sobject]
        expected = expectation.records.get(sobject, {})
        optional = expectation.optional.get(sobject, set())
        if sobject == "CM_Email_Activity__c":
            mismatches += _compare(sobject, expected, optional, rows, salesforce.activity_identity, salesforce)
            keys = {str(row.get(external_id)) for row in rows}
            mismatches += _compare(sobject, {}, keys, rows, lambda row: str(row.get("CM_Activity_Key__c")), salesforce)
        else:
            mismatches += _compare(
                sobject, expected, optional, rows, lambda row, name=external_id: str(row.get(name) or ""), salesforce
            )
    return mismatches + _mapped_fields(salesforce_api, expectation)


def report(mismatches: list[Mismatch]) -> str:
    """The mismatches one per line, for an assertion message."""
    return f"{len(mismatches)} mismatches:\n" + "\n".join(str(mismatch) for mismatch in mismatches)
