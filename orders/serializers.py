from decimal import Decimal

from rest_framework import serializers

from haunt.api.fields import RoundedDecimalField, price_serializer_field, quantity_serializer_field
from haunt.api.serializers import FastOutput, StrictInput
from orders.models import Order, OrderEvent, OrderType, Side, TimeInForce, Trade, TriggerSource


class TakeProfitIn(StrictInput):
    limit_price = price_serializer_field(min_value=Decimal("0.0000000001"))


class StopLossIn(StrictInput):
    """A stop (stop_price), a stop limit (stop_price and limit_price) or a trailing stop (one trail)."""

    stop_price = price_serializer_field(min_value=Decimal("0.0000000001"), required=False)
    limit_price = price_serializer_field(min_value=Decimal("0.0000000001"), required=False)
    trail_amount = price_serializer_field(min_value=Decimal("0.0000000001"), required=False)
    trail_percent = RoundedDecimalField(max_digits=8, decimal_places=4, min_value=Decimal("0.01"),
                                        max_value=Decimal("99"), required=False)


class OrderPlaceIn(StrictInput):
    read_only_names = ("id", "status", "filled_quantity", "average_fill_price", "fees_paid", "created_at")

    portfolio = serializers.UUIDField()
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(Side.choices)
    order_class = serializers.ChoiceField(["simple", "oco", "bracket"], default="simple",
                                          help_text="simple: one order; oco: take_profit + stop_loss exits linked "
                                                    "one-cancels-other; bracket: this entry plus both exits.")
    order_type = serializers.ChoiceField(OrderType.choices, required=False)
    take_profit = TakeProfitIn(required=False)
    stop_loss = StopLossIn(required=False)
    quantity = quantity_serializer_field(min_value=Decimal("0.0000000001"))
    time_in_force = serializers.ChoiceField(TimeInForce.choices, default=TimeInForce.GTC)
    limit_price = price_serializer_field(min_value=Decimal("0.0000000001"), required=False, allow_null=True)
    stop_price = price_serializer_field(min_value=Decimal("0.0000000001"), required=False, allow_null=True)
    trail_amount = price_serializer_field(min_value=Decimal("0.0000000001"), required=False, allow_null=True)
    trail_percent = RoundedDecimalField(max_digits=8, decimal_places=4, min_value=Decimal("0.01"),
                                        max_value=Decimal("99"), required=False, allow_null=True)
    trigger_source = serializers.ChoiceField(TriggerSource.choices, default=TriggerSource.LAST)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    client_order_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    reduce_only = serializers.BooleanField(default=False)
    post_only = serializers.BooleanField(default=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=32), max_length=20, required=False)
    lot_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=100, required=False,
        help_text="Specific identification: open lots (a position's `lots[].id`) this closing order closes first, "
                  "in this order; any rest follows the portfolio's cost basis method. Not with average cost.")
    leverage = RoundedDecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal(1), max_value=Decimal(100), required=False,
        allow_null=True, help_text="Leverage of the position this order opens or adds to, within the asset class "
                                   "maximum and (perpetuals) the position's notional tier. Default: the position's, "
                                   "or the portfolio's default_leverage for the class.")
    margin_mode = serializers.ChoiceField(["cross", "isolated"], required=False, allow_blank=True, default="",
                                          help_text="Margin mode of a new position (default cross).")

    def validate(self, attrs):
        """Which fields each order_class takes. The rules of an order's own shape (prices by type,
        GTD and expires_at, post-only, the stop-loss leg) are the domain's: orders.requests,
        checked by the service whichever door the order comes in by."""
        order_class = attrs["order_class"]
        if attrs.get("lot_ids") and order_class == "oco":
            raise serializers.ValidationError({"lot_ids": serializers.ErrorDetail(
                "Only a simple order can name lots.", code="not_allowed")})
        if order_class == "simple":
            for name in ("take_profit", "stop_loss"):
                if name in attrs:
                    raise serializers.ValidationError({name: serializers.ErrorDetail(
                        "Only oco and bracket orders take exits.", code="not_allowed")})
        else:
            for name in ("take_profit", "stop_loss"):
                if name not in attrs:
                    raise serializers.ValidationError({name: serializers.ErrorDetail(
                        f"{'An' if order_class == 'oco' else 'A'} {order_class} order needs {name}.",
                        code="required")})
        if order_class == "oco":
            # Other brokers' OCO bodies carry the first leg's type, limit: accepted, as it says nothing new.
            if attrs.get("order_type") not in (None, OrderType.LIMIT):
                raise serializers.ValidationError({"order_type": serializers.ErrorDetail(
                    "An oco order's order_type, when given, is limit: the type of its take_profit leg.",
                    code="not_allowed")})
            attrs.pop("order_type", None)
            for name in ("limit_price", "stop_price", "trail_amount", "trail_percent"):
                if attrs.get(name) is not None:
                    raise serializers.ValidationError({name: serializers.ErrorDetail(
                        "An oco order is defined by take_profit and stop_loss.", code="not_allowed")})
        elif attrs.get("order_type") is None:
            raise serializers.ValidationError({"order_type": serializers.ErrorDetail(
                "This field is required.", code="required")})
        return attrs


