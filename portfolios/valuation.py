"""Valuing positions and portfolios at the live market (read-only; used by serializers, risk checks
and the order services' buying-power test)."""
from dataclasses import dataclass
from decimal import Decimal

from haunt.market import state
from portfolios.models import Portfolio, Position


@dataclass(frozen=True)
class Valuation:
    equity: Decimal
    unrealized_pnl: Decimal
    long_value: Decimal
    short_value: Decimal


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
    """Equity = cash + long market value − short market value, marked at the live quotes."""
    if open_positions is None:
        open_positions = list(Position.objects.filter(portfolio=portfolio, status=Position.Status.OPEN)
                              .select_related("instrument"))
    quotes = state.quotes_read([position.instrument.symbol for position in open_positions]) if open_positions else {}
    long_value = short_value = unrealized = Decimal(0)
    for position in open_positions:
        multiplier = position.instrument.contract_multiplier
        mark = position_mark(position, quotes.get(position.instrument.symbol))
        value = position.quantity * mark * multiplier
        if position.side == Position.Direction.LONG:
            long_value += value
            unrealized += value - position.cost_basis
        else:
            short_value += value
            unrealized += position.cost_basis - value
    return Valuation(equity=portfolio.cash + long_value - short_value, unrealized_pnl=unrealized,
                     long_value=long_value, short_value=short_value)


def portfolio_equity(portfolio: Portfolio) -> Decimal:
    return portfolio_valuation(portfolio).equity


def buying_power(portfolio: Portfolio) -> Decimal:
    """Cash not held as collateral: each open short keeps its market value in cash (unlevered spot)."""
    return portfolio.cash - portfolio_valuation(portfolio).short_value
