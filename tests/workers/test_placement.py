"""Where jobs run is decided in one place: ``Placement`` asks ``broker.embedded``, the one comparison of
``broker.url`` with ``embedded``; its callers send, host workers and purge without asking which broker."""

import ast
import gc
from pathlib import Path

import pytest

import cmsync
from cmsync.config.model import BrokerSettings
from cmsync.workers import actors
from cmsync.workers.broker import QUEUE
from cmsync.workers.garbage_collection import GEN0_THRESHOLD
from cmsync.workers.placement import Placement

EMBEDDED = "embedded"


def _compared_with(node: ast.Compare) -> set[object]:
    """The literal values a comparison compares with, those inside a tuple, list or set included."""
    values: set[object] = set()
    for operand in (node.left, *node.comparators):
        elements = operand.elts if isinstance(operand, ast.Tuple | ast.List | ast.Set) else [operand]
        values.update(element.value for element in elements if isinstance(element, ast.Constant))
    return values


def _comparisons_with(literal: str) -> list[str]:
    root = Path(cmsync.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            matched = isinstance(node, ast.MatchValue) and getattr(node.value, "value", None) == literal
            if matched or (isinstance(node, ast.Compare) and literal in _compared_with(node)):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_the_embedded_broker_is_named_in_exactly_one_comparison() -> None:
    (place,) = _comparisons_with(EMBEDDED)
    assert place.startswith("config/model.py:"), place


def test_an_embedded_placement_runs_the_work_here_and_drops_what_it_holds() -> None:
    placement = Placement(BrokerSettings.model_validate({"url": EMBEDDED}))
    try:
        assert placement.in_process
        broker = placement.bind_actors()
        actors.purge_tracking_job.send("test")
        assert broker.queues[QUEUE].qsize() == 1
        assert placement.purge_queued() is None
        placement.drop_held_messages()
        assert broker.queues[QUEUE].qsize() == 0
    finally:
        placement.close()


def test_asking_where_work_runs_leaves_the_workers_of_this_process_their_jobs() -> None:
    """The console asks inside the daemon (sync now, disconnect): that must not rebind the daemon's actors."""
    embedded = BrokerSettings.model_validate({"url": EMBEDDED})
    daemon = Placement(embedded)
    broker = daemon.bind_actors()
    try:
        asked = Placement(embedded)
        assert asked.in_process and asked.purge_queued() is None
        asked.close()
        actors.purge_tracking_job.send("test")
        assert broker.queues[QUEUE].qsize() == 1, "the job reached the daemon's broker"
    finally:
        daemon.drop_held_messages()
        daemon.close()


@pytest.mark.rabbitmq
def test_a_rabbitmq_placement_sends_to_the_workers_and_purges_their_queue(amqp_url: str) -> None:
    placement = Placement(BrokerSettings.model_validate({"url": amqp_url}))
    try:
        assert not placement.in_process
        assert not placement.start_workers()
        placement.purge_queued()
        actors.purge_tracking_job.send("test")
        actors.purge_tracking_job.send_with_options(args=("later",), delay=60_000)
        placement.drop_held_messages()
        assert placement.purge_queued() == 2
        assert placement.purge_queued() == 0
    finally:
        placement.close()


def test_workers_hosted_here_run_with_the_collector_tuned_for_jobs() -> None:
    """Start-up's objects frozen and young objects collected every GEN0_THRESHOLD allocations (the CPU per
    record that bench/import_sync.py measures); the test process gets its own collector settings back."""
    before = gc.get_threshold()
    placement = Placement(BrokerSettings.model_validate({"url": EMBEDDED}))
    try:
        assert placement.start_workers()
        assert gc.get_threshold()[0] == GEN0_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        placement.stop_workers(1000)
        placement.close()
        gc.unfreeze()
        gc.set_threshold(*before)
