"""Options writes: listing contracts, quoting them, the order-path hooks (on-demand markets, the
margin check, the margin that buying power holds back), strategies, exercise, assignment, expiry.

Contracts are listed lazily: a chain request lists its expiration's strikes, and an order naming a
listed contract that has no row yet creates it. Each contract is also a market Instrument
(asset class option), so orders, trades, positions and the ledger treat it like any instrument.
"""
import logging
import uuid
from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from haunt.errors import Conflict, DomainError
from haunt.market import state
from haunt.market.calendars import NYSE
from haunt.market.models import AssetClass, Instrument, TradingHours
from haunt.market.selectors import (
    MarketUnavailable, conversion_rate, instrument_calendar, instrument_get, reference_price,
)
from haunt.market.stream import DerivedMarket
from haunt.market.universe import spec_by_symbol
from options_trading import contracts as terms
from options_trading import combos, events, exercise, margin, pricing
from haunt.money import from_float, quantize_money, quantize_price
from options_trading.market import (
    SECONDS_PER_YEAR, chain_valuation, contract_values_at, option_market_at, option_quotes_publish,
)
from options_trading.models import OptionContract, OptionEvent, OptionSettings
from orders.execution import DEFAULT_FEE_SCHEDULES
from orders.execution import AssetClass as ExecutionClass
from orders.models import Order, OrderStatus
from orders.risk import RiskCheckFailed
from orders.services import OrderRequest, order_cancel, order_execute_due, order_place, order_settle_at_price
from portfolios.models import Position
from portfolios.selectors import portfolio_get, portfolio_open_positions, position_get_for_user
from portfolios.services import portfolio_lock_for_user
from portfolios.valuation import portfolio_valuation, position_mark

ZERO = Decimal(0)

logger = logging.getLogger(__name__)


class UnknownContract(DomainError):
    """An option symbol naming no listed contract (400, as an order for an unknown symbol is)."""

    code = "unknown_option"


def _contract_class(underlying: Instrument, spot: Decimal | None = None) -> terms.ContractClass:
    spot = reference_price(symbol=underlying.symbol) if spot is None else spot
    contract_class = terms.contract_class(symbol=underlying.symbol, asset_class=underlying.asset_class, spot=spot)
    if contract_class is None:
        raise DomainError(f"{underlying.symbol} has no listed options.", code="not_optionable", field="underlying")
    return contract_class


def listed_expirations(*, underlying: Instrument, now: datetime, spot: Decimal | None = None) -> list[date]:
    """The expirations listed on the underlying that have not expired at ``now``."""
    contract_class = _contract_class(underlying, spot)
    listed = terms.listed_expirations(today=now.date(), settlement=contract_class.settlement,
                                      is_trading_day=_trading_day_rule(contract_class))
    return [day for day in listed if terms.expires_at(expiry=day, settlement=contract_class.settlement) > now]


def _trading_day_rule(contract_class: terms.ContractClass):
    if contract_class.settlement == terms.Settlement.CASH:
        return lambda day: True
    return lambda day: NYSE.session_on(day) is not None


def option_contracts_list(*, underlying: Instrument, expiry: date, now: datetime,
                          spot: Decimal | None = None) -> list[OptionContract]:
    """Every contract of one listed expiration, calls and puts by strike, created if missing.

    The strikes are those listed around the spot when the expiration is first requested; they
    stay listed (as exchanges keep strikes) while the underlying moves."""
    spot = reference_price(symbol=underlying.symbol) if spot is None else spot
    if expiry not in listed_expirations(underlying=underlying, now=now, spot=spot):
        raise DomainError(f"{underlying.symbol} lists no expiration on {expiry.isoformat()}.",
                          code="expiry_not_listed", field="expiry")
    existing = list(_contracts_query().filter(underlying=underlying, expiry=expiry))
    if not existing:
        contract_class = _contract_class(underlying, spot)
        expiry_instant = terms.expires_at(expiry=expiry, settlement=contract_class.settlement)
        years = (expiry_instant - now).total_seconds() / SECONDS_PER_YEAR
        strikes = terms.listed_strikes(spot=spot, volatility=spec_by_symbol(underlying.symbol).annual_volatility,
                                       years=years)
        for strike in strikes:
            for option_type in (terms.OptionType.CALL, terms.OptionType.PUT):
                _contract_create(underlying=underlying, contract_class=contract_class, expiry=expiry, strike=strike,
                                 option_type=option_type)
        existing = list(_contracts_query().filter(underlying=underlying, expiry=expiry))
    return existing


def _contracts_query():
    return OptionContract.objects.select_related("instrument", "underlying").order_by("strike", "option_type")


