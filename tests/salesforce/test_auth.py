"""Signing in: the JWT bearer grant checked like Salesforce checks it, the refresh-token grant, sessions
that expire (mid-query too), the integration user's identity, and secrets kept out of logs and reprs."""

import io
import logging
import time

import jwt
import pytest
import requests

from cmsync.clients.salesforce import (
    JwtBearerAuth,
    RefreshTokenAuth,
    SalesforceAuthError,
    SalesforceClient,
    jwt_audience,
)
from cmsync.logs import configure_logging
from cmsync_sandbox.salesforce import SalesforceEmulator
from tests.salesforce.conftest import CLIENT_ID, FAST_POLL, FAST_RETRY, KeyPair, make_client


def _jwt_client(
    url: str, private_pem: bytes, *, client_id: str = CLIENT_ID, username: str = "integration@cmsync.sandbox"
):
    auth = JwtBearerAuth(url, client_id, username, private_pem)
    return SalesforceClient(url, auth, retry=FAST_RETRY, poll=FAST_POLL)


def _token_error(url: str, assertion: str) -> dict:
    response = requests.post(
        f"{url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        timeout=10,
    )
    assert response.status_code == 400
    return response.json()


def test_jwt_bearer_sign_in_with_a_generated_key(server, emulator, key_pair):
    client = _jwt_client(server.url, key_pair.private_pem)
    assert client.user_id == emulator.integration_user_id
    assert client.count("SELECT COUNT() FROM User") == 2


def test_jwt_signed_by_another_key_is_an_invalid_assertion(server):
    stranger = KeyPair("stranger")
    with pytest.raises(SalesforceAuthError) as refused:
        assert not _jwt_client(server.url, stranger.private_pem).user_id
    assert refused.value.error_code == "invalid_grant"
    assert refused.value.message == "invalid assertion"


def test_jwt_claims_are_checked(server, key_pair):
    def assertion(**claims):
        base = {"iss": CLIENT_ID, "sub": "integration@cmsync.sandbox", "aud": server.url, "exp": int(time.time()) + 60}
        return jwt.encode({**base, **claims}, key_pair.private_pem, algorithm="RS256")

    assert _token_error(server.url, assertion(iss="someone-else")) == {
        "error": "invalid_client_id",
        "error_description": "client identifier invalid",
    }
    assert _token_error(server.url, assertion(sub="nobody@example.com"))["error_description"] == (
        "user hasn't approved this consumer"
    )
    assert (
        _token_error(server.url, assertion(aud="https://evil.example.com"))["error_description"]
        == "audience is invalid"
    )
    expired = assertion(exp=int(time.time()) - 10)
    assert _token_error(server.url, expired) == {
        "error": "invalid_grant",
        "error_description": "expired authorization code",
    }
    unsigned = jwt.encode({"iss": CLIENT_ID, "sub": "integration@cmsync.sandbox"}, "s" * 32, algorithm="HS256")
    assert _token_error(server.url, unsigned)["error_description"] == "invalid assertion"


def test_jwt_audience_follows_the_login_server():
    assert jwt_audience("https://login.salesforce.com") == "https://login.salesforce.com"
    assert jwt_audience("https://acme.my.salesforce.com") == "https://login.salesforce.com"
    assert jwt_audience("https://test.salesforce.com") == "https://test.salesforce.com"
    assert jwt_audience("https://acme--uat.sandbox.my.salesforce.com") == "https://test.salesforce.com"
    assert jwt_audience("http://127.0.0.1:8702/") == "http://127.0.0.1:8702"


def test_refresh_token_grant_and_its_errors(server):
    answer = requests.post(
        f"{server.url}/services/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": "sandbox-refresh-token"},
        timeout=10,
    ).json()
    assert answer["token_type"] == "Bearer"
    assert answer["instance_url"] == server.url
    assert "refresh_token" not in answer
    for credentials, error in (
        (("wrong-client", "sandbox-client-secret", "sandbox-refresh-token"), "invalid_client_id"),
        ((CLIENT_ID, "wrong-secret", "sandbox-refresh-token"), "invalid_client"),
        ((CLIENT_ID, "sandbox-client-secret", "revoked-token"), "invalid_grant"),
    ):
        auth = RefreshTokenAuth(server.url, *credentials)
        with pytest.raises(SalesforceAuthError) as refused:
            assert not SalesforceClient(server.url, auth, retry=FAST_RETRY).user_id
        assert refused.value.error_code == error


