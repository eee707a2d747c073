"""The deals API: thin views that validate input, then call selectors and services."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from discounts import selectors, services
from discounts.models import Category
from discounts.serializers import DealSerializer, DiscountWriteSerializer, MarketDetailSerializer, MarketSerializer
from markets.api_fields import StrictFloatField
from markets.geo import InvalidLocation, clean_lat, clean_lng, clean_radius_km
from markets.models import Market
from markets.selectors import markets_managed_by


class LocationQuerySerializer(serializers.Serializer):
    lat = StrictFloatField(required=False)
    lng = StrictFloatField(required=False)
    radius_km = StrictFloatField(required=False)

    def validate(self, attrs):
        has_lat, has_lng = "lat" in attrs, "lng" in attrs
        if has_lat != has_lng:
            raise serializers.ValidationError("Give both lat and lng, or neither.")
        if "radius_km" in attrs and not has_lat:
            raise serializers.ValidationError({"radius_km": "radius_km needs lat and lng."})
        try:
            if has_lat:
                attrs["lat"], attrs["lng"] = clean_lat(attrs["lat"]), clean_lng(attrs["lng"])
            if "radius_km" in attrs:
                attrs["radius_km"] = clean_radius_km(attrs["radius_km"])
        except InvalidLocation as exc:
            raise serializers.ValidationError(str(exc)) from None
        return attrs


class DealQuerySerializer(LocationQuerySerializer):
    q = serializers.CharField(required=False, max_length=200, allow_blank=True)
    category = serializers.SlugField(required=False, max_length=50)
    categories = serializers.RegexField(
        r"^[-a-zA-Z0-9_]+(,[-a-zA-Z0-9_]+)*$", required=False, max_length=2000,
        help_text="Comma-separated category slugs (any of them); with `category`, either one matches.",
    )
    ordering = serializers.ChoiceField(choices=list(selectors.ORDERINGS), required=False)


class ProductQuerySerializer(LocationQuerySerializer):
    product = serializers.CharField(max_length=200)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=50, default=5)


def _parse(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


@extend_schema(parameters=[DealQuerySerializer])
class DealListView(generics.ListAPIView):
    """Active deals, optionally near a point, matching product text and a category."""

    serializer_class = DealSerializer

    def get_queryset(self):
        params = _parse(DealQuerySerializer, self.request)
        slugs = [params["category"]] if params.get("category") else []
        slugs += params["categories"].split(",") if params.get("categories") else []
        return selectors.deals_search(
            lat=params.get("lat"),
            lng=params.get("lng"),
            radius_km=params.get("radius_km"),
            q=params.get("q") or None,
            category_ids=selectors.category_ids_for(slugs) if slugs else None,
            ordering=params.get("ordering"),
        )


@extend_schema(parameters=[ProductQuerySerializer], responses=DealSerializer(many=True))
class DealCompareView(APIView):
    """One product's active deals across markets, cheapest first."""

    def get(self, request):
        params = _parse(ProductQuerySerializer, request)
        deals = selectors.deals_compare(product=params["product"], lat=params.get("lat"), lng=params.get("lng"))
        return Response(DealSerializer(deals[:100], many=True).data)


@extend_schema(parameters=[ProductQuerySerializer], responses=DealSerializer(many=True))
class DealTopView(APIView):
    """The best deals for a product by percent off."""

    def get(self, request):
        params = _parse(ProductQuerySerializer, request)
        deals = selectors.deals_top(product=params["product"], limit=params["limit"])
        return Response(DealSerializer(deals, many=True).data)


ENDED = inline_serializer("DealEnded", {"detail": serializers.CharField(), "ended_at": serializers.DateTimeField()})


class DealDetailView(APIView):
    """One deal. A deal that ended or was withdrawn is 410 Gone, saying when it ended; never a stale price."""

    @extend_schema(responses={200: DealSerializer, 404: None, 410: ENDED})
    def get(self, request, pk: int):
        deal = selectors.deal_for_page(deal_id=pk)
        if deal is None:
            return Response({"detail": "No such deal."}, status=status.HTTP_404_NOT_FOUND)
        not_live = selectors.deal_not_live(deal, now=timezone.now())
        if not_live is not None:
            detail, ended_at = not_live
            return Response({"detail": detail, "ended_at": ended_at}, status=status.HTTP_410_GONE)
        return Response(DealSerializer(deal).data)


@extend_schema(parameters=[LocationQuerySerializer])
class MarketListView(generics.ListAPIView):
    """Markets with their number of active deals; near a point, nearest first, when one is given."""

    serializer_class = MarketSerializer

    def get_queryset(self):
        params = _parse(LocationQuerySerializer, self.request)
        return selectors.markets_search(lat=params.get("lat"), lng=params.get("lng"), radius_km=params.get("radius_km"))


class MarketDetailView(APIView):
    """One market, with its active deals."""

    @extend_schema(responses={200: MarketDetailSerializer, 404: None})
    def get(self, request, pk: int):
        market = selectors.markets_search().filter(pk=pk).first()
        if market is None:
            return Response({"detail": "No such market."}, status=status.HTTP_404_NOT_FOUND)
        deals = selectors.deals_of_market(market.pk)
        return Response(MarketDetailSerializer(market, context={"deals": deals}).data)


def _resolve_refs(user, data: dict) -> dict:
    """Turn the ids and slugs of the input into objects the caller may use."""
    resolved = dict(data)
    if "market" in data:
        market = Market.objects.filter(pk=data["market"]).first()
        if market is None:
            raise serializers.ValidationError({"market": "No such market."})
        if not markets_managed_by(user).filter(pk=market.pk).exists():
            raise serializers.ValidationError({"market": "You do not manage this market."})
        resolved["market"] = market
    if "category" in data:
        category = Category.objects.filter(slug=data["category"]).first()
        if category is None:
            raise serializers.ValidationError({"category": "No such category."})
        resolved["category"] = category
    return resolved


class StaffAPIView(APIView):
    permission_classes = [IsAuthenticated]


@extend_schema(request=DiscountWriteSerializer, responses={201: DealSerializer})
class DiscountCreateView(StaffAPIView):
    """Publish a discount for one of the caller's markets."""

    def post(self, request):
        incoming = DiscountWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        discount = services.discount_create(actor=request.user, **_resolve_refs(request.user, incoming.validated_data))
        return Response(DealSerializer(discount).data, status=status.HTTP_201_CREATED)


class DiscountDetailView(StaffAPIView):
    """Change or withdraw one of the caller's discounts."""

    def _get(self, request, pk: int):
        return get_object_or_404(selectors.discounts_managed_by(request.user), pk=pk)

    @extend_schema(request=DiscountWriteSerializer, responses=DealSerializer)
    def patch(self, request, pk: int):
        discount = self._get(request, pk)
        incoming = DiscountWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        changes = _resolve_refs(request.user, incoming.validated_data)
        discount = services.discount_update(discount=discount, actor=request.user, **changes)
        return Response(DealSerializer(discount).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.discount_withdraw(discount=self._get(request, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
