"""``check-config`` and ``status`` through the ``cmsync`` entry point: every mistake in one pass, cross-field
ones included, a warning for a rule that cannot fire, and a status while the file is invalid."""

from pathlib import Path

from tests.test_cli import cmsync, sandbox_config

LIST = "1f2e3d4c5b6a79880796a5b4c3d2e1f0"
HEADER = """\
campaign_monitor:
  auth: {api_key: cm-key-0123456789}
  clients: [5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b]
salesforce:
  auth: {client_id: consumer, client_secret: s3cr3t-value, refresh_token: r3fr3sh-value}
"""
CROSS_FIELD_MISTAKES = (
    HEADER
    + f"""\
sync:
  import_frequency: daily
  at: "25:99"
  timezone: Mars/Olympus_Mons
tracking: {{days_to_keep: 0, types: []}}
subscription_rules:
  - {{list: {LIST}, object: Contact, action: add, criteria: [{{field: Bad Name, op: equals, value: x}}]}}
  - {{list: {LIST}, object: Contact, action: add, evaluation: edited}}
  - {{list: not-a-list-id, object: Lead, action: add, logic: 1 AND 2}}
field_mappings:
  - {{list: {LIST}, cm_field: "[Sector]", contact_field: Industry, direction: sideways}}
  - {{list: {LIST}, cm_field: "[sector]", lead_field: Industry, direction: sf2cm}}
console: {{listen: 127.0.0.1:9466, session_lifetime: forever}}
"""
)


def test_check_config_reports_cross_field_mistakes_with_field_mistakes_in_one_pass(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(CROSS_FIELD_MISTAKES)
    result = cmsync("check-config", "broken.yaml", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "broken.yaml: 12 errors"
    assert set(lines[1:]) >= {
        "broken.yaml: sync: at '25:99' is not a time; for daily imports write 'HH:MM' (24-hour time of day)",
        "broken.yaml: tracking: no tracking types are selected; choose some or set enabled: false",
        "broken.yaml: console: listen is set but password is not; every console page needs signing in",
        "broken.yaml: subscription_rules: subscription_rules[1] is a second add rule for Contact on list "
        f"{LIST} (the first is subscription_rules[0]); a list allows one of each",
        "broken.yaml: subscription_rules[2]: logic is given but the rule has no criteria",
        f"broken.yaml: field_mappings: field_mappings[1] maps [sector] of list {LIST} again (first in "
        "field_mappings[0]); each CM field maps one way only",
    }
    field_errors = [line.split(": ")[1] for line in lines[1:7]]
    assert field_errors == [
        "sync.timezone",
        "tracking.days_to_keep",
        "subscription_rules[0].criteria[0].field",
        "subscription_rules[2].list",
        "field_mappings[0].direction",
        "console.session_lifetime",
    ]


def test_check_config_warns_about_a_created_rule_an_account_edit_never_fires(tmp_path: Path) -> None:
    text = (
        HEADER
        + f"""\
advanced: {{account_trigger: true}}
subscription_rules:
  - {{list: {LIST}, object: Contact, action: add, criteria: [{{field: Account.Industry, op: equals, value: Banking}}]}}
  - {{list: {LIST}, object: Lead, action: add, evaluation: created}}
  - {{list: {LIST}, object: Contact, action: delete, criteria: [{{field: Title, op: equals, value: Gone}}]}}
"""
    )
    (tmp_path / "rules.yaml").write_text(text)
    result = cmsync("check-config", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rules.yaml: OK: 1 client")
    assert result.stderr.splitlines() == [
        "rules.yaml: warning: subscription_rules[0]: evaluation 'created' is never triggered by an Account edit "
        "(advanced.account_trigger re-evaluates the Account's Contacts as edited); use created_or_edited to act "
        "on those too"
    ]
    fixed = text.replace("action: add, criteria", "action: add, evaluation: created_or_edited, criteria")
    (tmp_path / "rules.yaml").write_text(fixed)
    assert cmsync("check-config", "rules.yaml", cwd=tmp_path).stderr == ""


def test_check_config_warns_that_disabled_triggers_stop_every_rule(tmp_path: Path) -> None:
    rules = f"subscription_rules:\n  - {{list: {LIST}, object: Lead, action: add}}\n"
    (tmp_path / "off.yaml").write_text(HEADER + "advanced: {disable_triggers: true}\n" + rules)
    result = cmsync("check-config", "off.yaml", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr == (
        "off.yaml: warning: subscription_rules: advanced.disable_triggers is on, so none of the 1 enabled rules "
        "ever runs\n"
    )


def test_status_reads_the_state_store_of_an_invalid_file(tmp_path: Path) -> None:
    config = sandbox_config(tmp_path)
    assert cmsync("connect", "--config", str(config), cwd=tmp_path).returncode == 0
    valid = config.read_text()
    config.write_text(valid.replace("days_to_keep: 90", "days_to_keep: 0").replace("hourly", "fortnightly"))
    status = cmsync("status", "--config", str(config), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert status.stderr.splitlines() == [
        f"cmsync status: the configuration file is invalid (2 errors; `cmsync check-config {config}` lists them), "
        f"first: {config}: sync.import_frequency: 'fortnightly' is not allowed; expected one of 'never', "
        "'hourly', 'daily' or 'weekly'"
    ]
    assert "daemon:        not running" in status.stdout and "last run:      none yet" in status.stdout
    assert "5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b" in status.stdout


def test_status_of_a_file_without_a_valid_state_store_lists_every_error(tmp_path: Path) -> None:
    config = sandbox_config(tmp_path, **{"url: embedded": "url: kafka://broker"})
    config.write_text(config.read_text().replace(f"sqlite:///{tmp_path / 'state.db'}", "mysql://db/cmsync"))
    status = cmsync("status", "--config", str(config), cwd=tmp_path)
    assert status.returncode == 1
    assert status.stderr.splitlines()[0] == f"{config}: 2 errors"
