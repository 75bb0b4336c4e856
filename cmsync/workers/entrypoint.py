"""What each ``cmsync worker`` process imports: it loads the settings, binds the actors to RabbitMQ and
installs the engine. ``cmsync worker`` sets ``CMSYNC_CONFIG`` and the Prometheus folder before exec'ing
Dramatiq, so every process reads the same file and writes metrics to the same place."""

import sys

from dramatiq.middleware.prometheus import Prometheus

from cmsync.config import ConfigError, load_settings
from cmsync.config.environment import config_path
from cmsync.logs import configure_from
from cmsync.workers import actors
from cmsync.workers.broker import make_broker
from cmsync.workers.engine import Engine, install

try:
    settings = load_settings(config_path(None))
except ConfigError as error:
    print(error.report(), file=sys.stderr)
    raise SystemExit(78) from None
configure_from(settings)
broker = make_broker(settings.broker.url.get_secret_value())
broker.add_middleware(Prometheus())
actors.bind(broker)
install(Engine.from_settings(settings))
