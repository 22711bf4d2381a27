"""Random portfolios valued by the running code against a reference written out here, so that the
account arithmetic keeps its behaviour whatever shape the code takes.

The reference is the valuation as it stood when the account arithmetic was unified (commit
"portfolios: pin today's valuation ..."): equity = cash + long value − short value; unrealized
P&L = ± (value − cost); margin used = isolated collateral + cross value / leverage + the value of
unlevered longs; buying power = equity − isolated P&L − margin used; and what closing part of a
position frees. Portfolios mix spot longs and shorts, levered cross and isolated positions,
perpetuals, a yen-quoted pair (converted into the base currency) and AAPL options (whose strategy
margin the options app's rule adds), each marked at a random quote. The account core (portfolios.accounting) is checked directly on the same rows, and through
the running callers: the valuation, the derivatives margin account and the order checks' "what a
close frees" must all give the reference's figures.
"""
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derivatives.selectors import portfolio_margin
from options_trading.services import option_contract_for_symbol, option_margin_rule
from haunt.market import state
from haunt.market.models import Instrument
from haunt.market.selectors import conversion_rate
from portfolios.accounting.account import account_margin, freed_by_closing, row_for
from portfolios.models import Portfolio, Position
from portfolios.valuation import buying_power_freed_by_closing, portfolio_valuation, position_mark

pytestmark = pytest.mark.django_db

OPTIONS = ("AAPL  261218C00270000", "AAPL  261218P00285000", "AAPL  261218C00300000")
SYMBOLS = ("BTC-USD", "SOL-USD", "AAPL", "SPY", "BTC-PERP", "ETH-PERP", "EUR-USD", "USD-JPY", *OPTIONS)
LEVERAGES = (Decimal(1), Decimal(1), Decimal(2), Decimal(3), Decimal("2.5"), Decimal(4))


@dataclass(frozen=True)
class Holding:
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    leverage: Decimal
    margin_mode: str
    margin_added: Decimal
    quote: tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]  # bid, ask, last, mark


def _price(low: int, high: int):
    return st.integers(min_value=low, max_value=high).map(lambda cents: Decimal(cents) / 100)


@st.composite
def holdings(draw):
    symbol = draw(st.sampled_from(SYMBOLS))
    entry = draw(_price(50, 20_000))
    # The forex pairs keep a full quote: they also convert the base currency; so does AAPL, which
    # the option margin rules price the options against.
    full = symbol in ("EUR-USD", "USD-JPY", "AAPL")
    price = _price(40, 26_000) if full else st.one_of(st.none(), _price(40, 26_000))
    moved = [draw(price) for _ in range(3)]
    mark = draw(st.one_of(st.none(), _price(40, 26_000))) if symbol.endswith("-PERP") else None
    is_option = symbol in OPTIONS  # options trade unlevered, on cross margin
    leverage = Decimal(1) if is_option else draw(st.sampled_from(LEVERAGES))
    isolated = not is_option and draw(st.booleans())
    return Holding(
        symbol=symbol, side=draw(st.sampled_from(("long", "short"))),
        quantity=Decimal(draw(st.integers(min_value=1, max_value=5_000))) / 100, entry_price=entry,
        leverage=leverage, margin_mode="isolated" if isolated else "cross",
        margin_added=Decimal(draw(st.integers(min_value=-50, max_value=200))) if isolated else Decimal(0),
        quote=(moved[0], moved[1], moved[2], mark))


def _quote(symbol: str, quote) -> dict:
    bid, ask, last, mark = quote
    text = lambda value: None if value is None else f"{value:f}"  # noqa: E731
    return {"symbol": symbol, "bid": text(bid), "ask": text(ask), "last": text(last), "mark": text(mark),
            "is_open": True}


def close(actual: Decimal, expected: Decimal) -> bool:
    """Equal up to the last digits of Decimal's 28-digit context: the running code may sum in
    another order, but every figure it stores or shows is rounded to far fewer places."""
    return abs(actual - expected) <= Decimal("1e-15") * max(Decimal(1), abs(expected))


