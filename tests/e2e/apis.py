"""Both systems as an outsider sees them: Campaign Monitor's API v3.3 and Salesforce's REST query API over
HTTP, with nothing of cmsync in between (the oracle must not share cmsync's reading of either API)."""

from collections.abc import Iterator
from typing import Any

import requests

CM_STATES = ("Active", "Unsubscribed", "Bounced", "Deleted", "Unconfirmed")
SALESFORCE_VERSION = "v61.0"


class CampaignMonitorApi:
    """Reads (and, for seeding, writes) one CM account with an API key, as any API user would."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (api_key, "x")

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(f"{self.base_url}/{path}.json", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def send(self, method: str, path: str, body: Any, **params: Any) -> Any:
        response = self.session.request(method, f"{self.base_url}/{path}.json", json=body, params=params, timeout=30)
        if response.status_code >= 400:
            raise AssertionError(f"CM {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def paged(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every result of a paged CM call, page by page."""
        number = 1
        while True:
            page = self.get(path, page=number, pagesize=1000, **params)
            yield from page["Results"]
            if number >= page["NumberOfPages"]:
                return
            number += 1

    def members(self, list_id: str, state: str) -> Iterator[dict[str, Any]]:
        return self.paged(f"lists/{list_id}/{state.lower()}", orderfield="email", includetrackingpreference="true")

    def close(self) -> None:
        self.session.close()


class SalesforceApi:
    """Salesforce's REST API signed in with the refresh-token grant; SOQL through ``/query``."""

    def __init__(self, login_url: str, client_id: str, client_secret: str, refresh_token: str) -> None:
        self.session = requests.Session()
        answer = self.session.post(
            f"{login_url.rstrip('/')}/services/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token,
            },
            timeout=30,
        )
        answer.raise_for_status()
        token = answer.json()
        self.instance = token["instance_url"].rstrip("/")
        self.session.headers["Authorization"] = f"Bearer {token['access_token']}"

    def query(self, soql: str) -> list[dict[str, Any]]:
        """Every row of ``soql``, following ``nextRecordsUrl``."""
        response = self.session.get(
            f"{self.instance}/services/data/{SALESFORCE_VERSION}/query", params={"q": soql}, timeout=30
        )
        rows: list[dict[str, Any]] = []
        while True:
            response.raise_for_status()
            page = response.json()
            rows.extend({k: v for k, v in row.items() if k != "attributes"} for row in page["records"])
            if page.get("done", True):
                return rows
            response = self.session.get(f"{self.instance}{page['nextRecordsUrl']}", timeout=30)

    def create(self, sobject: str, values: dict[str, Any]) -> str:
        response = self.session.post(
            f"{self.instance}/services/data/{SALESFORCE_VERSION}/sobjects/{sobject}", json=values, timeout=30
        )
        if response.status_code >= 400:
            raise AssertionError(f"Salesforce create {sobject}: {response.status_code} {response.text}")
        return str(response.json()["id"])

    def close(self) -> None:
        self.session.close()


class Controls:
    """An emulator's ``/_sandbox/`` controls: what happens in a UI or by a recipient, and the call log."""

    def __init__(self, server_url: str) -> None:
        self.base_url = f"{server_url.rstrip('/')}/_sandbox"
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, f"{self.base_url}/{path}", json=body, timeout=60)
        if response.status_code >= 400:
            raise AssertionError(f"sandbox {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def close(self) -> None:
        self.session.close()