def _contract_create(*, underlying: Instrument, contract_class: terms.ContractClass, expiry: date, strike: Decimal,
                     option_type: terms.OptionType) -> OptionContract:
    """The contract with these terms, created (with its instrument row) unless another request
    created it first."""
    contract_terms = terms.ContractTerms(root=terms.option_root(symbol=underlying.symbol,
                                                                asset_class=underlying.asset_class),
                                         expiry=expiry, option_type=option_type, strike=strike)
    symbol = terms.option_symbol(terms=contract_terms, asset_class=underlying.asset_class)
    try:
        with transaction.atomic():
            instrument = Instrument.objects.create(
                symbol=symbol, asset_class=AssetClass.OPTION,
                name=f"{underlying.symbol} {expiry:%d %b %Y} {strike.normalize():f} {option_type.value}",
                base_currency=underlying.symbol, quote_currency=underlying.quote_currency,
                tick_size=contract_class.tick_size, lot_size=contract_class.lot_size,
                min_quantity=contract_class.lot_size, contract_multiplier=contract_class.multiplier,
                trading_hours=TradingHours.NYSE, liquidity_tier=underlying.liquidity_tier, underlying=underlying)
            return OptionContract.objects.create(
                instrument=instrument, underlying=underlying, option_type=option_type.value,
                style=contract_class.style.value, settlement=contract_class.settlement.value, strike=strike,
                expiry=expiry, expires_at=terms.expires_at(expiry=expiry, settlement=contract_class.settlement),
                multiplier=contract_class.multiplier)
    except IntegrityError:
        return _contracts_query().get(instrument__symbol=symbol)


def option_contract_for_symbol(*, symbol: str, now: datetime) -> OptionContract | None:
    """The contract an option symbol names, listed on demand; None when ``symbol`` is not an option
    symbol. Raises when it names an underlying, expiration or strike that is not listed."""
    contract_terms = terms.parse_option_symbol(symbol)
    if contract_terms is None:
        return None
    existing = _contracts_query().filter(instrument__symbol=symbol).first()
    if existing is not None:
        return existing
    underlying = (Instrument.objects.filter(symbol__in=[contract_terms.root, f"{contract_terms.root}-USD"],
                                            asset_class__in=["stock", "etf", "crypto_spot"], is_active=True).first())
    if underlying is None:
        raise UnknownContract(f"No optionable underlying for {symbol!r}.", field="symbol")
    listed = option_contracts_list(underlying=underlying, expiry=contract_terms.expiry, now=now)
    for contract in listed:
        if contract.instrument.symbol == symbol:
            return contract
    raise UnknownContract(f"{symbol!r} is not a listed strike.", field="symbol")


def option_market_prepare(symbol: str) -> None:
    """The order path's on-demand market hook: list the contract an option symbol names and
    publish its quote and book now, so the order reads a market as current as its underlying's."""
    now = timezone.now()
    contract = option_contract_for_symbol(symbol=symbol, now=now)
    if contract is None:
        return
    _require_unexpired(contract, now)
    if state.quote_read(contract.underlying.symbol):
        option_quotes_publish(contracts=[contract], now=now)


def option_market_derive(symbols: list[str]) -> dict[str, DerivedMarket]:
    """The market stream's resolver (haunt.market.stream.DERIVED_MARKET_RESOLVERS): the option
    contracts among ``symbols``, listed on demand, each quoted and booked off its underlying's feed
    updates by option_market_at. Their quotes and books are published now, so a new subscriber's
    snapshot is current. Raises for an option symbol that names no listed contract or an expired one."""
    now = timezone.now()
    derived, by_underlying = {}, defaultdict(list)
    for symbol in symbols:
        contract = option_contract_for_symbol(symbol=symbol, now=now)
        if contract is None:
            continue
        _require_unexpired(contract, now)
        derived[symbol] = DerivedMarket(from_symbol=contract.underlying.symbol, terms=contract, price=option_market_at)
        by_underlying[contract.underlying.symbol].append(contract)
    for underlying_symbol, contracts in by_underlying.items():
        if state.quote_read(underlying_symbol):
            option_quotes_publish(contracts=contracts, now=now)
    return derived


def _require_unexpired(contract: OptionContract, now: datetime) -> None:
    if contract.settled_at is not None or contract.expires_at <= now:
        raise Conflict(f"{contract.instrument.symbol} expired at {_iso(contract.expires_at)}.", code="option_expired",
                       field="symbol")


