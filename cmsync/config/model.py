"""The settings model: one YAML file describes a whole installation.

Every section forbids unknown keys and is frozen, so a loaded ``Settings`` can be shared by threads and
swapped whole on reload. Defaults follow the app: hourly import, all tracking types, 90 days kept.
"""

import re
import zoneinfo
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from cmsync.config.durations import format_duration
from cmsync.config.subscriptions import (
    EmailOptOut,
    FieldMapping,
    SubscriptionRule,
    check_mappings_unique,
    check_rules_unique,
)
from cmsync.config.types import (
    SECTION,
    CaFile,
    CmId,
    Duration,
    HttpUrl,
    ListenAddress,
    LowerCase,
    NonEmpty,
    PrivateKeyFile,
    Secret,
    SecretUrl,
    Timeout,
)
from cmsync.config.urls import check_server_url, sqlite_path

TRACKING_TYPES = ("sent", "opened", "clicked", "bounced", "unsubscribed", "spam")
TrackingType = Literal["sent", "opened", "clicked", "bounced", "unsubscribed", "spam"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CM_PRODUCTION_URL = "https://api.createsend.com/api/v3.3"
MAX_DAYS_TO_KEEP = 36500
"""A century: the purge's cut-off date must stay a real date."""


class CmApiKeyAuth(BaseModel):
    """Campaign Monitor API key (HTTP Basic, the key as user name)."""

    model_config = SECTION
    api_key: Secret


class CmOAuth(BaseModel):
    """Campaign Monitor OAuth: an access token is fetched and refreshed with the refresh token."""

    model_config = SECTION
    client_id: Annotated[str, NonEmpty]
    client_secret: Secret
    refresh_token: Secret


def _keys(data: object) -> set[str]:
    """The settings given (while validating) or held (while serializing) by an auth section."""
    if isinstance(data, dict):
        return set(data)
    return set(type(data).model_fields) if isinstance(data, BaseModel) else set()


def _cm_auth_kind(data: object) -> str | None:
    keys = _keys(data)
    return "api_key" if "api_key" in keys else "oauth" if keys & {"client_id", "refresh_token"} else None


class CampaignMonitorSettings(BaseModel):
    """Where Campaign Monitor is, how to sign in, and which of the account's clients to sync."""

    model_config = SECTION

    base_url: HttpUrl = CM_PRODUCTION_URL
    auth: Annotated[
        Annotated[CmApiKeyAuth, Tag("api_key")] | Annotated[CmOAuth, Tag("oauth")],
        Discriminator(
            _cm_auth_kind,
            custom_error_type="auth_kind",
            custom_error_message=("give either api_key, or OAuth client_id, client_secret and refresh_token"),
        ),
    ]
    clients: Annotated[list[CmId], Field(min_length=1)]
    ca_file: CaFile | None = None
    timeout: Timeout = timedelta(seconds=30)

    @field_validator("clients")
    @classmethod
    def _unique_clients(cls, clients: list[str]) -> list[str]:
        duplicates = sorted({client for client in clients if clients.count(client) > 1})
        if duplicates:
            raise ValueError(f"client {duplicates[0]} is listed more than once")
        return clients


class SalesforceJwtAuth(BaseModel):
    """OAuth 2.0 JWT bearer flow: a connected app's consumer key, the integration user, its private key."""

    model_config = SECTION
    client_id: Annotated[str, NonEmpty]
    username: Annotated[str, NonEmpty]
    private_key_file: PrivateKeyFile


class SalesforceRefreshTokenAuth(BaseModel):
    """OAuth 2.0 refresh-token flow."""

    model_config = SECTION
    client_id: Annotated[str, NonEmpty]
    client_secret: Secret
    refresh_token: Secret


def _salesforce_auth_kind(data: object) -> str | None:
    keys = _keys(data)
    return (
        "jwt"
        if keys & {"username", "private_key_file"}
        else "refresh_token"
        if keys & {"client_secret", "refresh_token"}
        else None
    )


class SalesforceSettings(BaseModel):
    """Where the org signs in and which API version cmsync speaks."""

    model_config = SECTION

    login_url: HttpUrl = "https://login.salesforce.com"
    api_version: Annotated[str, Field(pattern=r"^\d{2,3}\.0$")] = "61.0"
    auth: Annotated[
        Annotated[SalesforceJwtAuth, Tag("jwt")] | Annotated[SalesforceRefreshTokenAuth, Tag("refresh_token")],
        Discriminator(
            _salesforce_auth_kind,
            custom_error_type="auth_kind",
            custom_error_message=(
                "give either JWT bearer (client_id, username, private_key_file) or "
                "refresh token (client_id, client_secret, refresh_token)"
            ),
        ),
    ]
    ca_file: CaFile | None = None
    timeout: Timeout = timedelta(seconds=60)
    bulk_threshold: Annotated[int, Field(ge=1)] = 2000

    @field_validator("api_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return f"{value:.1f}" if isinstance(value, int | float) and not isinstance(value, bool) else value


class SyncSettings(BaseModel):
    """When the main sync (CM → Salesforce import) runs."""

    model_config = SECTION

    import_frequency: Annotated[Literal["never", "hourly", "daily", "weekly"], LowerCase] = "hourly"
    at: str | None = None
    weekday: Annotated[Weekday | None, LowerCase] = None
    timezone: str | None = None
    full_pass_every: Duration = timedelta(days=7)

    @field_validator("at", mode="before")
    @classmethod
    def _at_as_text(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            minutes = value // 60
            return f"{minutes // 60:02d}:{minutes % 60:02d}"
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not a known time zone; use an IANA name like Europe/London") from None
        return value

    @field_validator("full_pass_every")
    @classmethod
    def _sane_full_pass(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1):
            raise ValueError(f"{format_duration(value)} is too often for a full pass; allowed: 1h or more")
        return value

    @model_validator(mode="after")
    def _check_at(self) -> "SyncSettings":
        problem = schedule_problem(self.import_frequency, self.at, self.weekday)
        if problem:
            raise ValueError(problem)
        return self


def schedule_problem(frequency: str, at: str | None, weekday: str | None) -> str | None:
    """What is wrong with ``sync.at`` and ``sync.weekday`` for this import frequency, or None."""
    if weekday is not None and frequency in ("hourly", "daily"):
        return f"weekday only applies to weekly imports, not {frequency}"
    if at is not None:
        hourly = frequency == "hourly"
        try:
            if hourly:
                if not (at.startswith(":") and len(at) == 3 and 0 <= int(at[1:]) < 60):
                    raise ValueError
            else:
                time.fromisoformat(at)
        except ValueError:
            wanted = "':MM' (minute of the hour)" if hourly else "'HH:MM' (24-hour time of day)"
            return f"at {at!r} is not a time; for {frequency} imports write {wanted}"
    return None


class TrackingSettings(BaseModel):
    """Email tracking import (opens, clicks …) and how long Salesforce keeps it."""

    model_config = SECTION

    enabled: bool = True
    types: list[Annotated[TrackingType, LowerCase]] = list(TRACKING_TYPES)
    days_to_keep: Annotated[int, Field(ge=1, le=MAX_DAYS_TO_KEEP, strict=True)] = 90
    purge_deselected_types: bool = False
    purge_max_share: Annotated[float, Field(gt=0, le=1)] = 0.5

    @field_validator("types")
    @classmethod
    def _unique_types(cls, types: list[str]) -> list[str]:
        duplicates = sorted({kind for kind in types if types.count(kind) > 1})
        if duplicates:
            raise ValueError(f"tracking type {duplicates[0]!r} is listed more than once")
        return types

    @model_validator(mode="after")
    def _some_types(self) -> "TrackingSettings":
        problem = tracking_problem(self.enabled, self.types)
        if problem:
            raise ValueError(problem)
        return self


def tracking_problem(enabled: bool, types: list[str]) -> str | None:
    """What is wrong between ``tracking.enabled`` and ``tracking.types``, or None."""
    return "no tracking types are selected; choose some or set enabled: false" if enabled and not types else None


class AdvancedSettings(BaseModel):
    """The app's advanced settings (all off by default)."""

    model_config = SECTION

    trigger_journeys_on_bulk_add: bool = False
    account_trigger: bool = False
    disable_triggers: bool = False
    disable_bulk_triggers: bool = False


class OutboundSettings(BaseModel):
    """The near-real-time Salesforce → CM feed: Change Data Capture over the Pub/Sub API (``cdc``, which
    polls instead when the org cannot give change events) or a poll every ``poll_interval`` (``poll``)."""

    model_config = SECTION

    source: Annotated[Literal["cdc", "poll"], LowerCase] = "cdc"
    pubsub_endpoint: str | None = None
    """host:port of the Pub/Sub API; unset, api.pubsub.salesforce.com:7443 for an org on salesforce.com."""
    poll_interval: Duration = timedelta(seconds=15)

    @field_validator("pubsub_endpoint")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9.\-]+:\d{1,5}", value):
            raise ValueError(f"{value!r} is not host:port (for example api.pubsub.salesforce.com:7443)")
        return value

    @field_validator("poll_interval")
    @classmethod
    def _sane_interval(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(hours=1):
            raise ValueError(f"{format_duration(value)} is not allowed; the poll interval is from 1s to 1h")
        return value


def names_embedded_broker(url: str) -> bool:
    """True when ``broker.url`` asks for the in-process broker rather than RabbitMQ (the one place that says so)."""
    return url == "embedded"


class BrokerSettings(BaseModel):
    """``embedded`` runs the workers inside the supervisor; ``amqp://…`` uses RabbitMQ."""

    model_config = SECTION

    url: SecretUrl = SecretStr("embedded")
    embedded_workers: Annotated[int, Field(ge=1, le=32, strict=True)] = 4
    """Jobs (lists, tracking sources) run side by side when the broker is ``embedded``."""

    @field_validator("url")
    @classmethod
    def _known_broker(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if names_embedded_broker(url):
            return value
        if not url.startswith(("amqp://", "amqps://")):
            raise ValueError("the broker is 'embedded' or an amqp:// or amqps:// URL (RabbitMQ)")
        check_server_url(url, ("amqp", "amqps"))
        return value

    @property
    def embedded(self) -> bool:
        """The workers run on threads of the process that holds the broker (no RabbitMQ)."""
        return names_embedded_broker(self.url.get_secret_value())


class StateSettings(BaseModel):
    """Where run history, watermarks and the connection state live."""

    model_config = SECTION

    url: SecretUrl = SecretStr("sqlite:////var/lib/cmsync/state.db")

    @field_validator("url")
    @classmethod
    def _known_store(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        path = sqlite_path(url)
        if path is not None and path.name:
            if "\0" in url or any(len(part.encode()) > 255 for part in path.parts):
                raise ValueError("the SQLite file's path holds a NUL character or a name longer than 255 bytes")
            return value
        if url.startswith(("postgresql://", "postgres://")):
            check_server_url(url, ("postgresql", "postgres"), host_required=False)
            return value
        raise ValueError(
            "the state store is sqlite:////absolute/path.db (four slashes), sqlite:///relative/path.db "
            "or a postgresql:// URL"
        )


class MetricsSettings(BaseModel):
    """The Prometheus endpoint (``/metrics`` and ``/healthz``)."""

    model_config = SECTION

    listen: ListenAddress = "127.0.0.1:9464"


class LoggingSettings(BaseModel):
    """structlog output: JSON lines for journald, console for a terminal, or chosen by the terminal."""

    model_config = SECTION

    format: Annotated[Literal["json", "console", "auto"], LowerCase] = "auto"
    level: Annotated[Literal["debug", "info", "warning", "error"], LowerCase] = "info"


class ConsoleSettings(BaseModel):
    """The web console: the settings page, its actions and run history, behind a password (off by default)."""

    model_config = SECTION

    listen: ListenAddress | None = None
    password: Secret | None = None
    session_lifetime: Duration = timedelta(hours=8)

    @field_validator("password")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 8:
            raise ValueError("the console password is too short; use 8 characters or more")
        return value

    @model_validator(mode="after")
    def _password_when_served(self) -> "ConsoleSettings":
        problem = console_problem(self.listen is not None, self.password is not None)
        if problem:
            raise ValueError(problem)
        return self


def console_problem(listens: bool, has_password: bool) -> str | None:
    """What is wrong between ``console.listen`` and ``console.password``, or None."""
    return (
        "listen is set but password is not; every console page needs signing in"
        if listens and not has_password
        else None
    )


class Settings(BaseModel):
    """One installation: both systems, what to sync and when, and how the service runs."""

    model_config = SECTION

    campaign_monitor: CampaignMonitorSettings
    salesforce: SalesforceSettings
    sync: SyncSettings = SyncSettings()
    tracking: TrackingSettings = TrackingSettings()
    advanced: AdvancedSettings = AdvancedSettings()
    subscription_rules: list[SubscriptionRule] = []
    field_mappings: list[FieldMapping] = []
    email_opt_out: EmailOptOut = EmailOptOut()
    outbound: OutboundSettings = OutboundSettings()
    broker: BrokerSettings = BrokerSettings()
    state: StateSettings = StateSettings()
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()
    console: ConsoleSettings = ConsoleSettings()

    @field_validator("subscription_rules")
    @classmethod
    def _rules_unique(cls, rules: list[SubscriptionRule]) -> list[SubscriptionRule]:
        check_rules_unique(rules)
        return rules

    @field_validator("field_mappings")
    @classmethod
    def _mappings_unique(cls, mappings: list[FieldMapping]) -> list[FieldMapping]:
        check_mappings_unique(mappings)
        return mappings

    def summary(self) -> str:
        """One line for ``check-config``: what this file asks cmsync to do."""
        clients = len(self.campaign_monitor.clients)
        tracking = (
            f"tracking {len(self.tracking.types)} types kept {self.tracking.days_to_keep} days"
            if self.tracking.enabled
            else "tracking off"
        )
        return (
            f"{clients} client{'s' if clients != 1 else ''}, {self.sync.import_frequency} import, {tracking}, "
            f"{len(self.subscription_rules)} rules, {len(self.field_mappings)} mappings, "
            f"outbound {self.outbound.source}, broker {'embedded' if self.broker.embedded else 'rabbitmq'}, "
            f"state {self.state.url.get_secret_value().split(':', 1)[0]}"
        )
