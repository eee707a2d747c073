from django.contrib import admin, messages

from notifications.delivery import retry_dead
from notifications.digest import retry_dead as digest_retry_dead
from notifications.models import DigestMail, Notification, NotifierDeadEvent, PushSubscription, WatchedProduct


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    """Superusers follow the notifier here and put dead letters back in line."""

    list_display = ("id", "user", "reason", "deal_id", "state", "attempts", "failure", "created_at", "sent_at", "last_error")
    list_filter = ("state", "failure", "reason")
    search_fields = ("user__username", "deal_id", "event_id")
    actions = ["retry_dead_letters"]

    @admin.action(description="Retry selected dead letters", permissions=["view"])
    def retry_dead_letters(self, request, queryset):
        self.message_user(request, f"Retried {retry_dead(rows=queryset)}.", messages.SUCCESS)


@admin.register(DigestMail)
class DigestMailAdmin(ReadOnly):
    list_display = ("id", "user", "day", "state", "attempts", "sent_at", "last_error")
    list_filter = ("state",)
    actions = ["retry_dead_letters"]

    @admin.action(description="Retry selected dead letters", permissions=["view"])
    def retry_dead_letters(self, request, queryset):
        retried = digest_retry_dead(rows=queryset)
        self.message_user(request, f"Retried {retried}.", messages.SUCCESS)


@admin.register(NotifierDeadEvent)
class NotifierDeadEventAdmin(ReadOnly):
    list_display = ("position", "event_id", "error", "created_at")


@admin.register(PushSubscription)
class PushSubscriptionAdmin(ReadOnly):
    # Not the login's session key: it is as good as the shopper's cookie.
    fields = ("user", "endpoint", "user_agent", "created_at")
    list_display = ("user", "user_agent", "created_at")
    search_fields = ("user__username",)


@admin.register(WatchedProduct)
class WatchedProductAdmin(ReadOnly):
    list_display = ("user", "text", "target_price", "created_at")
    search_fields = ("user__username", "text")
