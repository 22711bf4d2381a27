"""Valuing positions and portfolios at the live market (read-only; used by serializers, risk checks
and the order services' buying-power test). The arithmetic is the account core's
(portfolios.accounting): this module reads the quotes and rates it needs and builds its rows."""
from decimal import Decimal

from haunt.market import state
from haunt.market.selectors import conversion_rate
from portfolios.accounting.account import AccountMargin, PositionRow, account_margin, freed_by_closing, row_for
from portfolios.models import Portfolio, Position
from portfolios.selectors import open_positions_read

# Positions whose margin follows rules of their own (option strategies) register a function
# (portfolio, open positions, quotes) -> Decimal in their app's AppConfig.ready: the margin, in the
# base currency, that they need beyond their short market value (negative when they need less).
MARGIN_RULES: list = []


def buying_power_freed_by_closing(position: Position, *, quantity: Decimal, cash_per_unit: Decimal, mark: Decimal,
                                  rate: Decimal) -> Decimal:
    """The buying power that closing `quantity` of `position` frees (negative when it costs some),
    when each unit closed moves cash by `cash_per_unit` in the base currency: + a sell's proceeds
    net of its fee, − a buy's price plus its fee. `mark` is the position's mark, `rate` the
    instrument's quote currency in the base currency. See portfolios.accounting.account.freed_by_closing.
    """
    return freed_by_closing(row_for(position, mark_price=mark, rate=rate),
                            units=quantity * position.instrument.contract_multiplier, cash=quantity * cash_per_unit)


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


def portfolio_valuation(portfolio: Portfolio, open_positions: list[Position] | None = None) -> AccountMargin:
    """Equity = cash + long market value − short market value, and the margin and buying power the
    positions leave, marked at the live quotes and converted from each instrument's quote currency
    into the base currency at the current rate."""
    if open_positions is None:
        # Set by the list selector's prefetch, or by a writer holding the portfolio lock
        # (portfolios.selectors.portfolio_open_positions); otherwise read now.
        open_positions = getattr(portfolio, "open_positions", None)
    if open_positions is None:
        open_positions = open_positions_read(portfolio.pk)
    quotes = state.quotes_read([position.instrument.symbol for position in open_positions]) if open_positions else {}
    rows = marked_rows(portfolio, open_positions, quotes)
    other_margin = sum((rule(portfolio, open_positions, quotes) for rule in MARGIN_RULES), Decimal(0))
    return account_margin(cash=portfolio.cash, rows=rows, other_margin=other_margin)


def marked_rows(portfolio: Portfolio, positions: list[Position], quotes: dict) -> list[PositionRow]:
    """Each position's account-core row, marked at `quotes` (position_mark) and converted into the
    portfolio's base currency."""
    rates: dict[str, Decimal] = {}
    rows = []
    for position in positions:
        currency = position.instrument.quote_currency
        if currency not in rates:
            rates[currency] = conversion_rate(from_currency=currency, to_currency=portfolio.base_currency)
        rows.append(row_for(position, mark_price=position_mark(position, quotes.get(position.instrument.symbol)),
                            rate=rates[currency]))
    return rows


def portfolio_equity(portfolio: Portfolio) -> Decimal:
    return portfolio_valuation(portfolio).equity


def buying_power(portfolio: Portfolio) -> Decimal:
    return portfolio_valuation(portfolio).buying_power
