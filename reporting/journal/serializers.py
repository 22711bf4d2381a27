"""Trade journal input and output serializers."""
from django.core.validators import RegexValidator
from django.urls import reverse
from rest_framework import serializers

from haunt.api.serializers import StrictInput
from reporting.models import JournalAttachment, JournalEntry

SUBJECT_NAMES = ("id", "portfolio", "order", "trade", "position", "symbol", "attachments", "created_at", "updated_at")


def journal_tags_field():
    # "|" delimits tags in the tag index, so a tag cannot contain it.
    return serializers.ListField(
        child=serializers.CharField(max_length=32, validators=[RegexValidator(r"^[^|]*$", "A tag cannot contain '|'.")]),
        max_length=20, required=False)


class JournalEntryCreateIn(StrictInput):
    read_only_names = ("id", "symbol", "attachments", "created_at", "updated_at")

    portfolio = serializers.UUIDField(required=False, help_text="Optional when order, trade or position is given.")
    order = serializers.UUIDField(required=False)
    trade = serializers.UUIDField(required=False)
    position = serializers.UUIDField(required=False)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="", trim_whitespace=False)
    tags = journal_tags_field()


class JournalEntryUpdateIn(StrictInput):
    read_only_names = SUBJECT_NAMES

    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    note = serializers.CharField(max_length=20000, required=False, allow_blank=True, trim_whitespace=False)
    tags = journal_tags_field()

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(serializers.ErrorDetail("Nothing to change.", code="empty_change"))
        return attrs


class JournalAttachmentIn(StrictInput):
    file = serializers.FileField(help_text="A PNG, JPEG or WebP screenshot.")


class JournalAttachmentOut(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Where the owner downloads it (token authentication).")

    class Meta:
        model = JournalAttachment
        fields = ["id", "content_type", "size", "original_name", "created_at", "url"]
        read_only_fields = fields

    def get_url(self, attachment) -> str:
        return reverse("journal-attachment", kwargs={"entry_id": attachment.entry_id, "attachment_id": attachment.pk})


class JournalEntryOut(serializers.ModelSerializer):
    portfolio = serializers.UUIDField(source="portfolio_id")
    order = serializers.UUIDField(source="order_id", allow_null=True)
    trade = serializers.UUIDField(source="trade_id", allow_null=True)
    position = serializers.UUIDField(source="position_id", allow_null=True)
    symbol = serializers.CharField(source="instrument.symbol", allow_null=True, default=None)
    attachments = JournalAttachmentOut(many=True)

    class Meta:
        model = JournalEntry
        fields = ["id", "portfolio", "order", "trade", "position", "symbol", "title", "note", "tags", "attachments",
                  "created_at", "updated_at"]
        read_only_fields = fields
