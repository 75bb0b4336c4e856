"""Subscription rules over real HTTP: every operator by field type, custom logic, evaluation time,
criteria on the Account with and without the Account trigger, Delete rules, and Add rules that stop
matching."""

from typing import Any

from tests.sync.world import World


def _lists(world: World, names: list[str]) -> dict[str, Any]:
    """New lists of the first connected client, by name."""
    return {name: world.cm.state.add_list(world.clients[0], f"Rules {name}") for name in names}


def _on(mailing_list: Any) -> set[str]:
    """Active subscribers of a list, by email."""
    return {key for key, member in mailing_list.members.items() if member.state == "Active"}


def test_each_operator_compares_as_its_field_type(world: World, daemon) -> None:
    criteria = {
        "equals": {"field": "LeadSource", "op": "equals", "value": "Web"},
        "notequalto": {"field": "LeadSource", "op": "notequalto", "value": "Web"},
        "lessthan": {"field": "Birthdate", "op": "lessthan", "value": "1980-01-01"},
        "lessorequal": {"field": "Birthdate", "op": "lessorequal", "value": "1980-01-01"},
        "greaterthan": {"field": "Account.NumberOfEmployees", "op": "greaterthan", "value": 100},
        "greaterorequal": {"field": "Account.NumberOfEmployees", "op": "greaterorequal", "value": 20},
        "startswith": {"field": "LastName", "op": "startswith", "value": "Mc"},
        "contains": {"field": "Title", "op": "contains", "value": "engineer"},
        "doesnotcontain": {"field": "Title", "op": "doesnotcontain", "value": "intern"},
        "boolean": {"field": "HasOptedOutOfEmail", "op": "equals", "value": True},
        "datetime": {"field": "CreatedDate", "op": "greaterthan", "value": "2001-01-01T00:00:00Z"},
    }
    lists = _lists(world, list(criteria))
    rules = [
        {"list": lists[name].list_id, "object": "Contact", "action": "add", "criteria": [criterion]}
        for name, criterion in criteria.items()
    ]
    running = daemon(subscription_rules=rules, email_opt_out={"prevent_add_when_opted_out": False})
    small = world.sf.create("Account", {"Name": "Small Co", "NumberOfEmployees": 20})
    large = world.sf.create("Account", {"Name": "Large Co", "NumberOfEmployees": 500})
    sf = world.sf
    sf.create("Contact", {"LastName": "McBride", "Email": "a@rules.example", "Title": "Senior Engineer",
                          "LeadSource": "Web", "Birthdate": "1975-05-01", "AccountId": small})  # fmt: skip
    sf.create("Contact", {"LastName": "Smith", "Email": "b@rules.example", "Title": "Engineering Intern",
                          "LeadSource": "Phone Inquiry", "Birthdate": "1980-01-01", "AccountId": large,
                          "HasOptedOutOfEmail": True})  # fmt: skip
    sf.create("Contact", {"LastName": "mcqueen", "Email": "c@rules.example"})
    running.settle()
    expected = {
        "equals": {"a"},
        "notequalto": {"b", "c"},
        "lessthan": {"a"},
        "lessorequal": {"a", "b"},
        "greaterthan": {"b"},
        "greaterorequal": {"a", "b"},
        "startswith": {"a", "c"},
        "contains": {"a", "b"},
        "doesnotcontain": {"a", "c"},
        "boolean": {"b"},
        "datetime": {"a", "b", "c"},
    }
    found = {name: {email.split("@")[0] for email in _on(lists[name])} for name in criteria}
    assert found == expected


def test_custom_logic(world: World, daemon) -> None:
    lists = _lists(world, ["and-or-not", "or-and-not"])
    criteria = [
        {"field": "LeadSource", "op": "equals", "value": "Web"},
        {"field": "Title", "op": "contains", "value": "engineer"},
        {"field": "LastName", "op": "startswith", "value": "Mc"},
    ]
    rules = [
        {"list": lists["and-or-not"].list_id, "object": "Lead", "action": "add", "criteria": criteria,
         "logic": "1 AND (2 OR NOT 3)"},
        {"list": lists["or-and-not"].list_id, "object": "Lead", "action": "add", "criteria": criteria,
         "logic": "(1 OR 2) AND NOT 3"},
    ]  # fmt: skip
    running = daemon(subscription_rules=rules)
    people = {
        "engineer": ("McBride", "Senior Engineer", "Web"),
        "phone": ("Jones", "Engineer", "Phone Inquiry"),
        "manager": ("Jones", "Manager", "Web"),
        "mcmanager": ("McCoy", "Manager", "Web"),
        "nobody": ("Brown", "Manager", "Other"),
    }
    for key, (last_name, title, source) in people.items():
        world.sf.create("Lead", {"LastName": last_name, "Company": "Acme", "Email": f"{key}@logic.example",
                                 "Title": title, "LeadSource": source})  # fmt: skip
    running.settle()
    assert _on(lists["and-or-not"]) == {"engineer@logic.example", "manager@logic.example"}
    assert _on(lists["or-and-not"]) == {"phone@logic.example", "manager@logic.example"}


