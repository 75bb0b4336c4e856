"""The client is built from the ``salesforce`` section of the settings, with either kind of sign-in."""

from cmsync.clients.salesforce import JwtBearerAuth, RefreshTokenAuth, SalesforceClient
from cmsync.config.model import SalesforceSettings


def test_a_client_from_refresh_token_settings(server, emulator):
    settings = SalesforceSettings.model_validate(
        {
            "login_url": server.url,
            "auth": {
                "client_id": "sandbox-client-id",
                "client_secret": "sandbox-client-secret",
                "refresh_token": "sandbox-refresh-token",
            },
            "bulk_threshold": 500,
            "timeout": "20s",
        }
    )
    client = SalesforceClient.from_settings(settings)
    transport = client.transport
    assert isinstance(transport.auth, RefreshTokenAuth)
    assert (client.bulk_threshold, transport.api_version, transport.timeout) == (500, "61.0", (10.0, 20.0))
    assert client.user_id == emulator.integration_user_id


def test_a_client_from_jwt_settings(server, emulator, key_pair, tmp_path):
    key_file = tmp_path / "integration.key"
    key_file.write_bytes(key_pair.private_pem)
    settings = SalesforceSettings.model_validate(
        {
            "login_url": server.url,
            "api_version": 60,
            "auth": {
                "client_id": "sandbox-client-id",
                "username": "integration@cmsync.sandbox",
                "private_key_file": str(key_file),
            },
        }
    )
    client = SalesforceClient.from_settings(settings)
    assert isinstance(client.transport.auth, JwtBearerAuth)
    assert client.user_id == emulator.integration_user_id
    assert client.count("SELECT COUNT() FROM User") == 2
    assert any(call.path.startswith("/services/data/v60.0/") for call in emulator.calls.calls())
