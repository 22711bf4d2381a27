"""GET /api/history/tax: realized gains and losses by tax year as JSON, a Form 8949 CSV or a TXF
file for TurboTax (spec §12 "Tax Reporting"). Serializers for this one view live beside it."""
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from haunt.api.fields import money_serializer_field, quantity_serializer_field
from haunt.api.negotiation import JsonErrorsOnly
from haunt.api.serializers import StrictInput
from portfolios.models import CostBasisMethod
from reporting.exports.formats import BYTE_ORDER_MARK, export_filename
from reporting.tax.form8949 import BasisReporting, form8949_csv, txf_document
from reporting.tax.selectors import tax_report_for_user

TXF_PROGRAM = "Haunt Paper Trading"


class TaxQueryIn(StrictInput):
    portfolio = serializers.UUIDField()
    year = serializers.IntegerField(min_value=1970, max_value=9999, required=False,
                                    help_text="Tax year (the year sold); every year when left out.")
    format = serializers.ChoiceField(["json", "csv", "txf"], default="json")
    basis_reporting = serializers.ChoiceField(
        [choice.value for choice in BasisReporting], default=BasisReporting.REPORTED.value,
        help_text="How Form 1099-B reported the basis: reported (boxes A/D), not_reported (B/E), no_1099b (C/F).")


class Form8949RowOut(serializers.Serializer):
    sale_id = serializers.CharField()
    symbol = serializers.CharField()
    description = serializers.CharField(help_text="Form 8949 column (a).")
    quantity = quantity_serializer_field()
    date_acquired = serializers.DateField(help_text="Column (b); for a short sale, the cover date.")
    date_sold = serializers.DateField(help_text="Column (c).")
    proceeds = money_serializer_field(help_text="Column (d), net of the closing commission.")
    cost_basis = money_serializer_field(help_text="Column (e), commissions and carried wash-sale losses included.")
    adjustment_code = serializers.CharField(help_text="Column (f): W for a wash sale, else empty.")
    adjustment_amount = money_serializer_field(help_text="Column (g): the disallowed loss of a wash sale.")
    gain_or_loss = money_serializer_field(help_text="Column (h) = (d) − (e) + (g).")
    term = serializers.CharField()
    box = serializers.CharField()
    is_short_sale = serializers.BooleanField()
    is_wash_sale = serializers.BooleanField()
    tax_year = serializers.IntegerField()
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField()


class TaxTotalOut(serializers.Serializer):
    proceeds = money_serializer_field()
    cost_basis = money_serializer_field()
    adjustments = money_serializer_field()
    gain_or_loss = money_serializer_field()
    count = serializers.IntegerField()


class TaxReportOut(serializers.Serializer):
    portfolio = serializers.UUIDField(source="portfolio.pk")
    cost_basis_method = serializers.ChoiceField(CostBasisMethod.choices, source="portfolio.cost_basis_method")
    year = serializers.IntegerField(allow_null=True)
    years = serializers.ListField(child=serializers.IntegerField(), help_text="Every tax year with a disposal.")
    basis_reporting = serializers.CharField()
    totals = serializers.DictField(child=TaxTotalOut(), help_text="Per Form 8949 box.")
    rows = Form8949RowOut(many=True)


@extend_schema(
    tags=["history"], parameters=[TaxQueryIn],
    summary="Realized gains and losses by tax year (Form 8949 rows): JSON, Form 8949 CSV or TXF for TurboTax",
    description=(
        "One row per lot disposal under the portfolio's cost basis method: date acquired, date sold, proceeds, "
        "cost basis, gain or loss, short- or long-term (held more than one year), Form 8949 box, short sales "
        "flagged, wash sales coded W with the disallowed loss. Amounts in the instrument's quote currency."),
    responses={200: TaxReportOut, (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
               (200, "application/x-txf"): OpenApiResponse(OpenApiTypes.BINARY)},
)
class TaxReportView(APIView):
    content_negotiation_class = JsonErrorsOnly

    def get(self, request):
        payload = TaxQueryIn(data=request.query_params.dict())
        payload.is_valid(raise_exception=True)
        query = payload.validated_data
        report = tax_report_for_user(user=request.user, portfolio_id=query["portfolio"], year=query.get("year"),
                                     basis_reporting=BasisReporting(query["basis_reporting"]))
        if query["format"] == "json":
            return Response(TaxReportOut(report).data)
        now = timezone.now()
        parts = ["tax", report.portfolio.name, str(report.year or "all-years")]
        if query["format"] == "csv":
            response = HttpResponse(BYTE_ORDER_MARK + form8949_csv(report.rows), content_type="text/csv; charset=utf-8")
            filename = export_filename(parts=parts, extension="csv", now=now)
        else:
            response = HttpResponse(txf_document(report.rows, exported_on=now.date(), program=TXF_PROGRAM),
                                    content_type="application/x-txf; charset=utf-8")
            filename = export_filename(parts=parts, extension="txf", now=now)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
