from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from notifications.api import (
    UUID_PATTERN,
    AlertHistoryView,
    AlertPreferencesView,
    AlertsMarkReadView,
    WebhookDeliveriesView,
    WebhookDeliveryReplayView,
    WebhookViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = [
    *router.urls,
    re_path(rf"^webhooks/(?P<pk>{UUID_PATTERN})/deliveries$", WebhookDeliveriesView.as_view(),
            name="webhook-deliveries"),
    re_path(rf"^webhooks/(?P<pk>{UUID_PATTERN})/deliveries/(?P<delivery>{UUID_PATTERN})/replay$",
            WebhookDeliveryReplayView.as_view(), name="webhook-delivery-replay"),
    path("alerts/history", AlertHistoryView.as_view(), name="alert-history"),
    path("alerts/history/read", AlertsMarkReadView.as_view(), name="alert-history-read"),
    path("alerts/preferences", AlertPreferencesView.as_view(), name="alert-preferences"),
]
