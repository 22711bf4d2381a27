"""GET /api/history/export (spec §14 History). Its input serializer lives here, beside the one view
that reads it. `format` names the file format, so DRF's own `?format=` renderer override is
switched off for this view (its errors are always JSON)."""
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from haunt.api.negotiation import JsonErrorsOnly
from haunt.api.serializers import StrictInput
from portfolios.selectors import portfolio_get_for_user
from reporting.exports.formats import export_filename
from reporting.exports.pdf import portfolio_report_pdf
from reporting.exports.streaming import (
    CONTENT_TYPES,
    FORMATS,
    KINDS,
    attachment,
    export_chunks,
    export_queryset_for_user,
    streaming_response,
)


class ExportQueryIn(StrictInput):
    format = serializers.ChoiceField(FORMATS)
    kind = serializers.ChoiceField(KINDS, required=False)
    portfolio = serializers.UUIDField(required=False)
    symbol = serializers.CharField(max_length=32, required=False)
    start = serializers.DateTimeField(required=False, help_text="Inclusive, ISO 8601.")
    end = serializers.DateTimeField(required=False, help_text="Exclusive, ISO 8601.")

    def validate(self, attrs):
        if attrs["format"] == "pdf":
            if "portfolio" not in attrs:
                raise serializers.ValidationError({"portfolio": serializers.ErrorDetail(
                    "The PDF report is for one portfolio.", code="required")})
            if "kind" in attrs or "symbol" in attrs:
                name = "kind" if "kind" in attrs else "symbol"
                raise serializers.ValidationError({name: serializers.ErrorDetail(
                    "The PDF report covers the whole portfolio.", code="not_allowed")})
        elif "kind" not in attrs:
            raise serializers.ValidationError({"kind": serializers.ErrorDetail(
                "Choose what to export: orders, trades, positions or ledger.", code="required")})
        if "start" in attrs and "end" in attrs and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": serializers.ErrorDetail(
                "end must be after start.", code="invalid")})
        return attrs


@extend_schema(
    tags=["history"],
    summary="Export orders, trades, closed positions or the ledger as CSV or JSON (streamed), or the PDF report",
    description=(
        "CSV: UTF-8 with a byte order mark, ISO 8601 dates, decimals as the exact strings the API sends; "
        "nested lists (fills, order history, lots) and a fill's explanation are left out. JSON: an array of the history endpoints' "
        "representation. PDF (one portfolio, no kind): summary metrics, equity curve, drawdown, monthly "
        "returns and the trade list. Archived portfolios included; newest first."),
    parameters=[
        OpenApiParameter("format", OpenApiTypes.STR, enum=list(FORMATS), required=True),
        OpenApiParameter("kind", OpenApiTypes.STR, enum=list(KINDS), description="Required for csv and json."),
        OpenApiParameter("portfolio", OpenApiTypes.UUID, description="Required for the ledger and the PDF."),
        OpenApiParameter("symbol", OpenApiTypes.STR),
        OpenApiParameter("start", OpenApiTypes.DATETIME, description="Inclusive."),
        OpenApiParameter("end", OpenApiTypes.DATETIME, description="Exclusive."),
    ],
    responses={(200, media_type): OpenApiResponse(OpenApiTypes.BINARY) for media_type in
               ("text/csv", "application/json", "application/pdf")},
)
class ExportView(APIView):
    content_negotiation_class = JsonErrorsOnly

    def get(self, request):
        payload = ExportQueryIn(data=request.query_params.dict())
        payload.is_valid(raise_exception=True)
        query = payload.validated_data
        file_format, portfolio_id = query["format"], query.get("portfolio")
        if file_format == "pdf":
            portfolio, document = portfolio_report_pdf(user=request.user, portfolio_id=portfolio_id,
                                                       start=query.get("start"), end=query.get("end"))
            filename = export_filename(parts=["report", portfolio.name], extension="pdf", now=timezone.now())
            return attachment(HttpResponse(document, content_type=CONTENT_TYPES["pdf"]), filename)
        rows = export_queryset_for_user(user=request.user, kind=query["kind"], portfolio_id=portfolio_id,
                                        symbol=query.get("symbol"), start=query.get("start"), end=query.get("end"))
        portfolio_name = portfolio_get_for_user(user=request.user, portfolio_id=portfolio_id).name \
            if portfolio_id else "all portfolios"
        return streaming_response(
            chunks=export_chunks(rows=rows, kind=query["kind"], file_format=file_format), file_format=file_format,
            filename=export_filename(parts=[query["kind"], portfolio_name], extension=file_format, now=timezone.now()),
            is_asgi=hasattr(request, "scope"))
