"""Option chain pricing speed and accuracy (options_trading/pricing.py, spec §7), beside QuantLib.

Three jobs on a 2,000-contract chain (10 expiries from a week to two years × 100 strikes from 60%
to 150% of spot × call and put, a volatility smile, r = 4%, q = 1.5%, so American calls can be
exercised early too):

1. European premium and five Greeks (target: under 2 ms);
2. American premium and five Greeks at the default settings (target: under 100 ms);
3. implied volatility from 2,000 quotes, then the Greeks at it (target: under 5 ms), with the
   share of quotes whose implied volatility reprices them to 1e-8, beside a plain vectorised
   Newton iteration without safeguards. These quotes are spread wider than a listed chain, to
   exercise the solver: strikes from 25% to 400% of spot, 1 day to 2 years, volatility 5%-150%.

Each job's median (p50) time over --repeat runs is set beside the same work done one contract at
a time with QuantLib in the same run (for American options: its QdFp engine on the same
collocation sizes, and central differences of it for delta, gamma, vega and rho), as a ratio.
QuantLib's American run is timed on a sample of the chain and scaled, since it takes seconds on
the full chain.

Accuracy is printed too: the American premium against QuantLib's converged price (its QdFp
engine, high-precision scheme) over the 108 contracts of the module tests' grid and over the
sample of the chain, American vega and rho against central differences of that converged price
over the sample, and the number of quotes whose implied volatility fails to reprice them.

    .venv/bin/python benchmarks/options_pricing.py [--repeat N] [--quantlib-american-sample N]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import QuantLib as ql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from options_trading.pricing import (  # noqa: E402
    IVStatus,
    american_price,
    american_valuation,
    european_price,
    european_valuation,
    implied_volatility,
)

SPOT, RATE, DIVIDEND_YIELD = 100.0, 0.04, 0.015
EXPIRY_DAYS = np.array([7, 14, 30, 60, 90, 180, 270, 365, 540, 730])
STRIKES = np.linspace(60.0, 150.0, 100)
VALUATION_DATE = ql.Date(15, 1, 2024)
DAY_COUNT = ql.Actual365Fixed()
VOL_BUMP, RATE_BUMP = 0.0001, 0.00001  # QuantLib's American vega and rho: central differences


def option_chain() -> dict[str, np.ndarray]:
    kinds, strikes, days = np.meshgrid([True, False], STRIKES, EXPIRY_DAYS, indexing="ij")
    kinds, strikes, days = kinds.ravel(), strikes.ravel(), days.ravel()
    log_moneyness = np.log(strikes / SPOT)
    smile = 0.22 - 0.10 * log_moneyness + 0.35 * log_moneyness**2 + 0.02 * np.sqrt(365.0 / days)
    return {"is_call": kinds, "strike": strikes, "days": days, "volatility": smile}


def stress_quotes(count: int = 2000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        "is_call": rng.random(count) < 0.5,
        "strike": SPOT * np.exp(rng.uniform(np.log(0.25), np.log(4.0), count)),
        "days": np.round(np.exp(rng.uniform(0.0, np.log(730.0), count))).astype(int),
        "volatility": np.exp(rng.uniform(np.log(0.05), np.log(1.5), count)),
    }


def chain_terms(chain) -> dict:
    return dict(
        option_type=chain["is_call"], spot=SPOT, strike=chain["strike"], time_to_expiry=chain["days"] / 365.0,
        rate=RATE, dividend_yield=DIVIDEND_YIELD,
    )


def timed(function, repeat: int) -> tuple[float, float, float, object]:
    """Best and median wall time and median CPU time of this process, in milliseconds, and the
    last result. Other processes on a shared machine stretch wall time; CPU time shows the work."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return min(wall), statistics.median(wall), statistics.median(cpu), result


