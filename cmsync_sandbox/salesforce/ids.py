"""Salesforce record Ids: 15 case-sensitive characters (key prefix, instance, counter) plus a 3-character
case checksum, so that Ids look and validate like real ones (``0035g000001AbCdEAF``)."""

import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"
_ID_CHARACTERS = frozenset(BASE62)
_UPPER_BITS = bytes(ord("1") if ord("A") <= code <= ord("Z") else ord("0") for code in range(256))
"""An Id's characters (ASCII) as bits, 1 for upper case: what the checksum encodes."""
_CHUNK_LETTER = {format(bits, "05b")[::-1].encode(): _CHECKSUM_ALPHABET[bits] for bits in range(32)}
"""Five characters' bits (the first character's first) → their checksum letter."""
_PAIRS = [first + second for first in BASE62 for second in BASE62]
"""Every two base-62 digits, so that a number is written two digits at a time."""
INSTANCE = "5g"
"""The two instance characters after the key prefix, as on a real pod."""


def checksum(id15: str) -> str:
    """The 3-character suffix that encodes which of the 15 (ASCII) characters are upper case."""
    bits = id15.encode().translate(_UPPER_BITS)
    return _CHUNK_LETTER[bits[0:5]] + _CHUNK_LETTER[bits[5:10]] + _CHUNK_LETTER[bits[10:15]]


def make_id(key_prefix: str, number: int) -> str:
    """The ``number``-th Id of the object whose key prefix is ``key_prefix``, 18 characters long."""
    digits = ""
    while number:
        number, pair = divmod(number, 62 * 62)
        digits = _PAIRS[pair] + digits
    id15 = f"{key_prefix}{INSTANCE}0{digits.lstrip('0').rjust(9, '0')}"
    return id15 + checksum(id15)


def normalize_id(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character Id, or None when ``value`` is not an Id at all."""
    if len(value) not in (15, 18) or not _ID_CHARACTERS.issuperset(value):
        return None
    id15 = value[:15]
    suffix = checksum(id15)
    if len(value) == 18 and value[15:].upper() != suffix:
        return None
    return id15 + suffix
