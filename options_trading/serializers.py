"""Input and output serializers of the options app. Every response and event payload of the app
is one of the `...Out` serializers below: they write the decimals (haunt.api.fields)."""
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from haunt.api.fields import (
    DecimalOut,
    RoundedDecimalField,
    money_out,
    money_serializer_field,
    price_serializer_field,
    quantity_serializer_field,
    rate_serializer_field,
)
from haunt.api.serializers import FastOutput, StrictInput
from options_trading.market import GREEK_PLACES

POSITIVE = Decimal("0.0000000001")
STYLES = [("european", "European"), ("american", "American")]
TYPES = [("call", "Call"), ("put", "Put")]


class OptionChainIn(StrictInput):
    expiry = serializers.DateField(required=False, help_text="Expiration date; default: the nearest listed.")
    strikes = serializers.IntegerField(required=False, min_value=1, max_value=200,
                                       help_text="Keep this many strikes nearest the money; default: all.")


class OptionTermsIn(StrictInput):
    option_type = serializers.ChoiceField(TYPES)
    style = serializers.ChoiceField(STYLES, default="european")
    spot = price_serializer_field(min_value=POSITIVE)
    strike = price_serializer_field(min_value=POSITIVE)
    time_to_expiry = RoundedDecimalField(max_digits=16, decimal_places=10, min_value=Decimal(0),
                                         max_value=Decimal(100), help_text="Years (0.25 is three months).")
    rate = rate_serializer_field(default=Decimal(0), min_value=Decimal(-1), max_value=Decimal(1),
                                 help_text="Continuously compounded annual rate (0.04 = 4%).")
    dividend_yield = rate_serializer_field(default=Decimal(0), min_value=Decimal(-1), max_value=Decimal(1))


class OptionPriceIn(OptionTermsIn):
    volatility = rate_serializer_field(min_value=Decimal(0), max_value=Decimal(10),
                                       help_text="Annual volatility (0.25 = 25%).")


class OptionImpliedVolatilityIn(OptionTermsIn):
    price = price_serializer_field(min_value=Decimal(0), help_text="Premium per unit of the underlying.")


def model_out(**options) -> DecimalOut:
    """A model figure from float64 (a premium, a Greek, a volatility): 8 places, rounded once."""
    return DecimalOut(GREEK_PLACES, **options)


def listed_out(**options) -> DecimalOut:
    """A listed term as the contract states it (a strike, a multiplier): no trailing zeros."""
    return DecimalOut(normalize=True, **options)


class OptionPriceOut(FastOutput, serializers.Serializer):
    price = model_out()
    delta = model_out()
    gamma = model_out()
    theta = model_out(help_text="Per calendar day.")
    vega = model_out(help_text="Per percentage point of volatility.")
    rho = model_out(help_text="Per percentage point of the rate.")


class OptionImpliedVolatilityOut(serializers.Serializer):
    implied_volatility = model_out()


class OptionChainRowOut(FastOutput, serializers.Serializer):
    symbol = serializers.CharField()
    option_type = serializers.CharField()
    style = serializers.CharField()
    settlement = serializers.CharField()
    strike = listed_out()
    expiry = serializers.DateField()
    expires_at = serializers.DateTimeField()
    multiplier = listed_out()
    time_to_expiry = DecimalOut(10, help_text="Years, as priced.")
    bid = DecimalOut(help_text="At the contract's tick size, as its quote.")
    ask = DecimalOut(help_text="At the contract's tick size, as its quote.")
    mid = DecimalOut(help_text="(bid + ask) / 2, one place finer than the tick: the quote's last.")
    bid_size = DecimalOut()
    ask_size = DecimalOut()
    model_price = model_out()
    implied_volatility = model_out(help_text="The surface volatility the contract is priced at.")
    delta = model_out()
    gamma = model_out()
    theta = model_out(help_text="Per calendar day.")
    vega = model_out(help_text="Per percentage point of volatility.")
    rho = model_out(help_text="Per percentage point of the rate.")


class OptionChainOut(serializers.Serializer):
    underlying = serializers.CharField()
    spot = DecimalOut()
    rate = DecimalOut(normalize=True)
    dividend_yield = DecimalOut(normalize=True)
    as_of = serializers.DateTimeField()
    expiry = serializers.DateField()
    expirations = serializers.ListField(child=serializers.DateField())
    contracts = OptionChainRowOut(many=True)


class PortfolioQueryIn(StrictInput):
    portfolio = serializers.UUIDField()


class StrategyLegIn(StrictInput):
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField([("buy", "Buy"), ("sell", "Sell")])
    ratio = serializers.IntegerField(min_value=1, max_value=10, default=1)


