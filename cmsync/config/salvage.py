"""What can still be read from an invalid configuration file, so that ``cmsync status`` works while an
operator is fixing it."""

from pathlib import Path

from pydantic import BaseModel, ValidationError

from cmsync.config.errors import ConfigError
from cmsync.config.loader import read_yaml
from cmsync.config.model import CampaignMonitorSettings, Settings
from cmsync.config.secrets import UNCHECKED_CREDENTIALS


def settings_despite_errors(path: str | Path) -> Settings | None:
    """The file's settings, each section that fails alone replaced by its default (the connected clients
    kept when they are IDs); None when the file is not YAML or its ``state`` section is invalid, as then
    no state store can be named."""
    try:
        data = read_yaml(path)
    except ConfigError:
        return None
    if not isinstance(data, dict):
        return None
    sections: dict[str, object] = {}
    for name, field in Settings.model_fields.items():
        model = field.annotation
        if name not in data or not (isinstance(model, type) and issubclass(model, BaseModel)):
            sections[name] = field.get_default(call_default_factory=True)
            continue
        try:
            sections[name] = model.model_validate(data[name], context={UNCHECKED_CREDENTIALS: []})
        except ValidationError:
            if name == "state":
                return None
            sections[name] = _fallback(model, data[name])
    return Settings.model_construct(**sections)


def _fallback(model: type[BaseModel], given: object) -> BaseModel:
    """A section's defaults; for Campaign Monitor, with the client IDs given (``status`` lists them)."""
    if model is CampaignMonitorSettings:
        clients = given.get("clients") if isinstance(given, dict) else None
        listed = [client for client in clients if isinstance(client, str)] if isinstance(clients, list) else []
        return model.model_construct(clients=listed)
    return model.model_construct()
