"""Settings of the process itself, overridable by environment (listed in the README's table)."""

import os

DEFAULT_CONFIG_PATH = "/etc/cmsync/cmsync.yaml"


def config_path(given: str | None) -> str:
    """The configuration file: the one given, else ``$CMSYNC_CONFIG``, else /etc/cmsync/cmsync.yaml."""
    return given or os.environ.get("CMSYNC_CONFIG") or DEFAULT_CONFIG_PATH
