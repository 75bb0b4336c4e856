"""What to do: the settings model, its loader and its validation."""

from cmsync.config.errors import ConfigError, ConfigIssue
from cmsync.config.loader import load_settings, parse_settings
from cmsync.config.model import TRACKING_TYPES, Settings

__all__ = ["TRACKING_TYPES", "ConfigError", "ConfigIssue", "Settings", "load_settings", "parse_settings"]
