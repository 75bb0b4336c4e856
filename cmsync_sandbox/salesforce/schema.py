"""The emulated org's schema: object and field definitions with the properties writes are checked against."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum


class FieldType(StrEnum):
    """Field types as ``describe`` names them."""

    ID = "id"
    BOOLEAN = "boolean"
    STRING = "string"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    PICKLIST = "picklist"
    REFERENCE = "reference"
    DATETIME = "datetime"
    DATE = "date"
    DOUBLE = "double"
    INT = "int"
    CURRENCY = "currency"
    PERCENT = "percent"


TEXT_TYPES = frozenset(
    {
        FieldType.ID,
        FieldType.STRING,
        FieldType.TEXTAREA,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.PICKLIST,
        FieldType.REFERENCE,
    }
)
NUMBER_TYPES = frozenset({FieldType.DOUBLE, FieldType.INT, FieldType.CURRENCY, FieldType.PERCENT})


@dataclass(frozen=True)
class Field:
    """One field: its type and every property a write or a query is checked against."""

    name: str
    label: str
    type: FieldType
    length: int = 0
    precision: int = 0
    scale: int = 0
    required: bool = False
    createable: bool = True
    updateable: bool = True
    filterable: bool = True
    unique: bool = False
    external_id: bool = False
    case_sensitive: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: object = None
    reference_to: str | None = None
    relationship_name: str | None = None
    child_relationship_name: str | None = None
    auto_number: str | None = None
    joins: tuple[str, ...] = ()
    indexed: bool = False
    custom: bool = False

    @property
    def stored(self) -> bool:
        """Whether the record keeps a value for it (a joined field such as Contact.Name is computed)."""
        return not self.joins


@dataclass
class SObjectType:
    """One object: its fields by name (case-insensitive), key prefix and storage slots."""

    name: str
    label: str
    plural_label: str
    key_prefix: str
    custom: bool
    fields: dict[str, Field] = field(default_factory=dict)
    relationships: dict[str, Field] = field(default_factory=dict)
    """Reference fields by lower-case relationship name; the first field to take a name keeps it."""

    def add(self, definition: Field) -> None:
        self.fields[definition.name.lower()] = definition
        if definition.relationship_name:
            self.relationships.setdefault(definition.relationship_name.lower(), definition)

    def field(self, name: str) -> Field | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        """The reference field whose relationship name is ``name`` (``Account`` or ``CM_List__r``)."""
        return self.relationships.get(name.lower())

    def stored_fields(self) -> list[Field]:
        return [definition for definition in self.fields.values() if definition.stored]


@dataclass
class Schema:
    """Every object of the org, by case-insensitive name and by key prefix."""

    objects: dict[str, SObjectType] = field(default_factory=dict)
    prefixes: dict[str, SObjectType] = field(default_factory=dict)
    """Objects by key prefix; the first object to take a prefix keeps it."""

    def add(self, sobject: SObjectType) -> None:
        self.objects[sobject.name.lower()] = sobject
        self.prefixes.setdefault(sobject.key_prefix, sobject)

    def get(self, name: str) -> SObjectType | None:
        return self.objects.get(name.lower())

    def by_prefix(self, record_id: str) -> SObjectType | None:
        return self.prefixes.get(record_id[:3])

    def __iter__(self) -> Iterator[SObjectType]:
        return iter(self.objects.values())


def system_fields(owner: bool = True) -> list[Field]:
    """The fields the server maintains on every record (and OwnerId where the object has owners)."""
    audit = [
        Field("Id", "Record ID", FieldType.ID, length=18, createable=False, updateable=False),
        Field("IsDeleted", "Deleted", FieldType.BOOLEAN, createable=False, updateable=False, default=False),
        Field("CreatedDate", "Created Date", FieldType.DATETIME, createable=False, updateable=False),
        Field(
            "CreatedById",
            "Created By ID",
            FieldType.REFERENCE,
            length=18,
            createable=False,
            updateable=False,
            reference_to="User",
            relationship_name="CreatedBy",
        ),
        Field("LastModifiedDate", "Last Modified Date", FieldType.DATETIME, createable=False, updateable=False),
        Field(
            "LastModifiedById",
            "Last Modified By ID",
            FieldType.REFERENCE,
            length=18,
            createable=False,
            updateable=False,
            reference_to="User",
            relationship_name="LastModifiedBy",
        ),
        Field("SystemModstamp", "System Modstamp", FieldType.DATETIME, createable=False, updateable=False),
    ]
    if owner:
        audit.insert(
            1,
            Field(
                "OwnerId",
                "Owner ID",
                FieldType.REFERENCE,
                length=18,
                reference_to="User",
                relationship_name="Owner",
            ),
        )
    return audit
