from decimal import Decimal

from rest_framework import serializers

from haunt.api.fields import RoundedDecimalField, price_serializer_field, quantity_serializer_field, rate_serializer_field
from haunt.api.serializers import StrictInput

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


class OptionPriceOut(serializers.Serializer):
    price = serializers.CharField()
    delta = serializers.CharField()
    gamma = serializers.CharField()
    theta = serializers.CharField(help_text="Per calendar day.")
    vega = serializers.CharField(help_text="Per percentage point of volatility.")
    rho = serializers.CharField(help_text="Per percentage point of the rate.")


class OptionImpliedVolatilityOut(serializers.Serializer):
    implied_volatility = serializers.CharField()


class OptionChainRowOut(OptionPriceOut):
    price = None
    symbol = serializers.CharField()
    option_type = serializers.CharField()
    style = serializers.CharField()
    settlement = serializers.CharField()
    strike = serializers.CharField()
    expiry = serializers.DateField()
    expires_at = serializers.DateTimeField()
    multiplier = serializers.CharField()
    time_to_expiry = serializers.CharField(help_text="Years, as priced.")
    bid = serializers.CharField()
    ask = serializers.CharField()
    mid = serializers.CharField()
    bid_size = serializers.CharField()
    ask_size = serializers.CharField()
    model_price = serializers.CharField()
    implied_volatility = serializers.CharField(help_text="The surface volatility the contract is priced at.")


class OptionChainOut(serializers.Serializer):
    underlying = serializers.CharField()
    spot = serializers.CharField()
    rate = serializers.CharField()
    dividend_yield = serializers.CharField()
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


class StrategyLegOut(serializers.Serializer):
    symbol = serializers.CharField()
    side = serializers.CharField()
    ratio = serializers.IntegerField()
    option_type = serializers.CharField()
    strike = serializers.CharField()
    expiry = serializers.DateField()
    price = serializers.CharField(help_text="The ask for a purchase, the bid for a sale (preview) or the fill.")


class StrategyOut(serializers.Serializer):
    strategy = serializers.CharField()
    quantity = serializers.CharField()
    net_price = serializers.CharField(help_text="Per unit of the underlying: positive is a debit, negative a credit.")
    net_premium = serializers.CharField(help_text="Cash for the whole strategy: negative is paid, positive received.")
    break_evens = serializers.ListField(child=serializers.CharField())
    max_profit = serializers.CharField(allow_null=True, help_text="null: unlimited.")
    max_loss = serializers.CharField(allow_null=True, help_text="null: unlimited; otherwise negative.")
    payoff = serializers.ListField(child=serializers.ListField(child=serializers.CharField()),
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
    quantity = serializers.DecimalField(max_digits=24, decimal_places=10)
    underlying_price = serializers.DecimalField(max_digits=24, decimal_places=10)
    cash_amount = serializers.DecimalField(max_digits=24, decimal_places=8)
    option_order = serializers.UUIDField(source="option_order_id")
    delivery_order = serializers.UUIDField(source="delivery_order_id", allow_null=True)
    created_at = serializers.DateTimeField()


class OptionSettingsIn(StrictInput):
    early_assignment = serializers.BooleanField()


class OptionSettingsOut(serializers.Serializer):
    portfolio = serializers.UUIDField(source="portfolio_id")
    early_assignment = serializers.BooleanField()


class GreeksOut(serializers.Serializer):
    delta = serializers.CharField()
    gamma = serializers.CharField()
    theta = serializers.CharField()
    vega = serializers.CharField()
    rho = serializers.CharField()


class PositionGreeksOut(GreeksOut):
    position = serializers.UUIDField()
    symbol = serializers.CharField()
    underlying = serializers.CharField()
    quantity = serializers.CharField(help_text="Signed contracts: negative when short.")


class PortfolioGreeksOut(serializers.Serializer):
    portfolio = serializers.UUIDField()
    positions = PositionGreeksOut(many=True)
    by_underlying = serializers.DictField(child=GreeksOut())
    total = GreeksOut(help_text="Dollar Greeks summed over underlyings: delta and gamma as dollar exposure.")


class MarginLineOut(serializers.Serializer):
    kind = serializers.CharField()
    option_type = serializers.CharField()
    short_strike = serializers.CharField(allow_null=True)
    long_strike = serializers.CharField(allow_null=True)
    expiry = serializers.DateField()
    units = serializers.CharField()
    requirement = serializers.CharField()


class OptionMarginOut(serializers.Serializer):
    portfolio = serializers.UUIDField()
    requirement = serializers.CharField()
    short_value = serializers.CharField()
    lines = serializers.DictField(child=MarginLineOut(many=True))
