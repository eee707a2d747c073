from django.contrib import admin, messages

from eventlog.models import OutboxEvent
from realtime.relay import outbox_retry_dead


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    """Superusers watch the relay here and put dead letters back in line."""

    list_display = ("id", "type", "deal_id", "state", "position", "attempts", "created_at", "last_error")
    list_filter = ("state", "type")
    search_fields = ("deal_id", "event_id")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    actions = ["retry_dead"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry selected dead letters", permissions=["view"])
    def retry_dead(self, request, queryset):
        retried, superseded = outbox_retry_dead(rows=queryset)
        self.message_user(request, f"Retried {retried}; {superseded} superseded by later events.", messages.SUCCESS)
