from django.contrib import admin

from haunt.admin_base import ReadOnlyModelAdmin
from options_trading.models import OptionContract, OptionEvent


@admin.register(OptionContract)
class OptionContractAdmin(ReadOnlyModelAdmin):
    list_display = ["instrument", "underlying", "option_type", "strike", "expiry", "style", "settlement",
                    "settled_at", "settlement_price"]
    list_filter = ["option_type", "style", "settlement", "underlying__symbol"]
    search_fields = ["instrument__symbol", "underlying__symbol"]
    list_select_related = ["instrument", "underlying"]


@admin.register(OptionEvent)
class OptionEventAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "portfolio", "contract", "kind", "quantity", "underlying_price", "cash_amount"]
    list_filter = ["kind"]
    search_fields = ["contract__instrument__symbol", "portfolio__name"]
    list_select_related = ["portfolio", "contract__instrument"]
