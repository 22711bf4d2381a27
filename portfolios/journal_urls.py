from django.urls import re_path
from rest_framework.routers import SimpleRouter

from portfolios.journal_api import UUID_PATTERN, JournalAttachmentUploadView, JournalAttachmentView, JournalEntryViewSet

router = SimpleRouter(trailing_slash=False)
router.register("journal", JournalEntryViewSet, basename="journal-entry")

urlpatterns = [
    *router.urls,
    re_path(rf"^journal/(?P<entry_id>{UUID_PATTERN})/attachments$", JournalAttachmentUploadView.as_view(),
            name="journal-attachments"),
    re_path(rf"^journal/(?P<entry_id>{UUID_PATTERN})/attachments/(?P<attachment_id>{UUID_PATTERN})$",
            JournalAttachmentView.as_view(), name="journal-attachment"),
]
