"""Salesforce record Ids in their two forms: 15 characters, case-sensitive, and 18, whose last three
characters spell the case of the first 15 so the Id survives case-insensitive handling."""

_CASE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
"""The alphabet of an 18-character Id's suffix: each letter tells the case of five of its first 15."""
_CASE_BITS = str.maketrans({chr(code): "1" if chr(code).isupper() else "0" for code in range(128)})


def short_id(value: str | None) -> str | None:
    """The case-sensitive 15-character form of a Salesforce Id given in either form; None if it is not one.
    An 18-character Id is case-insensitive (its suffix spells the case), so one retyped in another case
    still names its record."""
    text = (value or "").strip()
    if len(text) == 15 and text.isalnum() and text.isascii():
        return text
    if len(text) != 18 or not (text.isalnum() and text.isascii()):
        return None
    head = list(text[:15])
    for block, letter in enumerate(text[15:].upper()):
        if letter not in _CASE_ALPHABET:
            return None
        bits = _CASE_ALPHABET.index(letter)
        for position in range(5):
            place = block * 5 + position
            head[place] = head[place].upper() if bits >> position & 1 else head[place].lower()
    return "".join(head)


def long_id(id15: str) -> str:
    """The 18-character form of a 15-character Id, as Salesforce itself spells it. An Id is ASCII letters
    and digits: its case is read as bits ("1" upper) by one ``translate``, the first character the lowest
    bit, and each block of five bits picks a suffix letter."""
    bits = int(id15.translate(_CASE_BITS)[::-1], 2)
    return id15 + _CASE_ALPHABET[bits & 31] + _CASE_ALPHABET[bits >> 5 & 31] + _CASE_ALPHABET[bits >> 10]
