"""The backoff both API clients share (``cmsync.clients.retry``): how long each wait is and how many tries a
call gets. The clients' own tests show which answers are retried, over HTTP to the emulators."""

from cmsync.clients import campaign_monitor, retry, salesforce


def test_each_wait_is_at_least_half_its_doubling_ceiling_and_at_most_all_of_it() -> None:
    policy = retry.RetryPolicy(base_delay=0.5, max_delay=3.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        waits = [policy.backoff(attempt) for _ in range(200)]
        assert ceiling / 2 <= min(waits) and max(waits) <= ceiling
        assert len(set(waits)) > 1


def test_both_clients_back_off_alike_and_keep_their_own_rate_limit_rules() -> None:
    sf = salesforce.RetryPolicy(base_delay=0.5, max_delay=3.0, limit_delay=20.0)
    cm = campaign_monitor.RetryPolicy(base_delay=0.5, max_delay=3.0)
    assert all(1.0 <= sf.backoff(3) <= 2.0 and 1.0 <= cm.backoff(3) <= 2.0 for _ in range(100))
    assert all(20.0 <= sf.limit_backoff(2) <= 40.0 for _ in range(100))
    assert all(5.0 <= cm.rate_limit_wait("5", 1) <= 5.5 for _ in range(100))
    assert all(0.25 <= cm.rate_limit_wait(None, 1) <= 0.5 for _ in range(100))


def test_a_call_gets_at_most_attempts_tries_and_one_when_not_retryable() -> None:
    tries = retry.Retries(retry.RetryPolicy(attempts=3, base_delay=0.001), "salesforce", "query")
    assert [tries.failed(), tries.failed(), tries.failed()] == [True, True, False]
    assert not retry.Retries(retry.RetryPolicy(), "campaign_monitor", "clients").failed(retryable=False)
