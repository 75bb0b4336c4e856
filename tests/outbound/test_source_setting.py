"""``outbound.source`` and ``outbound.pubsub_endpoint``: the default, where the Pub/Sub API is looked for, and
one clear error for a bad value."""

from cmsync.outbound.cdc import pubsub_endpoint
from tests.config.builders import errors_of, load, with_settings


def test_change_events_are_the_default_source() -> None:
    settings = load(with_settings())
    assert settings.outbound.source == "cdc"
    assert "outbound cdc" in settings.summary()
    assert load(with_settings(outbound={"source": "POLL"})).outbound.source == "poll"


def test_the_pubsub_endpoint_is_salesforces_for_an_org_on_salesforce_com_and_otherwise_must_be_given() -> None:
    on_salesforce = load(with_settings(salesforce={"login_url": "https://acme.my.salesforce.com"}))
    assert pubsub_endpoint(on_salesforce) == "api.pubsub.salesforce.com:7443"
    elsewhere = load(with_settings(salesforce={"login_url": "http://127.0.0.1:8702"}))
    assert pubsub_endpoint(elsewhere) is None
    given = load(with_settings(outbound={"pubsub_endpoint": "127.0.0.1:8703"}))
    assert pubsub_endpoint(given) == "127.0.0.1:8703"


def test_a_bad_source_or_endpoint_is_one_clear_error() -> None:
    (source,) = errors_of(with_settings(outbound={"source": "stream"}))
    assert "outbound.source" in source and "'cdc'" in source and "'poll'" in source
    (endpoint,) = errors_of(with_settings(outbound={"pubsub_endpoint": "https://api.pubsub.salesforce.com"}))
    assert "outbound.pubsub_endpoint" in endpoint and "is not host:port" in endpoint