def option_quotes_refresh(*, now: datetime) -> int:
    """Re-quote every contract with an open position or open order (the periodic job), one
    underlying at a time; returns how many contracts were quoted."""

    instrument_ids = set(Position.objects.filter(status="open", instrument__asset_class=AssetClass.OPTION)
                         .values_list("instrument_id", flat=True))
    instrument_ids |= set(Order.objects.open().filter(instrument__asset_class=AssetClass.OPTION)
                          .values_list("instrument_id", flat=True))
    by_underlying = defaultdict(list)
    for contract in _contracts_query().filter(instrument_id__in=instrument_ids, settled_at__isnull=True):
        by_underlying[contract.underlying.symbol].append(contract)
    quoted = 0
    for symbol, contracts in by_underlying.items():
        if state.quote_read(symbol) is None:
            continue
        quoted += len(option_quotes_publish(contracts=contracts, now=now))
    return quoted


def option_settings_update(*, user, portfolio_id, early_assignment: bool) -> OptionSettings:
    with transaction.atomic():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
        settings, _ = OptionSettings.objects.update_or_create(portfolio=portfolio,
                                                              defaults={"early_assignment": early_assignment})
        return settings


# --- margin ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionBook:
    """A portfolio's option positions as the margin rules see them, in the options' quote currency."""

    contracts: dict[int, OptionContract]  # by instrument id
    holdings: dict[int, Decimal]  # signed contracts by instrument id
    marks: dict[int, Decimal]  # per unit: the bid for longs, the ask for shorts
    underlying_prices: dict[str, Decimal]
    underlying_quantities: dict[str, Decimal]  # signed, by underlying symbol

    def with_trade(self, contract: OptionContract, signed_quantity: Decimal, mark: Decimal) -> "OptionBook":
        """The book after a hypothetical fill (a new contract is marked at ``mark``)."""
        instrument_id = contract.instrument_id
        holdings = {**self.holdings, instrument_id: self.holdings.get(instrument_id, ZERO) + signed_quantity}
        prices = dict(self.underlying_prices)
        if contract.underlying.symbol not in prices:
            prices[contract.underlying.symbol] = reference_price(symbol=contract.underlying.symbol)
        return OptionBook(contracts={**self.contracts, instrument_id: contract}, holdings=holdings,
                          marks={**self.marks, instrument_id: self.marks.get(instrument_id, mark)},
                          underlying_prices=prices, underlying_quantities=self.underlying_quantities)

    def requirement(self) -> tuple[Decimal, dict[str, margin.OptionMargin]]:
        """Total margin the rules require and the breakdown by underlying."""
        grouped = defaultdict(list)
        for instrument_id, quantity in self.holdings.items():
            if quantity == 0:
                continue
            contract = self.contracts[instrument_id]
            grouped[contract.underlying.symbol].append(margin.OptionHolding(
                option_type=terms.OptionType(contract.option_type), strike=contract.strike, expiry=contract.expiry,
                quantity=quantity, multiplier=contract.multiplier, mark=self.marks[instrument_id]))
        by_underlying = {
            symbol: margin.option_margin(holdings=holdings, underlying_price=self.underlying_prices[symbol],
                                         underlying_quantity=self.underlying_quantities.get(symbol, ZERO))
            for symbol, holdings in grouped.items()
        }
        return sum((result.requirement for result in by_underlying.values()), ZERO), by_underlying

    def short_value(self) -> Decimal:
        return sum((-quantity * self.marks[instrument_id] * self.contracts[instrument_id].multiplier
                    for instrument_id, quantity in self.holdings.items() if quantity < 0), ZERO)


def option_book(*, positions: list, quotes: dict | None = None) -> OptionBook:
    """The option book of a portfolio's open positions (``quotes`` by symbol, read if not given)."""
    options = [position for position in positions if position.instrument.asset_class == AssetClass.OPTION]
    if not options:
        return OptionBook({}, {}, {}, {}, {})
    contracts = {contract.instrument_id: contract for contract in OptionContract.objects.select_related(
        "instrument", "underlying").filter(instrument_id__in=[position.instrument_id for position in options])}
    quotes = quotes if quotes is not None else {}
    missing = [position.instrument.symbol for position in options if position.instrument.symbol not in quotes]
    quotes = {**quotes, **(state.quotes_read(missing) if missing else {})}
    underlyings = {contract.underlying.symbol for contract in contracts.values()}
    underlying_quotes = state.quotes_read(list(underlyings))
    return OptionBook(
        contracts=contracts,
        holdings={position.instrument_id: position.quantity if position.side == "long" else -position.quantity
                  for position in options},
        marks={position.instrument_id: position_mark(position, quotes.get(position.instrument.symbol))
               for position in options},
        underlying_prices={symbol: _mid(underlying_quotes.get(symbol)) or reference_price(symbol=symbol)
                           for symbol in underlyings},
        underlying_quantities={position.instrument.symbol: position.quantity if position.side == "long"
                               else -position.quantity for position in positions
                               if position.instrument.symbol in underlyings},
    )