class OrderEventOut(FastOutput, serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["kind", "detail", "created_at"]
        read_only_fields = fields


class OrderOut(FastOutput, serializers.ModelSerializer):
    portfolio = serializers.UUIDField(source="portfolio_id")
    symbol = serializers.CharField(source="instrument.symbol")
    asset_class = serializers.CharField(source="instrument.asset_class")
    remaining_quantity = quantity_serializer_field()
    linked_order = serializers.UUIDField(source="linked_order_id", allow_null=True)
    parent = serializers.UUIDField(source="parent_id", allow_null=True)
    position = serializers.UUIDField(source="position_id", allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id", "portfolio", "client_order_id", "symbol", "asset_class", "side", "order_type", "time_in_force",
            "status", "reject_reason", "quantity", "filled_quantity", "remaining_quantity", "average_fill_price",
            "limit_price", "stop_price", "trail_amount", "trail_percent", "high_water_mark", "trigger_source",
            "reduce_only", "post_only", "leverage", "margin_mode", "role", "linked_order", "parent", "group_id", "position", "realism_profile",
            "arrival_price", "latency_ms", "execute_after", "expires_at", "tags", "lot_ids", "warnings", "fees_paid",
            "triggered_at", "filled_at", "cancelled_at", "created_at", "updated_at",
        ]
        read_only_fields = fields


class OrderDetailOut(OrderOut):
    history = OrderEventOut(source="events", many=True)

    class Meta(OrderOut.Meta):
        fields = [*OrderOut.Meta.fields, "history"]
        read_only_fields = fields


class TradeOut(FastOutput, serializers.ModelSerializer):
    order = serializers.UUIDField(source="order_id")
    portfolio = serializers.UUIDField(source="portfolio_id")
    position = serializers.UUIDField(source="position_id", allow_null=True)
    symbol = serializers.CharField(source="instrument.symbol")

    class Meta:
        model = Trade
        fields = ["id", "order", "portfolio", "position", "symbol", "side", "quantity", "price", "fee", "slippage",
                  "liquidity", "realized_pnl", "explanation", "executed_at"]
        read_only_fields = fields
        extra_kwargs = {"realized_pnl": {"help_text": "Gross: the price move of what this fill closed, before fees "
                                                      "(its own fee is `fee`)."}}


class OrderModifyIn(StrictInput):
    quantity = quantity_serializer_field(min_value=Decimal("0.0000000001"), required=False)
    limit_price = price_serializer_field(min_value=Decimal("0.0000000001"), required=False)
    stop_price = price_serializer_field(min_value=Decimal("0.0000000001"), required=False)
    trail_amount = price_serializer_field(min_value=Decimal("0.0000000001"), required=False)
    trail_percent = RoundedDecimalField(max_digits=8, decimal_places=4, min_value=Decimal("0.01"),
                                        max_value=Decimal("99"), required=False)
    expires_at = serializers.DateTimeField(required=False)


class PositionExitsIn(StrictInput):
    """PUT /api/positions/{id}: the stop-loss and take-profit prices (null removes one)."""

    stop_loss = price_serializer_field(min_value=Decimal("0.0000000001"), required=False, allow_null=True)
    take_profit = price_serializer_field(min_value=Decimal("0.0000000001"), required=False, allow_null=True)


class ClosePartialIn(StrictInput):
    quantity = quantity_serializer_field(min_value=Decimal("0.0000000001"))


class PositionSizeIn(StrictInput):
    portfolio = serializers.UUIDField()
    symbol = serializers.CharField(max_length=32)
    entry_price = price_serializer_field(min_value=Decimal("0.0000000001"))
    stop_price = price_serializer_field(min_value=Decimal("0.0000000001"))
    risk_pct = RoundedDecimalField(max_digits=6, decimal_places=3, min_value=Decimal("0.001"),
                                   max_value=Decimal("100"), required=False,
                                   help_text="Percent of equity to risk; default: the portfolio's risk_per_trade_pct.")


class PositionSizeOut(serializers.Serializer):
    quantity = quantity_serializer_field()
    risk_amount = serializers.CharField()
    risk_per_unit = serializers.CharField()
    notional = serializers.CharField()
    equity = serializers.CharField()
    risk_pct = serializers.CharField()