def _reference(portfolio: Portfolio, positions: list[Position], marks: dict, rates: dict,
               option_margin: Decimal) -> dict:
    """Today's arithmetic, written out: the oracle the running code must match. `option_margin` is
    what the options app's margin rule adds (its Reg-T rules are the options app's, not the account's)."""
    long_value = short_value = unrealized = isolated_pnl = Decimal(0)
    used = option_margin
    for position in positions:
        rate = rates[position.instrument.quote_currency]
        value = position.quantity * marks[position.pk] * position.instrument.contract_multiplier * rate
        cost = position.cost_basis * rate
        is_long = position.side == "long"
        pnl = value - cost if is_long else cost - value
        long_value += value if is_long else 0
        short_value += 0 if is_long else value
        unrealized += pnl
        margined = (position.instrument.asset_class == "perpetual" or position.leverage != 1
                    or position.margin_mode == "isolated")
        if position.margin_mode == "isolated":
            used += (position.cost_basis / position.leverage + position.margin_added) * rate
            isolated_pnl += pnl
        elif margined:
            used += value / position.leverage
        elif is_long:
            used += value
    equity = portfolio.cash + long_value - short_value
    return {"equity": equity, "unrealized_pnl": unrealized, "long_value": long_value, "short_value": short_value,
            "margin_used": used, "isolated_unrealized_pnl": isolated_pnl,
            "buying_power": equity - isolated_pnl - used}


def _reference_freed(position: Position, *, quantity, cash_per_unit, mark, rate) -> Decimal:
    value = quantity * mark * position.instrument.contract_multiplier * rate
    is_long = position.side == "long"
    margined = (position.instrument.asset_class == "perpetual" or position.leverage != 1
                or position.margin_mode == "isolated")
    if position.margin_mode == "isolated":
        released = Decimal(0)
    elif margined:
        released = value / position.leverage
    else:
        released = value if is_long else Decimal(0)
    return quantity * cash_per_unit + (-value if is_long else value) + released


@pytest.fixture
def option_contracts(market_feed):
    for symbol in OPTIONS:
        option_contract_for_symbol(symbol=symbol, now=datetime(2026, 11, 24, 15, 0, 1, tzinfo=UTC))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(holdings(), min_size=0, max_size=6, unique_by=lambda holding: holding.symbol),
       cash=_price(-500_000, 5_000_000), base_currency=st.sampled_from(("USD", "EUR")),
       close_fraction=st.sampled_from((Decimal("0.25"), Decimal("0.5"), Decimal(1))),
       close_price=_price(40, 26_000))
def test_valuation_matches_the_reference(option_contracts, drawn, cash, base_currency, close_fraction, close_price):
    instruments = {instrument.symbol: instrument for instrument in Instrument.objects.filter(symbol__in=SYMBOLS)}
    portfolio = Portfolio(cash=cash, base_currency=base_currency)
    positions = [
        Position(instrument=instruments[holding.symbol], side=holding.side, quantity=holding.quantity,
                 average_entry_price=holding.entry_price, cost_basis=holding.quantity * holding.entry_price,
                 leverage=holding.leverage, margin_mode=holding.margin_mode, margin_added=holding.margin_added)
        for holding in drawn
    ]
    quotes = [_quote(holding.symbol, holding.quote) for holding in drawn]
    state.market_quotes_write(quotes=quotes, books=[])
    quotes_by_symbol = {quote["symbol"]: quote for quote in quotes}
    marks = {position.pk: position_mark(position, quotes_by_symbol[position.instrument.symbol])
             for position in positions}
    rates = {currency: conversion_rate(from_currency=currency, to_currency=base_currency)
             for currency in {instrument.quote_currency for instrument in instruments.values()}}

    valuation = portfolio_valuation(portfolio, positions)
    option_margin = option_margin_rule(portfolio, positions, state.quotes_read(list(quotes_by_symbol)))
    expected = _reference(portfolio, positions, marks, rates, option_margin)
    for name, value in expected.items():
        assert close(getattr(valuation, name), value), name

    rows = [row_for(position, mark_price=marks[position.pk], rate=rates[position.instrument.quote_currency])
            for position in positions]
    for account in (account_margin(cash=cash, rows=rows, other_margin=option_margin),
                    portfolio_margin(portfolio, positions)):
        for name, value in expected.items():
            assert close(getattr(account, name), value), name
        assert close(account.wallet_balance, expected["equity"] - expected["unrealized_pnl"])

    for position in positions:
        rate = rates[position.instrument.quote_currency]
        quantity = position.quantity * close_fraction
        sign = 1 if position.side == "long" else -1
        cash_per_unit = sign * close_price * position.instrument.contract_multiplier * rate
        freed = buying_power_freed_by_closing(position, quantity=quantity, cash_per_unit=cash_per_unit,
                                              mark=marks[position.pk], rate=rate)
        expected_freed = _reference_freed(position, quantity=quantity, cash_per_unit=cash_per_unit,
                                          mark=marks[position.pk], rate=rate)
        assert close(freed, expected_freed)
        row = row_for(position, mark_price=marks[position.pk], rate=rate)
        assert close(freed_by_closing(row, units=quantity * position.instrument.contract_multiplier,
                                      cash=quantity * cash_per_unit), expected_freed)
