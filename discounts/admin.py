"""Admin for market staff: scoped to their own markets, every write through the services."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.core.exceptions import PermissionDenied, ValidationError

from discounts import services
from discounts.models import Category, Discount
from discounts.selectors import discounts_managed_by
from markets.selectors import markets_managed_by, user_manages_market


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


# The hour a deal ends by default: the usual closing time, today or (past it) tomorrow.
CLOSING_HOUR = 20
CURRENCIES = [("EUR", "EUR"), ("CHF", "CHF"), ("GBP", "GBP"), ("PLN", "PLN"), ("CZK", "CZK"), ("DKK", "DKK"), ("USD", "USD")]


class DiscountAdminForm(forms.ModelForm):
    currency = forms.ChoiceField(choices=CURRENCIES)

    class Meta:
        model = Discount
        fields = "__all__"


@admin.register(Discount)
class DiscountAdmin(admin.ModelAdmin):
    form = DiscountAdminForm
    list_display = ("product", "market", "category", "original_price", "price", "percent_off_shown", "shown_to_shoppers", "starts_at", "ends_at")
    list_filter = ("state", "listed", "category")
    search_fields = ("product",)
    list_select_related = ("market", "category")
    readonly_fields = ("listed", "created_at", "updated_at")
    actions = ["withdraw_selected", "delete_selected"]
    date_hierarchy = "starts_at"

    def get_queryset(self, request):
        return discounts_managed_by(request.user)

    @admin.display(description="% off")
    def percent_off_shown(self, obj: Discount) -> str:
        return f"{obj.percent_off:g}%"

    @admin.display(description="Shoppers see it")
    def shown_to_shoppers(self, obj: Discount) -> str:
        """Scheduled, Live or Ended in the words staff use (the internal "listed" flag is not one)."""
        now = timezone.now()
        if obj.state == Discount.State.WITHDRAWN:
            return "Withdrawn"
        if obj.state == Discount.State.DRAFT:
            return "Draft"
        if now < obj.starts_at:
            return "Scheduled"
        return "Live" if now < obj.ends_at else "Ended"

    def get_changeform_initial_data(self, request):
        """A new deal starts now and ends at closing time, at the staff member's market if they have one."""
        initial = super().get_changeform_initial_data(request)
        now = timezone.localtime()
        closing = now.replace(hour=CLOSING_HOUR, minute=0, second=0, microsecond=0)
        if closing <= now:
            closing += timedelta(days=1)
        initial.setdefault("starts_at", now.replace(second=0, microsecond=0))
        initial.setdefault("ends_at", closing)
        initial.setdefault("currency", settings.DEALCAST_CURRENCY)
        markets = list(markets_managed_by(request.user)[:2])
        if len(markets) == 1:
            initial.setdefault("market", markets[0].pk)
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "market":
            kwargs["queryset"] = markets_managed_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _owns(self, request, obj) -> bool:
        return obj is None or user_manages_market(request.user, obj.market_id)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._owns(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._owns(request, obj)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._owns(request, obj)

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            saved = services.discount_update(discount=obj, actor=request.user, **fields)
        else:
            saved = services.discount_create(actor=request.user, **fields)
        obj.pk, obj.listed = saved.pk, saved.listed

    def delete_model(self, request, obj):
        services.discount_delete(discount=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        services.discounts_delete(discounts=queryset, actor=request.user)

    @admin.action(description="Withdraw selected discounts", permissions=["change"])
    def withdraw_selected(self, request, queryset):
        try:
            count = services.discounts_withdraw(discounts=queryset, actor=request.user)
        except (PermissionDenied, ValidationError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Withdrew {count} discount(s).", messages.SUCCESS)
