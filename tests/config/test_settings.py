"""The settings model: defaults of the app, every setting's validation, and errors that name their path."""

from datetime import timedelta
from pathlib import Path

import pytest

from cmsync.config import ConfigError, load_settings, parse_settings
from tests.config.builders import CLIENT, LIST, MINIMAL, errors_of, load, with_settings

REPOSITORY = Path(__file__).resolve().parents[2]
STORE_FORMS = (
    "the state store is sqlite:////absolute/path.db (four slashes), sqlite:///relative/path.db or a postgresql:// URL"
)


def test_defaults_follow_the_app() -> None:
    settings = load(MINIMAL)
    assert settings.campaign_monitor.base_url == "https://api.createsend.com/api/v3.3"
    assert settings.sync.import_frequency == "hourly"
    assert settings.sync.full_pass_every == timedelta(days=7)
    assert settings.tracking.enabled is True
    assert settings.tracking.types == ["sent", "opened", "clicked", "bounced", "unsubscribed", "spam"]
    assert settings.tracking.days_to_keep == 90
    assert settings.tracking.purge_max_share == 0.5
    assert not any(dict(settings.advanced).values())
    assert settings.outbound.poll_interval == timedelta(seconds=15)
    assert settings.broker.url.get_secret_value() == "embedded"
    assert settings.metrics.listen == "127.0.0.1:9464"
    assert (settings.logging.format, settings.logging.level) == ("auto", "info")


@pytest.mark.parametrize("name", ["cmsync.example.yaml", "sandbox.yaml"])
def test_shipped_files_are_valid(name: str, clean_environment: pytest.MonkeyPatch) -> None:
    unchecked: list[str] = []
    settings = load_settings(REPOSITORY / "config" / name, unchecked=unchecked)
    assert settings.campaign_monitor.clients


def test_sandbox_file_is_the_embedded_default() -> None:
    settings = load_settings(REPOSITORY / "config" / "sandbox.yaml")
    assert settings.broker.url.get_secret_value() == "embedded"
    assert settings.state.url.get_secret_value().startswith("sqlite:///")
    assert settings.campaign_monitor.base_url.startswith("http://127.0.0.1:")


def test_ten_mistakes_are_all_reported_with_their_paths() -> None:
    data = with_settings(
        campaign_monitor={"base_url": "ftp://cm.example.com", "clients": ["not-hex"]},
        sync={"import_frequency": "monthly", "timezone": "Mars/Olympus_Mons"},
        tracking={"types": ["sent", "viewed"], "days_to_keep": 0},
        advanced={"disable_trigger": True},
        outbound={"poll_interval": "2 fortnights"},
        metrics={"listen": "nowhere"},
        logging={"format": "xml"},
    )
    errors = errors_of(data)
    expected_paths = [
        "campaign_monitor.base_url",
        "campaign_monitor.clients[0]",
        "sync.import_frequency",
        "sync.timezone",
        "tracking.types[1]",
        "tracking.days_to_keep",
        "advanced.disable_trigger",
        "outbound.poll_interval",
        "metrics.listen",
        "logging.format",
    ]
    assert [error.split(":", 1)[0] for error in errors] == expected_paths
    assert "'monthly' is not allowed; expected one of 'never', 'hourly', 'daily' or 'weekly'" in errors[2]
    assert "'viewed'" in errors[4]
    assert "0 is not allowed" in errors[5]
    assert "unknown setting" in errors[6] and "disable_triggers" in errors[6]


def test_unknown_top_level_key_is_an_error() -> None:
    assert errors_of({**MINIMAL, "trackin": {"enabled": False}}) == [
        "trackin: unknown setting (a typo?); allowed here: campaign_monitor, salesforce, sync, tracking, advanced, "
        "subscription_rules, field_mappings, email_opt_out, outbound, broker, state, metrics, logging, console"
    ]


def test_missing_sections_are_named() -> None:
    errors = errors_of({})
    assert errors == ["campaign_monitor: is required but missing", "salesforce: is required but missing"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file must hold a mapping of settings"),
        ("- a\n- b\n", "the file must hold a mapping of settings"),
        ("tracking:\n  enabled: true\n   days: 3\n", "line 3, column"),
        (
            "tracking:\n  enabled: true\ntracking:\n  enabled: false\n",
            "key 'tracking' is given twice (first on line 1)",
        ),
    ],
)
def test_unreadable_yaml_is_refused_with_its_position(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "broken.yaml")
    assert expected in caught.value.report()
    assert caught.value.report().startswith("broken.yaml: 1 error")


def test_missing_file_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings("/nonexistent/cmsync.yaml")
    assert caught.value.report().endswith("/nonexistent/cmsync.yaml: cannot read the file: No such file or directory")


