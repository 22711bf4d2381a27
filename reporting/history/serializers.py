"""The history endpoints' own output shape: an order with its fills (trades and closed positions
render as the trading endpoints render them, TradeOut and PositionOut)."""
from orders.serializers import OrderDetailOut, TradeOut


class OrderHistoryOut(OrderDetailOut):
    """An order with its modification history and every fill (GET /api/history/orders)."""

    fills = TradeOut(source="trades", many=True)

    class Meta(OrderDetailOut.Meta):
        fields = [*OrderDetailOut.Meta.fields, "fills"]
        read_only_fields = fields
