"""The alert rules load in Prometheus and pass their unit tests, and every dashboard query is valid PromQL."""

import subprocess
from pathlib import Path

import yaml

from tests.operations.queries import ALERT_TESTS, ALERTS, panel_queries, promql


def test_alert_rules_load_and_pass_their_unit_tests(promtool: str) -> None:
    checked = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([promtool, "test", "rules", str(ALERT_TESTS)], capture_output=True, text=True, timeout=120)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_dashboard_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    """Each panel's query, with Grafana's variables filled in, loads as a recording rule."""
    rules = [{"record": f"dashboard:query_{n}", "expr": promql(q)} for n, q in enumerate(panel_queries())]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
