"""Input and output serializers of the derivatives app. Every response and event payload of the
app is one of the `...Out` serializers below: they write the decimals (haunt.api.fields)."""
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from derivatives.models import FundingPayment, FundingRate, InsuranceFundEntry, Liquidation, MarginEvent
from haunt.api.fields import DecimalOut, RoundedDecimalField, money_out, money_serializer_field, price_out, rate_out
from haunt.api.serializers import FastOutput, StrictInput
from portfolios.models import MarginMode


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


class TierOut(FastOutput, serializers.Serializer):
    """One bracket of a perpetual's leverage table, floor ≤ notional < cap (a portfolios.accounting.margin.LeverageTier)."""

    tier = serializers.IntegerField(source="number")
    notional_floor = DecimalOut()
    notional_cap = DecimalOut(allow_null=True, help_text="null: the last tier has no upper bound.")
    max_leverage = DecimalOut()
    initial_margin_rate = DecimalOut(source="initial_rate")
    maintenance_margin_rate = DecimalOut(source="maintenance_rate")
    maintenance_amount = DecimalOut(help_text="Binance's cum: maintenance = notional × rate − this.")


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
    predicted_rate = rate_out()
    predicted_from_samples = serializers.IntegerField()
    interest_rate = rate_out()
    mark_price = DecimalOut(allow_null=True, help_text="The live mark, at the perpetual's tick size.")
    index_price = DecimalOut(allow_null=True, help_text="The live index, at the perpetual's tick size.")
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
    balance = money_out()
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


class MarginRatioOut(DecimalOut):
    """Maintenance margin over margin balance to 6 places; null when the balance is gone (an
    infinite ratio: the position is due for liquidation)."""

    def __init__(self, **options):
        super().__init__(6, allow_null=True, **options)

    def get_attribute(self, instance):
        ratio = super().get_attribute(instance)
        return None if ratio.is_infinite() else ratio


class PositionMarginOut(FastOutput, serializers.Serializer):
    """A margined position's margin at the live mark (a portfolios.accounting.account.PositionMargin)."""

    position = serializers.UUIDField(source="row.key")
    margin_mode = serializers.SerializerMethodField(help_text="cross or isolated (as the position's margin_mode).")
    leverage = DecimalOut(source="row.leverage")
    mark_price = DecimalOut(source="row.mark_price")
    notional = money_out(source="row.notional")
    unrealized_pnl = money_out(source="row.unrealized_pnl")
    initial_margin = money_out()
    maintenance_margin = money_out()
    margin_balance = money_out()
    margin_ratio = MarginRatioOut()
    liquidation_price = price_out(allow_null=True)
    bankruptcy_price = price_out(allow_null=True)

    # Typed as a plain string: a third margin_mode enum would rename PositionOutMarginModeEnum in the schema.
    @extend_schema_field(OpenApiTypes.STR)
    def get_margin_mode(self, entry) -> str:
        return MarginMode.ISOLATED.value if entry.row.is_isolated else MarginMode.CROSS.value


class MarginOut(FastOutput, serializers.Serializer):
    """A portfolio's margin account at the live marks, as GET /api/portfolio/{id}/margin and the
    MarginUpdate event carry it (a derivatives.selectors.PortfolioMargin)."""

    portfolio = serializers.UUIDField(source="portfolio.pk")
    equity = money_out(source="account.equity")
    wallet_balance = money_out(source="account.wallet_balance")
    margin_used = money_out(source="account.margin_used")
    margin_available = money_out(source="account.margin_available")
    buying_power = money_out(help_text="Margin available, or 0 when it is negative.")
    margin_level = DecimalOut(4, source="account.margin_level", allow_null=True,
                              help_text="equity / margin used (1.5 = 150%)")
    cross_margin_balance = money_out(source="account.cross_margin_balance")
    cross_maintenance_margin = money_out(source="account.cross_maintenance_margin")
    cross_margin_ratio = MarginRatioOut(source="account.cross_margin_ratio")
    positions = PositionMarginOut(source="account.positions", many=True)


class LiquidationWarningOut(serializers.Serializer):
    """LiquidationWarning: a position's margin use crossed a threshold of its portfolio's ladder.
    The figures are the watcher's (floats from its numpy sweep)."""

    portfolio = serializers.UUIDField()
    position = serializers.UUIDField()
    symbol = serializers.CharField()
    threshold = DecimalOut(2, help_text="The ladder's step that was crossed, as a fraction of maintenance margin use "
                                        "(0.80: 80%).")
    margin_ratio = DecimalOut(6)
    liquidation_price = DecimalOut(10, allow_null=True)
    price_move_to_liquidation = DecimalOut(6, allow_null=True)