class TestCampaignMonitor:
    def test_oauth_instead_of_api_key(self) -> None:
        auth = {"client_id": "42", "client_secret": "cm-secret-1", "refresh_token": "cm-refresh-1"}
        settings = load(with_settings(campaign_monitor={"auth": auth}))
        assert settings.campaign_monitor.auth.refresh_token.get_secret_value() == "cm-refresh-1"

    def test_auth_must_be_one_of_the_two_kinds(self) -> None:
        errors = errors_of(with_settings(campaign_monitor={"auth": {"token": "x"}}))
        assert errors == [
            "campaign_monitor.auth: give either api_key, or OAuth client_id, client_secret and refresh_token"
        ]

    def test_oauth_needs_all_three_parts(self) -> None:
        errors = errors_of(with_settings(campaign_monitor={"auth": {"client_id": "42", "refresh_token": "abc"}}))
        assert errors == ["campaign_monitor.auth.client_secret: is required but missing"]

    def test_at_least_one_client(self) -> None:
        assert errors_of(with_settings(campaign_monitor={"clients": []})) == [
            "campaign_monitor.clients: has 0 items; at least 1 required"
        ]

    def test_client_listed_twice(self) -> None:
        errors = errors_of(with_settings(campaign_monitor={"clients": [CLIENT, CLIENT.upper()]}))
        assert errors == [f"campaign_monitor.clients: client {CLIENT} is listed more than once"]

    def test_client_id_with_wrong_character(self) -> None:
        bad = CLIENT[:5] + "z" + CLIENT[6:]
        errors = errors_of(with_settings(campaign_monitor={"clients": [bad]}))
        assert errors == [
            f"campaign_monitor.clients[0]: Invalid characters found in {bad!r}: 'z' at position 6; "
            "a Campaign Monitor ID uses only the hexadecimal digits 0-9 and a-f"
        ]

    def test_timeout_is_a_duration(self) -> None:
        assert load(with_settings(campaign_monitor={"timeout": "45s"})).campaign_monitor.timeout.total_seconds() == 45


class TestSalesforce:
    def test_jwt_auth_needs_a_readable_key_file(self, tmp_path: Path) -> None:
        key = tmp_path / "server.key"
        key.write_text("-----BEGIN PRIVATE KEY-----\n")
        auth = {"client_id": "consumer", "username": "sync@example.com", "private_key_file": str(key)}
        assert load(with_settings(salesforce={"auth": auth})).salesforce.auth.private_key_file == key
        auth["private_key_file"] = str(tmp_path / "missing.key")
        errors = errors_of(with_settings(salesforce={"auth": auth}))
        assert errors == [f"salesforce.auth.private_key_file: {str(tmp_path / 'missing.key')!r}: no such file"]

    def test_auth_kind_is_named_when_unclear(self) -> None:
        errors = errors_of(with_settings(salesforce={"auth": {"client_id": "consumer"}}))
        assert errors == [
            "salesforce.auth: give either JWT bearer (client_id, username, private_key_file) or "
            "refresh token (client_id, client_secret, refresh_token)"
        ]

    def test_api_version_written_as_a_number(self) -> None:
        assert load(with_settings(salesforce={"api_version": 60})).salesforce.api_version == "60.0"
        errors = errors_of(with_settings(salesforce={"api_version": "v61"}))
        assert errors[0].startswith("salesforce.api_version: 'v61' does not have the expected form")


class TestSync:
    @pytest.mark.parametrize("frequency", ["never", "hourly", "daily", "weekly", "Weekly"])
    def test_frequencies(self, frequency: str) -> None:
        assert load(with_settings(sync={"import_frequency": frequency})).sync.import_frequency == frequency.lower()

    def test_daily_at_time_in_a_time_zone(self) -> None:
        sync = load(with_settings(sync={"import_frequency": "daily", "at": "02:30", "timezone": "Europe/London"})).sync
        assert (sync.at, sync.timezone) == ("02:30", "Europe/London")

    def test_weekly_on_a_weekday(self) -> None:
        sync = load(with_settings(sync={"import_frequency": "weekly", "weekday": "Sunday", "at": "23:00"})).sync
        assert sync.weekday == "sunday"

    def test_hourly_at_minute(self) -> None:
        assert load(with_settings(sync={"at": ":15"})).sync.at == ":15"

    @pytest.mark.parametrize(
        ("sync", "message"),
        [
            ({"import_frequency": "daily", "at": "25:00"}, "at '25:00' is not a time; for daily imports write 'HH:MM'"),
            ({"at": "02:00"}, "at '02:00' is not a time; for hourly imports write ':MM'"),
            ({"import_frequency": "daily", "weekday": "monday"}, "weekday only applies to weekly imports, not daily"),
            ({"import_frequency": "weekly", "weekday": "funday"}, "'funday' is not allowed"),
            ({"full_pass_every": "10m"}, "10m is too often for a full pass; allowed: 1h or more"),
            ({"full_pass_every": "a week"}, "'a week' is not a duration; write it like 15s, 30m, 12h or 7d"),
        ],
    )
    def test_schedule_mistakes(self, sync: dict[str, str], message: str) -> None:
        errors = errors_of(with_settings(sync=sync))
        assert len(errors) == 1 and errors[0].startswith("sync") and message in errors[0]


