from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User
from realtime.sessions import sockets_close_for_user


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = BaseUserAdmin.fieldsets + (
        ("Shopper preferences", {"fields": ("home_lat", "home_lng", "radius_km", "categories", "notify_new_deals")}),
    )
    filter_horizontal = ("groups", "user_permissions", "categories")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            sockets_close_for_user(obj.pk)
