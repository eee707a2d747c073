"""The notifications API: a browser's push subscription and the shopper's watched products."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.models import WatchedProduct
from notifications.webpush import application_server_key, push_enabled


class PushKeysSerializer(serializers.Serializer):
    p256dh = serializers.RegexField(r"^[A-Za-z0-9_-]{80,100}={0,2}$", help_text="base64url P-256 public key")
    auth = serializers.RegexField(r"^[A-Za-z0-9_-]{16,30}={0,2}$", help_text="base64url 16-byte auth secret")


class PushSubscriptionSerializer(serializers.Serializer):
    """What ``PushSubscription.toJSON()`` gives in the browser."""

    endpoint = serializers.URLField(max_length=1000)
    keys = PushKeysSerializer()


class PushEndpointSerializer(serializers.Serializer):
    endpoint = serializers.URLField(max_length=1000)


class PushConfigSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    public_key = serializers.CharField(allow_null=True)
    browsers = serializers.IntegerField()


class PushSubscriptionView(APIView):
    """This shopper's browsers subscribed to Web Push."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PushConfigSerializer)
    def get(self, request):
        return Response({
            "enabled": push_enabled(),
            "public_key": application_server_key() if push_enabled() else None,
            "browsers": selectors.browsers_of(request.user).count(),
        })

    @extend_schema(request=PushSubscriptionSerializer, responses={201: None})
    def post(self, request):
        if not push_enabled():
            return Response({"detail": "Push notifications are not configured on this server."}, status=status.HTTP_409_CONFLICT)
        body = PushSubscriptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.push_subscribe(
            user=request.user, endpoint=body.validated_data["endpoint"], p256dh=body.validated_data["keys"]["p256dh"],
            auth=body.validated_data["keys"]["auth"], user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(status=status.HTTP_201_CREATED)

    @extend_schema(request=PushEndpointSerializer, responses={204: None})
    def delete(self, request):
        body = PushEndpointSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.push_unsubscribe(user=request.user, endpoint=body.validated_data["endpoint"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class WatchSerializer(serializers.ModelSerializer):
    text = serializers.CharField(max_length=100)
    target_price = serializers.DecimalField(max_digits=10, decimal_places=2, required=False, allow_null=True, min_value=0)

    class Meta:
        model = WatchedProduct
        fields = ["id", "text", "target_price", "created_at"]
        read_only_fields = ["id", "created_at"]


class WatchListView(APIView):
    """Products the shopper watches: a push when a market in their area lists or drops one to its price."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=WatchSerializer(many=True))
    def get(self, request):
        return Response(WatchSerializer(selectors.watches_of(request.user), many=True).data)

    @extend_schema(request=WatchSerializer, responses={201: WatchSerializer})
    def post(self, request):
        body = WatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        watch = services.watch_add(user=request.user, **body.validated_data)
        return Response(WatchSerializer(watch).data, status=status.HTTP_201_CREATED)


class WatchDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: None})
    def delete(self, request, pk: int):
        if not services.watch_remove(user=request.user, watch_id=pk):
            return Response({"detail": "You do not watch that."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
