"""Encoding API rows as CSV that opens cleanly in Excel, and as a streamed JSON array (spec §12
"Export Formats"). No Django: the export views hand in plain dicts, already in the API's
representation (decimals and datetimes as strings), and stream the chunks these functions yield.

CSV rules:

- UTF-8 with a byte order mark, so Excel detects the encoding; CRLF line ends (RFC 4180).
- A cell is the API value as text: decimals stay the exact strings the API sends (no float
  round trip), datetimes stay ISO 8601, ``None`` is empty, booleans are ``true``/``false``, and
  lists and objects are compact JSON.
- Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
  carriage return) gets a leading apostrophe (OWASP "CSV injection"). Numbers are never touched, so
  ``-12.5`` stays a number.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import islice

from haunt.api.formatting import decimal_text

BYTE_ORDER_MARK = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    if isinstance(value, Decimal):
        return decimal_text(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def csv_chunks(columns: Sequence[str], rows: Iterable[dict], *, rows_per_chunk: int = 500) -> Iterator[str]:
    """The header (after the byte order mark), then the rows ``rows_per_chunk`` at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield BYTE_ORDER_MARK + _drain(buffer)
    rows = iter(rows)
    while batch := list(islice(rows, rows_per_chunk)):
        writer.writerows([csv_cell(row.get(column)) for column in columns] for row in batch)
        yield _drain(buffer)


def json_array_chunks(rows: Iterable[dict], *, encode: Callable[[dict], str], rows_per_chunk: int = 500) -> Iterator[str]:
    """``[row,row,...]`` with each row encoded by ``encode``, ``rows_per_chunk`` rows at a time."""
    yield "["
    rows = iter(rows)
    separator = ""
    while batch := list(islice(rows, rows_per_chunk)):
        yield separator + ",".join(encode(row) for row in batch)
        separator = ","
    yield "]"


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def export_filename(*, parts: Sequence[str], extension: str, now: datetime) -> str:
    """``haunt-<part>-...-<YYYYMMDD>.<ext>`` in lowercase ASCII letters, digits and dashes, so
    it is safe in a Content-Disposition header on every platform."""
    words = ["haunt", *parts, now.strftime("%Y%m%d")]
    slug = "-".join(re.sub(r"[^A-Za-z0-9]+", "-", word).strip("-").lower() or "x" for word in words)
    return f"{slug}.{extension}"
