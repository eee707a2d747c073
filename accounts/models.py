from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from accounts.validators import validate_username_not_confusable
from markets.geo import MAX_RADIUS_KM, MIN_RADIUS_KM

DEFAULT_RADIUS_KM = Decimal("5.0")


class User(AbstractUser):
    """A Dealcast account: a shopper, a market's staff member, or both.

    The shopper's preferences live here because every shopper has exactly one set and every live
    connection reads them.
    """

    username = models.CharField(
        "username", max_length=150, unique=True,
        help_text="150 characters or fewer: letters of one alphabet, digits and @/./+/-/_ only.",
        validators=[UnicodeUsernameValidator(), validate_username_not_confusable],
        error_messages={"unique": "A user with that username already exists."},
    )
    home_lat = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)],
        help_text="Saved location, used when the browser's location is unavailable.",
    )
    home_lng = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    radius_km = models.DecimalField(
        max_digits=4, decimal_places=1, default=DEFAULT_RADIUS_KM,
        validators=[MinValueValidator(Decimal(str(MIN_RADIUS_KM))), MaxValueValidator(Decimal(str(MAX_RADIUS_KM)))],
    )
    categories = models.ManyToManyField("discounts.Category", blank=True, related_name="+")
    notify_new_deals = models.BooleanField(default=False)
    # Set by following the signed link mailed to the address: no mail but a password reset goes to an
    # address before, and a verified address belongs to one account.
    email_verified = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # "Shopper" next to "shopper" would be two accounts one person cannot tell apart.
            models.UniqueConstraint(
                Lower("username"), name="user_username_unique_ignoring_case",
                violation_error_message="A user with that username already exists.",
            ),
            models.UniqueConstraint(
                Lower("email"), condition=models.Q(email_verified=True), name="user_verified_email_unique",
                violation_error_message="That e-mail address belongs to another account.",
            ),
            models.CheckConstraint(
                condition=models.Q(radius_km__gte=MIN_RADIUS_KM, radius_km__lte=MAX_RADIUS_KM),
                name="user_radius_in_bounds",
            ),
            models.CheckConstraint(
                condition=(models.Q(home_lat__isnull=True) & models.Q(home_lng__isnull=True))
                | (models.Q(home_lat__gte=-90, home_lat__lte=90, home_lng__gte=-180, home_lng__lte=180)),
                name="user_home_location_valid",
            ),
        ]

    @property
    def has_saved_location(self) -> bool:
        return self.home_lat is not None and self.home_lng is not None
