"""The PromQL of the Grafana dashboard and of the alert rules, and the series each query selects."""

import json
import re
from dataclasses import dataclass

import yaml

from tests.conftest import REPOSITORY

DASHBOARD = REPOSITORY / "grafana" / "cmsync.json"
ALERTS = REPOSITORY / "grafana" / "alerts.yaml"
ALERT_TESTS = REPOSITORY / "grafana" / "alerts.test.yaml"
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1h", "$job": ".*", "$vhost": ".*"}
"""Values Grafana gives its variables, to turn a panel's query into plain PromQL."""

_SELECTOR = re.compile(r"\b((?:cmsync|dramatiq|rabbitmq)_\w+)\s*(?:\{([^}]*)\})?")
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Selector:
    """A metric name and the label matchers a query puts on it."""

    metric: str
    matchers: tuple[tuple[str, str, str], ...]

    def __str__(self) -> str:
        return self.metric + "{" + ", ".join(f'{name}{op}"{value}"' for name, op, value in self.matchers) + "}"

    def selects(self, name: str, labels: dict[str, str]) -> bool:
        """True when the series is one this selector asks for.

        Matchers on template variables (``job=~"$job"``) stand for target labels Prometheus adds, and
        negative matchers (``outcome!="ok"``) legitimately select nothing while all goes well; only the
        positive matchers on the series' own labels are checked.
        """
        if name != self.metric:
            return False
        for label, op, value in self.matchers:
            if "$" in value or op in ("!=", "!~"):
                continue
            pattern = value.encode().decode("unicode_escape") if op == "=~" else re.escape(value)
            if re.fullmatch(pattern, labels.get(label, "")) is None:
                return False
        return True


def panel_queries() -> list[str]:
    """Every query of every panel, as Grafana sends it (with variables)."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def variable_queries() -> list[str]:
    """The queries of the template variables (Grafana's ``label_values(metric, label)``)."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [variable["query"]["query"] for variable in dashboard["templating"]["list"] if variable["type"] == "query"]


def alert_queries() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def promql(query: str) -> str:
    """A dashboard query with Grafana's variables replaced, as Prometheus receives it."""
    for variable, value in GRAFANA_VARIABLES.items():
        query = query.replace(variable, value)
    return query


def selectors(queries: list[str]) -> set[Selector]:
    found = set()
    for query in queries:
        for metric, matchers in _SELECTOR.findall(query):
            found.add(Selector(metric, tuple(_MATCHER.findall(matchers))))
    return found
