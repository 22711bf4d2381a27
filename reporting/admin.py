from django.contrib import admin

from haunt.admin_base import ReadOnlyModelAdmin
from reporting.models import JournalEntry


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "portfolio", "instrument", "title"]
    search_fields = ["title", "note", "portfolio__name"]
    list_select_related = ["portfolio", "instrument"]
