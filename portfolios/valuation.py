"""Valuing positions and portfolios at the live market (read-only; used by serializers, risk checks
and the order services' buying-power test)."""
from dataclasses import dataclass
from decimal import Decimal

from haunt.market import state
from haunt.market.selectors import conversion_rate
from portfolios.models import Portfolio, Position
from portfolios.selectors import open_positions_read


@dataclass(frozen=True)
class Valuation:
    cash: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    long_value: Decimal
    short_value: Decimal
    # Initial margin of the margined positions (isolated: their collateral) plus the market value of
    # the unlevered longs, and the unrealized P&L held inside isolated positions (spec §3, Appendix B).
    margin_used: Decimal = Decimal(0)
    isolated_unrealized_pnl: Decimal = Decimal(0)

    @property
    def buying_power(self) -> Decimal:
        """Equity not tied up as margin: equity − initial margin in use, an isolated position's P&L
        staying inside it. Without leverage this is cash − short market value (each open short keeps
        its proceeds as collateral, each long has spent its cost)."""
        return self.equity - self.isolated_unrealized_pnl - self.margin_used


# Positions whose margin follows rules of their own (option strategies) register a function
# (portfolio, open positions, quotes) -> Decimal in their app's AppConfig.ready: the margin, in the
# base currency, that they need beyond their short market value (negative when they need less).
MARGIN_RULES: list = []


def is_margined(position: Position) -> bool:
    """A perpetual, a position above 1x or an isolated one: its margin is notional / leverage."""
    return (position.instrument.asset_class == "perpetual" or position.leverage != 1
            or position.margin_mode == "isolated")


def isolated_collateral(position: Position) -> Decimal:
    """An isolated position's own margin: its initial margin plus what its owner added or removed."""
    return position.cost_basis / position.leverage + position.margin_added


def buying_power_freed_by_closing(position: Position, *, quantity: Decimal, cash_per_unit: Decimal, mark: Decimal,
                                  rate: Decimal) -> Decimal:
    """The buying power that closing `quantity` of `position` frees (negative when it costs some),
    when each unit closed moves cash by `cash_per_unit` in the base currency: + a sell's proceeds
    net of its fee, − a buy's price plus its fee. `mark` is the position's mark, `rate` the
    instrument's quote currency in the base currency.

    Closing takes the units' market value out of equity (a long's asset, a short's liability) and
    releases the margin they held in `margin_used`: all of an unlevered long's value (it was paid
    for in cash), a cross-margined position's value / leverage, nothing for an unlevered short.
    An isolated position is counted as releasing none of its collateral: what it really frees, its
    collateral plus P&L, is more unless it is past liquidation, so this never overstates.
    """
    value = quantity * mark * position.instrument.contract_multiplier * rate
    long = position.side == Position.Direction.LONG
    if position.margin_mode == "isolated":
        released = Decimal(0)
    elif is_margined(position):
        released = value / position.leverage
    else:
        released = value if long else Decimal(0)
    return quantity * cash_per_unit + (-value if long else value) + released


def position_mark(position: Position, quote: dict | None) -> Decimal:
    """The price a position could close at now: bid for a long, ask for a short; the last trade
    or the entry price when the book is closed or the feed has no quote. A perpetual is marked at its
    mark price once the derivatives watcher has published one (spec §6: not the last trade)."""
    if quote is not None and quote.get("mark") is not None:
        return Decimal(quote["mark"])
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
        open_positions = open_positions_read(portfolio.pk)
    quotes = state.quotes_read([position.instrument.symbol for position in open_positions]) if open_positions else {}
    long_value = short_value = unrealized = margin_used = isolated_pnl = Decimal(0)
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
        pnl = value - cost if position.side == Position.Direction.LONG else cost - value
        if position.side == Position.Direction.LONG:
            long_value += value
        else:
            short_value += value
        unrealized += pnl
        if position.margin_mode == "isolated":
            margin_used += isolated_collateral(position) * rate
            isolated_pnl += pnl
        elif is_margined(position):
            margin_used += value / position.leverage
        elif position.side == Position.Direction.LONG:
            margin_used += value
    for rule in MARGIN_RULES:
        margin_used += rule(portfolio, open_positions, quotes)
    return Valuation(cash=portfolio.cash, equity=portfolio.cash + long_value - short_value,
                     unrealized_pnl=unrealized, long_value=long_value, short_value=short_value,
                     margin_used=margin_used, isolated_unrealized_pnl=isolated_pnl)


def portfolio_equity(portfolio: Portfolio) -> Decimal:
    return portfolio_valuation(portfolio).equity


def buying_power(portfolio: Portfolio) -> Decimal:
    return portfolio_valuation(portfolio).buying_power
