"""The standard objects cmsync reads and writes (Account, Contact, Lead, User) with their usual fields.

Lengths, required flags and key prefixes are those of a real org; ``Name`` on Contact, Lead and User is
computed from FirstName and LastName as Salesforce does.
"""

from typing import Any

from cmsync_sandbox.salesforce.schema import Field, FieldType, SObjectType, system_fields

INDUSTRIES = (
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
    "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental",
    "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery",
    "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail", "Shipping", "Technology",
    "Telecommunications", "Transportation", "Utilities", "Other",
)  # fmt: skip
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted")
SALUTATIONS = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")


def _text(name: str, label: str, length: int, **properties: Any) -> Field:
    return Field(name, label, FieldType.STRING, length=length, **properties)


def _person_fields() -> list[Field]:
    return [
        Field("Salutation", "Salutation", FieldType.PICKLIST, length=40, picklist=SALUTATIONS),
        _text("FirstName", "First Name", 40),
        _text("LastName", "Last Name", 80, required=True),
        Field(
            "Name",
            "Full Name",
            FieldType.STRING,
            length=121,
            createable=False,
            updateable=False,
            joins=("FirstName", "LastName"),
        ),
        Field("Email", "Email", FieldType.EMAIL, length=80, indexed=True),
        Field("Phone", "Phone", FieldType.PHONE, length=40),
        Field("MobilePhone", "Mobile Phone", FieldType.PHONE, length=40),
        _text("Title", "Title", 128),
        Field("HasOptedOutOfEmail", "Email Opt Out", FieldType.BOOLEAN, default=False),
        Field("LeadSource", "Lead Source", FieldType.PICKLIST, length=255, picklist=LEAD_SOURCES),
        Field("Description", "Description", FieldType.TEXTAREA, length=32000, filterable=False),
    ]


def account() -> SObjectType:
    sobject = SObjectType("Account", "Account", "Accounts", "001", custom=False)
    fields = [
        *system_fields(),
        _text("Name", "Account Name", 255, required=True),
        Field("Industry", "Industry", FieldType.PICKLIST, length=255, picklist=INDUSTRIES),
        Field("Type", "Account Type", FieldType.PICKLIST, length=255, picklist=("Prospect", "Customer", "Partner")),
        Field("Website", "Website", FieldType.URL, length=255),
        Field("Phone", "Account Phone", FieldType.PHONE, length=40),
        _text("BillingCity", "Billing City", 40),
        _text("BillingCountry", "Billing Country", 80),
        Field("NumberOfEmployees", "Employees", FieldType.INT, precision=8),
        Field("Description", "Account Description", FieldType.TEXTAREA, length=32000, filterable=False),
    ]
    for definition in fields:
        sobject.add(definition)
    return sobject


def contact() -> SObjectType:
    sobject = SObjectType("Contact", "Contact", "Contacts", "003", custom=False)
    account_id = Field(
        "AccountId",
        "Account ID",
        FieldType.REFERENCE,
        length=18,
        reference_to="Account",
        relationship_name="Account",
        child_relationship_name="Contacts",
        indexed=True,
    )
    fields = [
        *system_fields(),
        account_id,
        *_person_fields(),
        _text("Department", "Department", 80),
        _text("MailingCity", "Mailing City", 40),
        _text("MailingCountry", "Mailing Country", 80),
        Field("Birthdate", "Birthdate", FieldType.DATE),
    ]
    for definition in fields:
        sobject.add(definition)
    return sobject


def lead() -> SObjectType:
    sobject = SObjectType("Lead", "Lead", "Leads", "00Q", custom=False)
    fields = [
        *system_fields(),
        *_person_fields(),
        _text("Company", "Company", 255, required=True),
        Field("Industry", "Industry", FieldType.PICKLIST, length=255, picklist=INDUSTRIES),
        Field("Status", "Status", FieldType.PICKLIST, length=255, picklist=LEAD_STATUSES, default=LEAD_STATUSES[0]),
        _text("City", "City", 40),
        _text("Country", "Country", 80),
        Field("IsConverted", "Converted", FieldType.BOOLEAN, updateable=False, default=False),
    ]
    for definition in fields:
        sobject.add(definition)
    return sobject


def user() -> SObjectType:
    sobject = SObjectType("User", "User", "Users", "005", custom=False)
    fields = [
        *system_fields(owner=False),
        _text("Username", "Username", 80, required=True, unique=True),
        _text("FirstName", "First Name", 40),
        _text("LastName", "Last Name", 80, required=True),
        Field(
            "Name",
            "Full Name",
            FieldType.STRING,
            length=121,
            createable=False,
            updateable=False,
            joins=("FirstName", "LastName"),
        ),
        Field("Email", "Email", FieldType.EMAIL, length=128, required=True),
        _text("Alias", "Alias", 8),
        Field("IsActive", "Active", FieldType.BOOLEAN, default=True),
    ]
    for definition in fields:
        sobject.add(definition)
    return sobject


def standard_objects() -> list[SObjectType]:
    """Fresh definitions (the DX loader adds fields to them, so each schema gets its own)."""
    return [account(), contact(), lead(), user()]
