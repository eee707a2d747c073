"""The notifications API: a browser's push subscription and the shopper's watched products."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.models import WatchedProduct
from notifications.push_services import validate_auth_secret, validate_p256dh, validate_push_endpoint
from notifications.webpush import application_server_key, push_enabled


class PushKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200, validators=[validate_p256dh], help_text="base64url P-256 public key")
    auth = serializers.CharField(max_length=100, validators=[validate_auth_secret], help_text="base64url 16-byte auth secret")


class PushSubscriptionSerializer(serializers.Serializer):
    """What ``PushSubscription.toJSON()`` gives in the browser."""

    endpoint = serializers.URLField(
        max_length=1000, validators=[validate_push_endpoint],
        help_text="An https address on one of the push services the site allows (PUSH_SERVICE_HOSTS).",
    )
    keys = PushKeysSerializer()


class PushEndpointSerializer(serializers.Serializer):
    endpoint = serializers.URLField(max_length=1000)


class PushConfigQuerySerializer(serializers.Serializer):
    endpoint = serializers.URLField(
        max_length=1000, required=False, help_text="This browser's push endpoint, to ask whether it is on."
    )


class PushConfigSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    public_key = serializers.CharField(allow_null=True)
    browsers = serializers.IntegerField()
    subscribed = serializers.BooleanField(
        allow_null=True, help_text="Whether the `endpoint` asked about gets this login's pushes (null when none was asked)."
    )


class PushSubscriptionView(APIView):
    """This shopper's browsers subscribed to Web Push; a browser subscribes with the login it is in."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[PushConfigQuerySerializer], responses=PushConfigSerializer)
    def get(self, request):
        query = PushConfigQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        endpoint = query.validated_data.get("endpoint")
        session_key = request.session.session_key if hasattr(request, "session") else None
        return Response({
            "enabled": push_enabled(),
            "public_key": application_server_key() if push_enabled() else None,
            "browsers": selectors.browsers_of(request.user).count(),
            "subscribed": (
                None if endpoint is None
                else selectors.browser_subscribed(request.user, endpoint=endpoint, session_key=session_key)
            ),
        })

    @extend_schema(request=PushSubscriptionSerializer, responses={201: None, 400: None, 409: None})
    def post(self, request):
        if not push_enabled():
            return Response({"detail": "Push notifications are not configured on this server."}, status=status.HTTP_409_CONFLICT)
        session_key = request.session.session_key if hasattr(request, "session") else None
        if not session_key or not isinstance(request.successful_authenticator, SessionAuthentication):
            return Response(
                {"detail": "Turn notifications on from a browser you are logged in with."}, status=status.HTTP_400_BAD_REQUEST
            )
        body = PushSubscriptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.push_subscribe(
                user=request.user, session_key=session_key, endpoint=body.validated_data["endpoint"],
                p256dh=body.validated_data["keys"]["p256dh"], auth=body.validated_data["keys"]["auth"],
                user_agent=request.headers.get("User-Agent", ""),
            )
        except services.SubscriptionTaken as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
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
