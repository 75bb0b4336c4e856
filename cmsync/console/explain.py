""" "Why didn't this sync?": for one email, what Campaign Monitor holds on each list, what Salesforce holds
(the member row, its Contact/Lead links and why those were chosen), any rejection with its reason, and
which subscription rules match the Contact or Lead now (and which criterion fails for those that do not).

Answered from the state store and live reads; the API calls it cost are counted and shown.
"""

import json
from dataclasses import dataclass, field
from typing import Any

from cmsync.clients.campaign_monitor.client import CampaignMonitorClient
from cmsync.clients.campaign_monitor.errors import BadRequestError, CampaignMonitorError
from cmsync.clients.campaign_monitor.records import Subscriber
from cmsync.clients.salesforce.errors import SalesforceError
from cmsync.clients.salesforce.soql import literal_list
from cmsync.config import Settings
from cmsync.config.subscriptions import SubscriptionRule
from cmsync.mapping.linking import LINK_FIELDS, SALESFORCE_ID_KEY, find_links, short_id
from cmsync.mapping.records import field_key, member_key
from cmsync.outbound.catalog import Catalog
from cmsync.outbound.criteria import criterion_holds, value_at
from cmsync.outbound.scope import build_scope
from cmsync.state import Rejection, StateStore
from cmsync.systems import Systems

NOT_ON_LIST = 203
"""CM's code for an email that is not on the list it was asked about."""
MEMBER_FIELDS = "Id, CM_Member_Key__c, CM_State__c, CM_Date__c, CM_Joined_Date__c, CM_Contact__c, CM_Lead__c"


@dataclass
class ListAnswer:
    """One list: what CM holds, what Salesforce holds, and the links chosen."""

    list_id: str
    name: str
    client: str
    campaign_monitor: dict[str, Any] | None = None
    campaign_monitor_error: str | None = None
    member_row: dict[str, Any] | None = None
    links: list[str] = field(default_factory=list)


@dataclass
class RuleAnswer:
    """One subscription rule against one Contact or Lead as it is now."""

    rule: str
    record: str
    matches: bool
    failing: list[str]
    evaluation: str


@dataclass
class Explanation:
    email: str
    lists: list[ListAnswer] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    rules: list[RuleAnswer] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    campaign_monitor_calls: int = 0
    salesforce_calls: int = 0


def rejections_of(store: StateStore, email: str) -> list[Rejection]:
    """Rejected records whose key or content names ``email`` (case-insensitive)."""
    wanted = email.lower()
    return [
        rejection
        for rejection in store.rejections.list()
        if wanted in rejection.key.lower() or wanted in json.dumps(rejection.payload, ensure_ascii=False).lower()
    ]


def _fields(subscriber: Subscriber) -> dict[str, str]:
    """Custom field values by key; the several values of a multi-select field joined."""
    fields: dict[str, list[str]] = {}
    for value in subscriber.custom_fields:
        fields.setdefault(value.key, []).append(value.value)
    return {key: ", ".join(values) for key, values in fields.items()}


def _subscriber(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "state": subscriber.state.value,
        "date": subscriber.date.isoformat(sep=" "),
        "joined": subscriber.joined.isoformat(sep=" ") if subscriber.joined else None,
        "name": subscriber.name,
        "fields": _fields(subscriber),
    }


def _salesforce_id(subscriber: Subscriber | None) -> str | None:
    if subscriber is None:
        return None
    return next((v.value for v in subscriber.custom_fields if field_key(v.key) == SALESFORCE_ID_KEY), None)


def link_reasons(store: StateStore, email: str, salesforce_id: str | None) -> list[str]:
    """Which Contact/Lead the sync links, and why: ``[SalesforceId]``, the newest email match, or both."""
    rows = store.directory.by_email([email])
    chosen = find_links(store, [email], [salesforce_id] if salesforce_id else []).for_subscriber(email, salesforce_id)
    named = short_id(salesforce_id)
    reasons = []
    for object_name, match in sorted(chosen.items()):
        same = [row for row in rows if row[0] == object_name]
        if named and match.id[:15] == named:
            why = f"named by the subscriber's [SalesforceId] {salesforce_id}"
        elif len(same) > 1:
            why = f"the most recently modified of {len(same)} {object_name}s with this email"
        else:
            why = f"the only {object_name} with this email"
        reasons.append(f"{object_name} {match.id}: {why}")
    if salesforce_id and not named:
        reasons.append(f"[SalesforceId] {salesforce_id!r} is not a Salesforce Id: ignored, the email decides")
    elif named and not any(match.id[:15] == named for match in chosen.values()):
        reasons.append(f"[SalesforceId] {salesforce_id} names no Contact or Lead: ignored, the email decides")
    if len(chosen) == len(LINK_FIELDS):
        reasons.append("a Contact and a Lead both match: both are linked")
    if not chosen:
        reasons.append("no Contact or Lead has this email: the member row has no links")
    return reasons


