import uuid

from django.db import models
from django.db.models import Q


class JournalEntry(models.Model):
    """A trade-journal note (spec §12 "Trade Journal") on a portfolio, optionally about one of its
    orders, trades or positions. `search_text` and `tag_index` are lowercase copies kept by the
    journal services, so search and tag filters work the same on SQLite and PostgreSQL."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="journal_entries")
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="journal_entries")
    trade = models.ForeignKey("orders.Trade", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="journal_entries")
    position = models.ForeignKey("portfolios.Position", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="journal_entries")
    instrument = models.ForeignKey("market.Instrument", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    title = models.CharField(max_length=200, blank=True)
    note = models.TextField(max_length=20000, blank=True)
    tags = models.JSONField(default=list, blank=True)
    search_text = models.TextField(blank=True, editable=False)
    tag_index = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "portfolios_journalentry"  # made by the portfolios app, which held the journal first
        indexes = [models.Index(fields=["portfolio", "-created_at"], name="journal_portfolio_created")]
        constraints = [models.CheckConstraint(
            condition=Q(order__isnull=True, trade__isnull=True) | Q(order__isnull=True, position__isnull=True)
            | Q(trade__isnull=True, position__isnull=True),
            name="journal_entry_one_subject")]

    def __str__(self):
        return f"{self.title or self.note[:40]} ({self.portfolio_id})"


def journal_attachment_path(attachment: "JournalAttachment", filename: str) -> str:
    # Our own name, never the client's: the id and the extension of the type the bytes proved.
    return f"journal/{attachment.entry.portfolio_id}/{attachment.id}.{filename.rsplit('.', 1)[-1]}"


class JournalAttachment(models.Model):
    """A screenshot on a journal entry, stored through Django's storage API under MEDIA_ROOT."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entry = models.ForeignKey(JournalEntry, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=journal_attachment_path, max_length=200)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    original_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "portfolios_journalattachment"  # made by the portfolios app, which held the journal first
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.original_name or self.id} ({self.content_type})"
