from __future__ import annotations

from django.db import transaction

from accounts.models import User


@transaction.atomic
def user_signup(*, username: str, email: str, password: str) -> User:
    return User.objects.create_user(username=username, email=email, password=password)


@transaction.atomic
def user_set_preferences(*, user: User, home_lat, home_lng, radius_km, categories, notify_new_deals: bool) -> User:
    user.home_lat, user.home_lng = home_lat, home_lng
    user.radius_km = radius_km
    user.notify_new_deals = notify_new_deals
    user.full_clean(exclude=["password"])
    user.save(update_fields=["home_lat", "home_lng", "radius_km", "notify_new_deals"])
    user.categories.set(categories)
    return user
