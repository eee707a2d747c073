"""A committed deal reaches exactly the shoppers it concerns: real daphne, Celery, Postgres, Redis."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from discounts import services
from discounts.models import Discount
from discounts.permissions import market_staff_group
from eventlog.models import LogHead, OutboxEvent
from harness.shopper import ShopperSocket, session_cookie, stuck_socket
from harness.stack import metric, wait_for
from tests.factories import (
    BERLIN, TEST_PASSWORD, CategoryFactory, MarketFactory, ShopperFactory, UserFactory, create_deal, offset_km,
)

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def deal_events(sock, quiet: float = 1.5) -> list[dict]:
    return [f for f in sock.drain(quiet=quiet) if f["type"] == "event"]


@pytest.fixture
def market_1km():
    lat, lng = offset_km(*BERLIN, north_km=1)
    return MarketFactory(name="One km north", lat=lat, lng=lng)


def test_api_publish_reaches_the_near_shopper_only(connect_shopper, market_1km):
    # given three shoppers: 1 km away, 30 km away, and near but only into dairy
    near = ShopperFactory()
    far_lat, far_lng = offset_km(*BERLIN, north_km=31)
    far = ShopperFactory(home_lat=far_lat, home_lng=far_lng)
    dairy_only = ShopperFactory()
    dairy_only.categories.add(CategoryFactory(slug="dairy"))
    sockets = {name: connect_shopper(user) for name, user in [("near", near), ("far", far), ("dairy", dairy_only)]}
    for sock in sockets.values():
        assert sock.next("snapshot")["deals"] == []
    staff = UserFactory(is_staff=True)
    market_1km.staff.add(staff)
    CategoryFactory(slug="produce")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    # when staff publish a produce deal through the integration API
    response = api.post(
        "/api/discounts/",
        {"market": market_1km.pk, "product": "Apples", "category": "produce", "original_price": "3.00", "price": "2.00", "ends_at": "2099-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 201
    # then the near shopper gets it with its distance; the others get nothing
    frame = sockets["near"].next("event", timeout=10)
    assert frame["event"]["type"] == "discount.published"
    assert frame["event"]["data"]["id"] == response.json()["id"]
    assert frame["distance_km"] == pytest.approx(1.0, abs=0.05)
    assert frame["cursor"]
    assert deal_events(sockets["far"]) == []
    assert deal_events(sockets["dairy"], quiet=0.2) == []


def test_admin_publish_reaches_the_shopper(connect_shopper, market_1km):
    sock = connect_shopper(ShopperFactory())
    sock.next("snapshot")
    staff = UserFactory(is_staff=True)
    staff.groups.add(market_staff_group())
    market_1km.staff.add(staff)
    category = CategoryFactory(slug="bakery")
    admin = Client()
    admin.force_login(staff)
    response = admin.post(
        "/admin/discounts/discount/add/",
        {
            "market": market_1km.pk, "product": "Sourdough", "category": category.pk, "original_price": "4.00",
            "price": "3.00", "currency": "EUR", "starts_at_0": "2020-01-01", "starts_at_1": "00:00:00",
            "ends_at_0": "2099-01-01", "ends_at_1": "00:00:00", "state": "active",
        },
    )
    assert response.status_code == 302
    frame = sock.next("event", timeout=10)
    assert frame["event"]["data"]["product"] == "Sourdough"


def test_a_rolled_back_save_sends_nothing(connect_shopper, market_1km):
    sock = connect_shopper(ShopperFactory())
    sock.next("snapshot")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            create_deal(market=market_1km, product="Ghost")
            raise RuntimeError("rollback")
    create_deal(market=market_1km, product="Real")
    events = deal_events(sock)
    assert [e["event"]["data"]["product"] for e in events] == ["Real"]


def test_update_withdraw_and_expiry_arrive_as_their_events(connect_shopper, market_1km):
    sock = connect_shopper(ShopperFactory())
    sock.next("snapshot")
    deal = create_deal(market=market_1km)
    services.discount_update(discount=deal, price=Decimal("1.00"))
    services.discount_withdraw(discount=deal)
    expiring = create_deal(market=market_1km, product="Short-lived", ends_at=timezone.now() + timedelta(seconds=2))
    events = [f["event"] for f in deal_events(sock, quiet=2.0)]
    assert [(e["type"], e["data"]["id"]) for e in events[:4]] == [
        ("discount.published", deal.pk), ("discount.updated", deal.pk),
        ("discount.withdrawn", deal.pk), ("discount.published", expiring.pk),
    ]
    assert events[1]["data"]["price"] == "1.00"
    # beat's schedule tick (every 5 s) announces the expiry
    expired = sock.next("event", timeout=12)
    assert (expired["event"]["type"], expired["event"]["data"]["id"]) == ("discount.expired", expiring.pk)


def test_a_moved_deal_leaves_the_old_area_and_a_renamed_category_keeps_its_filter(connect_shopper, market_1km):
    # given a shopper 1 km from the market and one who filters on "dairy", both showing the deal
    dairy = CategoryFactory(slug="dairy", name="Dairy")
    near, dairy_only = connect_shopper(ShopperFactory()), connect_shopper(ShopperFactory())
    near.next("snapshot")
    dairy_only.next("snapshot")
    dairy_only.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=5, categories=["dairy"])
    dairy_only.next("snapshot")
    deal = create_deal(market=market_1km, category=dairy)
    for sock in (near, dairy_only):
        assert sock.next("event")["event"]["type"] == "discount.published"
    # when the category is renamed and staff change the deal's price
    dairy.slug, dairy.name = "milk", "Milk"
    dairy.save()
    services.discount_update(discount=Discount.objects.get(pk=deal.pk), price=Decimal("1.00"))
    # then the filtered shopper still gets both changes
    events = [f["event"] for f in deal_events(dairy_only)]
    assert [(e["type"], e["data"]["category"]["slug"]) for e in events] == [
        ("discount.updated", "milk"), ("discount.updated", "milk"),
    ]
    assert events[-1]["data"]["price"] == "1.00"
    deal_events(near)
    # when staff move the deal to a market 30 km away through the API
    far_market = MarketFactory(lat=BERLIN[0] + 0.27, lng=BERLIN[1])
    staff = UserFactory(is_staff=True)
    market_1km.staff.add(staff)
    far_market.staff.add(staff)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    assert api.patch(f"/api/discounts/{deal.pk}/", {"market": far_market.pk}, format="json").status_code == 200
    # then the near shopper is told to drop it
    frame = near.next("event")
    assert (frame["event"]["type"], frame["event"]["data"]["market"]["id"]) == ("discount.withdrawn", far_market.pk)


def test_after_a_database_restore_connected_and_resuming_shoppers_get_the_new_log(connect_shopper, market_1km):
    # given a shopper who saw two deals, and the cursor they hold
    shopper = ShopperFactory()
    sock = connect_shopper(shopper)
    sock.next("snapshot")
    create_deal(market=market_1km, product="Kept")
    create_deal(market=market_1km, product="Lost in the restore")
    events = deal_events(sock)
    assert len(events) == 2
    cursor = events[-1]["cursor"]
    kept = events[0]["event"]["data"]["id"]
    # when the database is restored to a backup from before the second deal
    restored_head = OutboxEvent.objects.get(envelope__data__id=kept).position
    Discount.objects.exclude(pk=kept).delete()
    OutboxEvent.objects.filter(position__gt=restored_head).delete()
    LogHead.objects.filter(pk=1).update(position=restored_head)
    # and staff publish a deal, which the restored log numbers as the lost one was
    fresh = create_deal(market=market_1km, product="After the restore")
    # then the connected shopper is given a fresh snapshot of the restored city; the web process may
    # notice the restore before or after the new deal commits, so the deal comes in the snapshot or
    # as an event after it: either way the screen ends up showing the restored city
    shown, resynced = None, False
    deadline = time.monotonic() + 10
    while not (resynced and shown == {"After the restore", "Kept"}) and time.monotonic() < deadline:
        frame = sock.next(timeout=max(0.1, deadline - time.monotonic()))
        if frame["type"] == "snapshot":
            shown, resynced = {d["product"] for d in frame["deals"]}, True
        elif frame["type"] == "event" and shown is not None:
            product = frame["event"]["data"]["product"]
            if frame["event"]["type"] in ("discount.published", "discount.updated"):
                shown.add(product)
            else:
                shown.discard(product)
    assert resynced and shown == {"After the restore", "Kept"}
    # and one resuming from the old cursor gets a snapshot too, not silence
    again = connect_shopper(shopper)
    again.next("snapshot")
    again.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=5, after=cursor)
    assert fresh.pk in [d["id"] for d in again.next("snapshot")["deals"]]


def test_resume_after_disconnect_gets_exactly_what_was_missed(connect_shopper, market_1km):
    shopper = ShopperFactory()
    sock = connect_shopper(shopper)
    cursor = sock.next("snapshot")["cursor"]
    first = create_deal(market=market_1km, product="Before")
    cursor = sock.next("event")["cursor"]
    sock.close()
    # while offline, three deals are published
    missed = [create_deal(market=market_1km, product=f"Missed {i}") for i in range(3)]
    time.sleep(1.5)
    # when the shopper comes back with the cursor
    again = connect_shopper(shopper)
    again.next("snapshot")
    again.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=5, after=cursor)
    events = deal_events(again)
    # then exactly the three, once each, in order
    assert [e["event"]["data"]["id"] for e in events] == [d.pk for d in missed]
    assert first.pk not in [e["event"]["data"]["id"] for e in events]


def test_polling_feed_returns_the_same_events_as_the_socket(connect_shopper, market_1km):
    shopper = ShopperFactory()
    sock = connect_shopper(shopper)
    sock.next("snapshot")
    client = APIClient()
    client.force_login(shopper)
    area = {"lat": BERLIN[0], "lng": BERLIN[1], "radius_km": 5}
    start = client.get("/api/deals/changes/", area).json()
    assert start["events"] == []
    deal = create_deal(market=market_1km)
    services.discount_withdraw(discount=deal)
    socket_ids = [f["event"]["id"] for f in deal_events(sock)]
    page = client.get("/api/deals/changes/", {**area, "after": start["cursor"]})
    polled = page.json()
    assert [e["event"]["id"] for e in polled["events"]] == socket_ids
    assert len(socket_ids) == 2
    # nothing new: 304 with the ETag
    again = client.get("/api/deals/changes/", {**area, "after": start["cursor"]}, HTTP_IF_NONE_MATCH=page["ETag"])
    assert again.status_code == 304


def test_a_lost_pubsub_message_is_repaired_from_the_log(stack, connect_shopper, market_1km):
    from realtime import relay

    sock = connect_shopper(ShopperFactory())
    sock.next("snapshot")
    repaired_before = metric(stack.port, "dealcast_repaired_events_total")
    # given an event that reached the log but never pub/sub (as if Redis dropped it); holding the
    # relay's turn keeps the stack's worker from publishing it for real meanwhile
    with transaction.atomic():
        deal = create_deal(market=market_1km, product="Lost in transit")
        OutboxEvent.objects.filter(deal_id=deal.pk).update(scheduled_for=timezone.now() + timedelta(hours=1))
    with relay.relay_turn():
        OutboxEvent.objects.filter(deal_id=deal.pk).update(scheduled_for=timezone.now())
        relay.sequence_batch()
        OutboxEvent.objects.filter(deal_id=deal.pk).update(state=OutboxEvent.State.PUBLISHED)
    # then the web process notices the gap and delivers it, through its repair
    frame = sock.next("event", timeout=5)
    assert frame["event"]["data"]["id"] == deal.pk
    assert deal_events(sock) == []
    assert metric(stack.port, "dealcast_repaired_events_total") == repaired_before + 1


def test_bad_frames_get_error_frames_and_the_socket_stays(connect_shopper):
    sock = connect_shopper(ShopperFactory())
    sock.next("snapshot")
    for bad, code in [
        ("not json", "bad_json"),
        ('["a list"]', "bad_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "subscribe", "lat": 91, "lng": 13, "radius_km": 5}', "invalid_subscription"),
        ('{"type": "subscribe", "lat": 52, "lng": 13, "radius_km": 500}', "invalid_subscription"),
        ('{"type": "subscribe", "lat": 52, "lng": 13, "radius_km": 5, "after": "x"}', "invalid_subscription"),
        ("x" * 5000, "frame_too_large"),
    ]:
        sock.send(bad)
        frame = sock.next("error")
        assert frame["code"] == code and frame["message"]
    sock.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=3)
    assert sock.next("snapshot")["deals"] == []


def test_only_documented_numbers_and_cursors_are_accepted(connect_shopper):
    sock = connect_shopper(ShopperFactory())
    sock.next("snapshot")
    for bad in [
        {"lat": 52, "lng": 13, "radius_km": True},
        {"lat": "1_0", "lng": 13, "radius_km": 5},
        {"lat": "５２", "lng": 13, "radius_km": 5},
        {"lat": 52, "lng": 13, "radius_km": 5, "after": "1_000"},
    ]:
        sock.subscribe(**bad)
        assert sock.next("error")["code"] == "invalid_subscription", bad
    # positive control: the same subscribe written as documented is taken (once the rate limit allows)
    time.sleep(1.1)
    sock.subscribe(lat=52, lng=13, radius_km=5)
    assert sock.next("snapshot")["cursor"]


def test_anonymous_and_foreign_origin_connections_are_refused(stack, connect_shopper):
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus):
        connect_shopper(None)
    port = stack.port
    for origin in ["http://evil.example", f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}",
                   "https://localhost", "chrome-extension://127.0.0.1", f"http://localhost.evil.example:{port}", "null"]:
        with pytest.raises(InvalidStatus):
            connect_shopper(ShopperFactory(), origin=origin)
    # positive control: the site's own origin, by either allowed host name
    for own in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        sock = ShopperSocket(f"ws://{own.removeprefix('http://')}/ws/deals/", session=session_cookie(ShopperFactory()),
                             origin=own)
        assert sock.next("snapshot")["cursor"]
        sock.close()


def test_a_socket_to_an_unknown_path_is_refused_cleanly(stack):
    from websockets.exceptions import InvalidStatus

    for path in ("/ws/nope/", "/ws/deals/extra/", "/elsewhere"):
        with pytest.raises(InvalidStatus) as refused:
            ShopperSocket(f"ws://127.0.0.1:{stack.port}{path}", session=None, origin=stack.base_url)
        assert refused.value.response.status_code == 403
    assert "No route found" not in stack.logs()


def test_a_worker_killed_mid_batch_loses_nothing(stack, connect_shopper, market_1km):
    from discounts.models import Discount
    from tests.factories import deal_fields

    sock = connect_shopper(ShopperFactory())
    sock.next("snapshot")
    # given a burst of 300 deals committed at once
    fields = deal_fields(market=market_1km)
    fields.pop("market")
    burst = Discount.objects.bulk_create(
        [Discount(market=market_1km, starts_at=timezone.now(), **{**fields, "product": f"Burst {i}"}) for i in range(300)]
    )
    # when the worker is SIGKILLed as soon as the first event is out
    first = sock.next("event", timeout=10)
    victim = stack.workers.pop(0)
    stack.kill(victim)
    stack.start_worker()
    # then every deal arrives exactly once
    frames = [first] + deal_events(sock, quiet=3.0)
    ids = [f["event"]["data"]["id"] for f in frames]
    # Named, so a failure says which deals went missing or came twice, and in what state their rows are.
    missing = sorted({deal.pk for deal in burst} - set(ids))
    doubled = sorted({deal_id for deal_id in ids if ids.count(deal_id) > 1})
    states = list(OutboxEvent.objects.filter(deal_id__in=missing + doubled).values_list("deal_id", "state", "position"))
    assert (missing, doubled, states) == ([], [], [])
    assert len(ids) == 300
    assert not OutboxEvent.objects.exclude(state=OutboxEvent.State.PUBLISHED).exclude(
        state=OutboxEvent.State.SEQUENCED
    ).exists()


def test_a_connection_too_far_behind_is_closed_and_resumes_without_loss(stack, connect_shopper, market_1km):
    from discounts.models import Discount
    from tests.factories import deal_fields

    # given a web process that allows only ~2 KB unread per connection, and a shopper's cursor
    port = stack.start_web(extra_env={"REALTIME_MAX_UNSENT_BYTES": "2000"})
    web = len(stack.webs) - 1
    shopper = ShopperFactory()
    first = connect_shopper(shopper, web=web)
    cursor = first.next("snapshot")["cursor"]
    first.close()
    try:
        # whose next connection stops reading (a phone that froze) while a burst arrives
        stuck = stuck_socket(port, session_cookie(shopper))
        closes_before = metric(port, "dealcast_slow_client_closes_total")
        fields = deal_fields(market=market_1km)
        fields.pop("market")
        Discount.objects.bulk_create(
            [Discount(market=market_1km, starts_at=timezone.now(), **{**fields, "product": f"Burst {i}"}) for i in range(400)]
        )
        # then the server closes it rather than buffer for it
        assert wait_for(lambda: metric(port, "dealcast_slow_client_closes_total") == closes_before + 1, timeout=15)
        stuck.close()
        received: list[dict] = []
        # and resuming from the last cursor gets the rest: as events, each once, or (past the replay
        # bound) as a snapshot of the area that holds them
        again = connect_shopper(shopper)
        again.next("snapshot")
        again.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=5, after=cursor)
        frames = again.drain(quiet=2.0)
        events = [f["event"]["data"]["id"] for f in received + frames if f["type"] == "event"]
        snapshot = {d["id"] for f in frames if f["type"] == "snapshot" for d in f["deals"]}
        burst_ids = set(Discount.objects.filter(product__startswith="Burst").values_list("pk", flat=True))
        assert len(events) == len(set(events))
        assert set(events) | snapshot == burst_ids
    finally:
        stack.stop_web(web)


def test_logout_closes_that_logins_sockets_only(stack, connect_shopper):
    from harness.shopper import ShopperSocket
    from realtime.consumers import CLOSE_SESSION_ENDED

    shopper = ShopperFactory()
    browser = Client()
    browser.force_login(shopper)
    on_laptop = ShopperSocket(stack.ws_url(), session=browser.cookies["sessionid"].value, origin=stack.base_url)
    on_phone = connect_shopper(shopper)
    on_laptop.next("snapshot")
    on_phone.next("snapshot")
    assert browser.post("/accounts/logout/").status_code == 302
    assert on_laptop.closed.wait(timeout=5)
    assert on_laptop.close_code == CLOSE_SESSION_ENDED
    assert not on_phone.closed.wait(timeout=1)
    on_phone.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=2)
    assert on_phone.next("snapshot")


def test_every_way_a_login_ends_closes_its_sockets_deals_and_staff(stack, connect_shopper):
    from websockets.exceptions import InvalidStatus

    from realtime.consumers import CLOSE_SESSION_ENDED

    staff = UserFactory(is_staff=True, is_superuser=True)

    def login() -> Client:
        browser = Client()
        browser.force_login(staff)
        return browser

    def sockets_of(browser: Client) -> list[ShopperSocket]:
        cookie = browser.cookies["sessionid"].value
        deals = ShopperSocket(stack.ws_url(), session=cookie, origin=stack.base_url)
        deals.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=2)
        deals.next("snapshot")
        dashboard = ShopperSocket(stack.ws_url().replace("/ws/deals/", "/ws/staff/"), session=cookie, origin=stack.base_url)
        return [deals, dashboard]

    def all_closed(socks: list[ShopperSocket]) -> bool:
        return all(s.closed.wait(timeout=5) and s.close_code == CLOSE_SESSION_ENDED for s in socks)

    # logging out of admin closes both sockets of that login, and only those
    admin_session, bystander = login(), login()
    admin_socks, bystander_socks = sockets_of(admin_session), sockets_of(bystander)
    assert admin_session.post("/admin/logout/").status_code in (200, 302)
    assert all_closed(admin_socks)
    assert not any(s.closed.wait(timeout=0.5) for s in bystander_socks)  # positive control
    # a password change closes every socket of the user; the changing session may reconnect, no other
    changer = login()
    changer_socks = sockets_of(changer)
    response = changer.post("/admin/password_change/", {
        "old_password": TEST_PASSWORD, "new_password1": "a new Passw0rd!", "new_password2": "a new Passw0rd!",
    })
    assert response.status_code == 302
    assert all_closed(changer_socks + bystander_socks)
    for sock in sockets_of(changer):  # its session was kept by Django's update_session_auth_hash
        sock.close()
    with pytest.raises(InvalidStatus):
        sockets_of(bystander)
    # a session that expires ends its sockets when it does
    staff.refresh_from_db()  # its new password hash, which a session must carry
    brief = Client()
    brief.force_login(staff)
    session = brief.session
    session.set_expiry(3)
    session.save()
    brief_socks = sockets_of(brief)
    assert not any(s.closed.wait(timeout=1) for s in brief_socks)
    assert all(s.closed.wait(timeout=6) and s.close_code == CLOSE_SESSION_ENDED for s in brief_socks)


def test_deactivating_a_user_in_admin_closes_all_their_sockets(stack, connect_shopper):
    from realtime.consumers import CLOSE_SESSION_ENDED

    shopper = ShopperFactory()
    sockets = [connect_shopper(shopper), connect_shopper(shopper)]
    for sock in sockets:
        sock.next("snapshot")
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = admin.get(f"/admin/accounts/user/{shopper.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, (list, tuple))}
    data.update(
        username=shopper.username, is_active="", date_joined_0="2026-01-01", date_joined_1="00:00:00",
        radius_km="5.0", home_lat=str(shopper.home_lat), home_lng=str(shopper.home_lng),
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)
    data.pop("password", None)
    response = admin.post(f"/admin/accounts/user/{shopper.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    for sock in sockets:
        assert sock.closed.wait(timeout=5)
        assert sock.close_code == CLOSE_SESSION_ENDED


def test_a_flood_of_frames_is_rate_limited_and_the_socket_stays(connect_shopper):
    sock = connect_shopper(ShopperFactory())
    sock.next("snapshot")
    for _ in range(40):
        sock.send('{"type": "ping"}')
    codes = [f["code"] for f in sock.drain(quiet=0.5) if f["type"] == "error"]
    assert "rate_limited" in codes and "unknown_type" in codes
    time.sleep(1.0)
    sock.subscribe(lat=BERLIN[0], lng=BERLIN[1], radius_km=2)
    assert sock.next("snapshot")["deals"] == []
