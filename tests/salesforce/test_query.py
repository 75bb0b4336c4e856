"""SOQL through the client: the supported subset, Salesforce's comparison rules, lazy paging, queryAll,
and values that try to break out of their quotes."""

from datetime import UTC, date, datetime, timedelta

import pytest

from cmsync.clients.salesforce import SalesforceRequestError, like, literal, literal_list, quote, select

HOSTILE_EMAILS = (
    "o'brien@example.com",
    "back\\slash@example.com",
    "both'\\@example.com",
    "percent%under_score@example.com",
    "x' OR Email != 'y@example.com",
    'quote"double@example.com',
    "new\nline@example.com",
)


@pytest.fixture
def people(emulator):
    """Two accounts and five contacts with different industries, opt-outs, birthdays and emails."""
    tech = emulator.create("Account", {"Name": "Tech Co", "Industry": "Technology"})
    bank = emulator.create("Account", {"Name": "Bank Co", "Industry": "Banking"})
    rows = [
        ("Ada", "Lovelace", "ada@example.com", tech, False, "1990-12-10"),
        ("Alan", "Turing", "ALAN@example.com", tech, True, "1991-06-23"),
        ("Grace", "Hopper", "grace@example.org", bank, False, None),
        (None, "O'Neil", "oneil@example.net", None, False, "1985-01-01"),
        ("Linus", "Torvalds", None, bank, False, None),
    ]
    ids = {}
    for first, last, email, account, opted_out, birthday in rows:
        values = {"FirstName": first, "LastName": last, "Email": email, "AccountId": account}
        values |= {"HasOptedOutOfEmail": opted_out, "Birthdate": birthday}
        ids[last] = emulator.create("Contact", values)
    return ids


def names(client, where: str, order: str = "LastName") -> list[str]:
    return [
        record["LastName"] for record in client.query(f"SELECT LastName FROM Contact WHERE {where} ORDER BY {order}")
    ]


def test_parent_relationship_fields_are_nested_and_null_parents_are_null(client, people):
    records = {
        record["LastName"]: record
        for record in client.query("SELECT LastName, Account.Industry, Account.Name FROM Contact")
    }
    assert records["Lovelace"]["Account"] == {"Industry": "Technology", "Name": "Tech Co"}
    assert records["O'Neil"]["Account"] is None


def test_where_with_and_or_not_and_parentheses(client, people):
    assert names(client, "Account.Industry = 'Technology' AND HasOptedOutOfEmail = false") == ["Lovelace"]
    assert names(client, "(Account.Industry = 'Banking' OR Email LIKE '%.net') AND NOT (LastName = 'Torvalds')") == [
        "Hopper",
        "O'Neil",
    ]
    assert names(client, "NOT Email = null AND (FirstName = null OR FirstName = 'Grace')") == ["Hopper", "O'Neil"]


def test_comparisons_follow_salesforce_rules(client, people):
    assert names(client, "Email = 'alan@EXAMPLE.com'") == ["Turing"], "text compares case-insensitively"
    assert names(client, "Email != 'ada@example.com'") == ["Hopper", "O'Neil", "Torvalds", "Turing"], "null != value"
    assert names(client, "Email IN ('ada@example.com', 'grace@example.org')") == ["Hopper", "Lovelace"]
    assert names(client, "Email NOT IN ('ada@example.com')") == ["Hopper", "O'Neil", "Torvalds", "Turing"]
    assert names(client, "Birthdate > 1990-01-01") == ["Lovelace", "Turing"]
    assert names(client, "Birthdate <= 1990-12-10") == ["Lovelace", "O'Neil"]
    assert names(client, "LastName < 'M'") == ["Hopper", "Lovelace"]
    assert names(client, "LastName LIKE 'T%' AND LastName LIKE '%_s'") == ["Torvalds"]
    assert names(client, "LastName LIKE 'o\\'%'") == ["O'Neil"]
    soon = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(names(client, f"CreatedDate < {soon} AND SystemModstamp > 2020-01-01T00:00:00.000+0000")) == 5


def test_order_by_directions_nulls_limit_and_offset(client, people):
    assert names(client, "LastName != null", "Birthdate DESC NULLS LAST, LastName")[:3] == [
        "Turing",
        "Lovelace",
        "O'Neil",
    ]
    assert names(client, "LastName != null", "Birthdate ASC NULLS FIRST, LastName")[:2] == ["Hopper", "Torvalds"]
    query = "SELECT LastName FROM Contact ORDER BY LastName DESC LIMIT 2 OFFSET 1"
    assert [record["LastName"] for record in client.query(query)] == ["Torvalds", "O'Neil"]


def test_count(client, people):
    assert client.count("SELECT COUNT() FROM Contact WHERE Account.Industry = 'Technology'") == 2


def test_query_reads_pages_lazily_through_relative_next_records_urls(client, emulator):
    for number in range(650):
        emulator.create("Lead", {"LastName": f"L{number:03}", "Company": "Co", "Email": f"l{number}@example.com"})
    assert client.user_id
    emulator.calls.clear()
    records = client.query("SELECT Id, LastName FROM Lead ORDER BY LastName", batch_size=200)
    assert emulator.calls.counts().get("GET /query", 0) == 0
    first = next(records)
    assert first["LastName"] == "L000"
    assert emulator.calls.counts() == {"GET /query": 1}
    rest = list(records)
    assert len(rest) == 649
    assert emulator.calls.counts() == {"GET /query": 1, "GET /query/{locator}": 3}
    assert all(call.path.startswith("/services/data/v61.0/query/01g") for call in emulator.calls.calls()[1:])


