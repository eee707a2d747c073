from django.contrib import admin

from markets.models import Market
from markets.selectors import markets_managed_by


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ("name", "address", "lat", "lng", "h3_cell")
    search_fields = ("name", "address")
    readonly_fields = ("h3_cell",)
    filter_horizontal = ("staff",)

    def get_queryset(self, request):
        return markets_managed_by(request.user)
