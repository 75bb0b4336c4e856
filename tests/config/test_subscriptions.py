"""Automatic subscription rules, field mappings and email opt-out, validated as the app does."""

from typing import Any

import pytest

from cmsync.config.rule_logic import parse_logic
from tests.config.builders import LIST, errors_of, load, with_settings

OTHER_LIST = "0" * 31 + "1"


def rule(**overrides: Any) -> dict[str, Any]:
    return {
        "list": LIST,
        "object": "Contact",
        "action": "add",
        "criteria": [{"field": "LeadSource", "op": "equals", "value": "Web"}],
        **overrides,
    }


def mapping(**overrides: Any) -> dict[str, Any]:
    return {
        "list": LIST,
        "cm_field": "[Industry]",
        "contact_field": "Account.Industry",
        "direction": "sf2cm",
        **overrides,
    }


class TestRules:
    def test_defaults(self) -> None:
        loaded = load(with_settings(subscription_rules=[rule(), rule(action="delete", object="lead")]))
        add, delete = loaded.subscription_rules
        assert (add.evaluation, delete.evaluation, delete.object) == ("created", "edited", "Lead")
        assert add.expression.evaluate([True]) is True

    def test_custom_logic_is_evaluated(self) -> None:
        criteria = [{"field": f"Field{n}__c", "op": "equals", "value": n} for n in range(1, 4)]
        loaded = load(with_settings(subscription_rules=[rule(criteria=criteria, logic="1 and (2 or 3)")]))
        expression = loaded.subscription_rules[0].expression
        assert expression.evaluate([True, False, True]) is True
        assert expression.evaluate([True, False, False]) is False
        assert expression.evaluate([False, True, True]) is False

    def test_without_criteria_fires_on_every_save(self) -> None:
        loaded = load(with_settings(subscription_rules=[rule(criteria=[])]))
        assert loaded.subscription_rules[0].expression.evaluate([]) is True

    def test_account_field_criteria(self) -> None:
        criteria = [{"field": "Account.Industry", "op": "startswith", "value": "Bank"}]
        assert load(with_settings(subscription_rules=[rule(criteria=criteria)])).subscription_rules[0].criteria

    def test_at_most_five_criteria(self) -> None:
        criteria = [{"field": "Name", "op": "contains", "value": str(n)} for n in range(6)]
        assert errors_of(with_settings(subscription_rules=[rule(criteria=criteria)])) == [
            "subscription_rules[0].criteria: has 6 items; at most 5 are allowed"
        ]

    def test_one_rule_of_each_kind_per_list(self) -> None:
        rules = [rule(), rule(list=OTHER_LIST), rule(object="Lead"), rule(evaluation="edited")]
        assert errors_of(with_settings(subscription_rules=rules)) == [
            "subscription_rules: subscription_rules[3] is a second add rule for Contact on list "
            f"{LIST} (the first is subscription_rules[0]); a list allows one of each"
        ]

    def test_delete_rules_run_on_edit_only(self) -> None:
        assert errors_of(with_settings(subscription_rules=[rule(action="delete", evaluation="created")])) == [
            "subscription_rules[0]: evaluation 'created' is not allowed for a delete rule; delete rules run only "
            "when a record is edited"
        ]

    @pytest.mark.parametrize(
        ("logic", "message"),
        [
            ("1 AND 3", "logic '1 AND 3' refers to criterion 3, but the rule has 2 criteria"),
            ("1", "logic '1' must use every criterion number; it leaves out 2"),
            ("1 AND 1 OR 2", "logic '1 AND 1 OR 2' uses criterion 1 more than once"),
            ("1 AND (2", "logic '1 AND (2': expected ) but found 'the end'"),
            ("1 XOR 2", "logic '1 XOR 2': 'XOR' is not allowed; use numbers, AND, OR, NOT and ( )"),
            ("1 2", "logic '1 2': unexpected '2'"),
        ],
    )
    def test_logic_mistakes(self, logic: str, message: str) -> None:
        criteria = [{"field": "Name", "op": "contains", "value": "a"}, {"field": "Title", "op": "equals", "value": "b"}]
        assert errors_of(with_settings(subscription_rules=[rule(criteria=criteria, logic=logic)])) == [
            f"subscription_rules[0]: {message}"
        ]

    @pytest.mark.parametrize(
        ("field", "message"),
        [
            ("Lead Source", "Invalid characters found in 'Lead Source': ' ' at position 5"),
            ("Account.Indus-try", "Invalid characters found in 'Account.Indus-try': '-' at position 6"),
        ],
    )
    def test_field_names_are_checked(self, field: str, message: str) -> None:
        errors = errors_of(with_settings(subscription_rules=[rule(criteria=[{"field": field, "op": "equals"}])]))
        assert len(errors) == 1 and errors[0].startswith("subscription_rules[0].criteria[0].field: " + message)

    def test_unknown_operator(self) -> None:
        errors = errors_of(with_settings(subscription_rules=[rule(criteria=[{"field": "Name", "op": "like"}])]))
        assert errors[0].startswith("subscription_rules[0].criteria[0].op: 'like' is not allowed; expected one of")

    def test_list_id_is_checked(self) -> None:
        assert errors_of(with_settings(subscription_rules=[rule(list="newsletter")]))[0].startswith(
            "subscription_rules[0].list: Invalid characters found in 'newsletter': 'n' at position 1"
        )


