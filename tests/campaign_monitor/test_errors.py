"""Every CM error code cmsync may meet, as the client raises it: the right type, HTTP status, code and message."""

from collections.abc import Callable
from typing import Any

import pytest

from cmsync.clients.campaign_monitor import (
    ApiKey,
    BadRequestError,
    CampaignMonitorClient,
    CampaignMonitorError,
    ErrorCode,
    NotFoundError,
    SubscriberDetails,
    SubscriberState,
    UnauthorizedError,
)
from cmsync_sandbox.campaign_monitor import SANDBOX_CLIENT_ID, CampaignMonitorEmulator
from tests.campaign_monitor.conftest import FAST_RETRY

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


def _newsletter(cm: CampaignMonitorEmulator) -> str:
    return cm.state.clients[SANDBOX_CLIENT_ID].lists[0].list_id


def _raises(call: Callable[[], Any]) -> CampaignMonitorError:
    with pytest.raises(CampaignMonitorError) as raised:
        call()
    return raised.value


def test_invalid_api_key_is_401_code_100(api_url: str) -> None:
    with CampaignMonitorClient(api_url, ApiKey("wrong-key"), retry=FAST_RETRY) as client:
        error = _raises(client.clients)
    assert isinstance(error, UnauthorizedError)
    assert (error.status, error.code, error.message) == (401, ErrorCode.INVALID_API_KEY, "Invalid API Key")


def test_unknown_ids(client: CampaignMonitorClient) -> None:
    unauthorized, bad = (401, UnauthorizedError), (400, BadRequestError)
    cases: list[tuple[Callable[[], Any], tuple[int, type[CampaignMonitorError]], int]] = [
        (lambda: client.client_details(UNKNOWN_ID), unauthorized, ErrorCode.INVALID_CLIENT_ID),
        (lambda: client.lists(UNKNOWN_ID), unauthorized, ErrorCode.INVALID_CLIENT_ID),
        (lambda: list(client.campaigns(UNKNOWN_ID)), unauthorized, ErrorCode.INVALID_CLIENT_ID),
        (lambda: client.list_details(UNKNOWN_ID), bad, ErrorCode.INVALID_LIST_ID),
        (lambda: list(client.subscribers(UNKNOWN_ID, SubscriberState.ACTIVE)), bad, ErrorCode.INVALID_LIST_ID),
        (lambda: client.campaign_summary(UNKNOWN_ID), bad, ErrorCode.INVALID_CAMPAIGN_ID),
        (lambda: client.journey_details(UNKNOWN_ID), bad, ErrorCode.INVALID_JOURNEY_ID),
        (lambda: list(client.journey_email_events(UNKNOWN_ID, "opens")), bad, ErrorCode.INVALID_JOURNEY_EMAIL_ID),
    ]
    for call, (status, kind), code in cases:
        error = _raises(call)
        assert (type(error), error.status, error.code) == (kind, status, code)


def test_subscriber_errors(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    list_id = _newsletter(cm)
    cases: list[tuple[Callable[[], Any], int]] = [
        (lambda: client.add_subscriber(list_id, SubscriberDetails("not an email")), ErrorCode.INVALID_EMAIL),
        (lambda: client.subscriber(list_id, "missing@example.com"), ErrorCode.SUBSCRIBER_NOT_IN_LIST),
        (lambda: client.unsubscribe(list_id, "missing@example.com"), ErrorCode.SUBSCRIBER_NOT_IN_LIST),
        (lambda: client.import_subscribers(list_id, []), ErrorCode.NOTHING_TO_IMPORT),
    ]
    for call, code in cases:
        error = _raises(call)
        assert (type(error), error.status, error.code) == (BadRequestError, 400, code)


def test_custom_field_errors(cm: CampaignMonitorEmulator, client: CampaignMonitorClient) -> None:
    list_id = _newsletter(cm)
    for key in ("City", "[NoSuchField]"):
        error = _raises(lambda key=key: client.delete_custom_field(list_id, key))
        assert (error.status, error.code) == (400, ErrorCode.INVALID_FIELD_KEY)
    error = _raises(lambda: client.create_custom_field(list_id, "City", "Text"))
    assert error.code == ErrorCode.DUPLICATE_FIELD_NAME


def test_import_failures_come_back_in_the_result_not_raised(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    result = client.import_subscribers(_newsletter(cm), [SubscriberDetails("broken@example")])
    assert [(failure.email, failure.code, failure.message) for failure in result.failures] == [
        ("broken@example", ErrorCode.INVALID_EMAIL, "Invalid Email Address")
    ]
    error = _raises(lambda: client.import_subscribers(_newsletter(cm), [SubscriberDetails("a@example.com")] * 1001))
    assert error.code == ErrorCode.TOO_MANY_IN_IMPORT


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"page": "0"}, ErrorCode.INVALID_PAGE_NUMBER),
        ({"page": "first"}, ErrorCode.INVALID_PAGE_NUMBER),
        ({"pagesize": "9"}, ErrorCode.INVALID_PAGE_SIZE),
        ({"pagesize": "1001"}, ErrorCode.INVALID_PAGE_SIZE),
        ({"orderfield": "city"}, ErrorCode.INVALID_ORDER_FIELD),
        ({"orderdirection": "sideways"}, ErrorCode.INVALID_ORDER_DIRECTION),
        ({"date": "last tuesday"}, ErrorCode.INVALID_DATE),
    ],
)
def test_paging_parameter_errors(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient, params: dict[str, str], code: int
) -> None:
    path = f"/lists/{_newsletter(cm)}/active.json"
    error = _raises(lambda: client.transport.call("list_subscribers", "GET", path, params=params))
    assert (type(error), error.status, error.code) == (BadRequestError, 400, code)


def test_a_page_size_the_client_is_given_outside_cms_range(
    cm: CampaignMonitorEmulator, client: CampaignMonitorClient
) -> None:
    client.page_size = 5
    error = _raises(lambda: next(client.subscribers(_newsletter(cm), SubscriberState.ACTIVE)))
    assert error.code == ErrorCode.INVALID_PAGE_SIZE


def test_unknown_path_is_404(client: CampaignMonitorClient) -> None:
    error = _raises(lambda: client.transport.call("unknown", "GET", "/nothing/here.json"))
    assert isinstance(error, NotFoundError) and error.status == 404


def test_errors_read_as_english(client: CampaignMonitorClient) -> None:
    error = _raises(lambda: client.list_details(UNKNOWN_ID))
    assert str(error) == "Campaign Monitor list_details: HTTP 400, code 101: Invalid ListID"
