from django.contrib import admin

from haunt.admin_base import ReadOnlyModelAdmin
from notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyModelAdmin):
    # The secrets are left out: support staff never need to read them.
    list_display = ["url", "owner", "is_active", "consecutive_dead_letters", "last_sequence", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "owner__username"]
    exclude = ["secret", "previous_secret"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "started_at", "address", "latency_ms", "response_status", "error", "succeeded"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ["event_type", "endpoint", "sequence", "status", "attempt_count", "next_attempt_at", "created_at"]
    list_filter = ["status", "event_type"]
    inlines = [WebhookAttemptInline]
