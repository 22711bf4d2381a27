"""Valuing positions and portfolios at the live market (read-only; used by serializers, risk checks
and the order services' buying-power test)."""
from dataclasses import dataclass
from decimal import Decimal

from haunt.market import state
from haunt.market.selectors import conversion_rate
from portfolios.models import Portfolio, Position


@dataclass(frozen=True)
class Valuation:
    cash: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    long_value: Decimal
    short_value: Decimal

    @property
    def buying_power(self) -> Decimal:
        """Cash not held as collateral: each open short keeps its market value in cash (unlevered spot)."""
        return self.cash - self.short_value


def position_mark(position: Position, quote: dict | None) -> Decimal:
    """The price a position could close at now: bid for a long, ask for a short; the last trade
    or the entry price when the book is closed or the feed has no quote."""
    if quote is not None:
        side_price = quote["bid"] if position.side == Position.Direction.LONG else quote["ask"]
        if side_price is not None:
            return Decimal(side_price)
        if quote["last"] is not None:
            return Decimal(quote["last"])
    return position.average_entry_price


def portfolio_valuation(portfolio: Portfolio, open_positions: list[Position] | None = None) -> Valuation:
    """Equity = cash + long market value − short market value, marked at the live quotes and
    converted from each instrument's quote currency into the base currency at the current rate."""
    if open_positions is None:
        # Set by the list selector's prefetch, or by a writer holding the portfolio lock
        # (portfolios.selectors.portfolio_open_positions); otherwise read now.
        open_positions = getattr(portfolio, "open_positions", None)
    if open_positions is None:
        open_positions = list(Position.objects.filter(portfolio=portfolio, status=Position.Status.OPEN)
                              .select_related("instrument"))
    quotes = state.quotes_read([position.instrument.symbol for position in open_positions]) if open_positions else {}
    long_value = short_value = unrealized = Decimal(0)
    rates: dict[str, Decimal] = {}
    for position in open_positions:
        instrument = position.instrument
        if instrument.quote_currency not in rates:
            rates[instrument.quote_currency] = conversion_rate(from_currency=instrument.quote_currency,
                                                               to_currency=portfolio.base_currency)
        rate = rates[instrument.quote_currency]
        mark = position_mark(position, quotes.get(instrument.symbol))
        value = position.quantity * mark * instrument.contract_multiplier * rate
        cost = position.cost_basis * rate
        if position.side == Position.Direction.LONG:
            long_value += value
            unrealized += value - cost
        else:
            short_value += value
            unrealized += cost - value
    return Valuation(cash=portfolio.cash, equity=portfolio.cash + long_value - short_value,
                     unrealized_pnl=unrealized, long_value=long_value, short_value=short_value)


def portfolio_equity(portfolio: Portfolio) -> Decimal:
    return portfolio_valuation(portfolio).equity


def buying_power(portfolio: Portfolio) -> Decimal:
    return portfolio_valuation(portfolio).buying_power
