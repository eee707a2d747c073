import time
from unittest import mock

from realtime.queued_wake_up import queued_wake_up
from realtime.relay_waker import RelayWaker


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def asking_redis():
    """Each time the waker asks whether a wake-up waits in the queue (one always does, here)."""
    asked: list[float] = []
    return asked, mock.patch.object(queued_wake_up, "claim", lambda: asked.append(time.monotonic()) or False)


def test_commits_back_to_back_ask_redis_once_an_interval_and_the_last_is_still_woken(settings):
    # given a waker that waits 0.2 s between wake-ups
    settings.RELAY_WAKE_INTERVAL_SECONDS = 0.2
    asked, patched = asking_redis()
    waker = RelayWaker()
    with patched:
        # when twenty commits land 5 ms apart (0.1 s in all)
        for _ in range(20):
            time.sleep(0.005)
            waker.wake()
        last_commit = time.monotonic()
        # then the first is woken at once, the rest ride on one wake-up after the interval
        assert wait_for(lambda: len(asked) == 2, timeout=2)
        time.sleep(0.3)
        assert len(asked) == 2 and asked[1] >= last_commit


def test_a_lone_commit_after_a_quiet_interval_is_woken_at_once(settings):
    # given a waker with a long interval, whose last wake-up was longer ago than that
    settings.RELAY_WAKE_INTERVAL_SECONDS = 0.5
    asked, patched = asking_redis()
    waker = RelayWaker()
    with patched:
        waker.wake()
        assert wait_for(lambda: len(asked) == 1, timeout=2)
        time.sleep(0.6)
        # when one commit lands
        committed = time.monotonic()
        waker.wake()
        # then it is woken without waiting out another interval
        assert wait_for(lambda: len(asked) == 2, timeout=2)
        assert asked[1] - committed < 0.25