def test_a_rotated_refresh_token_is_kept_for_the_next_sign_in():
    org = SalesforceEmulator(rotate_refresh_tokens=True)
    with org.serve() as server:
        client = make_client(server.url)
        client.count("SELECT COUNT() FROM User")
        org.expire_tokens()
        assert client.count("SELECT COUNT() FROM User") == 2
        assert "sandbox-refresh-token" not in org.oauth.refresh_tokens
    assert org.calls.counts()["POST /services/oauth2/token"] == 2


def test_the_integration_user_is_known_from_the_sign_in_and_userinfo(client, server, emulator, token):
    assert client.user_id == emulator.integration_user_id
    userinfo = requests.get(
        f"{server.url}/services/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert userinfo["user_id"] == emulator.integration_user_id
    assert userinfo["preferred_username"] == "integration@cmsync.sandbox"
    identity_url = userinfo["sub"]
    assert requests.get(identity_url, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["user_id"] == (
        emulator.integration_user_id
    )
    record_id = client.insert("Account", [{"Name": "Written by cmsync"}])[0].id
    assert emulator.get(record_id)["LastModifiedById"] == client.user_id


def test_an_expired_session_is_401_and_the_client_signs_in_again(client, server, emulator, token):
    client.count("SELECT COUNT() FROM Account")
    emulator.expire_tokens()
    response = requests.get(
        f"{server.url}/services/data/v61.0/limits", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert client.count("SELECT COUNT() FROM Account") == 0
    assert emulator.calls.counts()["POST /services/oauth2/token"] == 3


def test_tokens_expire_after_the_configured_lifetime(client, emulator):
    emulator.faults.update({"token_ttl": 600})
    client.count("SELECT COUNT() FROM Account")
    emulator.clock.advance(599)
    client.count("SELECT COUNT() FROM Account")
    emulator.clock.advance(2)
    assert client.count("SELECT COUNT() FROM Account") == 0
    counts = emulator.calls.counts()
    assert counts["POST /services/oauth2/token"] == 2
    assert [call.status for call in emulator.calls.calls() if call.endpoint == "GET /query"] == [200, 200, 401, 200]


def test_a_session_that_expires_mid_query_is_renewed_and_the_query_goes_on(client, emulator):
    for number in range(450):
        emulator.create("Contact", {"LastName": f"Person {number}", "Email": f"p{number}@example.com"})
    records = client.query("SELECT Id, Email FROM Contact ORDER BY Email", batch_size=200)
    first = [next(records) for _ in range(200)]
    emulator.expire_tokens()
    rest = list(records)
    assert len(first) + len(rest) == 450
    assert len({record["Id"] for record in first + rest}) == 450
    more = [call for call in emulator.calls.calls() if call.endpoint == "GET /query/{locator}"]
    assert [call.status for call in more] == [401, 200, 200]


def test_secrets_stay_out_of_logs_errors_and_reprs(server, emulator, key_pair):
    stream = io.StringIO()
    configure_logging("json", "debug", stream)
    try:
        client = make_client(server.url)
        client.count("SELECT COUNT() FROM Account")
        token = client.sign_in().access_token.get_secret_value()
        emulator.expire_tokens()
        client.count("SELECT COUNT() FROM Account")
        jwt_client = _jwt_client(server.url, key_pair.private_pem)
        assert jwt_client.user_id == emulator.integration_user_id
        bad = RefreshTokenAuth(server.url, CLIENT_ID, "sandbox-client-secret", "sandbox-refresh-token-typo")
        with pytest.raises(SalesforceAuthError) as refused:
            assert not SalesforceClient(server.url, bad, retry=FAST_RETRY).user_id
        logging.getLogger("cmsync.test").info("token %s", token)
    finally:
        configure_logging("json", "info")
    text = "\n".join(
        [stream.getvalue(), repr(client), repr(jwt_client), repr(bad), str(refused.value), repr(client.sign_in())]
    )
    for secret in (token, "sandbox-client-secret", "sandbox-refresh-token", key_pair.private_pem.decode()[40:80]):
        assert secret not in text
    assert "salesforce session expired" in stream.getvalue()
