"""What the settings page reads beyond the state store: a connected client's lists, with one short try,
so the page neither hangs nor fails while Campaign Monitor is down."""

from pathlib import Path

from cmsync.console.pages import ClientLists
from tests.config.builders import CLIENT, load, with_settings
from tests.daemon.daemon import free_port
from tests.sync.world import start_world, stop_world


def test_a_client_whose_lists_cannot_be_read_says_why_instead_of_failing_the_page(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/api/v3.3"
    settings = load(with_settings(campaign_monitor={"base_url": down}))
    said = ClientLists(settings).lists(CLIENT)
    assert isinstance(said, str) and said.startswith("lists could not be read from Campaign Monitor: ")


def test_lists_are_read_once_with_one_try_then_kept(tmp_path: Path) -> None:
    world = start_world(tmp_path)
    try:
        client_id = world.clients[0]
        world.cm.faults.server_errors(next_calls=1)
        lists = ClientLists(world.settings())
        failed = lists.lists(client_id)
        assert isinstance(failed, str) and "500" in failed
        assert len([call for call in world.cm.calls.calls() if call.path.endswith("/lists.json")]) == 1
        fresh = ClientLists(world.settings())
        expected = [(m.list_id, m.title) for m in world.cm.state.clients[client_id].lists]
        assert sorted(fresh.lists(client_id)) == sorted(expected)
        assert sorted(fresh.lists(client_id)) == sorted(expected)
        assert len([call for call in world.cm.calls.calls() if call.path.endswith("/lists.json")]) == 2
    finally:
        stop_world(world)
