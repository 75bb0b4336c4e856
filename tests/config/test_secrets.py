"""Secrets from the environment, files and systemd credentials; their values never reach an error."""

from pathlib import Path

import pytest

from cmsync.config.secrets import secret_values
from tests.config.builders import errors_of, load, with_settings

API_KEY = "cm-live-key-9f8e7d6c5b4a"


def _cm_key(reference: str) -> dict[str, object]:
    return with_settings(campaign_monitor={"auth": {"api_key": reference}})


def test_inline(clean_environment: pytest.MonkeyPatch) -> None:
    assert load(_cm_key(API_KEY)).campaign_monitor.auth.api_key.get_secret_value() == API_KEY


def test_from_environment(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("CM_API_KEY", API_KEY)
    assert load(_cm_key("${CM_API_KEY}")).campaign_monitor.auth.api_key.get_secret_value() == API_KEY


def test_missing_environment_variable_is_named(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.delenv("CM_API_KEY", raising=False)
    assert errors_of(_cm_key("${CM_API_KEY}")) == [
        "campaign_monitor.auth.api_key: ${CM_API_KEY}: environment variable CM_API_KEY is not set"
    ]


def test_from_file_without_trailing_newline(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> None:
    (tmp_path / "key").write_text(API_KEY + "\n")
    settings = load(_cm_key(f"file:{tmp_path / 'key'}"))
    assert settings.campaign_monitor.auth.api_key.get_secret_value() == API_KEY


def test_unreadable_or_empty_file(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").write_text("\n")
    assert errors_of(_cm_key(f"file:{tmp_path / 'empty'}")) == [
        f"campaign_monitor.auth.api_key: file:{tmp_path / 'empty'}: {tmp_path / 'empty'} is empty"
    ]
    missing = tmp_path / "missing"
    assert errors_of(_cm_key(f"file:{missing}")) == [
        f"campaign_monitor.auth.api_key: file:{missing}: {missing}: cannot read the file: No such file or directory"
    ]


def test_from_systemd_credential(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> None:
    (tmp_path / "cm_api_key").write_text(API_KEY)
    (tmp_path / "sf_jwt_key").write_text("-----BEGIN PRIVATE KEY-----\n")
    clean_environment.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    jwt = {"client_id": "consumer", "username": "sync@example.com", "private_key_file": "credential:sf_jwt_key"}
    settings = load(
        with_settings(campaign_monitor={"auth": {"api_key": "credential:cm_api_key"}}, salesforce={"auth": jwt})
    )
    assert settings.campaign_monitor.auth.api_key.get_secret_value() == API_KEY
    assert settings.salesforce.auth.private_key_file == tmp_path / "sf_jwt_key"


def test_credential_missing_from_the_unit(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert errors_of(_cm_key("credential:cm_api_key")) == [
        f"campaign_monitor.auth.api_key: credential:cm_api_key: no file {tmp_path / 'cm_api_key'} "
        "(is LoadCredential=cm_api_key:… in the unit?)"
    ]


def test_credential_outside_systemd(clean_environment: pytest.MonkeyPatch) -> None:
    assert errors_of(_cm_key("credential:cm_api_key")) == [
        "campaign_monitor.auth.api_key: credential:cm_api_key needs $CREDENTIALS_DIRECTORY, which systemd sets "
        "for a unit with LoadCredential=cm_api_key:…; it is not set"
    ]


def test_wrong_type_of_secret_does_not_print_it() -> None:
    errors = errors_of(
        with_settings(salesforce={"auth": {"client_id": "c", "client_secret": 12345678, "refresh_token": "r"}})
    )
    assert errors == ["salesforce.auth.client_secret: the value given is not allowed: Input should be a valid string"]


def test_secrets_are_masked_in_representations(clean_environment: pytest.MonkeyPatch) -> None:
    settings = load(_cm_key(API_KEY))
    assert API_KEY not in repr(settings) and API_KEY not in str(settings.model_dump())


def test_every_secret_is_known_for_redaction(clean_environment: pytest.MonkeyPatch) -> None:
    settings = load(
        with_settings(
            campaign_monitor={"auth": {"api_key": API_KEY}},
            broker={"url": "amqp://cmsync:rabbit-pass-77@mq.internal/"},
            state={"url": "postgresql://cmsync:pg-pass-88@db.internal/cmsync"},
        )
    )
    assert secret_values(settings) == {API_KEY, "sf-secret-abc", "sf-refresh-xyz", "rabbit-pass-77", "pg-pass-88"}
