from django.contrib import admin

from haunt.admin_base import ReadOnlyModelAdmin
from portfolios.models import LedgerEntry, Portfolio, Position, PositionLot
from portfolios.services import portfolio_archive


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["created_at", "kind", "amount", "balance_after", "reference", "description"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-id"]
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Portfolio)
class PortfolioAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "owner", "base_currency", "cash", "visibility", "is_archived", "created_at"]
    list_filter = ["base_currency", "visibility", "is_archived", "is_competition"]
    search_fields = ["name", "owner__username"]
    inlines = [LedgerEntryInline]
    actions = ["archive"]

    # Every write goes through portfolios.services, so the admin views and archives but never edits rows.
    @admin.action(description="Archive selected portfolios (moderation; history is kept)")
    def archive(self, request, queryset):
        archived = 0
        for portfolio in queryset.filter(is_archived=False):
            portfolio_archive(user=portfolio.owner, portfolio_id=portfolio.pk)
            archived += 1
        self.message_user(request, f"Archived {archived} portfolio(s).")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyModelAdmin):
    """The ledger is append-only and written by services alone."""

    list_display = ["created_at", "portfolio", "kind", "amount", "balance_after", "reference"]
    list_filter = ["kind"]
    search_fields = ["portfolio__name", "reference"]


class PositionLotInline(admin.TabularInline):
    model = PositionLot
    fields = ["opened_at", "quantity", "original_quantity", "price", "open_fee"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Position)
class PositionAdmin(ReadOnlyModelAdmin):
    """Positions change only through fills."""

    list_display = ["opened_at", "portfolio", "instrument", "side", "quantity", "average_entry_price", "status"]
    list_filter = ["status", "side", "instrument__asset_class"]
    search_fields = ["portfolio__name", "instrument__symbol"]
    list_select_related = ["portfolio", "instrument"]
    inlines = [PositionLotInline]