def test_created_edited_and_both(world: World, daemon) -> None:
    lists = _lists(world, ["created", "edited", "both"])
    web = [{"field": "LeadSource", "op": "equals", "value": "Web"}]
    rules = [
        {"list": mailing_list.list_id, "object": "Contact", "action": "add", "criteria": web,
         "evaluation": "created_or_edited" if name == "both" else name}
        for name, mailing_list in lists.items()
    ]  # fmt: skip
    existing = world.sf.create("Contact", {"LastName": "Old", "Email": "old@when.example"})
    running = daemon(subscription_rules=rules)
    world.sf.create("Contact", {"LastName": "New", "Email": "new@when.example", "LeadSource": "Web"})
    fresh = world.sf.create("Contact", {"LastName": "Fresh", "Email": "fresh@when.example"})
    world.sf.update(fresh, {"LeadSource": "Web"})
    world.sf.update(existing, {"LeadSource": "Web"})
    running.settle()
    assert _on(lists["created"]) == {"new@when.example", "fresh@when.example"}
    assert _on(lists["edited"]) == {"old@when.example"}
    assert _on(lists["both"]) == {"new@when.example", "fresh@when.example", "old@when.example"}
    world.sf.update(fresh, {"Title": "Edited later"})
    running.settle()
    assert _on(lists["edited"]) == {"old@when.example", "fresh@when.example"}


def _banking_rule(world: World) -> tuple[Any, dict[str, Any]]:
    (mailing_list,) = _lists(world, ["banking"]).values()
    rule = {"list": mailing_list.list_id, "object": "Contact", "action": "add", "evaluation": "edited",
            "criteria": [{"field": "Account.Industry", "op": "equals", "value": "Banking"}]}  # fmt: skip
    return mailing_list, rule


def test_account_criteria_without_the_account_trigger_wait_for_a_contact_edit(world: World, daemon) -> None:
    mailing_list, rule = _banking_rule(world)
    account = world.sf.create("Account", {"Name": "Lender", "Industry": "Retail"})
    contact = world.sf.create("Contact", {"LastName": "Teller", "Email": "teller@bank.example", "AccountId": account})
    running = daemon(subscription_rules=[rule])
    world.sf.update(account, {"Industry": "Banking"})
    running.settle()
    assert _on(mailing_list) == set()
    world.sf.update(contact, {"Title": "Head Teller"})
    running.settle()
    assert _on(mailing_list) == {"teller@bank.example"}


def test_account_trigger_re_evaluates_the_contacts_of_a_changed_account(world: World, daemon) -> None:
    mailing_list, rule = _banking_rule(world)
    account = world.sf.create("Account", {"Name": "Lender", "Industry": "Retail"})
    other = world.sf.create("Account", {"Name": "Shop", "Industry": "Banking"})
    for name in ("teller", "clerk"):
        world.sf.create("Contact", {"LastName": name, "Email": f"{name}@bank.example", "AccountId": account})
    world.sf.create("Contact", {"LastName": "Grocer", "Email": "grocer@shop.example", "AccountId": other})
    running = daemon(subscription_rules=[rule], advanced={"account_trigger": True})
    world.sf.update(account, {"Industry": "Banking"})
    report = running.settle()
    assert _on(mailing_list) == {"teller@bank.example", "clerk@bank.example"}
    assert report["changes"]["Account"] == 1


def test_delete_rule_sets_deleted_and_an_add_rule_that_stops_matching_removes_no_one(world: World, daemon) -> None:
    (mailing_list,) = _lists(world, ["add-delete"]).values()
    rules = [
        {"list": mailing_list.list_id, "object": "Contact", "action": "add", "evaluation": "created_or_edited",
         "criteria": [{"field": "LeadSource", "op": "equals", "value": "Web"}]},
        {"list": mailing_list.list_id, "object": "Contact", "action": "delete",
         "criteria": [{"field": "LeadSource", "op": "equals", "value": "Other"}]},
    ]  # fmt: skip
    running = daemon(subscription_rules=rules)
    contact = world.sf.create("Contact", {"LastName": "Flip", "Email": "flip@rules.example", "LeadSource": "Web"})
    running.settle()
    assert mailing_list.members["flip@rules.example"].state == "Active"
    world.sf.update(contact, {"LeadSource": "Phone Inquiry"})
    running.settle()
    assert mailing_list.members["flip@rules.example"].state == "Active"
    world.sf.update(contact, {"LeadSource": "Other"})
    running.settle()
    assert mailing_list.members["flip@rules.example"].state == "Deleted"
