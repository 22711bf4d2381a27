import uuid
from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from haunt.api.fields import RoundedDecimalField, money_serializer_field, rate_serializer_field
from haunt.api.serializers import FastOutput, StrictInput
from haunt.market.state import quote_read
from haunt.money import quantize_money
from portfolios.accounting.account import pnl_since_invested, row_for
from portfolios.hooks import competition_of
from portfolios.models import (
    BaseCurrency,
    CostBasisMethod,
    LedgerEntry,
    Portfolio,
    Position,
    PositionLot,
    RealismProfile,
    Visibility,
)
from portfolios.valuation import portfolio_valuation, position_mark
from portfolios.risk_settings import ENFORCEMENT_MODE_CHOICES, MAX_LEVERAGE_BY_ASSET_CLASS, RISK_CONTROLS

MAX_FUNDING_AMOUNT = Decimal("1000000000000")  # 1e12: far inside the 16 integer digits of a money field

# Output fields clients see but may never write; naming them gives a clear "read-only" error.
PORTFOLIO_READ_ONLY = (
    "id", "current_balance", "cash", "equity", "margin_used", "margin_available", "unrealized_pnl",
    "realized_pnl", "total_pnl", "return_pct", "total_topups", "is_competition", "is_archived",
    "archived_at", "last_reset_at", "created_at", "updated_at", "competition", "owner",
)


class RiskModesIn(StrictInput):
    def get_fields(self):
        return {control.name: serializers.ChoiceField(ENFORCEMENT_MODE_CHOICES, required=False)
                for control in RISK_CONTROLS}


class RiskSettingsIn(StrictInput):
    """Every advisory control of spec §4 within its allowed range; omitted keys keep their value."""

    def get_fields(self):
        fields = {}
        for control in RISK_CONTROLS:
            if control.is_integer:
                fields[control.name] = serializers.IntegerField(
                    min_value=int(control.minimum), max_value=int(control.maximum), required=False)
            else:
                fields[control.name] = RoundedDecimalField(
                    max_digits=8, decimal_places=4, min_value=control.minimum, max_value=control.maximum,
                    required=False)
        fields["modes"] = RiskModesIn(required=False)
        return fields

    def validate(self, attrs):
        # Stored as JSON: decimals as strings, integers as integers.
        return {key: (format(value.normalize(), "f") if isinstance(value, Decimal) else value)
                for key, value in attrs.items()}


class DefaultLeverageIn(StrictInput):
    """Default leverage per asset class, from 1x up to the class maximum of spec §3."""

    def get_fields(self):
        return {asset_class: RoundedDecimalField(max_digits=6, decimal_places=2, min_value=Decimal(1),
                                                 max_value=maximum, required=False)
                for asset_class, maximum in MAX_LEVERAGE_BY_ASSET_CLASS.items()}

    def validate(self, attrs):
        return {key: format(value.normalize(), "f") for key, value in attrs.items()}


def tags_field():
    return serializers.ListField(child=serializers.CharField(max_length=32), max_length=20, required=False)


class PortfolioCreateIn(StrictInput):
    read_only_names = PORTFOLIO_READ_ONLY

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    base_currency = serializers.ChoiceField(BaseCurrency.choices, required=False)
    starting_balance = money_serializer_field(min_value=Decimal("1"), max_value=MAX_FUNDING_AMOUNT, required=False,
                                             help_text="In the base currency. Default: 5,000,000 USD converted at the market rate.")
    cost_basis_method = serializers.ChoiceField(CostBasisMethod.choices, required=False)
    risk_settings = RiskSettingsIn(required=False)
    default_leverage = DefaultLeverageIn(required=False)
    strategy_tags = tags_field()
    visibility = serializers.ChoiceField(Visibility.choices, required=False)
    realism_profile = serializers.ChoiceField(RealismProfile.choices, required=False,
                                              help_text="Execution realism: frictionless, realistic (default), thin_book, stress.")
    simulate_latency = serializers.BooleanField(required=False,
                                                help_text="false fills marketable orders in the response, without the profile's latency.")


