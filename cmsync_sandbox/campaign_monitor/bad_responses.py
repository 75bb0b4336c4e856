"""The bad responses the emulator sends in place of a good one when a test asks (``Faults.bad_responses``):
what a proxy, a load balancer or a struggling server puts on the wire."""

import time
from collections.abc import Iterator

from werkzeug.wrappers import Response

from cmsync_sandbox.campaign_monitor.faults import BadResponses

_PROXY_PAGE = "<html><head><title>Maintenance</title></head><body><h1>Back soon</h1></body></html>"
_XML = '<?xml version="1.0" encoding="utf-8"?><Result><Code>0</Code><Message>OK</Message></Result>'


def spoiled(good: Response, bad: BadResponses) -> Response:
    """The response of kind ``bad.kind`` sent instead of ``good``."""
    data = good.get_data()
    if bad.kind == "html":
        return Response(_PROXY_PAGE, status=200, content_type="text/html; charset=utf-8")
    if bad.kind == "wrong_content_type":
        return Response(_XML, status=200, content_type="text/xml; charset=utf-8")
    if bad.kind == "truncated_json":
        return Response(data[: len(data) // 2], status=200, content_type="application/json; charset=utf-8")
    if bad.kind == "slow_body":
        headers = {"Content-Length": str(len(data))}
        return Response(_stalled(data, bad.stall), status=200, headers=headers, content_type=good.content_type)
    body = b'{"Code": 500, "Message": "Sorry, we\'ve run into a problem"}'
    return Response(body, status=500, content_type="application/json; charset=utf-8")


def _stalled(data: bytes, seconds: float) -> Iterator[bytes]:
    """The first bytes of ``data`` at once, the rest after ``seconds``."""
    yield data[:16]
    time.sleep(seconds)
    yield data[16:]
