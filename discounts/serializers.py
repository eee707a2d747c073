"""The Deal shape of the public contract, used by the API and by every event's ``data``."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from discounts.models import Category, Discount
from markets.models import Market


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name"]


class MarketSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Market
        fields = ["id", "name", "address", "lat", "lng"]


class WithDistance(serializers.ModelSerializer):
    """``distance_km`` where the query had a point (rounded to metres), absent where it had none."""

    distance_km = serializers.FloatField(read_only=True, required=False)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        distance = getattr(instance, "distance_km", None)
        if distance is None:
            data.pop("distance_km", None)
        else:
            data["distance_km"] = round(float(distance), 3)
        return data


class MarketSerializer(WithDistance):
    """A market as the markets API lists it: where it is, how many deals it has now, how far it is."""

    active_deals = serializers.IntegerField(read_only=True)

    class Meta:
        model = Market
        fields = ["id", "name", "address", "lat", "lng", "active_deals", "distance_km"]


class DealSerializer(WithDistance):
    category = CategorySerializer(read_only=True)
    market = MarketSummarySerializer(read_only=True)
    percent_off = serializers.FloatField(read_only=True)

    class Meta:
        model = Discount
        fields = [
            "id", "product", "category", "market", "original_price", "price", "currency",
            "percent_off", "starts_at", "ends_at", "distance_km",
        ]


def _iso(value) -> str:
    # As DRF's DateTimeField renders it: in the current time zone, UTC written as "Z".
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def deal_data(discount: Discount, *, distance_km: float | None = None) -> dict:
    """The Deal of the contract, exactly as ``DealSerializer`` renders it, without DRF's per-field work.

    Every event's envelope and every socket snapshot is built here (a test holds the two equal); the
    serializer's field machinery was most of the cost of recording an event.
    """
    market, category = discount.market, discount.category
    data = {
        "id": discount.pk,
        "product": discount.product,
        "category": {"slug": category.slug, "name": category.name},
        "market": {"id": market.pk, "name": market.name, "address": market.address, "lat": market.lat, "lng": market.lng},
        "original_price": f"{discount.original_price:.2f}",
        "price": f"{discount.price:.2f}",
        "currency": discount.currency,
        "percent_off": discount.percent_off,
        "starts_at": _iso(discount.starts_at),
        "ends_at": _iso(discount.ends_at),
    }
    if distance_km is not None:
        data["distance_km"] = round(float(distance_km), 3)
    return data


class DiscountWriteSerializer(serializers.Serializer):
    """Input of the markets' integration API; explicit fields, nothing else is assignable."""

    market = serializers.IntegerField()
    product = serializers.CharField(max_length=200, trim_whitespace=True)
    category = serializers.SlugField(max_length=50)
    original_price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField()

    def validate_product(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Product must not be blank.")
        return value

    def validate(self, attrs):
        starts_at = attrs.get("starts_at") or (None if self.partial else timezone.now())
        if starts_at and "ends_at" in attrs and attrs["ends_at"] <= starts_at:
            raise serializers.ValidationError({"ends_at": "The end must be after the start."})
        if "price" in attrs and "original_price" in attrs and attrs["price"] >= attrs["original_price"]:
            raise serializers.ValidationError({"price": "The deal price must be below the original price."})
        return attrs


class MarketDetailSerializer(MarketSerializer):
    deals = serializers.SerializerMethodField(help_text="Its active deals, the soonest to end first.")

    class Meta(MarketSerializer.Meta):
        fields = [*MarketSerializer.Meta.fields, "deals"]

    def get_deals(self, market) -> list[dict]:
        return DealSerializer(self.context["deals"], many=True).data