class QuantLibMarket:
    """One QuantLib process whose quotes are reset for each contract, the cheapest way to loop."""

    def __init__(self, rate: float = RATE, dividend_yield: float = DIVIDEND_YIELD):
        ql.Settings.instance().evaluationDate = VALUATION_DATE
        self.spot = ql.SimpleQuote(SPOT)
        self.rate = ql.SimpleQuote(rate)
        self.dividend_yield = ql.SimpleQuote(dividend_yield)
        self.volatility = ql.SimpleQuote(0.2)
        self.process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(self.spot),
            ql.YieldTermStructureHandle(ql.FlatForward(VALUATION_DATE, ql.QuoteHandle(self.dividend_yield), DAY_COUNT)),
            ql.YieldTermStructureHandle(ql.FlatForward(VALUATION_DATE, ql.QuoteHandle(self.rate), DAY_COUNT)),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(VALUATION_DATE, ql.NullCalendar(), ql.QuoteHandle(self.volatility), DAY_COUNT)
            ),
        )

    def option(self, is_call, strike, days, *, american=False):
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, float(strike))
        expiry = VALUATION_DATE + int(days)
        exercise = ql.AmericanExercise(VALUATION_DATE, expiry) if american else ql.EuropeanExercise(expiry)
        return ql.VanillaOption(payoff, exercise)


def quantlib_european(market: QuantLibMarket, chain) -> np.ndarray:
    engine = ql.AnalyticEuropeanEngine(market.process)
    rows = []
    for is_call, strike, days, vol in zip(chain["is_call"], chain["strike"], chain["days"], chain["volatility"]):
        market.volatility.setValue(float(vol))
        option = market.option(is_call, strike, days)
        option.setPricingEngine(engine)
        rows.append((option.NPV(), option.delta(), option.gamma(), option.thetaPerDay(), option.vega() / 100,
                     option.rho() / 100))
    return np.array(rows)


def quantlib_american(market: QuantLibMarket, chain, sample: np.ndarray) -> np.ndarray:
    """The module's American valuation done contract by contract with QuantLib.

    Premium: the QdFp engine on the module's collocation sizes (FP-A, 9 Chebyshev points, a
    Jacobi-Newton step and two fixed-point steps, 6 and 24 Gauss-Legendre points); delta, gamma,
    vega and rho: central differences of it, spot ±0.01%, volatility ±0.01 point, rate ±0.001
    point (QuantLib's engine gives no Greeks); theta from the Black-Scholes equation.
    """
    scheme = ql.QdFpLegendreScheme(6, 3, 8, 24)
    collocation = ql.QdFpAmericanEngine(market.process, scheme, ql.QdFpAmericanEngine.FP_A)
    spot_bump = 1e-4 * SPOT

    rows = []
    for index in sample:
        vol = float(chain["volatility"][index])
        option = market.option(chain["is_call"][index], chain["strike"][index], chain["days"][index], american=True)
        market.volatility.setValue(vol)
        option.setPricingEngine(collocation)
        price = option.NPV()
        market.spot.setValue(SPOT + spot_bump)
        up = option.NPV()
        market.spot.setValue(SPOT - spot_bump)
        down = option.NPV()
        market.spot.setValue(SPOT)
        delta = (up - down) / (2 * spot_bump)
        gamma = (up - 2 * price + down) / spot_bump**2
        theta = RATE * price - (RATE - DIVIDEND_YIELD) * SPOT * delta - 0.5 * vol * vol * SPOT * SPOT * gamma
        vega, rho = parameter_differences(market, option, vol)
        rows.append((price, delta, gamma, theta / 365, vega, rho))
    return np.array(rows)


def parameter_differences(market: QuantLibMarket, option, vol: float) -> tuple[float, float]:
    """Vega and rho per percentage point: central differences of the option's engine."""
    prices = []
    for vol_bump, rate_bump in ((VOL_BUMP, 0.0), (-VOL_BUMP, 0.0), (0.0, RATE_BUMP), (0.0, -RATE_BUMP)):
        market.volatility.setValue(vol + vol_bump)
        market.rate.setValue(RATE + rate_bump)
        prices.append(option.NPV())
    market.volatility.setValue(vol)
    market.rate.setValue(RATE)
    return (prices[0] - prices[1]) / (2 * VOL_BUMP) / 100, (prices[2] - prices[3]) / (2 * RATE_BUMP) / 100


def quantlib_converged_american(market: QuantLibMarket, chain, index: int, *, greeks=False):
    """QuantLib's converged price (QdFp, high-precision scheme), or that with its vega and rho."""
    vol = float(chain["volatility"][index])
    market.volatility.setValue(vol)
    option = market.option(chain["is_call"][index], chain["strike"][index], chain["days"][index], american=True)
    option.setPricingEngine(ql.QdFpAmericanEngine(market.process, ql.QdFpAmericanEngine.highPrecisionScheme()))
    price = option.NPV()
    return (price, *parameter_differences(market, option, vol)) if greeks else price


