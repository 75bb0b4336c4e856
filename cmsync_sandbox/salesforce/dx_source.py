"""Loads the emulated org's schema from Salesforce DX source: the files an administrator deploys.

Custom objects and fields come only from the DX project in ``salesforce/``; the standard objects cmsync
touches are built in (``standard_objects``), and DX fields under a standard object's folder
(``User/fields/CM_User_Email__c``) are added to it. Adding a field file makes that field writable.
"""

import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from pathlib import Path

from cmsync_sandbox.salesforce.ids import BASE62
from cmsync_sandbox.salesforce.schema import Field, FieldType, Schema, SObjectType, system_fields
from cmsync_sandbox.salesforce.standard_objects import standard_objects

DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parents[2] / "salesforce"
"""The repository's DX project, the one source of the emulator's custom objects."""


class SchemaError(Exception):
    """The DX source cannot be read as an object or field definition."""


_NS = "{http://soap.sforce.com/2006/04/metadata}"


def _text(element: ElementTree.Element, name: str, default: str = "") -> str:
    child = element.find(f"{_NS}{name}")
    return (child.text or "").strip() if child is not None else default


def _flag(element: ElementTree.Element, name: str) -> bool:
    return _text(element, name, "false").lower() == "true"


def _field_from_xml(path: Path) -> Field:
    root = ElementTree.parse(path).getroot()
    name = _text(root, "fullName") or path.name.removesuffix(".field-meta.xml")
    kind = _text(root, "type")
    common = {
        "name": name,
        "label": _text(root, "label") or name,
        "required": _flag(root, "required"),
        "unique": _flag(root, "unique"),
        "external_id": _flag(root, "externalId"),
        "case_sensitive": _flag(root, "caseSensitive"),
        "custom": True,
    }
    common["indexed"] = common["unique"] or common["external_id"]
    if kind == "Text":
        return Field(type=FieldType.STRING, length=int(_text(root, "length", "255")), **common)
    if kind == "TextArea":
        return Field(type=FieldType.TEXTAREA, length=255, **common)
    if kind in ("LongTextArea", "Html"):
        return Field(type=FieldType.TEXTAREA, length=int(_text(root, "length", "32768")), filterable=False, **common)
    if kind == "Email":
        return Field(type=FieldType.EMAIL, length=80, **common)
    if kind == "Phone":
        return Field(type=FieldType.PHONE, length=40, **common)
    if kind == "Url":
        return Field(type=FieldType.URL, length=255, **common)
    if kind in ("Number", "Currency", "Percent"):
        field_type = {"Number": FieldType.DOUBLE, "Currency": FieldType.CURRENCY, "Percent": FieldType.PERCENT}[kind]
        precision, scale = int(_text(root, "precision", "18")), int(_text(root, "scale", "0"))
        return Field(type=field_type, precision=precision, scale=scale, **common)
    if kind == "Checkbox":
        common["required"] = False
        return Field(type=FieldType.BOOLEAN, default=_text(root, "defaultValue", "false").lower() == "true", **common)
    if kind == "Date":
        return Field(type=FieldType.DATE, **common)
    if kind == "DateTime":
        return Field(type=FieldType.DATETIME, **common)
    if kind == "Picklist":
        value_set = root.find(f"{_NS}valueSet")
        if value_set is None:
            raise SchemaError(f"{path}: picklist {name} has no valueSet")
        values = value_set.findall(f"{_NS}valueSetDefinition/{_NS}value")
        defaults = [_text(value, "fullName") for value in values if _flag(value, "default")]
        return Field(
            type=FieldType.PICKLIST,
            length=255,
            picklist=tuple(_text(value, "fullName") for value in values),
            restricted=_flag(value_set, "restricted"),
            default=defaults[0] if defaults else None,
            **common,
        )
    if kind in ("Lookup", "MasterDetail"):
        common["indexed"] = True
        if kind == "MasterDetail":
            common["required"] = True
        return Field(
            type=FieldType.REFERENCE,
            length=18,
            reference_to=_text(root, "referenceTo"),
            relationship_name=name.removesuffix("__c") + "__r",
            child_relationship_name=f"{_text(root, 'relationshipName') or name.removesuffix('__c')}__r",
            **common,
        )
    raise SchemaError(f"{path}: field type {kind!r} of {name} is not one the emulator knows")


def _custom_object(path: Path, key_prefix: str) -> SObjectType:
    root = ElementTree.parse(path).getroot()
    name = path.name.removesuffix(".object-meta.xml")
    label = _text(root, "label") or name
    sobject = SObjectType(name, label, _text(root, "pluralLabel") or label, key_prefix, custom=True)
    name_field = root.find(f"{_NS}nameField")
    name_label = _text(name_field, "label") if name_field is not None else "Name"
    auto_number = _text(name_field, "displayFormat") if name_field is not None else ""
    fields = system_fields()
    if auto_number and name_field is not None and _text(name_field, "type") == "AutoNumber":
        fields.insert(
            2,
            Field(
                "Name",
                name_label,
                FieldType.STRING,
                length=80,
                createable=False,
                updateable=False,
                auto_number=auto_number,
            ),
        )
    else:
        fields.insert(2, Field("Name", name_label, FieldType.STRING, length=80))
    for definition in fields:
        sobject.add(definition)
    return sobject


def _custom_prefix(number: int) -> str:
    return "a0" + BASE62[number] if number < 62 else "a" + BASE62[number // 62] + BASE62[number % 62]


def load_schema(directory: Path = DEFAULT_SCHEMA_DIR) -> Schema:
    """The built-in standard objects plus every object and field of the DX project at ``directory``."""
    schema = Schema()
    for sobject in standard_objects():
        schema.add(sobject)
    objects_dir = next(iter(sorted(directory.glob("**/objects"))), None)
    if objects_dir is None:
        raise SchemaError(f"{directory}: no objects folder in this DX project")
    folders = sorted(folder for folder in objects_dir.iterdir() if folder.is_dir())
    custom_folders = [folder for folder in folders if (folder / f"{folder.name}.object-meta.xml").exists()]
    for number, folder in enumerate(custom_folders):
        schema.add(_custom_object(folder / f"{folder.name}.object-meta.xml", _custom_prefix(number)))
    for folder in folders:
        sobject = schema.get(folder.name)
        if sobject is None:
            raise SchemaError(f"{folder}: fields for {folder.name}, which is neither built in nor defined here")
        for path in sorted(folder.glob("fields/*.field-meta.xml")):
            sobject.add(_field_from_xml(path))
    for sobject in schema:
        for definition in list(sobject.fields.values()):
            if definition.reference_to and schema.get(definition.reference_to) is None:
                raise SchemaError(
                    f"{sobject.name}.{definition.name} refers to {definition.reference_to}, which is unknown"
                )
            if definition.type == FieldType.BOOLEAN and definition.default is None:
                sobject.add(replace(definition, default=False))
    return schema
