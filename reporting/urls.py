from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from reporting.analytics.api import AttributionView, MetricsView, PerformanceView, TradesView
from reporting.exports.api import ExportView
from reporting.history.api import OrderHistoryView, PositionHistoryView, TradeHistoryView
from reporting.journal.api import UUID_PATTERN, JournalAttachmentUploadView, JournalAttachmentView, JournalEntryViewSet
from reporting.tax.api import TaxReportView

router = SimpleRouter(trailing_slash=False)
router.register("journal", JournalEntryViewSet, basename="journal-entry")

urlpatterns = [
    path("analytics/performance", PerformanceView.as_view(), name="analytics-performance"),
    path("analytics/metrics", MetricsView.as_view(), name="analytics-metrics"),
    path("analytics/attribution", AttributionView.as_view(), name="analytics-attribution"),
    path("analytics/trades", TradesView.as_view(), name="analytics-trades"),
    path("history/orders", OrderHistoryView.as_view(), name="history-orders"),
    path("history/positions", PositionHistoryView.as_view(), name="history-positions"),
    path("history/trades", TradeHistoryView.as_view(), name="history-trades"),
    path("history/export", ExportView.as_view(), name="history-export"),
    path("history/tax", TaxReportView.as_view(), name="history-tax"),
    *router.urls,
    re_path(rf"^journal/(?P<entry_id>{UUID_PATTERN})/attachments$", JournalAttachmentUploadView.as_view(),
            name="journal-attachments"),
    re_path(rf"^journal/(?P<entry_id>{UUID_PATTERN})/attachments/(?P<attachment_id>{UUID_PATTERN})$",
            JournalAttachmentView.as_view(), name="journal-attachment"),
]