def quantlib_implied(market: QuantLibMarket, chain, quotes: np.ndarray) -> tuple[np.ndarray, int]:
    engine = ql.AnalyticEuropeanEngine(market.process)
    rows, failures = [], 0
    for is_call, strike, days, quote in zip(chain["is_call"], chain["strike"], chain["days"], quotes):
        option = market.option(is_call, strike, days)
        option.setPricingEngine(engine)
        try:
            vol = option.impliedVolatility(float(quote), market.process, 1e-12, 1000, 1e-7, 5.0)
        except RuntimeError:
            failures += 1
            rows.append((np.nan,) * 6)
            continue
        market.volatility.setValue(vol)
        rows.append((vol, option.delta(), option.gamma(), option.thetaPerDay(), option.vega() / 100,
                     option.rho() / 100))
    return np.array(rows), failures


def plain_newton(terms, quotes: np.ndarray, start: float = 0.5, iterations: int = 100) -> np.ndarray:
    """Vectorised Newton on the price with no bracket: the baseline the safeguarded solver beats."""
    vol = np.full(quotes.shape, start)
    for _ in range(iterations):
        with np.errstate(all="ignore"):
            valuation = european_valuation(**terms, volatility=np.clip(np.nan_to_num(vol, nan=start), 0.0, 1e3))
            vol = np.clip(np.nan_to_num(vol, nan=start), 0.0, 1e3) - (valuation.price - quotes) / (valuation.vega * 100)
    return vol


def _vegas(terms, chain) -> np.ndarray:
    return european_valuation(**terms, volatility=chain["volatility"]).vega


def reprices(terms, quotes, vol) -> np.ndarray:
    usable = np.isfinite(vol) & (vol >= 0)
    repriced = european_price(**terms, volatility=np.where(usable, vol, 0.0))
    return usable & (np.abs(repriced - quotes) <= 1e-8 * quotes)


def report(label, ours, quantlib_ms, note=""):
    best, median, median_cpu = ours
    print(f"{label:<44} p50 {median:8.2f} ms (best {best:8.2f}, CPU p50 {median_cpu:8.2f})   "
          f"QuantLib {quantlib_ms:10.1f} ms   ×{quantlib_ms / median:,.0f}{note}")


# The American grid of options_trading/tests/test_pricing.py: spot 100, r = 5%.
TEST_GRID = [
    (is_call, strike, days, 0.05, dividend_yield, vol)
    for is_call, dividend_yield in ((False, 0.0), (False, 0.02), (True, 0.04))
    for strike in (80.0, 100.0, 120.0)
    for days in (1, 30, 365, 730)
    for vol in (0.1, 0.3, 1.0)
]


