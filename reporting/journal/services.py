"""Trade journal writes (spec §12 "Trade Journal"): notes and tags on a portfolio or on one of its
orders, trades or positions, and screenshot attachments.

Every write locks the portfolio first (portfolio_lock_for_user: another user's portfolio is 404,
an archived one refuses changes) and refuses bad input before it writes. Attachment files go
through Django's default storage, written before the row that names them and removed only once
the transaction that dropped their row has committed, so no row ever names a missing file.
"""
from collections.abc import Sequence

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from haunt.errors import DomainError, NotFound
from orders.models import Order, Trade
from portfolios.models import Position
from portfolios.services import portfolio_lock_for_user
from reporting.journal.images import EXTENSIONS, SIGNATURE_BYTES, sniff_image_type
from reporting.journal.selectors import journal_attachment_get_for_user, journal_entry_get_for_user
from reporting.models import JournalAttachment, JournalEntry


class FileTooLarge(DomainError):
    status, code = 413, "file_too_large"


SUBJECT_MODELS = {"order": Order, "trade": Trade, "position": Position}


def _normalized_tags(tags: Sequence[str]) -> list[str]:
    """Trimmed, without blanks or repeats (the first spelling of a tag wins, case-insensitively)."""
    seen, kept = set(), []
    for tag in (tag.strip() for tag in tags):
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            kept.append(tag)
    return kept


def _index(entry: JournalEntry) -> None:
    """The lowercase search copies: words of the title, note, tags and symbol; `|tag|` per tag."""
    symbol = entry.instrument.symbol if entry.instrument_id else ""
    entry.search_text = "\n".join([entry.title, entry.note, " ".join(entry.tags), symbol]).lower()
    entry.tag_index = "|" + "|".join(tag.lower() for tag in entry.tags) + "|" if entry.tags else ""


def _subject(*, user, portfolio_id, subjects: dict) -> tuple[object, str | None, object | None]:
    """(portfolio id, subject field name, subject row) for a new entry; the subject must be the
    user's and belong to the named portfolio when one is named."""
    named = {name: value for name, value in subjects.items() if value is not None}
    if len(named) > 1:
        raise DomainError("A journal entry is about one order, trade or position.", code="one_subject",
                          field=list(named)[1])
    if not named:
        if portfolio_id is None:
            raise DomainError("Name the portfolio, or the order, trade or position the entry is about.",
                              code="required", field="portfolio")
        return portfolio_id, None, None
    (name, subject_id), = named.items()
    model = SUBJECT_MODELS[name]
    try:
        subject = model.objects.select_related("instrument").get(pk=subject_id, portfolio__owner=user)
    except (model.DoesNotExist, ValueError):
        raise NotFound(f"{name.capitalize()} not found.", field=name) from None
    if portfolio_id is not None and str(subject.portfolio_id) != str(portfolio_id):
        raise DomainError(f"That {name} belongs to another portfolio.", code="subject_not_in_portfolio", field=name)
    return subject.portfolio_id, name, subject


@transaction.atomic
def journal_entry_create(*, user, portfolio_id=None, order_id=None, trade_id=None, position_id=None,
                         title: str = "", note: str = "", tags: Sequence[str] = ()) -> JournalEntry:
    portfolio_id, subject_name, subject = _subject(
        user=user, portfolio_id=portfolio_id, subjects={"order": order_id, "trade": trade_id, "position": position_id})
    portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
    entry = JournalEntry(portfolio=portfolio, title=title, note=note, tags=_normalized_tags(tags))
    if subject is not None:
        setattr(entry, subject_name, subject)
        entry.instrument = subject.instrument
    _index(entry)
    entry.save(force_insert=True)
    return entry


def _locked_entry(*, user, entry_id) -> JournalEntry:
    entry = journal_entry_get_for_user(user=user, entry_id=entry_id)
    portfolio_lock_for_user(user=user, portfolio_id=entry.portfolio_id)
    return JournalEntry.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=entry.pk)


@transaction.atomic
def journal_entry_update(*, user, entry_id, title: str | None = None, note: str | None = None,
                         tags: Sequence[str] | None = None) -> JournalEntry:
    """Change the title, note or tags (what the entry is about never changes)."""
    entry = _locked_entry(user=user, entry_id=entry_id)
    if title is not None:
        entry.title = title
    if note is not None:
        entry.note = note
    if tags is not None:
        entry.tags = _normalized_tags(tags)
    _index(entry)
    entry.save(update_fields=["title", "note", "tags", "search_text", "tag_index", "updated_at"])
    return entry


def _remove_files_on_commit(names: list[str]) -> None:
    for name in names:
        transaction.on_commit(lambda name=name: default_storage.delete(name))


@transaction.atomic
def journal_entry_delete(*, user, entry_id) -> None:
    entry = _locked_entry(user=user, entry_id=entry_id)
    names = list(entry.attachments.values_list("file", flat=True))
    entry.delete()
    _remove_files_on_commit(names)


def _checked_image_type(upload: UploadedFile, *, max_bytes: int) -> str:
    """The upload's content type, proven by its bytes; refuses anything else before a byte is stored."""
    if upload.size > max_bytes:
        raise FileTooLarge(f"Screenshots are limited to {max_bytes} bytes; this one has {upload.size}.", field="file")
    if upload.size == 0:
        raise DomainError("The file is empty.", code="empty_file", field="file")
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared not in EXTENSIONS:
        raise DomainError("Attach a PNG, JPEG or WebP image.", code="unsupported_file_type", field="file")
    upload.seek(0)
    head = upload.read(SIGNATURE_BYTES)
    upload.seek(0)
    proven = sniff_image_type(head)
    if proven != declared:
        raise DomainError(f"The file is declared {declared} but its content is not.", code="content_type_mismatch",
                          field="file")
    return proven


def journal_attachment_add(*, user, entry_id, upload: UploadedFile, max_bytes: int) -> JournalAttachment:
    """Store a PNG, JPEG or WebP screenshot of at most `max_bytes` on an entry.

    The file is written before the transaction, so the database write lock is never held during
    disk I/O; if the row cannot be inserted (the entry went, the portfolio was archived), the file
    is removed again."""
    entry = journal_entry_get_for_user(user=user, entry_id=entry_id)
    content_type = _checked_image_type(upload, max_bytes=max_bytes)
    attachment = JournalAttachment(entry=entry, content_type=content_type, size=upload.size,
                                   original_name=(upload.name or "")[:200])
    attachment.file.save(f"screenshot.{EXTENSIONS[content_type]}", upload, save=False)
    try:
        with transaction.atomic():
            _locked_entry(user=user, entry_id=entry.pk)
            attachment.save(force_insert=True)
    except BaseException:
        default_storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def journal_attachment_delete(*, user, entry_id, attachment_id) -> None:
    entry = _locked_entry(user=user, entry_id=entry_id)
    attachment = journal_attachment_get_for_user(user=user, entry_id=entry.pk, attachment_id=attachment_id)
    name = attachment.file.name
    attachment.delete()
    _remove_files_on_commit([name])
