"""Character-by-character checks for the names a setting may hold.

Salesforce API names, Campaign Monitor custom field keys and Campaign Monitor IDs end up inside SOQL,
URLs and JSON bodies, so a wrong character is refused at load time with the product's own wording,
"Invalid characters found", naming the value and the first offending character.
"""

import re
import string

INVALID_CHARACTERS = "Invalid characters found"

_SF_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_")
_CM_KEY_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
_HEX = frozenset(string.hexdigits)
_SF_NAME_SHAPE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_|$)|__(?:c|r|e|mdt|x)$)*$")


def _first_bad(value: str, allowed: frozenset[str]) -> str | None:
    for position, char in enumerate(value, start=1):
        if char not in allowed:
            return f"{char!r} at position {position}"
    return None


def check_salesforce_name(value: str, what: str = "Salesforce API name") -> str:
    """Accept one Salesforce object or field API name such as ``Contact`` or ``CM_List_ID__c``."""
    if not value:
        raise ValueError(f"an empty {what} is not allowed")
    bad = _first_bad(value, _SF_NAME_CHARS)
    if bad:
        raise ValueError(f"{INVALID_CHARACTERS} in {value!r}: {bad}; a {what} uses only letters, digits and _")
    if not _SF_NAME_SHAPE.match(value):
        raise ValueError(
            f"{value!r} is not a valid {what}: it must start with a letter, may not end with _, and may not "
            "hold '__' except in a suffix such as __c or __r"
        )
    return value


def check_salesforce_field_path(value: str) -> str:
    """Accept a field on the record (``Industry``) or on a parent reached by relationships (``Account.Industry``)."""
    if not value:
        raise ValueError("an empty Salesforce field name is not allowed")
    parts = value.split(".")
    if len(parts) > 5:
        raise ValueError(f"{value!r} reaches more than 5 relationships up, which SOQL does not allow")
    for part in parts:
        bad = _first_bad(part, _SF_NAME_CHARS) if part else "an empty name between dots"
        if bad:
            raise ValueError(
                f"{INVALID_CHARACTERS} in {value!r}: {bad}; a Salesforce field name uses only "
                "letters, digits and _, with '.' between relationship names"
            )
        check_salesforce_name(part, "Salesforce field API name")
    return value


def check_cm_field_key(value: str) -> str:
    """Accept a Campaign Monitor custom field key written as in the app: ``[Key]``."""
    if not (value.startswith("[") and value.endswith("]")) or len(value) < 3:
        raise ValueError(f"{value!r} is not a Campaign Monitor field key: write it in brackets, like [Industry]")
    bad = _first_bad(value[1:-1], _CM_KEY_CHARS)
    if bad:
        raise ValueError(
            f"{INVALID_CHARACTERS} in {value!r}: {bad}; a Campaign Monitor field key uses only "
            "letters, digits, _ and - between its brackets"
        )
    return value


def check_cm_id(value: str) -> str:
    """Accept a Campaign Monitor client, list or campaign ID: 32 hexadecimal characters."""
    bad = _first_bad(value, _HEX)
    if bad:
        raise ValueError(
            f"{INVALID_CHARACTERS} in {value!r}: {bad}; a Campaign Monitor ID uses only the "
            "hexadecimal digits 0-9 and a-f"
        )
    if len(value) != 32:
        raise ValueError(f"{value!r} is not a Campaign Monitor ID: it has {len(value)} characters, not 32")
    return value.lower()