def test_batch_size_is_kept_within_salesforces_bounds(client, emulator):
    for number in range(2100):
        emulator.create("CM_Client__c", {"CM_Client_ID__c": f"{number:032x}"})
    assert client.user_id
    emulator.calls.clear()
    assert sum(1 for _ in client.query("SELECT Id FROM CM_Client__c", batch_size=50)) == 2100
    assert emulator.calls.counts()["GET /query/{locator}"] == 10
    emulator.calls.clear()
    assert sum(1 for _ in client.query("SELECT Id FROM CM_Client__c")) == 2100
    assert emulator.calls.counts()["GET /query/{locator}"] == 1


def test_query_all_also_returns_deleted_records(client, people, emulator):
    emulator.delete(people["Hopper"])
    assert "Hopper" not in names(client, "LastName != null")
    everyone = {
        record["LastName"]: record["IsDeleted"]
        for record in client.query("SELECT LastName, IsDeleted FROM Contact", include_deleted=True)
    }
    assert everyone["Hopper"] is True and everyone["Lovelace"] is False


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'a' AND LastName = 'b' OR FirstName = 'c'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Email = 'bad \\q escape'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01T00:00:00", "MALFORMED_QUERY"),
        ("SELECT Nope__c FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE Description = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Nothing__c", "INVALID_TYPE"),
        ("SELECT Id FROM Contact WHERE CreatedDate > '2024-01-01'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Contact WHERE Email = 5", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_bad_soql_is_refused_with_salesforces_error_codes(client, soql, code):
    with pytest.raises(SalesforceRequestError) as refused:
        list(client.query(soql))
    assert (refused.value.status, refused.value.error_code) == (400, code)


def test_literals_escape_everything_that_could_end_a_string():
    assert quote("O'Brien\\") == "'O\\'Brien\\\\'"
    assert literal('line\nbreak\t"') == "'line\\nbreak\\t\\\"'"
    assert literal(None) == "null" and literal(True) == "true" and literal(3) == "3" and literal(1e-7) == "0.0000001"
    assert literal(date(2024, 5, 1)) == "2024-05-01"
    assert literal(datetime(2024, 5, 1, 14, 0, tzinfo=UTC)) == "2024-05-01T14:00:00Z"
    with pytest.raises(ValueError, match="no time zone"):
        literal(datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="at least one"):
        literal_list([])
    assert like("50%_off", suffix_wildcard=True) == "'50\\%\\_off%'"


def test_hostile_values_match_only_themselves(client, emulator):
    for number, email in enumerate(HOSTILE_EMAILS):
        values = {"CM_Activity_Key__c": f"{number:064x}", "CM_Type__c": "Opened", "CM_Bounce_Reason__c": email}
        values |= {"CM_Activity_Date__c": "2024-05-01T00:00:00Z", "CM_Email__c": "someone@example.com"}
        emulator.create("CM_Email_Activity__c", values)
    for email in HOSTILE_EMAILS:
        soql = select("CM_Email_Activity__c", ["CM_Bounce_Reason__c"], where=f"CM_Bounce_Reason__c = {literal(email)}")
        assert [record["CM_Bounce_Reason__c"] for record in client.query(soql)] == [email]
    soql = select("CM_Email_Activity__c", ["Id"], where=f"CM_Bounce_Reason__c IN {literal_list(HOSTILE_EMAILS)}")
    assert len(list(client.query(soql))) == len(HOSTILE_EMAILS)
    pattern = select(
        "CM_Email_Activity__c",
        ["CM_Bounce_Reason__c"],
        where=f"CM_Bounce_Reason__c LIKE {like('percent%under_', suffix_wildcard=True)}",
    )
    assert [record["CM_Bounce_Reason__c"] for record in client.query(pattern)] == ["percent%under_score@example.com"]


def test_names_in_built_queries_are_checked():
    with pytest.raises(ValueError, match="Invalid characters"):
        select("Contact", ["Id", "Email FROM User --"])
    with pytest.raises(ValueError, match="Invalid characters"):
        select("Contact WHERE", ["Id"])
    assert select("Contact", ["Id", "Account.Industry"], where="Email = 'a'", order_by=["SystemModstamp"], limit=5) == (
        "SELECT Id, Account.Industry FROM Contact WHERE Email = 'a' ORDER BY SystemModstamp LIMIT 5"
    )


def test_a_user_keeps_at_most_ten_open_cursors(client, emulator):
    for number in range(201):
        emulator.create("Account", {"Name": f"A{number}"})
    open_queries = [client.query("SELECT Id FROM Account", batch_size=200) for _ in range(11)]
    for records in open_queries:
        next(records)
    with pytest.raises(SalesforceRequestError) as expired:
        list(open_queries[0])
    assert expired.value.error_code == "INVALID_QUERY_LOCATOR"
    assert all(len(list(records)) == 200 for records in open_queries[1:])