class PortfolioUpdateIn(StrictInput):
    read_only_names = (*PORTFOLIO_READ_ONLY, "base_currency", "starting_balance")

    benchmark_symbol = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                             help_text="Instrument analytics compare returns with; blank: BTC-USD "
                                                       "for a crypto-only portfolio, SPY otherwise.")
    risk_free_rate = rate_serializer_field(min_value=Decimal("-0.1"), max_value=Decimal("1"), required=False,
                                           help_text="Annual risk-free rate for Sharpe, Sortino and alpha (0.04 = 4%).")

    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    cost_basis_method = serializers.ChoiceField(CostBasisMethod.choices, required=False)
    risk_settings = RiskSettingsIn(required=False)
    default_leverage = DefaultLeverageIn(required=False)
    strategy_tags = tags_field()
    visibility = serializers.ChoiceField(Visibility.choices, required=False)
    realism_profile = serializers.ChoiceField(RealismProfile.choices, required=False,
                                              help_text="Execution realism: frictionless, realistic (default), thin_book, stress.")
    simulate_latency = serializers.BooleanField(required=False,
                                                help_text="false fills marketable orders in the response, without the profile's latency.")


class TopupIn(StrictInput):
    amount = money_serializer_field(min_value=Decimal("0.00000001"), max_value=MAX_FUNDING_AMOUNT)


class CloneIn(StrictInput):
    name = serializers.CharField(max_length=100, required=False)


class PortfolioOut(FastOutput, serializers.ModelSerializer):
    current_balance = money_serializer_field(source="cash")
    equity = serializers.SerializerMethodField()
    unrealized_pnl = serializers.SerializerMethodField()
    margin_available = serializers.SerializerMethodField()
    total_pnl = serializers.SerializerMethodField()
    return_pct = serializers.SerializerMethodField()
    is_competition = serializers.BooleanField()
    competition = serializers.SerializerMethodField()

    class Meta:
        model = Portfolio
        fields = [
            "id", "name", "description", "base_currency", "starting_balance", "current_balance", "total_topups",
            "equity", "margin_used", "margin_available", "unrealized_pnl", "realized_pnl", "total_pnl",
            "return_pct", "cost_basis_method", "risk_settings", "default_leverage", "strategy_tags", "visibility",
            "realism_profile", "simulate_latency", "benchmark_symbol", "risk_free_rate", "competition",
            "is_competition", "is_archived", "archived_at",
            "last_reset_at", "created_at", "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"realized_pnl": {"help_text": "Gross: the price move of every closing fill, before fees "
                                                      "(they are charged to cash apart)."}}

    def _valuation(self, portfolio: Portfolio):
        cache = self.context.setdefault("valuations", {})
        if portfolio.pk not in cache:
            cache[portfolio.pk] = portfolio_valuation(portfolio, getattr(portfolio, "open_positions", None))
        return cache[portfolio.pk]

    def get_competition(self, portfolio) -> uuid.UUID | None:
        return competition_of(portfolio)  # the competitions app's entry, through its hook

    def get_equity(self, portfolio) -> str:
        return f"{quantize_money(self._valuation(portfolio).equity):f}"

    def get_unrealized_pnl(self, portfolio) -> str:
        return f"{quantize_money(self._valuation(portfolio).unrealized_pnl):f}"

    def get_margin_available(self, portfolio) -> str:
        """The buying power the pre-trade checks use: equity not tied up as margin (long positions'
        cost and shorts' collateral included), so this says what a new order can spend."""
        return f"{quantize_money(max(self._valuation(portfolio).buying_power, Decimal(0))):f}"

    def get_total_pnl(self, portfolio) -> str:
        return f"{quantize_money(portfolio.realized_pnl + self._valuation(portfolio).unrealized_pnl):f}"

    def get_return_pct(self, portfolio) -> str:
        """(equity − invested) / invested × 100, where invested = starting balance + top-ups."""
        invested = portfolio.starting_balance + portfolio.total_topups
        return f"{pnl_since_invested(equity=self._valuation(portfolio).equity, invested=invested) / invested * 100:.4f}"


