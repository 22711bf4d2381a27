"""The option calculator behind /api/options/price and /api/options/implied-volatility.

European options go straight to the pricing kernels. An American option's implied volatility is
the volatility at which the default American premium (options_trading.pricing.american_price: the
collocation of the exercise boundary, or the default Leisen-Reimer tree for the signs of rate and
yield the collocation does not cover) reprices it, found by Brent's method between 0.01% and
500%: the premium rises with volatility, so the root is unique when the price lies between the
premium at the lower and at the upper bound. Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass
from scipy.optimize import brentq

from options_trading import pricing

MIN_VOLATILITY, MAX_VOLATILITY = 1e-4, 5.0
GREEKS = ("price", "delta", "gamma", "theta", "vega", "rho")


@dataclass(frozen=True)
class CalculatorInputs:
    option_type: str
    style: str
    spot: float
    strike: float
    time_to_expiry: float
    rate: float
    dividend_yield: float


def valuation(inputs: CalculatorInputs, volatility: float) -> dict[str, float]:
    """Premium and Greeks (theta per calendar day, vega and rho per percentage point)."""
    function = pricing.american_valuation if inputs.style == "american" else pricing.european_valuation
    result = function(option_type=inputs.option_type, spot=inputs.spot, strike=inputs.strike,
                      time_to_expiry=inputs.time_to_expiry, rate=inputs.rate, dividend_yield=inputs.dividend_yield,
                      volatility=volatility)
    return {name: float(getattr(result, name)) for name in GREEKS}


NO_VOLATILITY_REASONS = {
    pricing.IVStatus.BELOW_INTRINSIC: ("below_intrinsic", "The price is below the option's intrinsic value "
                                                          "(its no-arbitrage floor): no volatility reaches it."),
    pricing.IVStatus.ABOVE_UPPER_BOUND: ("above_upper_bound", "The price is at or above the no-arbitrage ceiling "
                                                              "(the spot for a call, the strike for a put)."),
    pricing.IVStatus.NO_CONVERGENCE: ("no_convergence", "The solver did not converge for this price."),
    pricing.IVStatus.INVALID_INPUT: ("invalid_input", "Spot, strike and time to expiry must be positive."),
}


def implied_volatility(inputs: CalculatorInputs, price: float) -> tuple[float | None, pricing.IVStatus]:
    """The volatility that reprices the option to ``price``, or None and the reason there is none."""
    if inputs.style != "american":
        result = pricing.implied_volatility(option_type=inputs.option_type, price=price, spot=inputs.spot,
                                            strike=inputs.strike, time_to_expiry=inputs.time_to_expiry,
                                            rate=inputs.rate, dividend_yield=inputs.dividend_yield)
        status = pricing.IVStatus(int(result.status))
        return (float(result.volatility) if status == pricing.IVStatus.OK else None), status
    if inputs.spot <= 0 or inputs.strike <= 0 or inputs.time_to_expiry <= 0:
        return None, pricing.IVStatus.INVALID_INPUT

    def excess(volatility: float) -> float:
        return float(pricing.american_price(
            option_type=inputs.option_type, spot=inputs.spot, strike=inputs.strike,
            time_to_expiry=inputs.time_to_expiry, rate=inputs.rate, dividend_yield=inputs.dividend_yield,
            volatility=volatility)) - price

    if excess(MIN_VOLATILITY) > 0:
        return None, pricing.IVStatus.BELOW_INTRINSIC
    if excess(MAX_VOLATILITY) < 0:
        return None, pricing.IVStatus.ABOVE_UPPER_BOUND
    return float(brentq(excess, MIN_VOLATILITY, MAX_VOLATILITY, xtol=1e-10)), pricing.IVStatus.OK