def _describe_rule(rule: SubscriptionRule, position: int) -> str:
    return rule.name or f"rule {position + 1}: {rule.action} {rule.object} on list {rule.list}"


def _criterion(rule: SubscriptionRule, index: int) -> str:
    criterion = rule.criteria[index]
    return f"criterion {index + 1} ({criterion.field} {criterion.op} {criterion.value!r})"


def _check_rules(systems: Systems, email: str, answer: Explanation) -> None:
    rules = [(n, rule) for n, rule in enumerate(systems.settings.subscription_rules) if not rule.disabled]
    if not rules:
        return
    scope = build_scope(systems.settings, Catalog(systems))
    answer.problems.extend(scope.problems)
    people = {row[1]: row[0] for row in systems.store.directory.by_email([email]) if row[0] in LINK_FIELDS}
    for object_name in sorted(set(people.values())):
        object_rules = [(n, rule) for n, rule in rules if rule.object == object_name]
        if not object_rules:
            continue
        fields = sorted({c.field for _, rule in object_rules for c in rule.criteria} | {"Id"})
        ids = [record_id for record_id, name in people.items() if name == object_name]
        soql = f"SELECT {', '.join(fields)} FROM {object_name} WHERE Id IN {literal_list(ids)}"
        answer.salesforce_calls += 1
        for record in systems.salesforce.query(soql):
            for position, rule in object_rules:
                results = [
                    criterion_holds(c, value_at(record, c.field), scope.type_of(object_name, c.field))
                    for c in rule.criteria
                ]
                failing = [_criterion(rule, i) for i, held in enumerate(results) if not held]
                answer.rules.append(
                    RuleAnswer(
                        _describe_rule(rule, position),
                        f"{object_name} {record['Id']}",
                        rule.expression.evaluate(results),
                        failing,
                        rule.evaluation or "created_or_edited",
                    )
                )


def _member_rows(systems: Systems, email: str, list_ids: list[str], answer: Explanation) -> dict[str, dict[str, Any]]:
    if not list_ids:
        return {}
    keys = {member_key(list_id, email): list_id for list_id in list_ids}
    soql = f"SELECT {MEMBER_FIELDS} FROM CM_List_Member__c WHERE CM_Member_Key__c IN {literal_list(list(keys))}"
    answer.salesforce_calls += 1
    return {
        keys[row["CM_Member_Key__c"]]: row for row in systems.salesforce.query(soql) if row["CM_Member_Key__c"] in keys
    }


def explain(settings: Settings, store: StateStore, email: str) -> Explanation:
    """The whole answer for ``email`` (reads both APIs; every call is counted)."""
    email = email.strip()
    answer = Explanation(email, rejections=rejections_of(store, email))
    systems = Systems.from_settings(settings, store)
    cm: CampaignMonitorClient = systems.campaign_monitor
    try:
        subscribers: dict[str, Subscriber | None] = {}
        for client_id in settings.campaign_monitor.clients:
            try:
                summaries = cm.lists(client_id)
            except CampaignMonitorError as error:
                answer.problems.append(f"Campaign Monitor client {client_id}: {error}")
                continue
            for summary in summaries:
                entry = ListAnswer(summary.list_id, summary.name, client_id)
                try:
                    subscriber = cm.subscriber(summary.list_id, email)
                    entry.campaign_monitor = _subscriber(subscriber)
                except BadRequestError as error:
                    subscriber = None
                    if error.code != NOT_ON_LIST:
                        entry.campaign_monitor_error = str(error)
                subscribers[summary.list_id] = subscriber
                answer.lists.append(entry)
        try:
            rows = _member_rows(systems, email, list(subscribers), answer)
            for entry in answer.lists:
                entry.member_row = rows.get(entry.list_id)
                subscriber = subscribers[entry.list_id]
                if subscriber is not None or entry.member_row is not None:
                    entry.links = link_reasons(store, email, _salesforce_id(subscriber))
            _check_rules(systems, email, answer)
        except SalesforceError as error:
            answer.problems.append(f"Salesforce: {error}")
        answer.campaign_monitor_calls = sum(sum(outcomes.values()) for outcomes in cm.counts.snapshot().values())
    finally:
        systems.close()
    return answer