class LedgerEntryOut(FastOutput, serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "balance_after", "reference", "description", "created_at"]
        read_only_fields = fields


class PositionLotOut(FastOutput, serializers.ModelSerializer):
    class Meta:
        model = PositionLot
        fields = ["id", "quantity", "original_quantity", "price", "open_fee", "opened_at"]
        read_only_fields = fields


class PositionOut(FastOutput, serializers.ModelSerializer):
    """A position marked to the live market: bid for longs, ask for shorts."""

    portfolio = serializers.UUIDField(source="portfolio_id")
    symbol = serializers.CharField(source="instrument.symbol")
    asset_class = serializers.CharField(source="instrument.asset_class")
    current_price = serializers.SerializerMethodField()
    market_value = serializers.SerializerMethodField()
    unrealized_pnl = serializers.SerializerMethodField()
    holding_seconds = serializers.SerializerMethodField()
    net_realized_pnl = serializers.SerializerMethodField()
    lots = serializers.SerializerMethodField()

    class Meta:
        model = Position
        fields = ["id", "portfolio", "symbol", "asset_class", "side", "status", "quantity", "closed_quantity",
                  "average_entry_price", "average_exit_price", "cost_basis", "current_price", "market_value",
                  "unrealized_pnl", "realized_pnl", "net_realized_pnl", "fees_paid", "borrow_fees_paid", "stop_loss",
                  "take_profit", "opened_at", "closed_at", "holding_seconds", "leverage", "margin_mode",
                  "margin_added", "liquidation_price", "funding_paid", "adl_score", "adl_quantile", "tags", "lots"]
        read_only_fields = fields
        extra_kwargs = {
            "quantity": {"help_text": "Open quantity; 0 once closed (closed_quantity is the size it closed)."},
            "closed_quantity": {"help_text": "A closed position's size: the quantity its fills closed; 0 while open."},
            "average_entry_price": {"help_text": "Of the open lots; once closed, of the size it closed."},
            "average_exit_price": {"help_text": "Average price of its closing fills; null until it closes."},
            "realized_pnl": {"help_text": "Gross: the price move of what it closed, before fees, borrow and funding."},
        }

    def _mark(self, position) -> Decimal:
        cache = self.context.setdefault("marks", {})
        if position.pk not in cache:
            cache[position.pk] = position_mark(position, quote_read(position.instrument.symbol))
        return cache[position.pk]

    def get_current_price(self, position) -> str | None:
        return None if position.status == Position.Status.CLOSED else f"{self._mark(position):f}"

    def get_market_value(self, position) -> str:
        if position.status == Position.Status.CLOSED:
            return "0.00000000"
        return f"{quantize_money(row_for(position, mark_price=self._mark(position)).notional):f}"

    def get_unrealized_pnl(self, position) -> str:
        if position.status == Position.Status.CLOSED:
            return "0.00000000"
        return f"{quantize_money(row_for(position, mark_price=self._mark(position)).unrealized_pnl):f}"

    def get_holding_seconds(self, position) -> int:
        end = position.closed_at or timezone.now()
        return int((end - position.opened_at).total_seconds())

    def get_net_realized_pnl(self, position) -> str:
        """Net: realized P&L after its trading fees, borrow fees and funding paid (what analytics counts)."""
        return f"{position.realized_pnl - position.fees_paid - position.borrow_fees_paid - position.funding_paid:f}"

    def get_lots(self, position) -> list[dict]:
        """The open lots; a closed position's record lists every lot it held (original_quantity)."""
        is_closed = position.status == Position.Status.CLOSED
        return PositionLotOut([lot for lot in position.lots.all() if is_closed or lot.quantity > 0], many=True).data