def _mid(quote: dict | None) -> Decimal | None:
    if quote is None or quote["bid"] is None or quote["ask"] is None:
        return None
    return (Decimal(quote["bid"]) + Decimal(quote["ask"])) / 2


def option_margin_rule(portfolio, open_positions: list, quotes: dict) -> Decimal:
    """portfolios.valuation's margin rule: what option positions hold back beyond their short
    market value (the Reg-T/Cboe requirement less the shorts' value), in the base currency."""
    book = option_book(positions=open_positions, quotes=quotes)
    if not book.holdings:
        return ZERO
    requirement, _ = book.requirement()
    return (requirement - book.short_value()) * conversion_rate(from_currency="USD",
                                                                to_currency=portfolio.base_currency)


_combo_in_progress: ContextVar[bool] = ContextVar("option_strategy_in_progress", default=False)


def option_order_check(*, portfolio, instrument, request, prices, opening: Decimal) -> None:
    """orders.risk's check for opening option orders: a sale that opens or grows a short must
    leave the margin it needs (the requirement's increase less the premium it receives) within
    buying power. Purchases pay their premium in full, which the general buying-power check covers.
    Strategy legs are checked together by combo_place instead."""
    if request.side != "sell" or _combo_in_progress.get():
        return
    contract = _contracts_query().get(instrument=instrument)
    price = request.limit_price if request.limit_price is not None else prices and prices["bid"]
    if price is None:
        return
    book = option_book(positions=portfolio_open_positions(portfolio))
    ask = prices["ask"] if prices and prices["ask"] is not None else price
    _require_margin(portfolio=portfolio, book=book, trades=[(contract, -opening, ask, price)])


def _require_margin(*, portfolio, book: OptionBook, trades: list) -> None:
    """Refuse unless buying power covers the trades' cash and margin: ``trades`` are (contract,
    signed contracts, mark, price) with purchases paying the price and sales receiving it."""
    before, _ = book.requirement()
    after_book = book
    cash = ZERO
    for contract, signed_quantity, mark, price in trades:
        after_book = after_book.with_trade(contract, signed_quantity, mark)
        cash -= signed_quantity * price * contract.multiplier
    after, _ = after_book.requirement()
    rate = conversion_rate(from_currency="USD", to_currency=portfolio.base_currency)
    needed = (after - before - cash) * rate
    available = portfolio_valuation(portfolio).buying_power
    if needed > available:
        raise RiskCheckFailed(f"This needs {needed:.2f} of buying power for premium and option margin; "
                              f"{available:.2f} is available.", code="insufficient_margin", field="quantity")


# --- chains --------------------------------------------------------------------------------------


def option_chain_build(*, underlying_symbol: str, expiry: date | None, strikes: int | None,
                       now: datetime) -> dict:
    """The chain of one expiration (the nearest when none is given): every contract's quote, model
    price, surface volatility and Greeks at the underlying's live mid. ``strikes`` keeps that many
    strikes nearest the money. The quotes are published as the contracts' live market."""
    underlying = instrument_get(symbol=underlying_symbol)
    spot = reference_price(symbol=underlying.symbol)
    expirations = listed_expirations(underlying=underlying, now=now, spot=spot)
    expiry = expiry or expirations[0]
    contracts = option_contracts_list(underlying=underlying, expiry=expiry, now=now, spot=spot)
    if strikes is not None:
        nearest = sorted({contract.strike for contract in contracts}, key=lambda strike: abs(strike - spot))[:strikes]
        contracts = [contract for contract in contracts if contract.strike in set(nearest)]
    valuation = chain_valuation(contracts=contracts, now=now, spot=spot)
    quotes = option_quotes_publish(contracts=contracts, now=now, valuation=valuation)
    rows = []
    for row, contract in enumerate(contracts):
        quote = quotes[contract.instrument.symbol]
        rows.append({
            "symbol": contract.instrument.symbol, "option_type": contract.option_type, "style": contract.style,
            "settlement": contract.settlement, "strike": contract.strike, "expiry": contract.expiry,
            "expires_at": contract.expires_at, "multiplier": contract.multiplier,
            "time_to_expiry": valuation.time_to_expiry[row],
            "bid": quote["bid"], "ask": quote["ask"], "mid": quote["last"],  # the quote's last is its mid
            "bid_size": quote["bid_size"], "ask_size": quote["ask_size"],
            "model_price": valuation.valuation.price[row],
            "implied_volatility": valuation.volatility[row],
            **{name: getattr(valuation.valuation, name)[row] for name in ("delta", "gamma", "theta", "vega", "rho")},
        })
    return {"underlying": underlying.symbol, "spot": spot, "rate": Decimal(str(valuation.rate)),
            "dividend_yield": ZERO, "as_of": now, "expiry": expiry, "expirations": expirations, "contracts": rows}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- multi-leg combos (options_trading.combos) ------------------------------------------------