class StrategyPreviewIn(StrictInput):
    strategy = serializers.ChoiceField(
        ["custom", "bull_call_spread", "bear_call_spread", "bull_put_spread", "bear_put_spread", "straddle",
         "strangle", "iron_condor", "iron_butterfly", "calendar_spread"], default="custom")
    legs = StrategyLegIn(many=True, min_length=1, max_length=6)
    quantity = quantity_serializer_field(min_value=POSITIVE, default=Decimal(1))
    # A preview takes the body of the trade it previews, as is.
    portfolio = serializers.UUIDField(required=False, help_text="Optional in a preview: one of your portfolios.")
    limit_price = price_serializer_field(
        required=False, allow_null=True, min_value=Decimal(-10**9),
        help_text="Worst acceptable net price per unit of the underlying: a debit (positive) at most this, "
                  "or a credit (negative) at least this much. A preview says whether the live quotes meet it.")


class StrategyPlaceIn(StrategyPreviewIn):
    portfolio = serializers.UUIDField()


class StrategyLegOut(FastOutput, serializers.Serializer):
    symbol = serializers.CharField()
    side = serializers.CharField()
    ratio = serializers.IntegerField()
    option_type = serializers.CharField()
    strike = listed_out()
    expiry = serializers.DateField()
    price = DecimalOut(normalize=True,
                       help_text="The ask for a purchase, the bid for a sale (preview) or the fill.")


@extend_schema_field({"type": "array", "items": {"type": "string", "format": "decimal"}, "minItems": 2,
                      "maxItems": 2})
class PayoffPointOut(serializers.Field):
    """One point of a payoff chart: [underlying price to 4 places, P&L at expiry to 2 places]."""

    price = DecimalOut(4)
    pnl = DecimalOut(2)

    def __init__(self, **options):
        super().__init__(read_only=True, **options)

    def to_representation(self, point) -> list[str]:
        price, pnl = point
        return [self.price.to_representation(price), self.pnl.to_representation(pnl)]


class StrategyOut(serializers.Serializer):
    strategy = serializers.CharField()
    quantity = DecimalOut(normalize=True)
    net_price = DecimalOut(normalize=True,
                           help_text="Per unit of the underlying: positive is a debit, negative a credit.")
    net_premium = money_out(help_text="Cash for the whole strategy: negative is paid, positive received.")
    break_evens = serializers.ListField(child=DecimalOut(4, normalize=True))
    max_profit = money_out(allow_null=True, help_text="Cash for the whole strategy; null: unlimited.")
    max_loss = money_out(allow_null=True,
                         help_text="Cash for the whole strategy; null: unlimited, otherwise negative.")
    payoff = serializers.ListField(child=PayoffPointOut(),
                                   help_text="[underlying price, P&L at expiry] pairs for a chart.")
    legs = StrategyLegOut(many=True)
    order_ids = serializers.ListField(child=serializers.UUIDField(), required=False)
    limit_met = serializers.BooleanField(
        required=False, help_text="A preview with limit_price: whether the net price at these quotes is within it.")


class ExerciseIn(StrictInput):
    quantity = quantity_serializer_field(min_value=POSITIVE, required=False,
                                         help_text="Contracts to exercise; default: the whole position.")


class OptionEventOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    symbol = serializers.CharField(source="contract.instrument.symbol")
    position = serializers.UUIDField(source="position_id")
    quantity = quantity_serializer_field()
    underlying_price = price_serializer_field()
    cash_amount = money_serializer_field()
    option_order = serializers.UUIDField(source="option_order_id")
    delivery_order = serializers.UUIDField(source="delivery_order_id", allow_null=True)
    created_at = serializers.DateTimeField()


class OptionSettingsIn(StrictInput):
    early_assignment = serializers.BooleanField()


class OptionSettingsOut(serializers.Serializer):
    portfolio = serializers.UUIDField(source="portfolio_id")
    early_assignment = serializers.BooleanField()


class GreeksOut(FastOutput, serializers.Serializer):
    delta = model_out()
    gamma = model_out()
    theta = model_out()
    vega = model_out()
    rho = model_out()


class PositionGreeksOut(FastOutput, serializers.Serializer):
    position = serializers.UUIDField()
    symbol = serializers.CharField()
    underlying = serializers.CharField()
    quantity = DecimalOut(normalize=True, help_text="Signed contracts: negative when short.")
    delta = model_out()
    gamma = model_out()
    theta = model_out()
    vega = model_out()
    rho = model_out()


class PortfolioGreeksOut(serializers.Serializer):
    portfolio = serializers.UUIDField()
    positions = PositionGreeksOut(many=True)
    by_underlying = serializers.DictField(child=GreeksOut())
    total = GreeksOut(help_text="Dollar Greeks summed over underlyings: delta and gamma as dollar exposure.")


class MarginLineOut(FastOutput, serializers.Serializer):
    """One piece of the requirement: a naked, covered or spread holding (an options_trading.margin.MarginLine)."""

    kind = serializers.CharField()
    option_type = serializers.CharField()
    short_strike = listed_out(allow_null=True)
    long_strike = listed_out(allow_null=True)
    expiry = serializers.DateField()
    units = DecimalOut(normalize=True)
    requirement = money_out()


class OptionMarginOut(serializers.Serializer):
    portfolio = serializers.UUIDField()
    requirement = money_out()
    short_value = money_out()
    lines = serializers.DictField(child=MarginLineOut(many=True))
