"""One account cannot make the server work for many: caps and bounds, through real daphne."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from discounts.models import Discount
from harness.client import origin_of
from harness.shopper import ShopperSocket
from harness.verify import wait_drained
from realtime.consumers import CLOSE_TOO_MANY_SOCKETS
from realtime.selectors import REPLAY_MAX_FRAMES
from tests.factories import BERLIN, MarketFactory, ShopperFactory, deal_fields, offset_km

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def session_of(user) -> str:
    browser = Client()
    browser.force_login(user)
    return browser.cookies["sessionid"].value


def open_socket(stack, session: str) -> ShopperSocket:
    return ShopperSocket(stack.ws_url(), session=session, origin=origin_of(stack.ws_url()))


def test_sockets_are_capped_per_login_and_per_account(stack, settings):
    shopper = ShopperFactory()
    first_login, second_login, third_login = session_of(shopper), session_of(shopper), session_of(shopper)
    opened = []
    try:
        # positive control: a login opens as many sockets as it may
        for _ in range(settings.REALTIME_MAX_SOCKETS_PER_SESSION):
            opened.append(open_socket(stack, first_login))
            opened[-1].next("snapshot")
        # one more from that login is told why and closed
        extra = open_socket(stack, first_login)
        assert extra.next("error")["code"] == "too_many_sockets"
        assert extra.closed.wait(5) and extra.close_code == CLOSE_TOO_MANY_SOCKETS
        # another login of the account fills the account's allowance, and a third is refused
        for _ in range(settings.REALTIME_MAX_SOCKETS_PER_ACCOUNT - settings.REALTIME_MAX_SOCKETS_PER_SESSION):
            opened.append(open_socket(stack, second_login))
            opened[-1].next("snapshot")
        refused = open_socket(stack, third_login)
        error = refused.next("error")
        assert error["code"] == "too_many_sockets" and "account" in error["message"]
        # and the sockets already open are untouched
        assert not any(sock.closed.is_set() for sock in opened)
    finally:
        for sock in opened:
            sock.close()


def test_a_resume_far_back_costs_a_snapshot_not_a_frame_per_missed_event(stack):
    market = MarketFactory(lat=offset_km(*BERLIN, north_km=1)[0], lng=BERLIN[1])
    shopper = ShopperFactory()
    login = session_of(shopper)
    watcher = open_socket(stack, login)
    cursor = watcher.next("snapshot")["cursor"]
    watcher.close()
    # given far more changes in the shopper's area than a replay sends
    Discount.objects.bulk_create(
        [Discount(**deal_fields(market=market, product=f"Flood {i}"), starts_at=timezone.now()) for i in range(REPLAY_MAX_FRAMES + 50)]
    )
    wait_drained(settle_s=1.0)
    # positive control: a recent cursor replays events
    recent = open_socket(stack, login)
    recent_cursor = recent.next("snapshot")["cursor"]
    Discount.objects.bulk_create([Discount(**deal_fields(market=market, product="Late"), starts_at=timezone.now())])
    assert recent.next("event")["event"]["data"]["product"] == "Late"
    recent.close()
    again = open_socket(stack, login)
    again.next("snapshot")
    again.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=5, after=recent_cursor)
    assert again.next()["type"] == "event"
    # when a client resumes from the old cursor
    again.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=5, after=cursor)
    frames = again.drain(quiet=1.5)
    # then it gets one snapshot of the area instead of hundreds of events
    assert [f["type"] for f in frames] == ["snapshot"]
    assert len(frames[0]["deals"]) >= REPLAY_MAX_FRAMES
    again.close()


def test_an_accounts_sockets_share_one_subscribe_budget(stack):
    shopper = ShopperFactory()
    sockets = [open_socket(stack, session_of(shopper)) for _ in range(10)]
    try:
        for sock in sockets:
            sock.next("snapshot")
        # positive control: one socket's subscribe is served
        sockets[0].subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=3)
        assert sockets[0].next()["type"] == "snapshot"
        # when every socket asks for three snapshots at once (within each socket's own limit)
        for _ in range(3):
            for sock in sockets:
                sock.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=3)
        frames = [f for sock in sockets for f in sock.drain(quiet=1.0)]
        # then the account gets about its shared burst of snapshots, and the rest are refused
        snapshots = sum(f["type"] == "snapshot" for f in frames)
        limited = sum(f["type"] == "error" and f["code"] == "rate_limited" for f in frames)
        assert snapshots + limited == 30
        assert snapshots <= 11 and limited >= 19
    finally:
        for sock in sockets:
            sock.close()
