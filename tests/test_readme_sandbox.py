"""The README's "Act as a Salesforce user in the sandbox" commands, run as printed against ``cmsync run
--sandbox`` (on free ports, substituted for the README's): the admin's edit reaches Campaign Monitor."""

import re
import signal
import subprocess
import time
from pathlib import Path

from cmsync.state import StateStore
from tests.daemon.daemon import CMSYNC, free_port
from tests.daemon.test_sandbox_ports import _banner
from tests.sync.conftest import wait_for_first_run
from tests.test_cli import REPOSITORY, sandbox_config


def _readme_commands() -> str:
    readme = (REPOSITORY / "README.md").read_text()
    section = readme.split("### Act as a Salesforce user in the sandbox", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match
    return match.group(1)


def test_an_edit_made_as_the_admin_as_the_readme_shows_reaches_campaign_monitor(tmp_path: Path) -> None:
    cm_port, sf_port = free_port(), free_port()
    config = sandbox_config(
        tmp_path,
        **{
            "127.0.0.1:8701": f"127.0.0.1:{cm_port}",
            "127.0.0.1:8702": f"127.0.0.1:{sf_port}",
            "listen: 127.0.0.1:9466": f"listen: 127.0.0.1:{free_port()}",
            "listen: 127.0.0.1:9464": f"listen: 127.0.0.1:{free_port()}",
            "pubsub_endpoint: 127.0.0.1:8703": f"pubsub_endpoint: 127.0.0.1:{free_port()}",
        },
    )
    commands = _readme_commands().replace(":8701/", f":{cm_port}/").replace(":8702\n", f":{sf_port}\n")
    *edit, read = commands.strip().splitlines()
    output = tmp_path / "daemon.log"
    with output.open("wb") as sink:
        daemon = subprocess.Popen([CMSYNC, "run", "--sandbox", "--config", str(config)], stdout=sink, stderr=sink)
    try:
        _banner(output, daemon)
        store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
        try:
            assert wait_for_first_run(store).status == "succeeded"
        finally:
            store.close()
        edited = subprocess.run(["bash", "-c", "\n".join(edit)], capture_output=True, text=True, timeout=60)
        assert edited.returncode == 0 and edited.stdout == "", edited.stderr
        variables = "\n".join(line for line in edit if re.match(r"^[A-Z]+=", line))
        deadline = time.monotonic() + 30
        seen = ""
        while time.monotonic() < deadline and '"Name": "Zoë O\'Brien"' not in seen:
            probe = subprocess.run(
                ["bash", "-c", f"{variables}\n{_subscriber_of(edit)}\n{read}"], capture_output=True, text=True
            )
            seen = probe.stdout
            time.sleep(0.2)
        assert '"Name": "Zoë O\'Brien"' in seen, seen
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0


def _subscriber_of(edit: list[str]) -> str:
    """The README's lines that find the subscriber (``set -- …`` up to ``CONTACT=…``), run again for each read."""
    start = next(index for index, line in enumerate(edit) if line.startswith("set -- "))
    end = next(index for index, line in enumerate(edit) if line.startswith("CONTACT="))
    return "\n".join(edit[start : end + 1])
