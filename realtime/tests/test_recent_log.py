"""The web process's window of recent log events must answer exactly as the log does."""

import pytest

from eventlog.epoch import rotate_epoch
from eventlog.models import LogHead, OutboxEvent
from eventlog.selectors import log_bounds, log_events
from realtime import relay
from realtime.recent_log import RecentLog
from tests.factories import BERLIN, MarketFactory, create_deal

pytestmark = pytest.mark.django_db

MUNICH = (48.137, 11.575)


def publish(count: int, where=BERLIN) -> None:
    market = MarketFactory(lat=where[0], lng=where[1])
    for _ in range(count):
        create_deal(market=market)
    relay.sequence_batch()


def ids(events) -> list[str]:
    return [event.event_id for event in events]


def read(window: RecentLog, after: int, **kwargs):
    head, _, epoch = log_bounds()
    return window.between(after=after, through=head, epoch=epoch, limit=kwargs.pop("limit", 100), **kwargs)


def test_a_crowd_resuming_from_recent_cursors_reads_the_log_once(django_assert_num_queries):
    window = RecentLog()
    publish(3)
    assert ids(read(window, 0)) == ids(log_events(after=0, through=3, limit=100))
    assert len(read(window, 0)) == 3

    with django_assert_num_queries(1):  # the bounds only
        assert [e.position for e in read(window, 1)] == [2, 3]
    head, _, epoch = log_bounds()
    with django_assert_num_queries(0):
        assert window.between(after=2, through=head, epoch=epoch, limit=100)[0].position == 3


def test_it_reads_only_what_is_newer_than_it_holds(django_assert_num_queries):
    window = RecentLog()
    publish(2)
    read(window, 0)
    publish(2)
    head, _, epoch = log_bounds()
    with django_assert_num_queries(1):
        got = window.between(after=1, through=head, epoch=epoch, limit=100)
    assert ids(got) == ids(log_events(after=1, through=head, limit=100))
    assert [e.position for e in got] == [2, 3, 4]


def test_cells_and_limit_filter_as_the_log_query_does():
    window = RecentLog()
    publish(3, BERLIN)
    publish(2, MUNICH)
    publish(2, BERLIN)
    berlin = frozenset(log_events(after=0, through=1, limit=1)[0].cells)
    for after in range(7):
        for limit in (1, 2, 10):
            expected = log_events(after=after, through=7, cells=berlin, limit=limit)
            assert ids(read(window, after, cells=berlin, limit=limit)) == ids(expected)
    assert len(read(window, 0, cells=berlin)) == 5


def test_cells_filter_as_the_log_query_does_while_the_window_moves(settings):
    settings.REALTIME_RECENT_EVENTS = 4
    window = RecentLog()
    berlin_cells = None
    for round_, where in enumerate([BERLIN, MUNICH, BERLIN, BERLIN, MUNICH, BERLIN]):
        publish(2, where)
        head, _, _ = log_bounds()
        berlin_cells = berlin_cells or frozenset(log_events(after=0, through=1, limit=1)[0].cells)
        for after in range(max(0, head - 4), head + 1):
            expected = log_events(after=after, through=head, cells=berlin_cells, limit=10)
            assert ids(read(window, after, cells=berlin_cells, limit=10)) == ids(expected), (round_, after)
    assert (window.low, window.high) == (8, 12)
    assert window.by_cell
    assert all(min(kept) > window.low for kept in window.by_cell.values())


def test_a_range_older_or_longer_than_the_window_comes_from_the_log(settings):
    settings.REALTIME_RECENT_EVENTS = 2
    window = RecentLog()
    publish(5)
    read(window, 3)
    assert (window.low, window.high) == (3, 5)
    assert ids(read(window, 0)) == ids(log_events(after=0, through=5, limit=100))
    assert ids(read(window, 2)) == ids(log_events(after=2, through=5, limit=100))
    publish(2)
    read(window, 5)
    assert (window.low, window.high) == (5, 7)
    assert ids(read(window, 4)) == ids(log_events(after=4, through=7, limit=100))


def restored_from_an_older_backup(window: RecentLog) -> list[str]:
    """The window read a log of two events; the log now holds two others at the same positions.
    Returns what the window read."""
    publish(2)
    before = ids(read(window, 0))
    OutboxEvent.objects.all().delete()
    LogHead.objects.filter(pk=1).update(position=0, pruned_through=0)
    publish(2)
    return before


@pytest.mark.parametrize("noticed_by", ["the relay rotating the epoch", "the repair seeing the head go back"])
def test_a_replaced_log_is_never_answered_from_the_old_one(noticed_by):
    window = RecentLog()
    before = restored_from_an_older_backup(window)
    # Positive control: until it is noticed, the window answers with what it held (as a cursor would).
    assert ids(read(window, 0)) == before

    if noticed_by == "the relay rotating the epoch":
        rotate_epoch()
    else:
        window.forget()
    after = ids(read(window, 0))
    assert after == ids(log_events(after=0, through=2, limit=100))
    assert set(after).isdisjoint(before)
