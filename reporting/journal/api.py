"""The trade journal API (spec §12 "Trade Journal"): /api/journal entries with search and
filters, and their screenshot attachments."""
from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from haunt.api.schema import error_response
from reporting.journal.filters import JournalEntryFilter
from reporting.journal.selectors import (
    journal_attachment_get_for_user,
    journal_entry_get_for_user,
    journal_entry_list_for_user,
)
from reporting.journal.serializers import (
    JournalAttachmentIn,
    JournalAttachmentOut,
    JournalEntryCreateIn,
    JournalEntryOut,
    JournalEntryUpdateIn,
)
from reporting.journal.services import (
    FileTooLarge,
    journal_attachment_add,
    journal_attachment_delete,
    journal_entry_create,
    journal_entry_delete,
    journal_entry_update,
)
from reporting.models import JournalEntry

UUID_PATTERN = r"[0-9a-fA-F-]{32,36}"
# Multipart framing around the file: a request longer than the limit plus this cannot be a valid upload.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@extend_schema_view(
    list=extend_schema(summary="Your journal entries, newest first: search (q), tag, symbol, date, portfolio, "
                               "order, trade, position"),
    retrieve=extend_schema(summary="One journal entry with its attachments"),
)
@extend_schema(tags=["journal"])
class JournalEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = JournalEntryOut
    filterset_class = JournalEntryFilter
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return JournalEntry.objects.none()
        return journal_entry_list_for_user(user=self.request.user)

    def get_object(self):
        return journal_entry_get_for_user(user=self.request.user, entry_id=self.kwargs["pk"])

    @extend_schema(request=JournalEntryCreateIn, responses={201: JournalEntryOut},
                   summary="Write a note (title, text, tags) on a portfolio, or on one of its orders, trades or positions")
    def create(self, request):
        payload = JournalEntryCreateIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        entry = journal_entry_create(
            user=request.user, portfolio_id=data.get("portfolio"), order_id=data.get("order"),
            trade_id=data.get("trade"), position_id=data.get("position"), title=data["title"], note=data["note"],
            tags=data.get("tags", ()))
        return Response(JournalEntryOut(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=JournalEntryUpdateIn, responses=JournalEntryOut,
                   summary="Change an entry's title, note or tags")
    def update(self, request, pk=None):
        payload = JournalEntryUpdateIn(data=request.data)
        payload.is_valid(raise_exception=True)
        journal_entry_update(user=request.user, entry_id=pk, **payload.validated_data)
        return Response(JournalEntryOut(self.get_object()).data)

    @extend_schema(request=JournalEntryUpdateIn, responses=JournalEntryOut, summary="Same as PUT")
    def partial_update(self, request, pk=None):
        return self.update(request, pk)

    @extend_schema(request=None, responses={204: None}, summary="Delete an entry and its attachments")
    def destroy(self, request, pk=None):
        journal_entry_delete(user=request.user, entry_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["journal"], request={"multipart/form-data": JournalAttachmentIn},
               responses={201: JournalAttachmentOut, 413: error_response("413")},
               summary="Attach a screenshot (multipart field `file`): PNG, JPEG or WebP, checked by content, "
                       "at most JOURNAL_ATTACHMENT_MAX_BYTES (5 MB)")
class JournalAttachmentUploadView(APIView):
    parser_classes = [MultiPartParser]

    def post(self, request, entry_id):
        limit = settings.JOURNAL_ATTACHMENT_MAX_BYTES
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + MULTIPART_OVERHEAD_BYTES:
            raise FileTooLarge(f"Screenshots are limited to {limit} bytes.", field="file")  # before reading the body
        payload = JournalAttachmentIn(data=request.data)
        payload.is_valid(raise_exception=True)
        attachment = journal_attachment_add(user=request.user, entry_id=entry_id,
                                            upload=payload.validated_data["file"], max_bytes=limit)
        return Response(JournalAttachmentOut(attachment).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["journal"])
class JournalAttachmentView(APIView):
    @extend_schema(responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY)},
                   summary="Download a screenshot (served as an attachment, to its owner only)")
    def get(self, request, entry_id, attachment_id):
        attachment = journal_attachment_get_for_user(user=request.user, entry_id=entry_id, attachment_id=attachment_id)
        extension = attachment.file.name.rsplit(".", 1)[-1]
        return FileResponse(attachment.file.open("rb"), as_attachment=True, content_type=attachment.content_type,
                            filename=attachment.original_name or f"{attachment.pk}.{extension}")

    @extend_schema(request=None, responses={204: None}, summary="Delete a screenshot")
    def delete(self, request, entry_id, attachment_id):
        journal_attachment_delete(user=request.user, entry_id=entry_id, attachment_id=attachment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
