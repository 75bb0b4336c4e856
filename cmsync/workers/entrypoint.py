"""What each ``cmsync worker`` process imports: it loads the settings, binds the actors to RabbitMQ and
installs the Systems. ``cmsync worker`` sets ``CMSYNC_CONFIG`` and the Prometheus folder before exec'ing
Dramatiq, so every process reads the same file and writes metrics to the same place."""

import sys

import dramatiq
from dramatiq.middleware.prometheus import Prometheus

from cmsync.config import ConfigError, load_settings
from cmsync.config.environment import config_path
from cmsync.logs import configure_from
from cmsync.systems import Systems, install
from cmsync.workers import actors
from cmsync.workers.broker import make_broker
from cmsync.workers.garbage_collection import tune_for_jobs
from cmsync.workers.known_series import create_known_series


class PrometheusFromTheStart(Prometheus):
    """Dramatiq's Prometheus middleware, with every actor's series at zero from process start.

    Dramatiq creates an actor's series with its first message, so a fresh worker shows "No data" and
    the first dead letter is no increase to the alert that watches ``dramatiq_message_rejects_total``.
    """

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        super().after_process_boot(broker)
        series = (
            self.total_messages,
            self.total_errored_messages,
            self.total_retried_messages,
            self.total_rejected_messages,
            self.inprogress_messages,
            self.message_durations,
        )
        for name in broker.get_declared_actors():
            labels = (broker.get_actor(name).queue_name, name)
            for metric in series:
                metric.labels(*labels)


try:
    settings = load_settings(config_path(None))
except ConfigError as error:
    print(error.report(), file=sys.stderr)
    raise SystemExit(78) from None
configure_from(settings)
broker = make_broker(settings.broker.url.get_secret_value())
broker.add_middleware(PrometheusFromTheStart())
actors.bind(broker)
install(Systems.from_settings(settings))
create_known_series()
tune_for_jobs()