def test_grid_errors() -> np.ndarray:
    """Absolute error of the default American premium against QuantLib's converged price."""
    is_call, strike, days, rate, dividend_yield, vol = (np.array(column) for column in zip(*TEST_GRID))
    ours = american_price(option_type=is_call, spot=SPOT, strike=strike, time_to_expiry=days / 365.0, rate=rate,
                          dividend_yield=dividend_yield, volatility=vol)
    converged = []
    for case in TEST_GRID:
        market = QuantLibMarket(rate=case[3], dividend_yield=case[4])
        market.volatility.setValue(case[5])
        option = market.option(case[0], case[1], case[2], american=True)
        option.setPricingEngine(ql.QdFpAmericanEngine(market.process, ql.QdFpAmericanEngine.highPrecisionScheme()))
        converged.append(option.NPV())
    return np.abs(ours - np.array(converged))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50,
                        help="runs of each vectorised job (a fifth as many for American options)")
    parser.add_argument("--quantlib-american-sample", type=int, default=100,
                        help="contracts QuantLib's American run is timed on, scaled to the chain")
    args = parser.parse_args()

    chain = option_chain()
    terms = chain_terms(chain)
    count = chain["strike"].size
    market = QuantLibMarket()
    print(f"{count} contracts; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}\n")

    # 1. European premium and Greeks
    *european_times, ours = timed(lambda: european_valuation(**terms, volatility=chain["volatility"]), args.repeat)
    start = time.perf_counter()
    reference = quantlib_european(market, chain)
    quantlib_ms = (time.perf_counter() - start) * 1e3
    ours_table = np.column_stack([ours.price, ours.delta, ours.gamma, ours.theta, ours.vega, ours.rho])
    agreement = np.max(np.abs(ours_table - reference) / np.maximum(np.abs(reference), 1e-4))
    report("European premium + 5 Greeks", european_times, quantlib_ms,
           f"   (max difference {agreement:.1e} relative)")

    # 2. American premium and Greeks
    *american_times, ours = timed(
        lambda: american_valuation(**terms, volatility=chain["volatility"]), max(1, args.repeat // 5)
    )
    sample = np.random.default_rng(7).choice(count, size=min(args.quantlib_american_sample, count), replace=False)
    start = time.perf_counter()
    reference = quantlib_american(market, chain, sample)
    quantlib_ms = (time.perf_counter() - start) * 1e3 * count / sample.size
    price_gap = np.abs(ours.price[sample] - reference[:, 0])
    report("American premium + 5 Greeks", american_times, quantlib_ms,
           f"   (QuantLib timed on {sample.size}, scaled)")
    worst = sample[np.argmax(price_gap)]
    converged = quantlib_converged_american(market, chain, worst)
    print(f"    premium vs QuantLib's QdFp on the same sizes: median gap ${np.median(price_gap):.1e}, "
          f"max ${price_gap.max():.1e} (there: haunt {ours.price[worst]:.6f}, "
          f"QuantLib same sizes {reference[np.argmax(price_gap), 0]:.6f}, "
          f"QuantLib QdFp converged {converged:.6f})")
    references = np.array([quantlib_converged_american(market, chain, index, greeks=True) for index in sample])
    sample_errors = np.abs(ours.price[sample] - references[:, 0])
    accuracy = (("the module tests' grid", test_grid_errors()), (f"the chain sample of {sample.size}", sample_errors))
    for label, errors in accuracy:
        print(f"    premium vs QuantLib's converged price over {label}: max ${errors.max():.4f}, "
              f"p99 ${np.quantile(errors, 0.99):.4f}, within $0.001: {np.sum(errors <= 1e-3)}/{errors.size}")
    for name, column in (("vega", 1), ("rho", 2)):
        reference = references[:, column]
        errors = np.abs(getattr(ours, name)[sample] - reference)
        sizeable = np.abs(reference) >= 0.01
        print(f"    {name} vs central differences of QuantLib's converged price over the chain sample: "
              f"max {errors.max():.1e} per point, median {np.median(errors):.1e}; largest relative "
              f"{np.max(errors[sizeable] / np.abs(reference[sizeable])):.1e} where it is at least 0.01")

    # 3. Implied volatility from quotes, then Greeks at it
    chain = stress_quotes(count)
    terms = chain_terms(chain)
    quotes = european_price(**terms, volatility=chain["volatility"])

    def implied_and_greeks():
        implied = implied_volatility(**terms, price=quotes)
        return implied, european_valuation(**terms, volatility=np.nan_to_num(implied.volatility))

    *iv_times, (implied, _) = timed(implied_and_greeks, args.repeat)
    start = time.perf_counter()
    reference, quantlib_failures = quantlib_implied(market, chain, quotes)
    quantlib_ms = (time.perf_counter() - start) * 1e3
    solved = reprices(terms, quotes, implied.volatility)
    report("Implied volatility + 5 Greeks", iv_times, quantlib_ms)
    ok = implied.status == IVStatus.OK
    newton = reprices(terms, quotes, plain_newton(terms, quotes))
    quantlib_solved = reprices(terms, quotes, reference[:, 0])
    print(f"    quotes repriced to 1e-8 by their implied volatility: haunt {solved.sum()}/{count} "
          f"({count - solved.sum()} failures) "
          f"({ok.sum()} status ok); QuantLib {quantlib_solved.sum()}/{count} ({quantlib_failures} raised); "
          f"plain Newton from 50% {newton.sum()}/{count} ({100 * newton.mean():.1f}%)")
    recovered = np.abs(implied.volatility - chain["volatility"]) <= 1e-8
    largest_unrecovered_vega = np.max(np.where(recovered, 0.0, _vegas(terms, chain)))
    print(f"    generating volatility recovered to 1e-8: {recovered.sum()}/{count}; the rest have a vega too small "
          f"for the price to pin it down (largest vega among them: {largest_unrecovered_vega:.1e} per point)")


if __name__ == "__main__":
    main()