def test_logic_not_and_nesting() -> None:
    expression = parse_logic("NOT 1 AND (2 OR (3 AND NOT 4))", 4)
    assert expression.evaluate([False, False, True, False]) is True
    assert expression.evaluate([True, True, True, True]) is False


class TestMappings:
    def test_both_directions(self) -> None:
        mappings = [
            mapping(),
            mapping(cm_field="[Colour]", contact_field="Colour__c", lead_field="Colour__c", direction="cm2sf",
                    create_only=True, default_contact_value="none"),
        ]  # fmt: skip
        loaded = load(with_settings(field_mappings=mappings))
        assert [m.direction for m in loaded.field_mappings] == ["sf2cm", "cm2sf"]

    def test_each_cm_field_maps_one_way_only(self) -> None:
        mappings = [mapping(), mapping(direction="cm2sf", contact_field="Industry__c")]
        assert errors_of(with_settings(field_mappings=mappings)) == [
            f"field_mappings: field_mappings[1] maps [Industry] of list {LIST} again (first in field_mappings[0]); "
            "each CM field maps one way only"
        ]

    def test_needs_a_salesforce_field(self) -> None:
        assert errors_of(with_settings(field_mappings=[mapping(contact_field=None)])) == [
            "field_mappings[0]: mapping of [Industry] names neither contact_field nor lead_field"
        ]

    def test_create_only_and_defaults_are_for_cm2sf(self) -> None:
        assert errors_of(with_settings(field_mappings=[mapping(create_only=True, default_lead_value="x")])) == [
            "field_mappings[0]: create_only, default_lead_value only apply to cm2sf mappings; "
            "[Industry] is mapped sf2cm"
        ]

    def test_cm2sf_cannot_write_a_related_record(self) -> None:
        assert errors_of(with_settings(field_mappings=[mapping(direction="cm2sf")])) == [
            "field_mappings[0]: contact_field 'Account.Industry': a cm2sf mapping writes to the Contact or Lead "
            "itself, not to a related record"
        ]

    def test_cm_key_is_checked(self) -> None:
        assert errors_of(with_settings(field_mappings=[mapping(cm_field="[In dustry]")])) == [
            "field_mappings[0].cm_field: Invalid characters found in '[In dustry]': ' ' at position 3; a Campaign "
            "Monitor field key uses only letters, digits, _ and - between its brackets"
        ]


def test_email_opt_out_toggles() -> None:
    toggles = {
        "prevent_add_when_opted_out": False,
        "unsubscribe_when_opted_out": True,
        "opt_out_when_unsubscribed_everywhere": True,
        "delete_subscriber_when_record_deleted": True,
    }
    assert dict(load(with_settings(email_opt_out=toggles)).email_opt_out) == toggles
    assert load(with_settings()).email_opt_out.prevent_add_when_opted_out is True
    assert errors_of(with_settings(email_opt_out={"unsubscribe_when_opted_out": "often"}))[0].startswith(
        "email_opt_out.unsubscribe_when_opted_out: 'often' is not allowed"
    )
