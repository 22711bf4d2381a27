"""Option premiums, Greeks, implied volatility and expiry payoffs (spec §7, appendix C).

Spec §7 asks for Black-Scholes premiums on European options, binomial premiums on American ones,
the five Greeks, implied volatility and multi-leg strategies; appendix C gives the Black-Scholes
Greeks, which are used here in their Black-Scholes-Merton form (continuous dividend yield ``q``).

Conventions, shared by every function:

- ``option_type`` is an :class:`OptionType`, a sequence or array of them (or of the strings
  ``"call"``/``"put"``), or a bool array with True for calls.
- ``spot``, ``strike`` and premiums are prices per unit of the underlying; ``time_to_expiry`` is
  in years; ``rate``, ``dividend_yield`` and ``volatility`` are continuously compounded annual
  decimals (0.05 is 5%). Scalars and arrays broadcast against each other.
- Greeks are quoted the way traders read them: delta and gamma per unit of the underlying,
  theta per calendar day (annual theta / 365), vega and rho per one percentage point (/ 100).

The pricing kernels work in float64 and do not round: the service converts results to Decimal
once, at the boundary (house style §3.7). The strategy summary works on Decimal legs, because
break-evens and maximum profit and loss are money, and piecewise-linear arithmetic is exact there.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import IntEnum, StrEnum

import numpy as np
from scipy.special import erfcx, erfinv, ndtr, ndtri

from options_trading.exercise_boundary import PutValuation, american_put

DAYS_PER_YEAR = 365.0
PERCENTAGE_POINT = 0.01

DEFAULT_TREE_STEPS = 203
"""Depth of the tree that values the American options the collocation of
:mod:`options_trading.exercise_boundary` does not cover (its vega and rho from trees a third as
deep, or this deep where the spot is near the exercise boundary).

