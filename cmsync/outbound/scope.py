"""What one poll works with: the enabled subscription rules and sf2cm mappings, checked against the org's
fields, and the fields each object's change query must read for them.

A rule or mapping that names a field the org does not have is left out (and said so in the poll report)
rather than failing every query: the rest of the outbound work goes on.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from cmsync.config import Settings
from cmsync.config.subscriptions import FieldMapping, SubscriptionRule
from cmsync.outbound.catalog import Catalog

PEOPLE = ("Contact", "Lead")
BASE_FIELDS = {
    "Contact": ("Id", "Email", "Name", "HasOptedOutOfEmail", "AccountId"),
    "Lead": ("Id", "Email", "Name", "HasOptedOutOfEmail", "IsConverted"),
    "Account": ("Id",),
}
CHANGE_FIELDS = ("CreatedDate", "SystemModstamp", "LastModifiedById", "IsDeleted")
"""What the change feed reads of every object, to order, classify and de-duplicate changes."""


@dataclass
class Scope:
    """The rules and mappings a poll applies, and what it reads; ``problems`` names what was left out."""

    rules: dict[str, list[SubscriptionRule]] = field(default_factory=lambda: defaultdict(list))
    mappings: dict[str, list[FieldMapping]] = field(default_factory=lambda: defaultdict(list))
    fields: dict[str, list[str]] = field(default_factory=dict)
    types: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def type_of(self, object_name: str, path: str) -> str:
        """The Salesforce type of a field the scope reads (``string`` when unknown)."""
        return self.types.get((object_name, path.lower()), "string")

    def mapped_field(self, mapping: FieldMapping, object_name: str) -> str | None:
        """The field of ``object_name`` a mapping reads, when it has one the org knows."""
        path = mapping.contact_field if object_name == "Contact" else mapping.lead_field
        return path if path and (object_name, path.lower()) in self.types else None

    def rule_lists(self) -> set[str]:
        """Lists any rule acts on (where cmsync's own pushes may have put or removed a record)."""
        return {rule.list for rules in self.rules.values() for rule in rules}


def build_scope(settings: Settings, catalog: Catalog) -> Scope:
    """Check the settings' rules and sf2cm mappings against the org and gather the fields to read."""
    scope = Scope()
    objects = (*PEOPLE, "Account") if settings.advanced.account_trigger else PEOPLE
    wanted: dict[str, dict[str, str]] = {name: {} for name in objects}

    def known(object_name: str, path: str) -> bool:
        kind = catalog.salesforce_type(object_name, path)
        if kind is not None:
            scope.types[(object_name, path.lower())] = kind
            wanted[object_name].setdefault(path.lower(), path)
        return kind is not None

    for name in objects:
        for path in (*BASE_FIELDS[name], *CHANGE_FIELDS):
            known(name, path)
    for rule in settings.subscription_rules:
        if rule.disabled:
            continue
        missing = [criterion.field for criterion in rule.criteria if not known(rule.object, criterion.field)]
        if missing:
            scope.problems.append(
                f"{rule.action} rule of {rule.object} on list {rule.list} is skipped: Salesforce has no "
                f"{rule.object} field {', '.join(missing)}"
            )
        else:
            scope.rules[rule.object].append(rule)
    for mapping in settings.field_mappings:
        if mapping.direction != "sf2cm":
            continue
        for object_name, path in (("Contact", mapping.contact_field), ("Lead", mapping.lead_field)):
            if path and not known(object_name, path):
                scope.problems.append(
                    f"mapping of {mapping.cm_field} on list {mapping.list} is skipped for {object_name}: Salesforce "
                    f"has no {object_name} field {path}"
                )
        scope.mappings[mapping.list].append(mapping)
    scope.fields = {name: list(paths.values()) for name, paths in wanted.items()}
    return scope