class TestTracking:
    def test_subset_of_types(self) -> None:
        assert load(with_settings(tracking={"types": ["opened", "Clicked"]})).tracking.types == ["opened", "clicked"]

    @pytest.mark.parametrize("days", [0, -5, 2.5, "ninety", True])
    def test_days_to_keep_is_a_whole_number_of_at_least_one(self, days: object) -> None:
        errors = errors_of(with_settings(tracking={"days_to_keep": days}))
        assert len(errors) == 1 and errors[0].startswith("tracking.days_to_keep: ")

    def test_type_listed_twice(self) -> None:
        assert errors_of(with_settings(tracking={"types": ["sent", "sent"]})) == [
            "tracking.types: tracking type 'sent' is listed more than once"
        ]

    def test_enabled_needs_a_type(self) -> None:
        assert errors_of(with_settings(tracking={"types": []})) == [
            "tracking: no tracking types are selected; choose some or set enabled: false"
        ]
        assert load(with_settings(tracking={"types": [], "enabled": False})).tracking.enabled is False

    @pytest.mark.parametrize("share", [0, 1.5])
    def test_purge_share(self, share: float) -> None:
        assert errors_of(with_settings(tracking={"purge_max_share": share}))[0].startswith("tracking.purge_max_share")


def test_advanced_settings() -> None:
    advanced = {name: True for name in ("trigger_journeys_on_bulk_add", "account_trigger", "disable_triggers")}
    settings = load(with_settings(advanced={**advanced, "disable_bulk_triggers": "yes"}))
    assert all(dict(settings.advanced).values())
    errors = errors_of(with_settings(advanced={"account_trigger": "sometimes"}))
    assert errors[0].startswith("advanced.account_trigger: 'sometimes' is not allowed")


class TestRunning:
    def test_rabbitmq_url_with_password_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AMQP_PASSWORD", "rabbit-pass-77")
        settings = load(with_settings(broker={"url": "amqp://cmsync:${AMQP_PASSWORD}@mq.internal:5672/cmsync"}))
        assert settings.broker.url.get_secret_value() == "amqp://cmsync:rabbit-pass-77@mq.internal:5672/cmsync"
        assert "rabbit-pass-77" not in repr(settings)

    @pytest.mark.parametrize(
        ("section", "value", "message"),
        [
            ("broker", "redis://localhost", "the broker is 'embedded' or an amqp:// or amqps:// URL (RabbitMQ)"),
            ("state", "mysql://db/cmsync", STORE_FORMS),
            ("state", "sqlite:///", STORE_FORMS),
        ],
    )
    def test_unknown_urls(self, section: str, value: str, message: str) -> None:
        assert errors_of(with_settings(**{section: {"url": value}})) == [f"{section}.url: {message}"]

    def test_embedded_workers(self) -> None:
        assert load(MINIMAL).broker.embedded_workers == 4
        assert load(with_settings(broker={"url": "embedded", "embedded_workers": 8})).broker.embedded_workers == 8
        for wrong in (0, 33, "many"):
            assert errors_of(with_settings(broker={"embedded_workers": wrong}))[0].startswith(
                "broker.embedded_workers: "
            ), wrong

    def test_postgres_state(self) -> None:
        url = "postgresql://cmsync@db.internal/cmsync"
        assert load(with_settings(state={"url": url})).state.url.get_secret_value() == url

    @pytest.mark.parametrize("listen", ["0.0.0.0:9464", "[::1]:9000", "localhost:80"])
    def test_metrics_listen(self, listen: str) -> None:
        assert load(with_settings(metrics={"listen": listen})).metrics.listen == listen

    @pytest.mark.parametrize("listen", ["9464", "host:0", "host:70000", ":9464"])
    def test_metrics_listen_mistakes(self, listen: str) -> None:
        assert errors_of(with_settings(metrics={"listen": listen}))[0].startswith("metrics.listen: ")

    @pytest.mark.parametrize("interval", ["500ms", "0.5s", "2h"])
    def test_poll_interval_bounds(self, interval: str) -> None:
        assert errors_of(with_settings(outbound={"poll_interval": interval}))[0].startswith("outbound.poll_interval")

    def test_logging_level(self) -> None:
        assert load(with_settings(logging={"level": "DEBUG", "format": "json"})).logging.level == "debug"
        assert errors_of(with_settings(logging={"level": "verbose"}))[0].startswith("logging.level: 'verbose'")


def test_settings_are_frozen() -> None:
    settings = load(MINIMAL)
    with pytest.raises(ValueError, match="frozen"):
        settings.tracking.days_to_keep = 1  # type: ignore[misc]


def test_summary_names_what_the_file_does() -> None:
    settings = load(
        with_settings(
            sync={"import_frequency": "daily"},
            tracking={"types": ["opened"], "days_to_keep": 30},
            field_mappings=[{"list": LIST, "cm_field": "[City]", "contact_field": "MailingCity", "direction": "sf2cm"}],
        )
    )
    assert settings.summary() == (
        "1 client, daily import, tracking 1 types kept 30 days, 0 rules, 1 mappings, outbound cdc, broker embedded, "
        "state sqlite"
    )
