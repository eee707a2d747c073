"""Who is told what about one event: the notifier's decisions, made from the event alone.

A new deal, or a lower price than the deal's previous event said, reaches the shoppers who opted in
to push (a browser subscribed), whose saved location has the market within their radius, in their
categories (none chosen means all). A deal matching a product a shopper watches (at or below their
target price, when they set one) reaches them wherever it is in their radius, whatever its category,
and that reason wins: one notification per shopper per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import F, FloatField, Func, Q, Value
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from eventlog.selectors import LogEvent, previous_envelope
from eventlog.vocabulary import SHOWING, UPDATED
from markets.geo import MAX_RADIUS_KM, bounding_box, distance_km
from notifications.models import Notification, WatchedProduct

# word_similarity(watched text, product): 1.0 when the text is a word of the product; "yogurt" in
# "Greek yoghurt 500g" scores about 0.57.
WATCH_SIMILARITY = 0.5
NOTIFIED_TYPES = SHOWING


class UnplannableEvent(ValueError):
    """The event cannot be read as a deal (a poison event): it is set aside, not retried forever."""


@dataclass(frozen=True)
class DealFacts:
    deal_id: int
    product: str
    price: Decimal
    was: Decimal | None
    currency: str
    percent_off: float
    market: str
    lat: float
    lng: float
    category_id: int


def deal_facts(event: LogEvent) -> DealFacts:
    try:
        data = event.envelope["data"]
        lat, lng, category_id = event.footprints[-1]
        return DealFacts(
            deal_id=int(data["id"]), product=str(data["product"]), price=Decimal(data["price"]), was=None,
            currency=str(data["currency"]), percent_off=float(data["percent_off"]), market=str(data["market"]["name"]),
            lat=float(lat), lng=float(lng), category_id=int(category_id),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise UnplannableEvent(f"not a deal event: {exc!r}") from exc


def _earlier_price(event: LogEvent) -> Decimal | None:
    before = previous_envelope(deal_id=event.deal_id, before=event.position)
    try:
        return Decimal(before["data"]["price"]) if before else None
    except (KeyError, TypeError, ArithmeticError):
        return None


def _shoppers_around(facts: DealFacts) -> dict[int, float]:
    """Opted-in shoppers whose radius around their saved location reaches the market: id → km."""
    box = bounding_box(facts.lat, facts.lng, MAX_RADIUS_KM)
    rows = (
        get_user_model().objects.filter(
            push_subscriptions__isnull=False, is_active=True,
            home_lat__gte=box.min_lat, home_lat__lte=box.max_lat, home_lng__gte=box.min_lng, home_lng__lte=box.max_lng,
        )
        .distinct().values_list("id", "home_lat", "home_lng", "radius_km")
    )
    around = {}
    for user_id, lat, lng, radius in rows:
        km = distance_km(lat, lng, facts.lat, facts.lng)
        if km <= float(radius):
            around[user_id] = km
    return around


def _in_their_categories(user_ids, category_id: int) -> set[int]:
    through = get_user_model().categories.through
    chosen = through.objects.filter(user_id__in=user_ids).values_list("user_id", "category_id")
    choosers: dict[int, set[int]] = {}
    for user_id, chosen_id in chosen:
        choosers.setdefault(user_id, set()).add(chosen_id)
    return {u for u in user_ids if u not in choosers or category_id in choosers[u]}


def _watchers(facts: DealFacts, user_ids) -> dict[int, WatchedProduct]:
    similarity = Func(F("text"), Value(facts.product), function="word_similarity", output_field=FloatField())
    watches = (
        WatchedProduct.objects.filter(user_id__in=user_ids)
        .annotate(similarity=similarity)
        .filter(similarity__gte=WATCH_SIMILARITY)
        .filter(Q(target_price__isnull=True) | Q(target_price__gte=facts.price))
        .order_by("user_id", "-similarity")
    )
    found: dict[int, WatchedProduct] = {}
    for watch in watches:
        found.setdefault(watch.user_id, watch)
    return found


def _payload(facts: DealFacts, reason: str, km: float, watch: WatchedProduct | None) -> dict:
    price = f"{facts.price} {facts.currency}"
    if reason == Notification.Reason.DROP:
        title = f"Price drop: {facts.product} {facts.was} → {price}"
    elif reason == Notification.Reason.WATCH:
        title = f"{facts.product} at {price}" + (f" (you wanted {watch.target_price} or less)" if watch.target_price else "")
    else:
        title = f"New deal: {facts.product} {price} (−{round(facts.percent_off)}%)"
    return {"title": title, "body": f"{facts.market} · {km:.1f} km away", "url": f"/deals/{facts.deal_id}/"}


def plan(event: LogEvent) -> list[Notification]:
    """The notifications this event calls for, unsaved; empty for withdrawals and unchanged prices."""
    if event.type not in NOTIFIED_TYPES:
        return []
    facts = deal_facts(event)
    area_reason = Notification.Reason.NEW
    if event.type == UPDATED:
        earlier = _earlier_price(event)
        if earlier is not None and facts.price < earlier:
            facts = DealFacts(**{**facts.__dict__, "was": earlier})
            area_reason = Notification.Reason.DROP
        else:
            area_reason = None
    around = _shoppers_around(facts)
    if not around:
        return []
    watchers = _watchers(facts, around.keys())
    told = set(watchers)
    if area_reason is not None:
        told |= _in_their_categories(around.keys(), facts.category_id)
    occurred = parse_datetime(str(event.envelope.get("occurred_at"))) or timezone.now()
    notifications = []
    for user_id in sorted(told):
        reason = Notification.Reason.WATCH if user_id in watchers else area_reason
        notifications.append(Notification(
            event_id=event.event_id, position=event.position, user_id=user_id, reason=reason,
            deal_id=facts.deal_id, payload=_payload(facts, reason, around[user_id], watchers.get(user_id)),
            committed_at=occurred,
        ))
    return notifications
