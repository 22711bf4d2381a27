from django.contrib import admin

from haunt.admin_base import ReadOnlyModelAdmin
from haunt.market.models import Candle, Instrument


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    """The registry is seeded from haunt/market/universe.py on every start; admins may pause an instrument."""

    list_display = ["symbol", "name", "asset_class", "quote_currency", "tick_size", "lot_size", "liquidity_tier",
                    "trading_hours", "is_active"]
    list_filter = ["asset_class", "liquidity_tier", "trading_hours", "is_active"]
    search_fields = ["symbol", "name"]
    readonly_fields = ["symbol", "asset_class", "base_currency", "quote_currency", "tick_size", "lot_size",
                       "min_quantity", "contract_multiplier", "trading_hours", "underlying", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Candle)
class CandleAdmin(ReadOnlyModelAdmin):
    list_display = ["instrument", "resolution", "start", "open", "high", "low", "close", "volume"]
    list_filter = ["resolution", "instrument__asset_class"]
    search_fields = ["instrument__symbol"]
    date_hierarchy = "start"
    list_select_related = ["instrument"]
    show_full_result_count = False