class ComboUnfillable(Conflict):
    code = "strategy_unfillable"


PAYOFF_POINTS = 61


def _combo_legs(*, strategy: str, legs: list[dict], now: datetime) -> list[tuple[OptionContract, dict]]:
    """The legs' contracts (listed on demand), checked to share one underlying and to have the
    shape ``strategy`` names."""
    resolved = []
    for leg in legs:
        contract = option_contract_for_symbol(symbol=leg["symbol"], now=now)
        if contract is None:
            raise DomainError(f"{leg['symbol']!r} is not an option symbol.", code="not_an_option", field="legs")
        _require_unexpired(contract, now)
        resolved.append((contract, leg))
    if len({contract.underlying_id for contract, _ in resolved}) != 1:
        raise DomainError("Every leg must be an option on the same underlying.", code="mixed_underlyings",
                          field="legs")
    if len({contract.pk for contract, _ in resolved}) != len(resolved):
        raise DomainError("Each contract may appear in one leg only.", code="duplicate_leg", field="legs")
    try:
        combos.check_shape(strategy, [combos.Leg(
            option_type=terms.OptionType(contract.option_type), strike=contract.strike, expiry=contract.expiry,
            side=leg["side"], ratio=leg["ratio"]) for contract, leg in resolved])
    except combos.ComboShapeError as error:
        raise DomainError(str(error), code="strategy_shape", field="legs") from None
    return resolved


def _combo_summary(*, strategy: str, resolved: list, prices: list[Decimal], quantity: Decimal,
                      now: datetime) -> dict:
    """Net price, payoff at the first expiry, break-evens and maximum profit and loss.

    With one expiry these are exact (piecewise linear, pricing.combo_profile). A calendar's
    later legs still have time left at the first expiry: they are valued there at the model on
    the surface, and the summary is read off a fine grid of underlying prices."""
    net_price = sum(((1 if leg["side"] == "buy" else -1) * leg["ratio"] * price
                     for (_, leg), price in zip(resolved, prices)), ZERO)
    multiplier = resolved[0][0].multiplier
    pricing_legs = [pricing.ComboLeg(
        option_type=pricing.OptionType(contract.option_type), strike=contract.strike,
        quantity=(1 if leg["side"] == "buy" else -1) * leg["ratio"] * quantity, premium=price,
        multiplier=contract.multiplier) for (contract, leg), price in zip(resolved, prices)]
    spot = reference_price(symbol=resolved[0][0].underlying.symbol)
    strikes = [float(contract.strike) for contract, _ in resolved]
    grid = np.linspace(min(min(strikes), float(spot)) * 0.7, max(max(strikes), float(spot)) * 1.3, PAYOFF_POINTS)
    first_expiry = min(contract.expires_at for contract, _ in resolved)
    if all(contract.expires_at == first_expiry for contract, _ in resolved):
        profile = pricing.combo_profile(pricing_legs)
        payoff = pricing.combo_payoff(pricing_legs, grid)
        break_evens, max_profit, max_loss = profile.break_evens, profile.max_profit, profile.max_loss
    else:
        fine = np.linspace(grid[0], grid[-1], 1201)
        payoff_fine = _payoff_at(resolved=resolved, legs=pricing_legs, prices=fine, at=first_expiry)
        payoff = _payoff_at(resolved=resolved, legs=pricing_legs, prices=grid, at=first_expiry)
        crossings = np.flatnonzero(np.sign(payoff_fine[:-1]) * np.sign(payoff_fine[1:]) < 0)
        break_evens = tuple(Decimal(str(round(float(fine[i] - payoff_fine[i] * (fine[i + 1] - fine[i])
                                                     / (payoff_fine[i + 1] - payoff_fine[i])), 4)))
                            for i in crossings)
        max_profit = from_float(payoff_fine.max(), places=2)
        max_loss = from_float(payoff_fine.min(), places=2)
    return {
        "strategy": strategy, "quantity": quantity, "net_price": net_price,
        "net_premium": -net_price * quantity * multiplier, "break_evens": break_evens,
        "max_profit": max_profit, "max_loss": max_loss, "payoff": list(zip(grid, payoff)),
        "legs": [{"symbol": contract.instrument.symbol, "side": leg["side"], "ratio": leg["ratio"],
                  "option_type": contract.option_type, "strike": contract.strike, "expiry": contract.expiry,
                  "price": price}
                 for (contract, leg), price in zip(resolved, prices)],
    }


