from django.contrib import admin

from haunt.admin_base import ReadOnlyModelAdmin
from orders.models import Order, OrderEvent, Trade


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    fields = ["created_at", "kind", "detail"]
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "portfolio", "instrument", "side", "order_type", "quantity", "filled_quantity",
                    "status"]
    list_filter = ["status", "order_type", "side", "time_in_force", "instrument__asset_class"]
    search_fields = ["id", "client_order_id", "instrument__symbol", "portfolio__name"]
    list_select_related = ["portfolio", "instrument"]
    inlines = [OrderEventInline]


@admin.register(Trade)
class TradeAdmin(ReadOnlyModelAdmin):
    list_display = ["executed_at", "portfolio", "instrument", "side", "quantity", "price", "fee", "liquidity"]
    list_filter = ["side", "liquidity", "instrument__asset_class"]
    search_fields = ["id", "order__id", "instrument__symbol"]
    list_select_related = ["portfolio", "instrument"]
