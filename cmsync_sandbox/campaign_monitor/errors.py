"""The emulator's API errors: CM's ``{"Code", "Message"}`` body with the HTTP status CM sends for each code.

The table is the emulator's own (it does not share the client's), so a mistake on one side shows up in the
contract tests instead of being agreed on by both.
"""

from typing import Any

_ERRORS: dict[int, tuple[int, str]] = {
    1: (400, "Invalid Email Address"),
    5: (400, "Invalid Date"),
    50: (401, "Must supply a valid HTTP Basic Authorization header"),
    100: (401, "Invalid API Key"),
    101: (400, "Invalid ListID"),
    102: (401, "Invalid ClientID"),
    120: (401, "Invalid OAuth Token"),
    121: (401, "Expired OAuth Token"),
    201: (400, "Already subscribed"),
    203: (400, "Subscriber Not In List"),
    205: (400, "Is Deleted"),
    206: (400, "Is Unsubscribed"),
    207: (400, "Is Bounced"),
    208: (400, "Is Unconfirmed"),
    209: (400, "Too many subscribers in this batch. You can only add 1000 subscribers in one call"),
    210: (400, "Subscriber Import had some failures"),
    211: (400, "Invalid New Email Address"),
    212: (400, "No subscribers were provided in this batch"),
    214: (400, "Please provide a consent to track value"),
    215: (400, "Please provide a valid consent to track value"),
    253: (400, "Invalid Key. Keys must be surrounded with [ ]"),
    254: (400, "Invalid Field Name"),
    255: (400, "The Field Name already exists in this list"),
    257: (400, "No options defined for Multi-Valued field"),
    259: (400, "Data type is incorrect"),
    301: (400, "Invalid CampaignID"),
    404: (404, "Not Found"),
    400: (400, "Failed to deserialize your request. Please check the documentation and try again."),
    429: (429, "Rate limit exceeded"),
    500: (500, "Sorry, we've run into a problem"),
    800: (400, "Invalid page number"),
    801: (400, "Invalid page size"),
    802: (400, "Invalid order field"),
    803: (400, "Invalid order direction"),
    920: (400, "Invalid from date"),
    922: (400, "Invalid to date"),
    3000: (400, "Invalid Journey ID"),
    3002: (400, "Invalid Journey Email ID"),
}


class ApiError(Exception):
    """An error the emulator answers with: HTTP ``status`` and CM's body."""

    def __init__(self, code: int, result_data: dict[str, Any] | None = None) -> None:
        self.status, self.message = _ERRORS[code]
        self.code = code
        self.result_data = result_data
        super().__init__(f"{self.status} {code}: {self.message}")

    def body(self) -> dict[str, Any]:
        """The JSON body CM sends: ``ResultData`` first when there is one, as in CM's import failures."""
        body: dict[str, Any] = {"ResultData": self.result_data} if self.result_data is not None else {}
        body.update(Code=self.code, Message=self.message)
        return body


def error_message(code: int) -> str:
    """CM's message for ``code`` (also used in import ``FailureDetails``)."""
    return _ERRORS[code][1]