def _payoff_at(*, resolved: list, legs: list, prices: np.ndarray, at: datetime) -> np.ndarray:
    """P&L at the instant ``at`` for each underlying price: intrinsic value for legs expiring then,
    the surface model's value for legs expiring later."""
    total = np.zeros(prices.shape)
    for (contract, _), leg in zip(resolved, legs):
        size = float(leg.quantity * leg.multiplier)
        if contract.expires_at <= at:
            sign = 1.0 if leg.option_type == pricing.OptionType.CALL else -1.0
            value = np.maximum(sign * (prices - float(leg.strike)), 0.0)
        else:
            value = contract_values_at(contract=contract, spots=prices, now=at)
        total += size * (value - float(leg.premium))
    return total


def combo_preview(*, strategy: str, legs: list[dict], quantity: Decimal, now: datetime,
                  limit_price: Decimal | None = None) -> dict:
    """Price a combo at the live quotes (buy legs at the ask, sell legs at the bid) and
    describe its payoff, without trading; with ``limit_price``, whether those quotes meet it."""
    resolved = _combo_legs(strategy=strategy, legs=legs, now=now)
    quotes = option_quotes_publish(contracts=[contract for contract, _ in resolved], now=now)
    prices = [Decimal(quotes[contract.instrument.symbol]["ask" if leg["side"] == "buy" else "bid"])
              for contract, leg in resolved]
    summary = _combo_summary(strategy=strategy, resolved=resolved, prices=prices, quantity=quantity, now=now)
    if limit_price is not None:
        summary["limit_met"] = summary["net_price"] <= limit_price
    return summary


def combo_place(*, user, portfolio_id, strategy: str, legs: list[dict], quantity: Decimal,
                   limit_price: Decimal | None = None, now: datetime) -> dict:
    """Trade every leg of a combo at once as one net debit or credit: each leg is a
    fill-or-kill market order (purchases first), executed now against its book. If any leg cannot
    fill in full, the premium and margin are not covered, or the net price is worse than
    ``limit_price``, nothing is traded. Margin is checked for the legs together (a spread needs
    its maximum loss, not its short leg's naked requirement)."""

    with transaction.atomic():
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
        resolved = _combo_legs(strategy=strategy, legs=legs, now=now)
        if not instrument_calendar(resolved[0][0].instrument).is_open(now):
            raise Conflict(f"{resolved[0][0].underlying.symbol} options are outside their trading session; "
                           "a strategy fills at once or not at all.", code="market_closed")
        quotes = option_quotes_publish(contracts=[contract for contract, _ in resolved], now=now)
        trades = []
        for contract, leg in resolved:
            quote = quotes[contract.instrument.symbol]
            sign = 1 if leg["side"] == "buy" else -1
            price = Decimal(quote["ask"] if sign > 0 else quote["bid"])
            trades.append((contract, sign * leg["ratio"] * quantity, Decimal(quote["ask"]), price))
        _require_margin(portfolio=portfolio, book=option_book(positions=portfolio_open_positions(portfolio)),
                        trades=trades)
        group_id = uuid.uuid4()
        orders = []
        token = _combo_in_progress.set(True)
        try:
            for contract, leg in sorted(resolved, key=lambda item: item[1]["side"] != "buy"):
                order, _ = order_place(user=user, portfolio_id=portfolio.pk, now=now, group_id=group_id,
                                       request=OrderRequest(symbol=contract.instrument.symbol, side=leg["side"],
                                                            order_type="market", time_in_force="fok",
                                                            quantity=leg["ratio"] * quantity,
                                                            tags=(f"strategy:{strategy}",)))
                if order.execute_after is not None and order.status == OrderStatus.ACCEPTED:
                    # One combination order: its legs execute together, after the order's latency.
                    order = order_execute_due(order_id=order.pk, now=order.execute_after)
                if order.status != OrderStatus.FILLED:
                    raise ComboUnfillable(f"{contract.instrument.symbol} could not fill {order.quantity:f} "
                                             f"at once ({order.reject_reason or order.status}); nothing was traded.",
                                             field="legs")
                orders.append((contract, leg, order))
        finally:
            _combo_in_progress.reset(token)
        by_contract = {contract.pk: order for contract, _, order in orders}
        fills = [by_contract[contract.pk].average_fill_price for contract, _ in resolved]
        summary = _combo_summary(strategy=strategy, resolved=resolved, prices=fills, quantity=quantity, now=now)
        if limit_price is not None and summary["net_price"] > limit_price:
            raise ComboUnfillable(f"The net price {summary['net_price'].normalize():f} is worse than the limit "
                                     f"{limit_price.normalize():f}; nothing was traded.", field="limit_price")
        summary["order_ids"] = [by_contract[contract.pk].pk for contract, _ in resolved]
        return summary


