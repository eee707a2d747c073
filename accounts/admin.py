from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = BaseUserAdmin.fieldsets + (
        ("Shopper preferences", {"fields": ("home_lat", "home_lng", "radius_km", "categories", "notify_new_deals")}),
    )
    filter_horizontal = ("groups", "user_permissions", "categories")
