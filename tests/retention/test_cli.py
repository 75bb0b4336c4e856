"""``cmsync purge-tracking`` and ``cmsync reimport-tracking`` on the embedded broker, as an operator runs them."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cmsync.cli.main import main
from cmsync.retention.purge import last_purge
from tests.retention.conftest import activity, activity_events, ago
from tests.sync.world import World


def _printed(capsys) -> list[str]:
    """What the command printed on stdout, without the log lines of the emulators and workers around it."""
    return [line for line in capsys.readouterr().out.splitlines() if not re.match(r"\d{4}-\d\d-\d\d[ T]\d\d:|\{", line)]


def test_purge_tracking_dry_run_refusal_and_confirm(world: World, embedded, tmp_path: Path, capsys) -> None:
    cmsync = embedded(tracking={"days_to_keep": 400})
    cmsync.sync()
    year = activity(world)
    config = str(world.write_config(tmp_path / "cmsync.yaml", tracking={"days_to_keep": 30}))

    assert main(["purge-tracking", "--config", config, "--dry-run"]) == 0
    [planned] = _printed(capsys)
    assert planned.startswith(f"would delete {sum(when < ago(30) for when in year.values())} of {len(year)}")
    assert "the safety stop would hold it back (more than tracking.purge_max_share, 50%)" in planned
    assert activity(world) == year

    assert main(["purge-tracking", "--config", config]) == 1
    assert _printed(capsys)[0].startswith("purge refused: would delete")
    assert activity(world) == year

    assert main(["purge-tracking", "--config", config, "--confirm"]) == 0
    [done] = _printed(capsys)
    purge = last_purge(cmsync.store)
    assert purge is not None and purge.status == "succeeded" and purge.cutoff is not None
    assert done.startswith(f"deleted {purge.deleted} tracking records older than {purge.cutoff:%Y-%m-%d %H:%M} UTC")
    assert set(activity(world)) == {key for key, when in year.items() if when >= purge.cutoff}


def test_reimport_tracking_dry_run_and_import(world: World, embedded, tmp_path: Path, capsys) -> None:
    cmsync = embedded(tracking={"days_to_keep": 400})
    cmsync.sync()
    events = activity_events(world)
    config = str(world.write_config(tmp_path / "cmsync.yaml", tracking={"days_to_keep": 30, "purge_max_share": 1}))
    assert main(["purge-tracking", "--config", config]) == 0
    kept = set(activity(world))
    since = (datetime.now(UTC) - timedelta(days=100)).date()
    until = since + timedelta(days=40)
    window = [
        "reimport-tracking", "--config", config, "--since", since.isoformat(), "--until", until.isoformat(),
    ]  # fmt: skip

    assert main([*window, "--dry-run"]) == 1
    assert "older than tracking.days_to_keep (30 days" in capsys.readouterr().err
    assert main([*window, "--dry-run", "--force", "--types", "opened", "sent"]) == 0
    lines = _printed(capsys)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    expected = {key for key, (when, _, kind) in events.items() if start <= when < end and kind in ("Opened", "Sent")}
    assert lines[0] == f"tracking from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC (dry run: nothing written)"
    assert any(line.startswith("  campaign Spread #") and ": sent " in line for line in lines)
    assert lines[-1].startswith(f"would import {len(expected)} events from ")
    assert "expected API calls: Campaign Monitor " in lines[-1]
    assert set(activity(world)) == kept

    assert main([*window, "--force", "--types", "opened", "sent"]) == 0
    assert _printed(capsys)[-1].startswith(f"imported {len(expected)} events")
    assert set(activity(world)) == kept | expected


def test_reimport_tracking_names_a_bad_date(world: World, tmp_path: Path, capsys) -> None:
    config = str(world.write_config(tmp_path / "cmsync.yaml"))
    assert main(["reimport-tracking", "--config", config, "--since", "last tuesday"]) == 1
    assert "--since: 'last tuesday' is not a date (YYYY-MM-DD) or an ISO date-time" in capsys.readouterr().err
