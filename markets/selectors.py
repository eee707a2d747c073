from __future__ import annotations

from django.db.models import QuerySet

from markets.models import Market


def markets_managed_by(user) -> QuerySet[Market]:
    """The markets whose discounts ``user`` may manage: all for superusers, their own for staff."""
    if not user.is_authenticated or not user.is_active:
        return Market.objects.none()
    if user.is_superuser:
        return Market.objects.all()
    return Market.objects.filter(staff=user)


def user_manages_market(user, market_id: int) -> bool:
    return markets_managed_by(user).filter(pk=market_id).exists()
