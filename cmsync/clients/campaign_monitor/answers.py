"""What a successful CM answer must look like: JSON of the documented shape, whatever its content type says.

A proxy's HTML page, a body cut off mid-way or an answer of the wrong shape is a bad response: the
transport retries it like a 5xx instead of handing it to record parsing.
"""

from collections.abc import Callable
from typing import Any

import requests

Shape = Callable[[Any], str | None]
"""Checks a parsed answer: None when it has the expected shape, else what is wrong with it."""


def any_json(_answer: Any) -> str | None:
    return None


def json_object(answer: Any) -> str | None:
    return None if isinstance(answer, dict) else f"expected a JSON object, got {_kind(answer)}"


def json_array(answer: Any) -> str | None:
    return None if isinstance(answer, list) else f"expected a JSON array, got {_kind(answer)}"


def json_page(answer: Any) -> str | None:
    """A paged answer: an object whose ``Results`` is an array."""
    if not isinstance(answer, dict):
        return f"expected a page (a JSON object), got {_kind(answer)}"
    if not isinstance(answer.get("Results"), list):
        return "expected a page with a Results array"
    if not isinstance(answer.get("NumberOfPages", 0), int):
        return "expected a page whose NumberOfPages is a number"
    return None


def parsed_answer(response: requests.Response, shape: Shape) -> tuple[Any, str | None]:
    """The parsed body and None, or None and why it is not the answer expected."""
    try:
        answer = response.json()
    except ValueError:
        content_type = response.headers.get("Content-Type") or "no content type"
        return None, f"the body is not JSON ({content_type}, {len(response.content)} bytes)"
    problem = shape(answer)
    return (answer, None) if problem is None else (None, problem)


def _kind(answer: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string"}.get(type(answer), type(answer).__name__)
