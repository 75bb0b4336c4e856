"""The supervisor's signal inbox: once a stop is recorded, a HUP or USR1 recorded after it is never handed to
the loop, even when the loop takes them all in one go, and each kind is logged as ignored once."""

import signal

from structlog.testing import capture_logs

from cmsync.daemon.signals import SignalInbox


def test_signals_before_a_stop_are_acted_on_in_order() -> None:
    inbox = SignalInbox()
    for number in (signal.SIGHUP, signal.SIGUSR1, signal.SIGINT):
        inbox.record(number)
    assert list(inbox.take()) == [signal.SIGHUP, signal.SIGUSR1, signal.SIGINT]
    assert inbox.wakeup.is_set()


def test_hup_and_usr1_after_a_stop_are_ignored_and_logged_once_each() -> None:
    inbox = SignalInbox()
    after_stop = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1)
    for number in after_stop:
        inbox.record(number)
    with capture_logs() as logged:
        assert list(inbox.take()) == [signal.SIGTERM, signal.SIGTERM]
        inbox.record(signal.SIGHUP)
        inbox.report_ignored()
    assert [line["event"] for line in logged] == ["shutting down: SIGHUP ignored", "shutting down: SIGUSR1 ignored"]
