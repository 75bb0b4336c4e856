"""A minimal valid configuration that tests extend, and a way to collect the errors of a broken one."""

import copy
from typing import Any

import pytest

from cmsync.config import ConfigError, Settings, parse_settings

CLIENT = "5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b"
LIST = "1f2e3d4c5b6a79880796a5b4c3d2e1f0"

MINIMAL: dict[str, Any] = {
    "campaign_monitor": {"auth": {"api_key": "cm-key-0123456789"}, "clients": [CLIENT]},
    "salesforce": {
        "auth": {"client_id": "consumer", "client_secret": "sf-secret-abc", "refresh_token": "sf-refresh-xyz"}
    },
}


def with_settings(**sections: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            data[name].update(value)
        else:
            data[name] = value
    return data


def load(data: dict[str, Any]) -> Settings:
    import yaml

    return parse_settings(yaml.safe_dump(data, allow_unicode=True), "test.yaml")


def errors_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(data)
    return [str(issue) for issue in caught.value.issues]