# --- exercise, assignment, expiry ------------------------------------------------------------------


def _settle_position(*, portfolio, position, contract: OptionContract, quantity: Decimal, underlying_price: Decimal,
                     kind: str, now: datetime) -> OptionEvent:
    """Exercise (long) or assignment (short) of ``quantity`` contracts, or their expiry worthless.

    The option leaves the position through a fee-free settlement fill: at zero when it is
    exercised or assigned into the underlying (the strike changes hands instead) or expires
    worthless, at its intrinsic value when it settles in cash. Physical delivery then books the
    underlying at the strike: a call's holder buys, a put's holder sells, and the assigned writer
    takes the other side. Call inside the transaction holding the portfolio lock."""

    is_long = position.side == "long"
    option_type = terms.OptionType(contract.option_type)
    worthless = kind == OptionEvent.Kind.EXPIRED_WORTHLESS
    cash_settled = contract.settlement == terms.Settlement.CASH and not worthless
    intrinsic = exercise.intrinsic_value(option_type=option_type, strike=contract.strike,
                                         underlying_price=underlying_price)
    close_price = quantize_price(intrinsic) if cash_settled else ZERO
    option_order = order_settle_at_price(portfolio=portfolio, symbol=contract.instrument.symbol,
                                         side="sell" if is_long else "buy", quantity=quantity, price=close_price,
                                         reason=kind, now=now)
    delivery_order, cash_amount = None, ZERO
    if cash_settled:
        cash_amount = quantize_money(close_price * quantity * contract.multiplier * (1 if is_long else -1))
    elif not worthless:
        takes_delivery = (option_type == terms.OptionType.CALL) == is_long
        units = quantity * contract.multiplier
        delivery_order = order_settle_at_price(portfolio=portfolio, symbol=contract.underlying.symbol,
                                               side="buy" if takes_delivery else "sell", quantity=units,
                                               price=contract.strike, reason=kind, now=now)
        cash_amount = quantize_money(contract.strike * units * (-1 if takes_delivery else 1))
    event = OptionEvent.objects.create(
        portfolio=portfolio, contract=contract, position=position, kind=kind, quantity=quantity,
        underlying_price=quantize_price(underlying_price), cash_amount=cash_amount, option_order=option_order,
        delivery_order=delivery_order, created_at=now)
    events.option_event(event)
    return event


def option_exercise(*, user, position_id, quantity: Decimal | None, now: datetime) -> OptionEvent:
    """Exercise a long American option before expiry: all of the position, or ``quantity`` contracts.
    A call's holder pays the strike for the underlying, a put's holder delivers it and is paid the
    strike; the cash paid must be within buying power."""

    with transaction.atomic():
        position = position_get_for_user(user=user, position_id=position_id)
        portfolio = portfolio_lock_for_user(user=user, portfolio_id=position.portfolio_id)
        position = Position.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=position.pk)
        contract = _contracts_query().filter(instrument_id=position.instrument_id).first()
        if contract is None:
            raise DomainError("Only option positions can be exercised.", code="not_an_option", field="position_id")
        if position.status != Position.Status.OPEN or position.side != Position.Direction.LONG:
            raise Conflict("Only an open long option position can be exercised.", code="not_exercisable")
        if contract.style != terms.ExerciseStyle.AMERICAN:
            raise Conflict("A European option is exercised only at expiry.", code="european_exercise")
        _require_unexpired(contract, now)
        quantity = position.quantity if quantity is None else quantity
        if quantity > position.quantity or quantity % position.instrument.lot_size:
            raise DomainError(f"The position holds {position.quantity.normalize():f} contracts.",
                              code="exceeds_position", field="quantity")
        underlying_price = reference_price(symbol=contract.underlying.symbol)
        if contract.option_type == terms.OptionType.CALL:
            cost = contract.strike * quantity * contract.multiplier * conversion_rate(
                from_currency=contract.underlying.quote_currency, to_currency=portfolio.base_currency)
            available = portfolio_valuation(portfolio).buying_power
            if cost > available:
                raise RiskCheckFailed(f"Exercising pays {cost:.2f} for the underlying; {available:.2f} is available.",
                                      code="insufficient_buying_power", field="quantity")
        return _settle_position(portfolio=portfolio, position=position, contract=contract, quantity=quantity,
                                underlying_price=underlying_price, kind=OptionEvent.Kind.EXERCISED, now=now)


