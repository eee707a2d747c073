"""DRF fields that accept only what the contract documents."""

from __future__ import annotations

from rest_framework import serializers

from markets.geo import InvalidLocation, parse_number


class StrictFloatField(serializers.FloatField):
    """A number in plain decimal notation: DRF's own field takes "1_0" and full-width digits."""

    def to_internal_value(self, data):
        try:
            return parse_number(data, self.field_name or "value")
        except InvalidLocation as exc:
            raise serializers.ValidationError(str(exc)) from None
