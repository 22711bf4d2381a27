"""History exports (spec §12 "Export Formats", §14 GET /api/history/export): orders, trades,
closed positions and the ledger as CSV or JSON, streamed, and the PDF performance report.

Every row is the representation the history endpoints give, through the same serializers, so
an export and the API never disagree. CSV leaves out the nested lists (an order's fills and
history, a position's lots), which have their own exports, and a fill's explanation; JSON keeps them.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from rest_framework.serializers import Serializer
from rest_framework.utils.encoders import JSONEncoder

from haunt.errors import DomainError
from orders.selectors import order_list_for_user, trade_list_for_user
from orders.serializers import OrderOut, TradeOut
from portfolios.models import Position
from portfolios.selectors import ledger_list_for_user, portfolio_get_for_user, position_list_for_user
from portfolios.serializers import LedgerEntryOut, PositionOut
from reporting.exports.formats import csv_chunks, json_array_chunks
from reporting.history.serializers import OrderHistoryOut

ROWS_PER_QUERY = 500
KINDS = ("orders", "trades", "positions", "ledger")
FORMATS = ("csv", "json", "pdf")


@dataclass(frozen=True)
class ExportKind:
    json_serializer: type[Serializer]
    csv_serializer: type[Serializer]
    csv_columns: tuple[str, ...]
    date_field: str
    ordering: tuple[str, ...]
    json_prefetch: tuple[str, ...] = ()  # what only the JSON rows' nested lists read


def _columns(serializer: type[Serializer], *, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(name for name in serializer.Meta.fields if name not in without)


EXPORT_KINDS = {
    # The same order as each history endpoint: newest first.
    "orders": ExportKind(OrderHistoryOut, OrderOut, _columns(OrderOut), "created_at", ("-created_at", "-pk"),
                         json_prefetch=("events", "trades__instrument")),
    # A fill's explanation is a nested object whose keys depend on how it filled (book walk, resting
    # fill, liquidation, settlement), about 1,000 characters: a cell nobody can read, and no stable
    # columns to flatten it into. The JSON export keeps it.
    "trades": ExportKind(TradeOut, TradeOut, _columns(TradeOut, without=("explanation",)), "executed_at",
                         ("-executed_at", "-pk")),
    "positions": ExportKind(PositionOut, PositionOut, _columns(PositionOut, without=("lots",)), "closed_at",
                            ("-closed_at", "-pk")),
    "ledger": ExportKind(LedgerEntryOut, LedgerEntryOut, _columns(LedgerEntryOut), "created_at", ("-pk",)),
}


def export_queryset_for_user(*, user, kind: str, portfolio_id=None, symbol: str | None = None,
                             start: datetime | None = None, end: datetime | None = None) -> QuerySet:
    """The rows of one export, owner-scoped (a foreign portfolio is 404), archived portfolios
    included; ``start`` inclusive, ``end`` exclusive on the kind's date."""
    if portfolio_id is not None:
        portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    if kind == "orders":
        rows = order_list_for_user(user=user)
    elif kind == "trades":
        rows = trade_list_for_user(user=user)
    elif kind == "positions":
        rows = position_list_for_user(user=user, include_closed=True).filter(status=Position.Status.CLOSED)
    else:
        if portfolio_id is None:
            raise DomainError("The ledger is exported one portfolio at a time.", code="required", field="portfolio")
        rows = ledger_list_for_user(user=user, portfolio_id=portfolio_id)
    spec = EXPORT_KINDS[kind]
    if portfolio_id is not None and kind != "ledger":
        rows = rows.filter(portfolio_id=portfolio_id)
    if symbol and kind != "ledger":
        rows = rows.filter(instrument__symbol=symbol)
    if start is not None:
        rows = rows.filter(**{f"{spec.date_field}__gte": start})
    if end is not None:
        rows = rows.filter(**{f"{spec.date_field}__lt": end})
    return rows.order_by(*spec.ordering)


def _representations(rows: QuerySet, serializer: type[Serializer]) -> Iterator[dict]:
    for row in rows.iterator(chunk_size=ROWS_PER_QUERY):
        yield serializer(row).data


def export_chunks(*, rows: QuerySet, kind: str, file_format: str) -> Iterator[str]:
    spec = EXPORT_KINDS[kind]
    if file_format == "csv":
        return csv_chunks(spec.csv_columns, _representations(rows, spec.csv_serializer), rows_per_chunk=ROWS_PER_QUERY)
    encoder = JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    return json_array_chunks(_representations(rows.prefetch_related(*spec.json_prefetch), spec.json_serializer),
                             encode=encoder.encode, rows_per_chunk=ROWS_PER_QUERY)


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
    "txf": "text/plain; charset=utf-8",
}


def attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def streaming_response(*, chunks: Iterator[str], file_format: str, filename: str, is_asgi: bool) -> StreamingHttpResponse:
    """Stream the chunks, encoded as UTF-8. Under ASGI, Django would read a synchronous iterator
    into a list before sending it; an asynchronous one that fetches each chunk in the thread the
    view ran in (where its database connection lives) keeps the export streaming."""
    encoded = (chunk.encode("utf-8") for chunk in chunks)
    content = _asynchronous(encoded) if is_asgi else encoded
    return attachment(StreamingHttpResponse(content, content_type=CONTENT_TYPES[file_format]), filename)


_END = object()


async def _asynchronous(chunks: Iterator[bytes]):
    fetch = sync_to_async(next, thread_sensitive=True)
    while (chunk := await fetch(chunks, _END)) is not _END:
        yield chunk
