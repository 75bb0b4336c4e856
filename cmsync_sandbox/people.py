"""Deterministic fake people for seeding both emulators: realistic, non-ASCII and awkward on purpose.

The same ``seed`` gives the same people, so the CM and Salesforce seeders (and a test) agree on who
exists. Some emails carry an apostrophe or a plus sign, some names are not ASCII.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass

FIRST_NAMES = (
    "Olivia", "Liam", "Amélie", "Noah", "Zoë", "Mateo", "Siobhán", "Lucas", "Chloé", "Björn",
    "Maya", "Élodie", "Kenji", "Aiyana", "Søren", "Priya", "José", "Fatima", "Łukasz", "Ines",
    "Hannah", "Oliver", "Grace", "Jack", "Ava", "Leo", "Mia", "Arjun", "Ngozi", "Wei",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "O'Brien", "Müller", "García", "Nguyen", "Kowalski", "Dubois", "Rossi", "Johansson",
    "Okafor", "Tanaka", "D'Angelo", "Fernández", "Novák", "Brown", "Patel", "Wilson", "Ødegaard",
    "Kim", "Silva", "MacDonald", "Schröder", "Cohen", "Haddad", "Ivanova", "Lopez", "Taylor",
)  # fmt: skip
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.co.uk", "corp.example.io")


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def _ascii_local(text: str) -> str:
    table = str.maketrans("éèëêáàäâíïóöôøúüûçñłśšžčåæÉØÅŁÖÜ", "eeeeaaaaiioooouuucnlsszcaaEOALOU")
    return "".join(char for char in text.translate(table).lower() if char.isalnum() or char in "'-")


def people(count: int, seed: int = 1) -> Iterator[Person]:
    """``count`` distinct people; about 1 in 25 has an apostrophe and 1 in 40 a plus sign in the email."""
    rng = random.Random(seed)
    for number in range(count):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        local = f"{_ascii_local(first)}.{_ascii_local(last)}"
        if "'" not in local and number % 25 == 7:
            local = f"{_ascii_local(first)}.o'{_ascii_local(last)}"
        if number % 40 == 11:
            local += "+news"
        yield Person(first, last, f"{local}.{number}@{DOMAINS[number % len(DOMAINS)]}")
