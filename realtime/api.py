"""The polling fallback: the same events as the socket, from the same log."""

from __future__ import annotations

import hashlib

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from eventlog.selectors import log_bounds
from eventlog.vocabulary import SHOWING
from markets.api_fields import StrictFloatField
from markets.geo import InvalidLocation
from realtime.cursor import Cursor, InvalidCursor
from realtime.reach import record_shown_now
from realtime.selectors import CursorTooOld, area_snapshot, events_after
from realtime.subscriptions import Subscription


class ChangesQuerySerializer(serializers.Serializer):
    after = serializers.CharField(required=False, max_length=8192, trim_whitespace=False)
    lat = StrictFloatField()
    lng = StrictFloatField()
    radius_km = StrictFloatField()
    categories = serializers.CharField(required=False, allow_blank=True, max_length=2000)


ChangesResponse = inline_serializer(
    "Changes",
    {
        "events": serializers.ListField(child=serializers.DictField()),
        "cursor": serializers.CharField(),
        "reset": serializers.BooleanField(required=False),
    },
)


class ChangesView(APIView):
    """Events after a cursor in an area; ``reset`` means the cursor is too old: fetch the deals again."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[ChangesQuerySerializer], responses={200: ChangesResponse, 304: None})
    def get(self, request):
        query = ChangesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        categories = [c for c in params.get("categories", "").split(",") if c] or None
        try:
            sub = Subscription.build(
                lat=params["lat"], lng=params["lng"], radius_km=params["radius_km"], categories=categories
            )
            after = Cursor.decode(params["after"]) if "after" in params else None
        except (InvalidLocation, InvalidCursor, ValueError) as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from None

        head, _, epoch = log_bounds()
        etag = '"' + hashlib.sha256(f"{request.get_full_path()}|{epoch}|{head}".encode()).hexdigest()[:32] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        body: dict = {"events": [], "cursor": Cursor(epoch=epoch, base=head).encode()}
        if after is None:
            # A page starting to poll lists the area's deals next: they are shown to the shopper, the
            # same deals a socket's snapshot shows (from the process's copy of the city when it has one).
            shown = [(deal["id"], deal["market"]["id"]) for deal in area_snapshot(sub).deals]
            record_shown_now(shown=shown, user_id=request.user.pk)
        else:
            try:
                matched, head = events_after(sub=sub, cursor=after)
            except CursorTooOld:
                body["reset"] = True
            else:
                body["events"] = [
                    {"event": sub.envelope_for(event.type, event.envelope, event.footprints), "distance_km": distance}
                    for event, distance in matched
                ]
                record_shown_now(shown=[
                    (event.deal_id, event.market_id) for event, distance in matched
                    if event.type in SHOWING and distance <= sub.radius_km and not sub.left(event.footprints)
                ], user_id=request.user.pk)
                after.advance(head)
                body["cursor"] = after.encode()
        return Response(body, headers={"ETag": etag})
