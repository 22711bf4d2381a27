"""Trade journal reads, scoped to the owner: another user's entry or attachment is not found."""
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from haunt.errors import NotFound
from reporting.models import JournalAttachment, JournalEntry


def journal_entry_list_for_user(*, user) -> QuerySet[JournalEntry]:
    """Archived portfolios' entries included, newest first, with what JournalEntryOut reads."""
    return (JournalEntry.objects.filter(portfolio__owner=user).select_related("instrument")
            .prefetch_related("attachments").order_by("-created_at", "-pk"))


def journal_entry_get_for_user(*, user, entry_id) -> JournalEntry:
    try:
        return journal_entry_list_for_user(user=user).get(pk=entry_id)
    except (JournalEntry.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Journal entry not found.", field="entry_id") from None


def journal_attachment_get_for_user(*, user, entry_id, attachment_id) -> JournalAttachment:
    try:
        return JournalAttachment.objects.get(pk=attachment_id, entry_id=entry_id, entry__portfolio__owner=user)
    except (JournalAttachment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Attachment not found.", field="attachment_id") from None
