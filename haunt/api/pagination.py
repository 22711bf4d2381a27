"""Cursor pagination for every list: stable under inserts, no COUNT(*) over growing tables."""
from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-created_at", "-pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class SequenceCursorPagination(CursorPagination):
    """For append-only tables whose primary key is their order (the ledger)."""

    ordering = ("-pk",)
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
