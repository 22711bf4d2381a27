from decimal import Decimal

from rest_framework import serializers

from derivatives.models import FundingPayment, FundingRate, InsuranceFundEntry, Liquidation, MarginEvent
from haunt.api.fields import RoundedDecimalField, money_serializer_field
from haunt.api.serializers import FastOutput, StrictInput


class MarginAdjustIn(StrictInput):
    """POST /api/positions/{id}/margin: margin to add (positive) or remove (negative)."""

    amount = money_serializer_field()


class WarningLadderIn(StrictInput):
    """PUT /api/portfolio/{id}/liquidation-warnings: the margin-use percentages that warn."""

    thresholds = serializers.ListField(
        child=RoundedDecimalField(max_digits=5, decimal_places=2, min_value=Decimal(1), max_value=Decimal("99.99")),
        min_length=1, max_length=5)

    def validate_thresholds(self, value):
        if any(later <= earlier for earlier, later in zip(value, value[1:])):
            raise serializers.ValidationError("Thresholds must increase.", code="not_increasing")
        return value


class TierOut(serializers.Serializer):
    tier = serializers.IntegerField()
    notional_floor = serializers.CharField()
    notional_cap = serializers.CharField(allow_null=True)
    max_leverage = serializers.CharField()
    initial_margin_rate = serializers.CharField()
    maintenance_margin_rate = serializers.CharField()
    maintenance_amount = serializers.CharField(help_text="Binance's cum: maintenance = notional × rate − this.")


class TiersOut(serializers.Serializer):
    symbol = serializers.CharField()
    tiers = TierOut(many=True)


class FundingRateOut(FastOutput, serializers.ModelSerializer):
    class Meta:
        model = FundingRate
        fields = ["funding_time", "rate", "average_premium", "samples", "mark_price", "index_price",
                  "settled_positions"]
        read_only_fields = fields


class FundingOut(serializers.Serializer):
    symbol = serializers.CharField()
    next_funding_time = serializers.DateTimeField()
    predicted_rate = serializers.CharField()
    predicted_from_samples = serializers.IntegerField()
    interest_rate = serializers.CharField()
    mark_price = serializers.CharField(allow_null=True)
    index_price = serializers.CharField(allow_null=True)
    history = FundingRateOut(many=True)


class FundingPaymentOut(FastOutput, serializers.ModelSerializer):
    funding_time = serializers.DateTimeField(source="funding_rate.funding_time")
    symbol = serializers.CharField(source="position.instrument.symbol")
    position = serializers.UUIDField(source="position_id")
    portfolio = serializers.UUIDField(source="portfolio_id")

    class Meta:
        model = FundingPayment
        fields = ["id", "funding_time", "symbol", "position", "portfolio", "side", "quantity", "mark_price", "rate",
                  "amount", "created_at"]
        read_only_fields = fields


class FundEntryOut(FastOutput, serializers.ModelSerializer):
    liquidation = serializers.IntegerField(source="liquidation_id", allow_null=True)

    class Meta:
        model = InsuranceFundEntry
        fields = ["id", "kind", "amount", "balance_after", "liquidation", "created_at"]
        read_only_fields = fields


class InsuranceFundOut(serializers.Serializer):
    currency = serializers.CharField()
    balance = serializers.CharField()
    history = FundEntryOut(many=True)


class LiquidationOut(FastOutput, serializers.ModelSerializer):
    position = serializers.UUIDField(source="position_id")
    portfolio = serializers.UUIDField(source="portfolio_id")
    symbol = serializers.CharField(source="position.instrument.symbol")

    class Meta:
        model = Liquidation
        fields = ["id", "portfolio", "position", "symbol", "kind", "margin_mode", "side", "quantity", "mark_price",
                  "bankruptcy_price", "margin_ratio", "fills", "realized_pnl", "fee", "fund_draw", "uncovered",
                  "adl_counterparties", "takeover_quantity", "takeover_closed_quantity", "takeover_close_price",
                  "created_at"]
        read_only_fields = fields


class MarginEventOut(FastOutput, serializers.ModelSerializer):
    position = serializers.UUIDField(source="position_id")
    portfolio = serializers.UUIDField(source="portfolio_id")

    class Meta:
        model = MarginEvent
        fields = ["id", "portfolio", "position", "reason", "margin_mode", "leverage", "change", "margin_after",
                  "detail", "created_at"]
        read_only_fields = fields


class PositionMarginOut(serializers.Serializer):
    position = serializers.UUIDField()
    margin_mode = serializers.CharField()
    leverage = serializers.CharField()
    mark_price = serializers.CharField()
    notional = serializers.CharField()
    unrealized_pnl = serializers.CharField()
    initial_margin = serializers.CharField()
    maintenance_margin = serializers.CharField()
    margin_balance = serializers.CharField()
    margin_ratio = serializers.CharField(allow_null=True)
    liquidation_price = serializers.CharField(allow_null=True)
    bankruptcy_price = serializers.CharField(allow_null=True)


class MarginOut(serializers.Serializer):
    portfolio = serializers.UUIDField()
    equity = serializers.CharField()
    wallet_balance = serializers.CharField()
    margin_used = serializers.CharField()
    margin_available = serializers.CharField()
    buying_power = serializers.CharField()
    margin_level = serializers.CharField(allow_null=True, help_text="equity / margin used (1.5 = 150%)")
    cross_margin_balance = serializers.CharField()
    cross_maintenance_margin = serializers.CharField()
    cross_margin_ratio = serializers.CharField(allow_null=True)
    positions = PositionMarginOut(many=True)