With ``steps`` given, :func:`american_price` prices on trees that deep; at this depth, Richardson
extrapolated, the premium is within $0.001 of QuantLib's converged price for only 1,490 of 1,500
random contracts (worst $0.0059): long-dated in-the-money options whose spot sits near the
early-exercise boundary, where the tree error is c/steps with a c that swings by a factor of two
as the step count moves the boundary across the nodes. No extrapolation between step counts
removes that, and depth buys little (a plain 4,999-step tree is still $0.0004 off). That is why
the default premium does not come from a tree."""

_VOLATILITY_BUMP = 0.0001
_RATE_BUMP = 0.00005
_IV_MAX_ITERATIONS = 60
# Bytes of each of a block of trees' two working arrays. Measured fastest on the development
# machine (2 MiB of L2 cache); halving or doubling it costs 10-25%.
_TREE_BLOCK_BYTES = 1 << 20
# Steps between folds of the running weight product into the stored tree values. The smallest
# weight a Leisen-Reimer tree uses is about 3e-5, so sixteen steps of it stay far inside float range.
_FOLD_EVERY = 16
# Steps between surveys of which tree rows some contract, or every contract, exercises.
_EXERCISE_SURVEY_EVERY = 4
_SQRT_2 = np.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


class OptionType(StrEnum):
    CALL = "call"
    PUT = "put"


class IVStatus(IntEnum):
    """Why :func:`implied_volatility` did or did not return a volatility for a quote."""

    OK = 0
    BELOW_INTRINSIC = 1
    """The price is below the discounted forward intrinsic value, the no-arbitrage floor."""
    ABOVE_UPPER_BOUND = 2
    """The price reaches the no-arbitrage ceiling (S·e^-qT for a call, K·e^-rT for a put)."""
    NO_CONVERGENCE = 3
    INVALID_INPUT = 4
    """A non-finite number, a non-positive spot or strike, or no time left to expiry."""


@dataclass(frozen=True)
class OptionValuation:
    """Premium and Greeks per unit of the underlying, each shaped like the broadcast inputs.

    ``theta`` is per calendar day, ``vega`` and ``rho`` per one percentage point of volatility and
    of the risk-free rate.
    """

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray
    rho: np.ndarray


@dataclass(frozen=True)
class ImpliedVolatility:
    """Solved volatilities (NaN where there is none) with an :class:`IVStatus` code per quote."""

    volatility: np.ndarray
    status: np.ndarray


@dataclass(frozen=True)
class ComboLeg:
    """One option position of a multi-leg strategy.

    ``quantity`` is signed (negative for a short leg); ``premium`` is the price per unit of the
    underlying the buyer pays (a short leg receives it); ``multiplier`` is the contract size.
    """

    option_type: OptionType
    strike: Decimal
    quantity: Decimal
    premium: Decimal
    multiplier: Decimal = Decimal(1)


@dataclass(frozen=True)
class ComboProfile:
    """Profit and loss of a strategy held to expiry, net of the premiums paid and received.

    ``max_profit`` is None when profit grows without limit as the underlying rises (a net long
    call position); ``max_loss`` is None when loss does (a net short call position, such as a naked
    short call). ``max_loss`` is reported as a negative P&L. ``break_evens`` are the underlying
    prices, in increasing order, where the P&L crosses zero, plus the ends of any range of prices
    on which it is exactly zero.
    """

    break_evens: tuple[Decimal, ...]
    max_profit: Decimal | None
    max_loss: Decimal | None


def european_price(
    *,
    option_type,
    spot,
    strike,
    time_to_expiry,
    rate,
    dividend_yield,
    volatility,
) -> np.ndarray:
    """Black-Scholes-Merton premium of European options.

    At expiry (``time_to_expiry == 0``) or with zero volatility the premium is the discounted
    forward intrinsic value.
    """
    sign, s, k, t, r, q, v = _pricing_inputs(
        option_type, spot, strike, time_to_expiry, rate, dividend_yield, volatility
    )
    terms = _BlackScholesTerms(sign, s, k, t, r, q, v)
    return terms.price()[()]


def european_valuation(
    *,
    option_type,
    spot,
    strike,
    time_to_expiry,
    rate,
    dividend_yield,
    volatility,
) -> OptionValuation:
    """Black-Scholes-Merton premium and analytic Greeks of European options.

    At expiry the premium is the intrinsic value, delta is the payoff's slope (half of it at the
    money) and gamma, theta, vega and rho are zero. With zero volatility the Greeks are those of
    the deterministic forward payoff.
    """
    sign, s, k, t, r, q, v = _pricing_inputs(
        option_type, spot, strike, time_to_expiry, rate, dividend_yield, volatility
    )
    return _BlackScholesTerms(sign, s, k, t, r, q, v).valuation()


def american_price(
    *,
    option_type,
    spot,
    strike,
    time_to_expiry,
    rate,
    dividend_yield,
    volatility,
    steps: int | None = None,
    extrapolate: bool = True,
) -> np.ndarray:
    """Premium of American options.

    By default (``steps=None``) the premium is not a tree's: it is the European value plus the
    early-exercise premium integrated over the exercise boundary, which is solved by spectral
    collocation (Andersen-Lake-Offengelder, :mod:`options_trading.exercise_boundary`). It is
    within $0.0001 of QuantLib's converged price on every contract tested, where a tree of a few
    hundred steps misses by up to $0.006 near the exercise boundary (see
    :data:`DEFAULT_TREE_STEPS`). It covers calls with ``dividend_yield > 0`` and ``rate >= 0`` and
    puts with ``rate > 0`` and ``dividend_yield >= 0``; early exercise under other signs of the
    rate and yield (a negative yield, or a put with ``dividend_yield < rate < 0``, whose exercise
    region has two boundaries) is priced on the default tree instead.

    With ``steps`` the premium comes from a Leisen-Reimer binomial tree that deep (made odd, as
    the tree requires). With ``extrapolate`` the price is Richardson-extrapolated from this tree
    and one about a third as deep, which removes the first-order error of discrete exercise;
    without it the result is the plain tree price, the same number QuantLib's
    ``BinomialVanillaEngine("lr", steps)`` returns. Volatility must be positive wherever early
    exercise can matter.

    Calls with ``dividend_yield <= 0 <= rate`` and puts with ``rate <= 0 <= dividend_yield`` are
    never worth exercising early, so they are priced exactly as European options.
    """
    _check_tree_choice(steps, extrapolate)
    sign, s, k, t, r, q, v = _pricing_inputs(
        option_type, spot, strike, time_to_expiry, rate, dividend_yield, volatility
    )
    shape = s.shape
    price = _BlackScholesTerms(sign, s, k, t, r, q, v).price().ravel()
    early = _may_exercise_early(sign, t, r, q).ravel()
    if early.any():
        contracts = _flat_contracts(early, sign, s, k, t, r, q, v)
        if steps is None:
            collocated = _collocated(contracts)
            values = np.empty(contracts.spot.size)
            values[collocated] = _collocation(_subset(contracts, collocated))[0].price
            if not collocated.all():
                others = _subset(contracts, ~collocated)
                values[~collocated] = _extrapolated_tree(others, DEFAULT_TREE_STEPS, True).price
            price[early] = values
        else:
            price[early] = _extrapolated_tree(contracts, steps, extrapolate).price
    return price.reshape(shape)[()]


def american_valuation(
    *,
    option_type,
    spot,
    strike,
    time_to_expiry,
    rate,
    dividend_yield,
    volatility,
    steps: int | None = None,
    extrapolate: bool = True,
) -> OptionValuation:
    """Premium and Greeks of American options, the premium as in :func:`american_price`.

    By default the premium, delta and gamma come from the collocation of the exercise boundary:
    the boundary does not depend on the spot, so delta and gamma are the exact spot derivatives
    of the collocation premium (European delta and gamma plus the derivatives of the
    early-exercise integral, taken under the integral). With ``steps`` (and for the contracts the
    collocation does not cover) they come from the tree instead: finite differences over its
    nodes one and two steps in, as in QuantLib's binomial engine, extrapolated like the premium.

    Theta follows from the Black-Scholes equation, which holds wherever holding beats exercising
    (there theta = rV - (r-q)SΔ - ½σ²S²Γ). Where immediate exercise is optimal the option is its
    exercise value: delta is ±1 and the other Greeks are 0.

    By default vega and rho are the derivatives of the collocation premium too, with no tree and
    no bumped repricing: the European vega and rho plus the derivatives of the early-exercise
    integral, through its integrand and through the boundary, whose own derivatives solve the
    boundary equation differentiated (:func:`options_trading.exercise_boundary.american_put`).
    They are within 0.0005 per percentage point of central differences of QuantLib's converged
    price on every contract tested, the worst where the spot sits on the exercise boundary.

    With ``steps`` (and for the contracts the collocation does not cover) vega and rho are forward
    differences of plain (not extrapolated) tree prices a third as deep as ``steps``
    (:data:`DEFAULT_TREE_STEPS` for those contracts), with volatility bumped up by 0.01 and the
    rate by 0.005 percentage point, or of full-depth tree prices where the spot is within two
    steps of the exercise boundary. Options that are never exercised early get the analytic
    European Greeks.
    """
    _check_tree_choice(steps, extrapolate)
    sign, s, k, t, r, q, v = _pricing_inputs(
        option_type, spot, strike, time_to_expiry, rate, dividend_yield, volatility
    )
    shape = s.shape
    european = _BlackScholesTerms(sign, s, k, t, r, q, v).valuation()
    columns = {
        name: np.array(getattr(european, name), dtype=float).ravel()
        for name in ("price", "delta", "gamma", "theta", "vega", "rho")
    }
    early = _may_exercise_early(sign, t, r, q).ravel()
    if early.any():
        contracts = _flat_contracts(early, sign, s, k, t, r, q, v)
        if steps is None:
            collocated = _collocated(contracts)
            parts = [(collocated, _collocation_valuation)]
            if not collocated.all():
                parts.append((~collocated, lambda picked: _tree_valuation(picked, DEFAULT_TREE_STEPS, True)))
        else:
            every = np.ones(contracts.spot.size, dtype=bool)
            parts = [(every, lambda picked: _tree_valuation(picked, steps, extrapolate))]
        for mask, valuation in parts:
            if mask.any():
                rows = np.flatnonzero(early)[mask]
                for name, values in valuation(_subset(contracts, mask)).items():
                    columns[name][rows] = values
    return OptionValuation(**{name: values.reshape(shape)[()] for name, values in columns.items()})


def implied_volatility(
    *,
    option_type,
    price,
    spot,
    strike,
    time_to_expiry,
    rate,
    dividend_yield,
) -> ImpliedVolatility:
    """Black-Scholes-Merton volatility that reprices European options to ``price``.

    Quotes with no solution get NaN and a status saying why instead of a wrong number: below the
    discounted forward intrinsic value, at or above the no-arbitrage ceiling, or invalid input. A
    price at the intrinsic value (to within rounding) has volatility 0: its time value is too small
    to tell volatilities apart, and 0 both reprices it and gives its Greeks.

    The solver works on the normalised out-of-the-money price (in-the-money quotes are mapped
    through put-call parity) and brackets the root on either side of the inflection point of the
    price curve. Below it, it runs Halley iterations on the log of the price; above it, on the log
    of the distance to the ceiling. Both objectives are nearly linear in their region, and a step
    that leaves the bracket is replaced by bisection, so every valid quote converges, deep in or
    out of the money and a day from expiry alike, typically in three to five iterations.
    """
    sign = _call_put_sign(option_type)
    sign, p, s, k, t, r, q = (
        np.array(a, dtype=float)
        for a in np.broadcast_arrays(sign, price, spot, strike, time_to_expiry, rate, dividend_yield)
    )
    shape = p.shape
    sign, p, s, k, t, r, q = (a.ravel() for a in (sign, p, s, k, t, r, q))
    volatility = np.full(p.shape, np.nan)
    status = np.full(p.shape, IVStatus.INVALID_INPUT, dtype=np.int8)

    with np.errstate(all="ignore"):
        valid = (
            np.isfinite(p) & np.isfinite(s) & np.isfinite(k) & np.isfinite(t)
            & np.isfinite(r) & np.isfinite(q) & (s > 0) & (k > 0) & (t > 0)
        )
        log_moneyness = np.log(s / k) + (r - q) * t
        normaliser = np.exp(-r * t + 0.5 * (np.log(s) + np.log(k) + (r - q) * t))
        # As a call: a put with log-moneyness x prices like a call with -x once normalised.
        x = sign * log_moneyness
        beta = p / normaliser
        intrinsic = np.where(x > 0, 2.0 * np.sinh(0.5 * x), 0.0)
        ceiling = np.exp(0.5 * x)
        # An in-the-money price is a difference of two terms of size e^(±x/2), so it carries
        # their rounding: within that of the intrinsic value it is at it, not below it.
        rounding_scale = np.where(x > 0, 2.0 * np.cosh(0.5 * x), beta)
        tolerance = 64.0 * np.finfo(float).eps * np.maximum(beta, rounding_scale)
        time_value = beta - intrinsic

    below = valid & (time_value < -tolerance)
    at_intrinsic = valid & ~below & (time_value <= tolerance)
    # Only an infinite volatility reaches the ceiling, so a price within rounding of it has none.
    above = valid & ~below & ~at_intrinsic & (beta >= ceiling - tolerance)
    solvable = valid & ~below & ~at_intrinsic & ~above
    status[below] = IVStatus.BELOW_INTRINSIC
    status[above] = IVStatus.ABOVE_UPPER_BOUND
    status[at_intrinsic] = IVStatus.OK
    volatility[at_intrinsic] = 0.0

    otm_x = -np.abs(x[solvable])
    total_vol, converged = _solve_normalised_otm_call(otm_x, time_value[solvable])
    solved_index = np.flatnonzero(solvable)
    volatility[solved_index[converged]] = total_vol[converged] / np.sqrt(t[solved_index[converged]])
    status[solved_index[converged]] = IVStatus.OK
    status[solved_index[~converged]] = IVStatus.NO_CONVERGENCE
    return ImpliedVolatility(volatility=volatility.reshape(shape)[()], status=status.reshape(shape)[()])


def combo_payoff(legs: Sequence[ComboLeg], underlying_prices: np.ndarray) -> np.ndarray:
    """P&L at expiry, net of premiums, of a multi-leg strategy at each underlying price (for charts)."""
    prices = np.asarray(underlying_prices, dtype=float)
    total = np.zeros(prices.shape)
    for leg in legs:
        sign = 1.0 if leg.option_type is OptionType.CALL else -1.0
        intrinsic = np.maximum(sign * (prices - float(leg.strike)), 0.0)
        total += float(leg.quantity * leg.multiplier) * (intrinsic - float(leg.premium))
    return total


def combo_profile(legs: Sequence[ComboLeg]) -> ComboProfile:
    """Break-evens and maximum profit and loss at expiry of a multi-leg strategy, exactly.

    The P&L is piecewise linear in the underlying price with kinks only at the strikes, so its
    extremes on [0, ∞) lie at zero, at a strike, or at infinity, where the slope is the net
    quantity of calls.
    """
    kinks = sorted({Decimal(0), *(leg.strike for leg in legs)})
    values = [_strategy_value(legs, price) for price in kinks]
    final_slope = sum(
        (leg.quantity * leg.multiplier for leg in legs if leg.option_type is OptionType.CALL),
        Decimal(0),
    )
    max_profit = None if final_slope > 0 else max(values)
    max_loss = None if final_slope < 0 else min(values)

    break_evens: list[Decimal] = []
    for left, right, left_value, right_value in zip(kinks, kinks[1:], values, values[1:]):
        if left_value == 0 and left > 0 and not (break_evens and break_evens[-1] == left):
            break_evens.append(left)
        if (left_value < 0 < right_value) or (left_value > 0 > right_value):
            break_evens.append(left + (right - left) * left_value / (left_value - right_value))
    last, last_value = kinks[-1], values[-1]
    if last_value == 0 and last > 0 and not (break_evens and break_evens[-1] == last):
        break_evens.append(last)
    if (last_value < 0 < final_slope) or (last_value > 0 > final_slope):
        break_evens.append(last - last_value / final_slope)
    return ComboProfile(break_evens=tuple(break_evens), max_profit=max_profit, max_loss=max_loss)


def _strategy_value(legs: Sequence[ComboLeg], underlying_price: Decimal) -> Decimal:
    total = Decimal(0)
    for leg in legs:
        if leg.option_type is OptionType.CALL:
            intrinsic = max(underlying_price - leg.strike, Decimal(0))
        else:
            intrinsic = max(leg.strike - underlying_price, Decimal(0))
        total += leg.quantity * leg.multiplier * (intrinsic - leg.premium)
    return total


def _call_put_sign(option_type) -> np.ndarray:
    """+1.0 for calls, -1.0 for puts, shaped like ``option_type``."""
    if isinstance(option_type, OptionType):
        return np.float64(1.0 if option_type is OptionType.CALL else -1.0)
    kinds = np.asarray(option_type)
    if kinds.dtype == bool:
        return np.where(kinds, 1.0, -1.0)
    kinds = kinds.astype(str)
    unknown = ~np.isin(kinds, [OptionType.CALL.value, OptionType.PUT.value])
    if unknown.any():
        raise ValueError(f"option_type must be call or put, got {kinds[unknown][0]!r}")
    return np.where(kinds == OptionType.CALL.value, 1.0, -1.0)


def _pricing_inputs(option_type, *values):
    """Broadcast float64 copies of the pricing inputs, after checking they can be priced."""
    sign = _call_put_sign(option_type)
    arrays = tuple(np.array(a, dtype=float) for a in np.broadcast_arrays(sign, *values))
    sign, spot, strike, time_to_expiry, rate, dividend_yield, volatility = arrays
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("pricing inputs must be finite")
    if (spot <= 0).any() or (strike <= 0).any():
        raise ValueError("spot and strike must be positive")
    if (time_to_expiry < 0).any() or (volatility < 0).any():
        raise ValueError("time_to_expiry and volatility must not be negative")
    return arrays


class _BlackScholesTerms:
    """The d1/d2 terms of Black-Scholes-Merton and the quantities built from them."""

    def __init__(self, sign, spot, strike, time_to_expiry, rate, dividend_yield, volatility):
        self.sign, self.spot, self.strike = sign, spot, strike
        self.time, self.rate, self.dividend_yield, self.volatility = (
            time_to_expiry, rate, dividend_yield, volatility,
        )
        self.dividend_discount = np.exp(-dividend_yield * time_to_expiry)
        self.rate_discount = np.exp(-rate * time_to_expiry)
        self.root_time = np.sqrt(time_to_expiry)
        self.total_vol = volatility * self.root_time
        log_moneyness = np.log(spot / strike) + (rate - dividend_yield) * time_to_expiry
        # With no volatility left the forward is certain: d1 = d2 = ±inf, or 0 at the money, as
        # in the limit, which turns every formula below into the deterministic-payoff one.
        diffusing = self.total_vol > 0
        safe_total_vol = np.where(diffusing, self.total_vol, 1.0)
        certain_d = np.where(log_moneyness > 0, np.inf, np.where(log_moneyness < 0, -np.inf, 0.0))
        self.d1 = np.where(diffusing, log_moneyness / safe_total_vol + 0.5 * self.total_vol, certain_d)
        self.d2 = np.where(diffusing, self.d1 - self.total_vol, self.d1)
        self.diffusing = diffusing
        self.expired = time_to_expiry == 0

    def price(self) -> np.ndarray:
        s = self.sign
        price = s * (
            self.spot * self.dividend_discount * ndtr(s * self.d1)
            - self.strike * self.rate_discount * ndtr(s * self.d2)
        )
        # Far out of the money the two terms cancel; rounding must not leave a negative premium.
        return np.maximum(price, 0.0)

    def valuation(self) -> OptionValuation:
        s = self.sign
        density = np.exp(-0.5 * self.d1 * self.d1) * _INV_SQRT_2PI
        weighted_spot = self.spot * self.dividend_discount
        weighted_strike = self.strike * self.rate_discount
        spot_probability = ndtr(s * self.d1)
        strike_probability = ndtr(s * self.d2)
        price = np.maximum(s * (weighted_spot * spot_probability - weighted_strike * strike_probability), 0.0)
        delta = s * self.dividend_discount * spot_probability
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = np.where(
                self.diffusing, self.dividend_discount * density / (self.spot * self.total_vol), 0.0
            )
            time_decay = np.where(
                self.diffusing, weighted_spot * density * self.volatility / (2.0 * self.root_time), 0.0
            )
        annual_theta = (
            -time_decay
            - s * self.rate * weighted_strike * strike_probability
            + s * self.dividend_yield * weighted_spot * spot_probability
        )
        vega = weighted_spot * density * self.root_time
        rho = s * weighted_strike * self.time * strike_probability
        expired = self.expired
        if expired.any():
            at_money = self.spot == self.strike
            slope = np.where(s * (self.spot - self.strike) > 0, s, 0.0)
            delta = np.where(expired, np.where(at_money, 0.5 * s, slope), delta)
            annual_theta = np.where(expired, 0.0, annual_theta)
        return OptionValuation(
            price=price[()],
            delta=delta[()],
            gamma=gamma[()],
            theta=(annual_theta / DAYS_PER_YEAR)[()],
            vega=(vega * PERCENTAGE_POINT)[()],
            rho=(rho * PERCENTAGE_POINT)[()],
        )


def _check_tree_choice(steps: int | None, extrapolate: bool) -> None:
    if steps is None and not extrapolate:
        raise ValueError("extrapolate=False asks for a plain tree's price: give its steps")


# Carry (rate or yield times time to expiry) below which early exercise is worth nothing measurable:
# a put's early-exercise premium is at most the interest on its strike, K·(1 - e^(-rT)) <= K·rT,
# so 1e-15 keeps it under the doubles' rounding of K. Rates this small are zero for pricing; left
# in, they underflow the boundary's formulas (r / (1 - e^(-rT)) with both ends near 5e-324).
NEGLIGIBLE_CARRY = 1e-15


def _may_exercise_early(sign, time_to_expiry, rate, dividend_yield) -> np.ndarray:
    """Whether early exercise can be worth something, so the European price is not the answer."""
    never_early = np.where(
        sign > 0,
        (dividend_yield * time_to_expiry <= NEGLIGIBLE_CARRY) & (rate >= 0),
        (rate * time_to_expiry <= NEGLIGIBLE_CARRY) & (dividend_yield >= 0),
    )
    return (time_to_expiry > 0) & ~never_early


@dataclass(frozen=True)
class _Contracts:
    """Flat float arrays of the contracts to price on a tree."""

    sign: np.ndarray
    spot: np.ndarray
    strike: np.ndarray
    time: np.ndarray
    rate: np.ndarray
    dividend_yield: np.ndarray
    volatility: np.ndarray


def _flat_contracts(mask, *arrays) -> _Contracts:
    contracts = _Contracts(*(a.ravel()[mask] for a in arrays))
    if (contracts.volatility <= 0).any():
        raise ValueError("American options that may be exercised early need a positive volatility")
    return contracts


@dataclass(frozen=True)
class _TreeResult:
    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    exercised_now: np.ndarray
    exercised_near_root: np.ndarray
    """Whether exercise is optimal at some node within two steps of the root."""


def _subset(contracts: _Contracts, mask: np.ndarray) -> _Contracts:
    return _Contracts(*(getattr(contracts, f.name)[mask] for f in fields(_Contracts)))


def _collocated(contracts: _Contracts) -> np.ndarray:
    """Which contracts the boundary collocation prices: one exercise boundary, as a put with a
    positive rate and a non-negative yield (a call's rate and yield swap places)."""
    put_rate = np.where(contracts.sign > 0, contracts.dividend_yield, contracts.rate)
    put_yield = np.where(contracts.sign > 0, contracts.rate, contracts.dividend_yield)
    return (put_rate > 0) & (put_yield >= 0)


def _collocation(
    contracts: _Contracts, *, parameter_greeks: bool = False
) -> tuple[_TreeResult, PutValuation]:
    """Premium, delta and gamma from the collocation of the exercise boundary, and the put
    valuation they come from (with its vega, rho and dividend rho if ``parameter_greeks``).

    A call is valued as the put of McDonald-Schroder symmetry, C(S, K, r, q) = P(K, S, q, r). The
    premium is homogeneous of degree one in (S, K), so the call's delta, the put's derivative in
    its strike, is (P - K·∂P/∂K)/S and the call's gamma K²/S² times the put's.
    """
    is_call = contracts.sign > 0
    put_spot = np.where(is_call, contracts.strike, contracts.spot)
    put_strike = np.where(is_call, contracts.spot, contracts.strike)
    put = american_put(
        put_spot,
        put_strike,
        np.where(is_call, contracts.dividend_yield, contracts.rate),
        np.where(is_call, contracts.rate, contracts.dividend_yield),
        contracts.volatility,
        contracts.time,
        parameter_greeks=parameter_greeks,
    )
    result = _TreeResult(
        price=put.price,
        delta=np.where(is_call, (put.price - put_spot * put.delta) / put_strike, put.delta),
        gamma=np.where(is_call, (put_spot / put_strike) ** 2 * put.gamma, put.gamma),
        exercised_now=put.exercised_now,
        exercised_near_root=put.exercised_now,
    )
    return result, put


def _collocation_valuation(contracts: _Contracts) -> dict[str, np.ndarray]:
    """Premium and every Greek from the collocation. Vega and rho are the derivatives of its
    premium: the European ones plus those of the early-exercise integral, through the integrand
    and through the boundary, whose derivatives solve the boundary equation differentiated
    (:func:`options_trading.exercise_boundary.american_put`). A call's rho is the derivative of its
    symmetric put in that put's yield."""
    base, put = _collocation(contracts, parameter_greeks=True)
    rho = np.where(contracts.sign > 0, put.dividend_rho, put.rho)
    return _quoted_greeks(contracts, base, put.vega, rho)


def _tree_valuation(contracts: _Contracts, steps: int, extrapolate: bool) -> dict[str, np.ndarray]:
    """American premium and Greeks (in the quoted units) on trees ``steps`` deep: one deep tree
    and the three shallow ones of :func:`_tree_vega_rho`, whose first is also the coarse half of
    the Richardson extrapolation."""
    n = contracts.spot.size
    fine_steps = _fine_steps(steps, extrapolate)
    fine = _leisen_reimer_tree(contracts, fine_steps)
    vega, rho, shallow = _tree_vega_rho(contracts, fine_steps, fine)
    if extrapolate:
        coarse = _TreeResult(*(getattr(shallow, f.name)[:n] for f in fields(_TreeResult)))
        base = _richardson_extrapolation(contracts, fine, fine_steps, coarse, _coarse_steps(fine_steps))
    else:
        base = fine
    return _quoted_greeks(contracts, base, vega, rho)


def _tree_vega_rho(
    contracts: _Contracts, fine_steps: int, fine: _TreeResult
) -> tuple[np.ndarray, np.ndarray, _TreeResult]:
    """Vega and rho (per unit) from forward differences of plain tree prices, and the shallow trees.

    ``fine`` is the contracts' plain tree, ``fine_steps`` deep. The shallow trees, a third as
    deep, price the contracts as they are, with volatility 0.01 point higher and with the rate
    0.005 point higher. The tree errors of two
    prices a small bump apart are nearly the same and cancel in the difference, and a third of
    the depth is a ninth of the work. Bumps this small keep the one-sided difference's own error
    (half the bump times the second derivative) mostly below the tree's, and spare the two trees
    a central difference would need. The differences are of plain prices: Richardson
    extrapolation cancels the smooth part of the tree error but amplifies its oscillating part,
    and only the oscillating part survives differencing.

    Where a tree exercises within two steps of the root but the option is held now, the spot sits
    so near the exercise boundary that the shallow tree resolves poorly how the premium moves (it
    may even exercise at once): those contracts are bumped on trees as deep as ``fine``, against
    its price.
    """
    n = contracts.spot.size
    shallow = _leisen_reimer_tree(_bumped(contracts, (0.0, 0.0), (_VOLATILITY_BUMP, 0.0), (0.0, _RATE_BUMP)),
                                  _coarse_steps(fine_steps))
    shallow_price = shallow.price.reshape(3, n)
    vega = (shallow_price[1] - shallow_price[0]) / _VOLATILITY_BUMP
    rho = (shallow_price[2] - shallow_price[0]) / _RATE_BUMP
    near_boundary = shallow.exercised_near_root[:n] | fine.exercised_near_root
    unresolved = np.flatnonzero(near_boundary & ~fine.exercised_now)
    if unresolved.size:
        deep = _leisen_reimer_tree(_bumped(_subset(contracts, unresolved), (_VOLATILITY_BUMP, 0.0), (0.0, _RATE_BUMP)),
                                   fine_steps).price.reshape(2, unresolved.size)
        vega[unresolved] = (deep[0] - fine.price[unresolved]) / _VOLATILITY_BUMP
        rho[unresolved] = (deep[1] - fine.price[unresolved]) / _RATE_BUMP
    return vega, rho, shallow


def _bumped(contracts: _Contracts, *bumps: tuple[float, float]) -> _Contracts:
    """The contracts once per (volatility bump, rate bump), one copy after another."""
    copies = len(bumps)
    return _Contracts(
        sign=np.tile(contracts.sign, copies),
        spot=np.tile(contracts.spot, copies),
        strike=np.tile(contracts.strike, copies),
        time=np.tile(contracts.time, copies),
        rate=np.concatenate([contracts.rate + rate_bump for _, rate_bump in bumps]),
        dividend_yield=np.tile(contracts.dividend_yield, copies),
        volatility=np.concatenate([contracts.volatility + vol_bump for vol_bump, _ in bumps]),
    )


def _quoted_greeks(
    contracts: _Contracts, base: _TreeResult, vega: np.ndarray, rho: np.ndarray
) -> dict[str, np.ndarray]:
    """Premium and Greeks in the quoted units, theta from the Black-Scholes equation."""
    vol, rate = contracts.volatility, contracts.rate
    annual_theta = (
        rate * base.price
        - (rate - contracts.dividend_yield) * contracts.spot * base.delta
        - 0.5 * vol * vol * contracts.spot * contracts.spot * base.gamma
    )
    # An option worth exercising now is worth its exercise value nearby too: no time value to
    # decay and nothing for volatility or the rate to move.
    annual_theta, vega, rho = (np.where(base.exercised_now, 0.0, greek) for greek in (annual_theta, vega, rho))
    return {
        "price": base.price,
        "delta": base.delta,
        "gamma": base.gamma,
        "theta": annual_theta / DAYS_PER_YEAR,
        "vega": vega * PERCENTAGE_POINT,
        "rho": rho * PERCENTAGE_POINT,
    }


def _fine_steps(steps: int, extrapolate: bool) -> int:
    """The depth of the premium's tree: ``steps``, made odd as Leisen-Reimer trees require."""
    minimum = 9 if extrapolate else 3
    if steps < minimum:
        raise ValueError(f"the tree needs at least {minimum} steps")
    return steps if steps % 2 else steps + 1


def _coarse_steps(fine_steps: int) -> int:
    """A third of the depth, odd, and at least 3 (the delta and gamma nodes are two steps in).

    A third rather than a half for the Richardson extrapolation: the tree error is c/steps plus an
    oscillating part, and the wider ratio amplifies the oscillation less.
    """
    coarse_steps = fine_steps // 3
    return max(coarse_steps - (1 - coarse_steps % 2), 3)


def _extrapolated_tree(contracts: _Contracts, steps: int, extrapolate: bool) -> _TreeResult:
    fine_steps = _fine_steps(steps, extrapolate)
    fine = _leisen_reimer_tree(contracts, fine_steps)
    if not extrapolate:
        return fine
    coarse_steps = _coarse_steps(fine_steps)
    return _richardson_extrapolation(
        contracts, fine, fine_steps, _leisen_reimer_tree(contracts, coarse_steps), coarse_steps
    )


def _richardson_extrapolation(
    contracts: _Contracts, fine: _TreeResult, fine_steps: int, coarse: _TreeResult, coarse_steps: int
) -> _TreeResult:
    # The discrete-exercise error of the tree is first order in 1/steps; this cancels it.
    weight_fine = fine_steps / (fine_steps - coarse_steps)
    weight_coarse = coarse_steps / (fine_steps - coarse_steps)
    # Where exercising now is optimal the value is the exercise value exactly. Elsewhere the
    # extrapolation, which assumes an error falling as 1/steps, slightly over-corrects the tree's
    # European part (its error falls as 1/steps²): far from exercise that could take the price a
    # few millionths below the European value, a no-arbitrage floor like the exercise value.
    exercise_value = np.maximum(contracts.sign * (contracts.spot - contracts.strike), 0.0)
    european_value = _BlackScholesTerms(
        contracts.sign, contracts.spot, contracts.strike, contracts.time, contracts.rate,
        contracts.dividend_yield, contracts.volatility,
    ).price()
    exercised_now = fine.exercised_now
    extrapolated = weight_fine * fine.price - weight_coarse * coarse.price
    floor = np.maximum(european_value, exercise_value)
    return _TreeResult(
        price=np.where(exercised_now, exercise_value, np.maximum(extrapolated, floor)),
        delta=np.where(exercised_now, contracts.sign, weight_fine * fine.delta - weight_coarse * coarse.delta),
        gamma=np.where(exercised_now, 0.0, weight_fine * fine.gamma - weight_coarse * coarse.gamma),
        exercised_now=exercised_now,
        exercised_near_root=fine.exercised_near_root,
    )


def _peizer_pratt_inversion(z: np.ndarray, steps: int) -> np.ndarray:
    """Method-2 Peizer-Pratt inversion: the binomial probability matching N(z) over ``steps``."""
    scaled = z / (steps + 1.0 / 3.0 + 0.1 / (steps + 1.0))
    return 0.5 + np.sign(z) * np.sqrt(-0.25 * np.expm1(-scaled * scaled * (steps + 1.0 / 6.0)))


def _leisen_reimer_tree(contracts: _Contracts, steps: int) -> _TreeResult:
    """Backward induction on Leisen-Reimer trees, a block of calls or of puts at a time.

    Calls and puts go to separate blocks because their exercise regions lie at opposite ends of
    the tree. A block's working arrays stay in cache; one tree over the whole chain would stream
    them through memory at every step.
    """
    size = contracts.spot.size
    block_size = max(_TREE_BLOCK_BYTES // (8 * (steps + 1)), 64)
    result = _TreeResult(*(np.empty(size, dtype=dtype) for dtype in (float, float, float, bool, bool)))
    for is_call in (True, False):
        members = np.flatnonzero((contracts.sign > 0) == is_call)
        # Contracts alike in standardised moneyness have their exercise boundaries and their far
        # out-of-the-money rows at similar rows of the tree: blocked together, a block's bands of
        # work stay narrow.
        moneyness = contracts.sign[members] * np.log(contracts.spot[members] / contracts.strike[members])
        members = members[np.argsort(moneyness / (contracts.volatility[members] * np.sqrt(contracts.time[members])))]
        for start in range(0, members.size, block_size):
            index = members[start : start + block_size]
            block = _Contracts(*(getattr(contracts, f.name)[index] for f in fields(_Contracts)))
            block_result = _leisen_reimer_block(block, steps, is_call)
            for f in fields(_TreeResult):
                getattr(result, f.name)[index] = getattr(block_result, f.name)
    return result


def _leisen_reimer_block(contracts: _Contracts, steps: int, is_call: bool) -> _TreeResult:
    """Backward induction on Leisen-Reimer trees for a block of calls, or of puts, at once.

    Arrays are laid out node-major (node, contract) so each step works on contiguous rows. Row 0
    is the node deepest in the money (the lowest spot for puts, the highest for calls), so the
    exercise region always lies at the low rows and the far out-of-the-money region at the high
    ones. Four devices keep the work per step down:

    - Values are stored divided by a running product of the weight of the child away from the
      money, so a step is one multiply and one add: stored[k] += weight ratio · stored[k + 1].
      The product is folded back into the values every few steps, before it can leave float range.
    - Early exercise is checked only up to two rows past the last row where some contract of the
      block exercised when the rows were last surveyed (every few steps): earlier in the tree
      the exercise region is never larger, since more time to expiry never makes exercising
      more attractive.
    - Below the first row where some contract held at the last survey (less a row for each step
      since), every node has both children exercised, so it is exercised too: holding it is
      worth the discounted forward payoff, which exercising beats wherever exercise was optimal a
      step later and deeper in the money. Those rows are skipped, and filled with their exercise
      value when the skipped region shrinks.
    - Rows more than ten standard deviations (of the remaining life) out of the money for every
      contract are left alone: their values are below e^-50 of the strike.
    """
    spot, strike = contracts.spot, contracts.strike
    time, rate, dividend_yield, vol = (
        contracts.time, contracts.rate, contracts.dividend_yield, contracts.volatility,
    )
    dt = time / steps
    total_vol = vol * np.sqrt(time)
    d2 = (np.log(spot / strike) + (rate - dividend_yield - 0.5 * vol * vol) * time) / total_vol
    # Leisen-Reimer tunes the tree to the strike through d2. Beyond 3·sqrt(steps) standard
    # deviations its probabilities round towards 0 or 1 (QuantLib's engine then refuses); such an
    # option is all but certain to finish in or out of the money, and a tree tuned to a nearer
    # strike prices it as well.
    limit = 3.0 * np.sqrt(steps)
    d2 = np.clip(d2, -limit, limit)
    up_probability = _peizer_pratt_inversion(d2, steps)
    spot_up_probability = _peizer_pratt_inversion(d2 + total_vol, steps)
    growth = np.exp((rate - dividend_yield) * dt)
    up = growth * spot_up_probability / up_probability
    down = growth * (1.0 - spot_up_probability) / (1.0 - up_probability)
    discount = np.exp(-rate * dt)
    log_spread = np.log(up / down)
    # Towards the money is up for puts and down for calls: row k of level i is the node with k
    # moves that way, and its children are rows k (one more move away) and k + 1.
    if is_call:
        away, away_probability, sign = up, up_probability, 1.0
        # "Exercised a step later and deeper in the money, so exercised now" needs a positive
        # yield for calls and a positive rate for puts.
        skip_deep_rows = bool((dividend_yield > 0).all())
    else:
        away, away_probability, sign = down, 1.0 - up_probability, -1.0
        skip_deep_rows = bool((rate > 0).all())
    away_weight = discount * away_probability
    weight_ratio = (1.0 - away_probability) / away_probability

    # Spot at row k of level i is row_spot[k]·away^i, and the stored value at level i is the
    # true value over away_weight^m, m being the steps since the last fold. Exercise values are
    # built from these already signed (+ for calls, - for puts) and scaled. Powers are running
    # products, a multiply each instead of a power each (rounding grows by one ulp a step).
    signed_row_spot = _running_product(sign * spot, (up / down) ** -sign, steps)
    unfolded_steps = (steps - np.arange(steps + 1)) % _FOLD_EVERY
    inverse_scale = _running_product(np.ones_like(spot), 1.0 / away_weight, _FOLD_EVERY - 1)[unfolded_steps]
    spot_factor = _running_product(np.ones_like(spot), away, steps) * inverse_scale
    signed_strike = sign * strike * inverse_scale
    fold_factor = away_weight**_FOLD_EVERY
    # Moneyness sign·ln(S/K) at row k of level i is sign·(ln(S/K) + i·ln(away)) - k·ln(up/down).
    # A row is out of reach when that is more than ten standard deviations of the remaining
    # life below zero for every contract; bounding the block's largest reach term by term keeps
    # this to a few operations per contract.
    remaining_steps = steps - np.arange(steps + 1, dtype=float)
    reach = (
        np.max(sign * np.log(spot / strike) / log_spread)
        + np.arange(steps + 1) * np.max(sign * np.log(away) / log_spread)
        + np.sqrt(remaining_steps) * np.max(10.0 * vol * np.sqrt(dt) / log_spread)
        + remaining_steps * np.max(np.abs(rate - dividend_yield) * dt / log_spread)
    )
    live_rows = np.clip(np.ceil(reach).astype(int) + 2, 1, steps + 1)

    def exercise_value(level, start, stop, out):
        np.multiply(signed_row_spot[start:stop], spot_factor[level], out=out)
        out -= signed_strike[level]
        return out

    values = exercise_value(steps, 0, steps + 1, np.empty_like(signed_row_spot))
    in_the_money = values > 0
    np.maximum(values, 0.0, out=values)
    scratch = np.empty_like(values)
    exercise_rows = int(np.count_nonzero(in_the_money.any(axis=1)))
    all_exercised_rows = 0
    valid_from = 0  # the stored level's rows below this were skipped: exercised, not stored
    exercised_now = np.zeros(spot.shape, dtype=bool)
    exercised_near_root = np.zeros(spot.shape, dtype=bool)
    saved = {}
    for level in range(steps - 1, -1, -1):
        width = min(level + 1, max(live_rows[level], exercise_rows + 2))
        low = max(all_exercised_rows - 1, 0) if skip_deep_rows and level > 2 else 0
        if low < valid_from:
            exercise_value(level + 1, low, valid_from, values[low:valid_from])
        valid_from = low
        np.multiply(weight_ratio, values[low + 1 : width + 1], out=scratch[low:width])
        values[low:width] += scratch[low:width]
        if (steps - level) % _FOLD_EVERY == 0:
            values[low : level + 1] *= fold_factor
        band = min(exercise_rows + 2, width)
        if band > low and (level <= 2 or level % _EXERCISE_SURVEY_EVERY == 0):
            held = values[low:band]
            exercised = exercise_value(level, low, band, scratch[low:band])
            exercising = exercised > held
            np.maximum(held, exercised, out=held)
            exercising_contracts = np.count_nonzero(exercising, axis=1)
            some_exercise = np.flatnonzero(exercising_contracts)
            exercise_rows = low + (int(some_exercise[-1]) + 1 if some_exercise.size else 0)
            some_hold = np.flatnonzero(exercising_contracts < spot.size)
            all_exercised_rows = low + (int(some_hold[0]) if some_hold.size else band - low)
            if level <= 2:
                exercised_near_root |= exercising.any(axis=0)
            if level == 0:
                exercised_now = exercising[0]
        elif band > low:
            # Between surveys the rows are bounded without looking: those some contract exercised
            # at the last survey still bound the exercise region, and a row whose children were
            # both exercised is exercised, so the all-exercised rows shrink by at most one a step.
            held = values[low:band]
            np.maximum(held, exercise_value(level, low, band, scratch[low:band]), out=held)
            all_exercised_rows = max(all_exercised_rows - 1, 0)
        else:
            exercise_rows = all_exercised_rows = low
        if level <= 2:
            saved[level] = values[: level + 1] / inverse_scale[level]
    away_spot = sign * signed_row_spot[:3] * away
    s1, s2 = away_spot[:2], away_spot[:3] * away
    v1, v2 = saved[1], saved[2]
    delta = (v1[1] - v1[0]) / (s1[1] - s1[0])
    delta_up = (v2[2] - v2[1]) / (s2[2] - s2[1])
    delta_down = (v2[1] - v2[0]) / (s2[1] - s2[0])
    gamma = (delta_up - delta_down) / (0.5 * (s2[2] - s2[0]))
    return _TreeResult(
        price=saved[0][0], delta=delta, gamma=gamma, exercised_now=exercised_now,
        exercised_near_root=exercised_near_root,
    )


def _running_product(first: np.ndarray, factor: np.ndarray, count: int) -> np.ndarray:
    """Rows first·factor^0, first·factor^1, ..., first·factor^count, node-major.

    A multiply a row, which is five times quicker than numpy's cumprod down the rows.
    """
    rows = np.empty((count + 1, first.size))
    rows[0] = first
    for row in range(1, count + 1):
        np.multiply(rows[row - 1], factor, out=rows[row])
    return rows


def _normalised_otm_call(x: np.ndarray, total_vol: np.ndarray) -> np.ndarray:
    """Black call price over sqrt(F·K)·discount for log-moneyness x <= 0 and total vol > 0.

    b = e^(x/2)·N(h+t) - e^(-x/2)·N(h-t) with h = x/s, t = s/2. Where both terms are small the
    difference is taken through the scaled complementary error function, which keeps full
    relative precision deep out of the money (Jäckel, "Let's be rational", 2015, eq. 3.3).
    """
    h = x / total_vol
    t = 0.5 * total_vol
    scaled = 0.5 * np.exp(-0.5 * (h * h + t * t)) * (
        erfcx(-(h + t) / _SQRT_2) - erfcx(-(h - t) / _SQRT_2)
    )
    direct = np.exp(0.5 * x) * ndtr(h + t) - np.exp(-0.5 * x) * ndtr(h - t)
    return np.where(t > 0.85 - h, direct, scaled)


def _normalised_otm_call_complement(x: np.ndarray, total_vol: np.ndarray) -> np.ndarray:
    """e^(x/2) - b: distance of the normalised call price from its ceiling, without cancellation."""
    h = x / total_vol
    t = 0.5 * total_vol
    return np.exp(0.5 * x) * ndtr(-h - t) + np.exp(-0.5 * x) * ndtr(h - t)


def _solve_normalised_otm_call(x: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total volatility s with normalised call price b(x, s) = beta, for x <= 0, 0 < beta < e^(x/2).

    Returns s and a flag per quote saying whether it converged.
    """
    at_money = x == 0
    inflection = np.sqrt(-2.0 * x)
    eps = np.finfo(float).eps
    with np.errstate(all="ignore"):
        price_at_inflection = np.where(
            at_money, 0.0, _normalised_otm_call(x, np.where(at_money, 1.0, inflection))
        )
        ceiling = np.exp(0.5 * x)
        lower = ~at_money & (beta < price_at_inflection)
        log_beta = np.log(beta)
        log_gap = np.log(ceiling - beta)

        # The tangent at the inflection point bounds the root: from above in the convex lower
        # region, from below in the concave upper one. It is a good start near the inflection.
        tangent = inflection + (beta - price_at_inflection) / (ceiling * _INV_SQRT_2PI)
        # Lower region: b ≈ s³/(x²√2π)·exp(-x²/2s² - s²/8) for s well below the inflection.
        asymptote_low = -x / np.sqrt(-2.0 * log_beta)
        for _ in range(2):
            exponent = (
                3.0 * np.log(asymptote_low) - np.log(x * x / _INV_SQRT_2PI) - asymptote_low**2 / 8.0 - log_beta
            )
            asymptote_low = np.where(exponent > 0, -x / np.sqrt(2.0 * exponent), asymptote_low)
        # Upper region: e^(x/2) - b ≈ (e^(x/2) + e^(-x/2))·N(-s/2) for s well above it.
        asymptote_high = -2.0 * ndtri((ceiling - beta) / (ceiling + np.exp(-0.5 * x)))
        # At the money the price is erf(s/2√2): solved in closed form, then polished.
        exact_at_money = 2.0 * _SQRT_2 * erfinv(beta)

        first = np.where(lower, asymptote_low, np.where(at_money, exact_at_money, asymptote_high))
        second = np.where(at_money, exact_at_money, tangent)
        low_start = np.where(lower, 0.0, np.where(at_money, 0.0, inflection))
        high_start = np.where(lower, inflection, np.inf)
        fallback = np.where(lower, 0.5 * inflection, 2.0 * inflection + 1.0)
        first, second = (
            np.where(np.isfinite(guess) & (guess > low_start) & (guess < high_start), guess, fallback)
            for guess in (first, second)
        )
        first_objective = _iv_objective(x, first, lower, log_beta, log_gap)[0]
        second_objective = _iv_objective(x, second, lower, log_beta, log_gap)[0]
    total_vol = np.where(np.abs(second_objective) < np.abs(first_objective), second, first)
    bracket_low, bracket_high = low_start.copy(), high_start.copy()
    for guess, objective in ((first, first_objective), (second, second_objective)):
        bracket_low = np.where(objective < 0, np.maximum(bracket_low, guess), bracket_low)
        bracket_high = np.where(objective > 0, np.minimum(bracket_high, guess), bracket_high)
    converged = np.zeros(x.shape, dtype=bool)

    active = np.arange(x.size)
    for _ in range(_IV_MAX_ITERATIONS):
        if active.size == 0:
            break
        sa = total_vol[active]
        with np.errstate(all="ignore"):
            objective, slope, curvature = _iv_objective(x[active], sa, lower[active], log_beta[active], log_gap[active])
            newton = -objective / slope
            halley_factor = 1.0 + 0.5 * newton * curvature / slope
            step = np.where((halley_factor > 0.5) & (halley_factor < 2.0), newton / halley_factor, newton)
        too_low = objective < 0
        lo = np.where(too_low, np.maximum(bracket_low[active], sa), bracket_low[active])
        hi = np.where(objective > 0, np.minimum(bracket_high[active], sa), bracket_high[active])
        bracket_low[active], bracket_high[active] = lo, hi
        proposal = sa + step
        outside = ~np.isfinite(proposal) | (proposal <= lo) | (proposal >= hi)
        bisection = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * sa)
        # The residual is rounding noise: stay put. A step this small after a Halley step leaves
        # an error far below it: take it and stop (it may not even move s, so it must not count
        # as leaving the bracket).
        at_root = np.abs(objective) <= 2.0 * eps
        last_step = np.abs(step) <= 1e-12 * sa
        new_vol = np.where(at_root, sa, np.where(last_step, proposal, np.where(outside, bisection, proposal)))
        total_vol[active] = new_vol
        done = at_root | last_step | (hi - lo <= 4.0 * eps * hi)
        converged[active[done]] = True
        active = active[~done]
    return total_vol, converged


def _iv_objective(x, total_vol, lower, log_beta, log_gap):
    """Root-finding objective of the implied-volatility solver with its first two derivatives.

    Below the inflection point it is ln b - ln beta; above it, ln(e^(x/2) - beta) - ln(e^(x/2) - b).
    Both rise with s and are close to linear in their region.
    """
    h = x / total_vol
    t = 0.5 * total_vol
    vega = np.exp(-0.5 * (h * h + t * t)) * _INV_SQRT_2PI
    vega_log_slope = x * x / (total_vol * total_vol * total_vol) - 0.25 * total_vol  # b''/b'
    price = _normalised_otm_call(x, total_vol)
    gap = _normalised_otm_call_complement(x, total_vol)
    slope = np.where(lower, vega / price, vega / gap)
    objective = np.where(lower, np.log(price) - log_beta, log_gap - np.log(gap))
    curvature = np.where(
        lower, slope * vega_log_slope - slope * slope, slope * vega_log_slope + slope * slope
    )
    return objective, slope, curvature
