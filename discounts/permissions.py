"""The permissions a market's staff hold in admin (their market's deals; view their market)."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

STAFF_GROUP = "Market staff"


def market_staff_group() -> Group:
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    perms = Permission.objects.filter(
        content_type__app_label="discounts", codename__in=["add_discount", "change_discount", "delete_discount", "view_discount"]
    ) | Permission.objects.filter(content_type__app_label="markets", codename="view_market")
    group.permissions.set(perms)
    return group
