"""Options reads: the calculator, portfolio Greeks and margin, exercise and expiry history."""
from collections import defaultdict

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone

from haunt.errors import Unprocessable
from options_trading import calculator
from options_trading.market import chain_valuation
from options_trading.models import OptionContract, OptionEvent
from options_trading.serializers import GreeksOut
from options_trading.services import option_book
from portfolios.models import Position
from portfolios.selectors import portfolio_get_for_user, position_list_for_user

GREEK_NAMES = ("delta", "gamma", "theta", "vega", "rho")


def _calculator_inputs(values: dict) -> calculator.CalculatorInputs:
    return calculator.CalculatorInputs(
        option_type=values["option_type"], style=values["style"], spot=float(values["spot"]),
        strike=float(values["strike"]), time_to_expiry=float(values["time_to_expiry"]), rate=float(values["rate"]),
        dividend_yield=float(values["dividend_yield"]))


def option_price_calculate(values: dict) -> dict[str, float]:
    """Premium and Greeks for the calculator's validated inputs."""
    return calculator.valuation(_calculator_inputs(values), float(values["volatility"]))


def option_implied_volatility_calculate(values: dict) -> dict[str, float]:
    """The implied volatility of a premium, or 422 saying why no volatility fits it."""
    volatility, status = calculator.implied_volatility(_calculator_inputs(values), float(values["price"]))
    if volatility is None:
        code, message = calculator.NO_VOLATILITY_REASONS[status]
        raise Unprocessable(message, code=code, field="price")
    return {"implied_volatility": volatility}


def portfolio_greeks_for_user(*, user, portfolio_id) -> dict:
    """Live Greeks of each open option position (contracts × multiplier × per-unit Greek), summed
    per underlying, and portfolio totals in dollars: Σ delta·S, Σ gamma·S²/100 (the change of dollar
    delta for a 1% move), and theta, vega and rho as they are (already in dollars)."""
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    positions = list(position_list_for_user(user=user).filter(portfolio=portfolio, instrument__asset_class="option")
                     .select_related("instrument"))
    return {"portfolio": portfolio.pk, **portfolio_greeks(positions)}


def option_greeks_update_extra(portfolio, open_positions) -> dict:
    """PortfolioUpdate's `option_greeks` (the portfolio totals) for a portfolio holding options;
    nothing for the others, so they pay no pricing on their updates."""
    if open_positions is None:
        positions = list(Position.objects.filter(portfolio=portfolio, status=Position.Status.OPEN,
                                                 instrument__asset_class="option").select_related("instrument"))
    else:
        positions = [position for position in open_positions if position.instrument.asset_class == "option"]
    return {"option_greeks": GreeksOut(portfolio_greeks(positions)["total"]).data} if positions else {}


def portfolio_greeks(positions: list) -> dict:
    """Per-position Greeks, sums per underlying and dollar totals of open option positions (floats,
    rendered by PortfolioGreeksOut)."""
    contracts = {contract.instrument_id: contract for contract in OptionContract.objects.select_related(
        "instrument", "underlying").filter(instrument_id__in=[position.instrument_id for position in positions])}
    by_underlying: dict[str, list] = defaultdict(list)
    for position in positions:
        by_underlying[contracts[position.instrument_id].underlying.symbol].append(position)
    now = timezone.now()
    rows, sums, totals = [], {}, dict.fromkeys(GREEK_NAMES, 0.0)
    for symbol, held in by_underlying.items():
        valuation = chain_valuation(contracts=[contracts[position.instrument_id] for position in held], now=now)
        spot = float(valuation.spot)
        sizes = np.array([float((position.quantity if position.side == "long" else -position.quantity)
                                * contracts[position.instrument_id].multiplier) for position in held])
        greeks = {name: np.asarray(getattr(valuation.valuation, name), dtype=float) * sizes for name in GREEK_NAMES}
        for row, position in enumerate(held):
            signed = position.quantity if position.side == "long" else -position.quantity
            rows.append({"position": position.pk, "symbol": position.instrument.symbol, "underlying": symbol,
                         "quantity": signed, **{name: greeks[name][row] for name in GREEK_NAMES}})
        sums[symbol] = {name: float(greeks[name].sum()) for name in GREEK_NAMES}
        totals["delta"] += sums[symbol]["delta"] * spot
        totals["gamma"] += sums[symbol]["gamma"] * spot * spot / 100
        for name in ("theta", "vega", "rho"):
            totals[name] += sums[symbol][name]
    return {"positions": rows, "by_underlying": sums, "total": totals}


def option_margin_for_user(*, user, portfolio_id) -> dict:
    """The Reg-T/Cboe requirement of the portfolio's option positions, piece by piece."""
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    positions = list(position_list_for_user(user=user).filter(portfolio=portfolio).select_related("instrument"))
    book = option_book(positions=positions)
    requirement, by_underlying = book.requirement()
    return {"portfolio": portfolio.pk, "requirement": requirement, "short_value": book.short_value(),
            "lines": {symbol: result.lines for symbol, result in by_underlying.items()}}


def option_events_for_user(*, user, portfolio_id) -> QuerySet[OptionEvent]:
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    return OptionEvent.objects.filter(portfolio=portfolio).select_related("contract__instrument")

