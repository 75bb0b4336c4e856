"""Settings that act on subscribers: automatic subscription rules, custom field mappings, email opt-out.

Shapes follow the app (reference/campaign-monitor.md §1.4–1.6): per list at most one Add and one Delete
rule each for Contact and Lead, up to five criteria joined by custom logic, one direction per CM field.
"""

from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from cmsync.config.rule_logic import Expression, default_logic, parse_logic
from cmsync.config.types import SECTION, CmFieldKey, CmId, LowerCase, SalesforceFieldPath

Operator = Literal[
    "equals",
    "notequalto",
    "lessthan",
    "lessorequal",
    "greaterthan",
    "greaterorequal",
    "startswith",
    "contains",
    "doesnotcontain",
]
RecordObject = Literal["Contact", "Lead"]
Evaluation = Literal["created", "edited", "created_or_edited"]


def _object_name(value: object) -> object:
    return value.capitalize() if isinstance(value, str) else value


class RuleCriterion(BaseModel):
    """One condition on a field of the record or of its Account (``Account.Industry``)."""

    model_config = SECTION

    field: SalesforceFieldPath
    op: Annotated[Operator, LowerCase]
    value: str | bool | int | float | date | datetime | None = None


class SubscriptionRule(BaseModel):
    """Adds a Contact or Lead to a list, or sets it Deleted there, when a saved record matches."""

    model_config = SECTION

    name: str | None = None
    list: CmId
    object: RecordObject
    action: Annotated[Literal["add", "delete"], LowerCase]
    evaluation: Annotated[Evaluation | None, LowerCase] = None
    criteria: Annotated[list[RuleCriterion], Field(max_length=5)] = []
    logic: str | None = None
    disabled: bool = False
    _expression: Expression = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _object_case(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("object"), str):
            return {**data, "object": _object_name(data["object"])}
        return data

    @model_validator(mode="after")
    def _check(self) -> "SubscriptionRule":
        problem = rule_problem(self.action, self.evaluation, len(self.criteria), self.logic)
        if problem:
            raise ValueError(problem)
        if self.evaluation is None:
            object.__setattr__(self, "evaluation", "created" if self.action == "add" else "edited")
        self._expression = (
            parse_logic(self.logic, len(self.criteria)) if self.logic else default_logic(len(self.criteria))
        )
        return self

    @property
    def expression(self) -> Expression:
        """The parsed logic over this rule's criteria (AND of all when no logic is given)."""
        return self._expression


def rule_problem(action: str, evaluation: str | None, criteria: int, logic: str | None) -> str | None:
    """What is wrong between a rule's action, evaluation, number of criteria and logic, or None."""
    if action == "delete" and evaluation not in (None, "edited"):
        return (
            f"evaluation {evaluation!r} is not allowed for a delete rule; delete rules run only when a record is edited"
        )
    if logic is not None and not criteria:
        return "logic is given but the rule has no criteria"
    if logic:
        try:
            parse_logic(logic, criteria)
        except ValueError as error:
            return str(error)
    return None


class FieldMapping(BaseModel):
    """Maps one CM custom field of a list to a Contact and/or Lead field, in one direction only."""

    model_config = SECTION

    list: CmId
    cm_field: CmFieldKey
    contact_field: SalesforceFieldPath | None = None
    lead_field: SalesforceFieldPath | None = None
    direction: Annotated[Literal["sf2cm", "cm2sf"], LowerCase]
    create_only: bool = False
    default_contact_value: str | None = None
    default_lead_value: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "FieldMapping":
        if self.contact_field is None and self.lead_field is None:
            raise ValueError(f"mapping of {self.cm_field} names neither contact_field nor lead_field")
        if self.direction == "sf2cm":
            used = [
                name
                for name, value in (
                    ("create_only", self.create_only),
                    ("default_contact_value", self.default_contact_value),
                    ("default_lead_value", self.default_lead_value),
                )
                if value
            ]
            if used:
                raise ValueError(f"{', '.join(used)} only apply to cm2sf mappings; {self.cm_field} is mapped sf2cm")
        else:
            for setting, field in (("contact_field", self.contact_field), ("lead_field", self.lead_field)):
                if field and "." in field:
                    raise ValueError(
                        f"{setting} {field!r}: a cm2sf mapping writes to the Contact or Lead itself, "
                        "not to a related record"
                    )
        return self


class EmailOptOut(BaseModel):
    """The four email opt-out toggles of the app, acting on the standard ``HasOptedOutOfEmail``."""

    model_config = SECTION

    prevent_add_when_opted_out: bool = True
    unsubscribe_when_opted_out: bool = False
    opt_out_when_unsubscribed_everywhere: bool = False
    delete_subscriber_when_record_deleted: bool = False


RuleKey = tuple[str, str, str]
"""A rule's list, object and action: a list allows one rule of each."""


def check_rules_unique(rules: list[SubscriptionRule]) -> None:
    """Per list, at most one Add and one Delete rule each for Contact and Lead."""
    problem = second_rule_problem((index, (rule.list, rule.object, rule.action)) for index, rule in enumerate(rules))
    if problem:
        raise ValueError(problem)


def second_rule_problem(keys: Iterable[tuple[int, RuleKey]]) -> str | None:
    """The first rule that repeats the list, object and action of an earlier one, as a message, or None."""
    seen: dict[RuleKey, int] = {}
    for index, key in keys:
        if key in seen:
            list_id, record_object, action = key
            return (
                f"subscription_rules[{index}] is a second {action} rule for {record_object} on list "
                f"{list_id} (the first is subscription_rules[{seen[key]}]); a list allows one of each"
            )
        seen[key] = index
    return None


def check_mappings_unique(mappings: list[FieldMapping]) -> None:
    """Each CM field of a list is mapped once, in one direction only."""
    problem = second_mapping_problem((index, mapping.list, mapping.cm_field) for index, mapping in enumerate(mappings))
    if problem:
        raise ValueError(problem)


def second_mapping_problem(fields: Iterable[tuple[int, str, str]]) -> str | None:
    """The first mapping of a CM field (list, key) mapped before, as a message, or None."""
    seen: dict[tuple[str, str], int] = {}
    for index, list_id, cm_field in fields:
        key = (list_id, cm_field.lower())
        if key in seen:
            return (
                f"field_mappings[{index}] maps {cm_field} of list {list_id} again (first in "
                f"field_mappings[{seen[key]}]); each CM field maps one way only"
            )
        seen[key] = index
    return None