def options_expire_due(*, now: datetime) -> int:
    """Settle every contract whose expiry has passed (the periodic job): positions in the money by
    at least $0.01 are exercised (long) or assigned (short), at the underlying's price now; the
    rest expire worthless; open orders on the contract are cancelled. Each portfolio is settled
    under its own lock; a contract is marked settled once all its positions are. Idempotent."""
    settled = 0
    for contract in _contracts_query().filter(settled_at__isnull=True, expires_at__lte=now):
        try:
            underlying_price = reference_price(symbol=contract.underlying.symbol)
        except MarketUnavailable:
            logger.warning("No price for %s: %s settles on a later run", contract.underlying.symbol, contract)
            continue
        in_the_money = exercise.exercises_at_expiry(option_type=terms.OptionType(contract.option_type),
                                                    strike=contract.strike, underlying_price=underlying_price)
        for portfolio_id in _holders(contract):
            with transaction.atomic():
                portfolio = portfolio_get(portfolio_id=portfolio_id, for_update=True)
                _cancel_open_orders(portfolio=portfolio, contract=contract)
                position = Position.objects.select_for_update(of=("self",)).select_related("instrument").filter(
                    portfolio=portfolio, instrument_id=contract.instrument_id, status=Position.Status.OPEN).first()
                if position is None:
                    continue
                if not in_the_money:
                    kind = OptionEvent.Kind.EXPIRED_WORTHLESS
                else:
                    kind = OptionEvent.Kind.AUTO_EXERCISED if position.side == "long" else OptionEvent.Kind.ASSIGNED
                _settle_position(portfolio=portfolio, position=position, contract=contract,
                                 quantity=position.quantity, underlying_price=underlying_price, kind=kind, now=now)
        contract.settled_at = now
        contract.settlement_price = quantize_price(underlying_price)
        contract.save(update_fields=["settled_at", "settlement_price"])
        settled += 1
    return settled


def _holders(contract: OptionContract) -> list:
    holders = set(Position.objects.filter(instrument_id=contract.instrument_id, status=Position.Status.OPEN)
                  .values_list("portfolio_id", flat=True))
    holders |= set(Order.objects.open().filter(instrument_id=contract.instrument_id)
                   .values_list("portfolio_id", flat=True))
    return sorted(holders)


def _cancel_open_orders(*, portfolio, contract: OptionContract) -> None:
    for order_id in Order.objects.open().filter(portfolio=portfolio, instrument_id=contract.instrument_id) \
            .order_by("pk").values_list("pk", flat=True):
        order_cancel(user=portfolio.owner, order_id=order_id)


def early_assignments_run(*, now: datetime) -> int:
    """Assign short American options whose holders would exercise now by the early-assignment
    model (options_trading.exercise.early_assignment_due), in portfolios that have not switched
    it off (the hourly job). Returns how many positions were assigned."""

    commission = DEFAULT_FEE_SCHEDULES[ExecutionClass.OPTION].per_unit_fee
    opted_out = set(OptionSettings.objects.filter(early_assignment=False).values_list("portfolio_id", flat=True))
    shorts = list(Position.objects.filter(status=Position.Status.OPEN, side=Position.Direction.SHORT,
                                          instrument__option_contract__style=terms.ExerciseStyle.AMERICAN,
                                          instrument__option_contract__settled_at__isnull=True)
                  .exclude(portfolio_id__in=opted_out).values_list("pk", "portfolio_id", "instrument_id"))
    contracts = {contract.instrument_id: contract for contract in
                 _contracts_query().filter(instrument_id__in={instrument_id for _, _, instrument_id in shorts})}
    assigned = 0
    for position_id, portfolio_id, instrument_id in shorts:
        contract = contracts[instrument_id]
        if contract.expires_at <= now or state.quote_read(contract.underlying.symbol) is None:
            continue
        underlying_price = reference_price(symbol=contract.underlying.symbol)
        quote = option_quotes_publish(contracts=[contract], now=now)[contract.instrument.symbol]
        if not exercise.early_assignment_due(
                option_type=terms.OptionType(contract.option_type), strike=contract.strike,
                underlying_price=underlying_price, bid=Decimal(quote["bid"]),
                days_to_expiry=(contract.expires_at - now).total_seconds() / 86_400,
                multiplier=contract.multiplier, commission_per_contract=commission):
            continue
        with transaction.atomic():
            portfolio = portfolio_get(portfolio_id=portfolio_id, for_update=True)
            position = Position.objects.select_for_update(of=("self",)).select_related("instrument").get(pk=position_id)
            if position.status != Position.Status.OPEN:
                continue
            _settle_position(portfolio=portfolio, position=position, contract=contract, quantity=position.quantity,
                             underlying_price=underlying_price, kind=OptionEvent.Kind.EARLY_ASSIGNED, now=now)
        assigned += 1
    return assigned
