"""Names checked character by character, with the app's "Invalid characters found" wording."""

import pytest

from cmsync.config.names import check_cm_field_key, check_cm_id, check_salesforce_field_path, check_salesforce_name


@pytest.mark.parametrize("name", ["Contact", "CM_List_ID__c", "HasOptedOutOfEmail", "Account__r", "Email2"])
def test_salesforce_names(name: str) -> None:
    assert check_salesforce_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Lead-Source", "Invalid characters found in 'Lead-Source': '-' at position 5"),
        ("Emaïl", "Invalid characters found in 'Emaïl': 'ï' at position 4"),
        ("Name;DELETE", "Invalid characters found in 'Name;DELETE': ';' at position 5"),
        ("1stField", "must start with a letter"),
        ("My__Field", "may not hold '__'"),
        ("Trailing_", "may not end with _"),
    ],
)
def test_salesforce_name_mistakes(name: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_salesforce_name(name)
    assert message in str(caught.value)


@pytest.mark.parametrize("path", ["Industry", "Account.Industry", "Account.Owner.Email", "Parent__r.Field__c"])
def test_field_paths(path: str) -> None:
    assert check_salesforce_field_path(path) == path


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("Account..Industry", "an empty name between dots"),
        ("Account.Indu stry", "' ' at position 5"),
        ("A.B.C.D.E.F", "more than 5 relationships"),
    ],
)
def test_field_path_mistakes(path: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_salesforce_field_path(path)
    assert message in str(caught.value)


def test_cm_keys() -> None:
    assert check_cm_field_key("[SalesforceId]") == "[SalesforceId]"
    assert check_cm_field_key("[favourite-colour_2]") == "[favourite-colour_2]"
    with pytest.raises(ValueError, match=r"write it in brackets, like \[Industry\]"):
        check_cm_field_key("Industry")
    with pytest.raises(ValueError, match=r"Invalid characters found in '\[Ind\$stry\]': '\$' at position 4"):
        check_cm_field_key("[Ind$stry]")


def test_cm_ids_are_32_hex_characters() -> None:
    assert check_cm_id("5A1F0C3E9B2D4E6F8A7B1C2D3E4F5A6B") == "5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b"
    with pytest.raises(ValueError, match="it has 31 characters, not 32"):
        check_cm_id("5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6")
    with pytest.raises(ValueError, match="Invalid characters found in '5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6/': '/'"):
        check_cm_id("5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6/")
