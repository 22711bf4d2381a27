"""The offline market simulator against the statistics it promises and the invariants a book must keep.

References are the specs' own parameters worked by hand: annual volatilities, one-factor correlations
ρ = β_i·β_j·σ_F² / (σ_i·σ_j), overnight gap variance 0.3·σ²·(closed seconds)/year, perpetual basis of
a few bps, and venue-realistic spreads and depth. Sessions here are simplified UTC calendars (NYSE
14:30-21:00 on weekdays, forex closed from Friday 22:00 to Sunday 22:00), which open exactly as many
hours a week as the real ones.
"""

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haunt.market.simulator import SECONDS_PER_YEAR, MarketSimulator, generate_history
from haunt.market.universe import FACTOR_ANNUAL_VOLATILITY, UNIVERSE, AssetClass, InstrumentSpec, spec_by_symbol

START = datetime(2025, 12, 1, tzinfo=UTC)  # a Monday, 00:00 UTC
N = len(UNIVERSE)
ROW = {spec.symbol: row for row, spec in enumerate(UNIVERSE)}
TICK = np.array([float(spec.tick_size) for spec in UNIVERSE])
LOT = np.array([float(spec.lot_size) for spec in UNIVERSE])
ALL_OPEN = np.ones(N, dtype=bool)
OVERNIGHT_VARIANCE_RATIO = 0.3


def rows_of(*classes: AssetClass) -> np.ndarray:
    return np.array([row for row, spec in enumerate(UNIVERSE) if spec.asset_class in classes])


EQUITY_ROWS = rows_of(AssetClass.STOCK, AssetClass.ETF)
CRYPTO_ROWS = rows_of(AssetClass.CRYPTO_SPOT, AssetClass.PERPETUAL)
FOREX_ROWS = rows_of(AssetClass.FOREX)


def session_mask(epoch_seconds: np.ndarray) -> np.ndarray:
    """(N, len(epoch_seconds)) open flags under the simplified calendars."""
    since_monday = (np.asarray(epoch_seconds) - int(START.timestamp())) % (7 * 86_400)
    day, second_of_day = since_monday // 86_400, since_monday % 86_400
    nyse = (day < 5) & (second_of_day >= 14.5 * 3600) & (second_of_day < 21 * 3600)
    forex = ~((since_monday >= 4 * 86_400 + 22 * 3600) & (since_monday < 6 * 86_400 + 22 * 3600))
    by_class = {AssetClass.STOCK: nyse, AssetClass.ETF: nyse, AssetClass.FOREX: forex}
    always = np.ones(since_monday.shape, dtype=bool)
    return np.array([by_class.get(spec.asset_class, always) for spec in UNIVERSE])


def open_at(when: datetime) -> np.ndarray:
    return session_mask(np.array([int(when.timestamp())]))[:, 0]


def mid_prices(frame) -> np.ndarray:
    return (frame.bid_ticks + frame.ask_ticks) / 2 * TICK


def run(simulator: MarketSimulator, times, masks=None) -> list:
    return [simulator.step(now=now, is_open=ALL_OPEN if masks is None else masks[k]) for k, now in enumerate(times)]


# --- shared runs ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live_frames():
    """Two and a half minutes of 250 ms steps with every market open: the live feed's cadence."""
    simulator = MarketSimulator(UNIVERSE, seed=11, start=START)
    return run(simulator, [START + timedelta(milliseconds=250 * k) for k in range(1, 601)])


@pytest.fixture(scope="module")
def year_of_bars():
    """One year of 30-minute closes under the session calendars (one sub-step a bar: closes are enough)."""
    bar_seconds, n_bars = 1800, 52 * 7 * 48
    bar_starts = int(START.timestamp()) + bar_seconds * np.arange(n_bars)
    return generate_history(UNIVERSE, seed=3, start=START, end=START + timedelta(seconds=bar_seconds * n_bars),
                            bar_seconds=bar_seconds, session_mask=session_mask(bar_starts), substeps_per_bar=1)


def present_returns(bars, row: int) -> np.ndarray:
    """Close-to-close log-returns over the present bars: across nights and weekends too."""
    closes = bars.close_ticks[row, bars.is_present[row]].astype(float)
    return np.diff(np.log(closes))


def intraday_returns(bars, row: int) -> np.ndarray:
    """Close-to-close log-returns of adjacent present bars only: no gaps."""
    adjacent = bars.is_present[row, 1:] & bars.is_present[row, :-1]
    closes = np.log(np.maximum(bars.close_ticks[row], 1).astype(float))
    return np.diff(closes)[adjacent]


# --- volatility, jumps, gaps, factors ---------------------------------------------------------------------

@pytest.mark.parametrize("spec", UNIVERSE, ids=lambda spec: spec.symbol)
def test_history_realises_the_annual_volatility_of_every_instrument(year_of_bars, spec):
    # Over a year of sessions, overnight gaps and jumps included, as annual_volatility promises.
    row = ROW[spec.symbol]
    years = year_of_bars.bar_seconds * year_of_bars.bar_starts.size / SECONDS_PER_YEAR
    realised = math.sqrt(np.sum(present_returns(year_of_bars, row) ** 2) / years)
    assert realised == pytest.approx(spec.annual_volatility, rel=0.08)


def test_live_steps_realise_the_annual_volatility_of_each_class():
    # Four whole weeks of 30-minute steps through the session calendars, from one Monday open to the
    # next but three, pooled per class.
    weeks, first_open = 4, START + timedelta(hours=14, minutes=30)
    simulator = MarketSimulator(UNIVERSE, seed=5, start=first_open)
    times = [first_open + timedelta(minutes=30 * k) for k in range(weeks * 7 * 48 + 1)]
    masks = session_mask(np.array([int(now.timestamp()) for now in times])).T
    frames = run(simulator, times, masks)
    mids = np.array([mid_prices(frame) for frame in frames])
    years = weeks * 7 * 86_400 / SECONDS_PER_YEAR
    realised = np.array([math.sqrt(np.sum(np.diff(np.log(mids[masks[:, row], row])) ** 2) / years)
                         for row in range(N)])
    ratio = realised / np.array([spec.annual_volatility for spec in UNIVERSE])
    assert np.mean(ratio[CRYPTO_ROWS]) == pytest.approx(1.0, abs=0.10)
    assert np.mean(ratio[EQUITY_ROWS]) == pytest.approx(1.0, abs=0.14)
    assert np.mean(ratio[FOREX_ROWS]) == pytest.approx(1.0, abs=0.08)
    # Trades print at the touch, so the last price follows the mid.
    last = frames[-1].last_ticks * TICK
    assert np.all(np.abs(last[CRYPTO_ROWS] / mids[-1, CRYPTO_ROWS] - 1) < 0.01)


def excess_kurtosis(returns: np.ndarray) -> float:
    centred = returns - returns.mean()
    return float(np.mean(centred**4) / np.mean(centred**2) ** 2 - 3.0)


def test_crypto_returns_jump_and_forex_returns_do_not(year_of_bars):
    # Merton jumps at 24 a year of 3% on a 50% vol: excess kurtosis of 30-minute returns ≈ 3λσ_J⁴/(σ⁴Δ) ≈ 16.
    assert excess_kurtosis(intraday_returns(year_of_bars, ROW["BTC-USD"])) > 4
    assert excess_kurtosis(intraday_returns(year_of_bars, ROW["SOL-USD"])) > 2
    # A Gaussian has none: the sampling error over ~12,400 returns is about 0.04.
    assert abs(excess_kurtosis(intraday_returns(year_of_bars, ROW["EUR-USD"]))) < 0.3
    assert abs(excess_kurtosis(intraday_returns(year_of_bars, ROW["AAPL"]))) < 0.5


@pytest.mark.parametrize(
    ("first", "second"),
    [("QQQ", "SPY"), ("IWM", "SPY"), ("TLT", "SPY"), ("GLD", "SPY"), ("AAPL", "MSFT"), ("ETH-USD", "BTC-USD"),
     ("DOGE-USD", "SOL-USD"), ("EUR-USD", "GBP-USD"), ("EUR-USD", "USD-CHF"), ("USD-JPY", "AUD-USD")],
)
def test_returns_correlate_as_the_one_factor_model_implies(year_of_bars, first, second):
    a, b = spec_by_symbol(first), spec_by_symbol(second)
    expected = a.beta * b.beta * FACTOR_ANNUAL_VOLATILITY[a.factor] ** 2 / (a.annual_volatility * b.annual_volatility)
    both = year_of_bars.is_present[ROW[first]] & year_of_bars.is_present[ROW[second]]
    closes = np.log(year_of_bars.close_ticks[[ROW[first], ROW[second]]][:, both].astype(float))
    realised = np.corrcoef(np.diff(closes, axis=1))[0, 1]
    assert realised == pytest.approx(expected, abs=0.06)


def test_qqq_moves_with_spy_and_tlt_against_it(year_of_bars):
    spy, qqq, tlt = (present_returns(year_of_bars, ROW[symbol]) for symbol in ("SPY", "QQQ", "TLT"))
    assert np.corrcoef(spy, qqq)[0, 1] > 0.9
    assert np.corrcoef(spy, tlt)[0, 1] < 0


def test_history_gaps_at_the_open_carry_the_damped_overnight_variance(year_of_bars):
    bars = year_of_bars
    standardised = []
    for row in EQUITY_ROWS:
        present = np.flatnonzero(bars.is_present[row])
        first_of_session = present[1:][np.diff(present) > 1]
        previous_close = present[:-1][np.diff(present) > 1]
        closed_seconds = (first_of_session - previous_close - 1) * bars.bar_seconds
        gaps = np.log(bars.open_ticks[row, first_of_session] / bars.close_ticks[row, previous_close])
        sd = UNIVERSE[row].annual_volatility * np.sqrt(OVERNIGHT_VARIANCE_RATIO * closed_seconds / SECONDS_PER_YEAR)
        standardised.append(gaps / sd)
    assert np.var(np.concatenate(standardised)) == pytest.approx(1.0, abs=0.15)


def test_live_reopen_applies_the_night_as_one_gap():
    # Each simulated day: the session's last instant, the close, then the next open 17.5 hours later.
    simulator = MarketSimulator(UNIVERSE, seed=8, start=START)
    closed_equities = ALL_OPEN.copy()
    closed_equities[EQUITY_ROWS] = False
    open_time = START + timedelta(hours=14, minutes=30)
    standardised = []
    simulator.step(now=open_time, is_open=ALL_OPEN)
    for day in range(200):
        day_open = open_time + timedelta(days=day)
        before_close = simulator.step(now=day_open + timedelta(hours=6, minutes=30) - timedelta(seconds=1),
                                      is_open=ALL_OPEN)
        closed = simulator.step(now=day_open + timedelta(hours=6, minutes=30), is_open=closed_equities)
        assert np.array_equal(closed.last_ticks[EQUITY_ROWS], before_close.last_ticks[EQUITY_ROWS])
        reopened = simulator.step(now=day_open + timedelta(days=1), is_open=ALL_OPEN)
        gap = np.log(mid_prices(reopened)[EQUITY_ROWS] / mid_prices(before_close)[EQUITY_ROWS])
        volatility = np.array([UNIVERSE[row].annual_volatility for row in EQUITY_ROWS])
        standardised.append(gap / (volatility * math.sqrt(OVERNIGHT_VARIANCE_RATIO * 17.5 * 3600 / SECONDS_PER_YEAR)))
    assert np.var(np.concatenate(standardised)) == pytest.approx(1.0, abs=0.15)


# --- determinism --------------------------------------------------------------------------------------------

def frames_equal(first, second) -> bool:
    return all(np.array_equal(getattr(first, name), getattr(second, name)) for name in first._ARRAYS)


def test_same_seed_and_timestamps_give_identical_frames_and_another_seed_does_not():
    times = [START + timedelta(milliseconds=250 * k) for k in range(1, 41)] + [START + timedelta(hours=3)]
    first = run(MarketSimulator(UNIVERSE, seed=21, start=START), times)
    again = run(MarketSimulator(UNIVERSE, seed=21, start=START), times)
    other = run(MarketSimulator(UNIVERSE, seed=22, start=START), times)
    assert all(frames_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[-1].bid_ticks, other[-1].bid_ticks)


def test_sessions_of_some_instruments_do_not_change_the_path_of_others():
    # The same count of random numbers is drawn whatever the mask, so crypto is untouched by stock hours.
    times = [START + timedelta(seconds=k) for k in range(1, 61)]
    stocks_closed = ALL_OPEN.copy()
    stocks_closed[EQUITY_ROWS] = False
    masks = [stocks_closed if 10 <= k < 40 else ALL_OPEN for k in range(len(times))]
    reference = run(MarketSimulator(UNIVERSE, seed=4, start=START), times)
    masked = run(MarketSimulator(UNIVERSE, seed=4, start=START), times, masks)
    for a, b in zip(reference, masked, strict=True):
        for name in a._ARRAYS:
            assert np.array_equal(getattr(a, name)[CRYPTO_ROWS], getattr(b, name)[CRYPTO_ROWS]), name


# --- books and spreads ----------------------------------------------------------------------------------------

def assert_book_invariants(frame, depth: int) -> None:
    assert frame.book_bid_ticks.shape == frame.book_ask_lots.shape == (N, depth)
    shown = frame.is_open
    bids, asks = frame.book_bid_ticks[shown], frame.book_ask_ticks[shown]
    assert np.all(np.diff(bids, axis=1) < 0), "bids strictly descending"
    assert np.all(np.diff(asks, axis=1) > 0), "asks strictly ascending"
    assert np.all(bids[:, 0] < asks[:, 0]) and np.all(bids > 0)
    assert np.all(frame.book_bid_lots[shown] >= 1) and np.all(frame.book_ask_lots[shown] >= 1)
    assert np.array_equal(frame.bid_ticks[shown], bids[:, 0]) and np.array_equal(frame.ask_ticks[shown], asks[:, 0])
    assert np.array_equal(frame.bid_lots[shown], frame.book_bid_lots[shown, 0])
    for name in ("bid_ticks", "ask_ticks", "bid_lots", "ask_lots", "book_bid_ticks", "book_ask_ticks", "book_bid_lots",
                 "book_ask_lots", "traded_lots"):
        assert not np.any(getattr(frame, name)[~shown]), name
    assert np.all(frame.last_ticks > 0) and np.all(frame.traded_lots >= 0)


def test_books_keep_their_invariants_at_the_live_cadence(live_frames):
    for frame in live_frames:
        assert_book_invariants(frame, 25)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    depth=st.integers(20, 40),
    steps=st.lists(st.tuples(st.floats(0, 86_400 * 3), st.lists(st.booleans(), min_size=N, max_size=N)),
                   min_size=1, max_size=12),
)
def test_books_keep_their_invariants_for_any_steps_and_sessions(seed, depth, steps):
    simulator = MarketSimulator(UNIVERSE, seed=seed, start=START, book_depth=depth)
    now = START
    for seconds, is_open in steps:
        now += timedelta(seconds=seconds)
        assert_book_invariants(simulator.step(now=now, is_open=np.array(is_open)), depth)


def median_spread(frames, symbol: str) -> float:
    row = ROW[symbol]
    return float(np.median([frame.ask_ticks[row] - frame.bid_ticks[row] for frame in frames]))


def median_spread_bps(frames, symbol: str) -> float:
    row = ROW[symbol]
    return float(np.median([(f.ask_ticks[row] - f.bid_ticks[row]) / (f.ask_ticks[row] + f.bid_ticks[row]) * 2e4
                            for f in frames]))


def test_spreads_are_realistic_for_each_class(live_frames):
    assert 0.1 <= median_spread_bps(live_frames, "BTC-USD") <= 1.0
    assert median_spread_bps(live_frames, "ETH-USD") <= 1.5
    for alt in ("ADA-USD", "DOGE-USD", "AVAX-USD", "LINK-USD", "DOT-USD", "LTC-USD"):
        assert 2.0 <= median_spread_bps(live_frames, alt) <= 15.0, alt
    # Mega-cap stocks and the big ETFs quote one cent wide.
    for symbol in ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY", "QQQ"):
        assert median_spread(live_frames, symbol) == 1, symbol
    # Forex majors at 0.5-1.5 pips (a pip is 10 ticks), crosses wider in relative terms.
    for symbol in ("EUR-USD", "GBP-USD", "USD-JPY"):
        assert 5 <= median_spread(live_frames, symbol) <= 15, symbol
    majors = max(median_spread_bps(live_frames, symbol) for symbol in ("EUR-USD", "GBP-USD", "USD-JPY"))
    assert all(median_spread_bps(live_frames, cross) > majors for cross in ("EUR-GBP", "EUR-JPY", "GBP-JPY"))
    assert median_spread_bps(live_frames, "BTC-PERP") < median_spread_bps(live_frames, "BTC-USD")


def test_spreads_vary_from_step_to_step(live_frames):
    row = ROW["BTC-USD"]
    spreads = {int(frame.ask_ticks[row] - frame.bid_ticks[row]) for frame in live_frames}
    assert len(spreads) > 20


def test_spreads_widen_when_the_market_gaps_at_the_open():
    simulator = MarketSimulator(UNIVERSE, seed=9, start=START)
    equities_closed = ALL_OPEN.copy()
    equities_closed[EQUITY_ROWS] = False
    simulator.step(now=START + timedelta(hours=14, minutes=29, seconds=59), is_open=equities_closed)
    opening = simulator.step(now=START + timedelta(hours=14, minutes=30), is_open=ALL_OPEN)
    later = run(simulator, [START + timedelta(hours=14, minutes=40, milliseconds=250 * k) for k in range(40)])
    wide_at_open = [(opening.ask_ticks[row] - opening.bid_ticks[row]) / median_spread(later, UNIVERSE[row].symbol)
                    for row in EQUITY_ROWS]
    assert np.mean(wide_at_open) >= 2


def notional_per_side(frames) -> np.ndarray:
    """Per instrument, the mean over frames of the whole bid side's notional: USD, or base units for forex."""
    lots = np.array([frame.book_bid_lots for frame in frames]) * LOT[:, None]
    prices = np.array([frame.book_bid_ticks for frame in frames]) * TICK[:, None]
    is_forex = np.array([spec.asset_class is AssetClass.FOREX for spec in UNIVERSE])
    return np.mean(np.sum(lots * np.where(is_forex[:, None], 1.0, prices), axis=2), axis=0)


@pytest.fixture(scope="module")
def half_minute_frames():
    """Two and a half hours of 30-second steps: long enough to average the slowly varying depth."""
    simulator = MarketSimulator(UNIVERSE, seed=12, start=START)
    return run(simulator, [START + timedelta(seconds=30 * k) for k in range(1, 301)])


def test_book_depth_follows_the_liquidity_tier(half_minute_frames):
    tier_ranges = {1: (5e6, 20e6), 2: (1e6, 3e6), 3: (1e5, 5e5)}
    depth = notional_per_side(half_minute_frames)
    for row, spec in enumerate(UNIVERSE):
        if spec.asset_class is AssetClass.FOREX:
            assert depth[row] >= 5e6, spec.symbol  # FX books are deep: millions to tens of millions of units
        else:
            low, high = tier_ranges[spec.liquidity_tier]
            assert low <= depth[row] <= high, spec.symbol
    crypto_tiers = [np.mean([depth[row] for row, spec in enumerate(UNIVERSE)
                             if spec.asset_class is AssetClass.CRYPTO_SPOT and spec.liquidity_tier == tier])
                    for tier in (1, 2, 3)]
    assert crypto_tiers[0] > crypto_tiers[1] > crypto_tiers[2]
    assert depth[ROW["EUR-USD"]] >= 1e7


def test_book_levels_are_redrawn_every_step(live_frames):
    row = ROW["ETH-USD"]
    for before, after in zip(live_frames, live_frames[1:]):
        assert not np.array_equal(before.book_bid_lots[row], after.book_bid_lots[row])
    offsets = {tuple(frame.book_ask_ticks[row] - frame.ask_ticks[row]) for frame in live_frames}
    assert len(offsets) > len(live_frames) / 2


def test_level_spacing_grows_with_depth(live_frames):
    gaps = np.mean([np.diff(-frame.book_bid_ticks[ROW["BTC-USD"]]) for frame in live_frames], axis=0)
    assert gaps[-1] > 2 * gaps[0]


def test_traded_volume_is_realistic_for_the_instrument():
    # One weekday of 1-minute bars: venue-scale daily turnover.
    n_bars = 1440
    bar_starts = int(START.timestamp()) + 60 * np.arange(n_bars)
    bars = generate_history(UNIVERSE, seed=6, start=START, end=START + timedelta(days=1), bar_seconds=60,
                            session_mask=session_mask(bar_starts), substeps_per_bar=2)

    def daily_notional(symbol: str) -> float:
        row = ROW[symbol]
        closes = bars.close_ticks[row] * TICK[row]
        return float(np.sum(bars.volume_lots[row] * LOT[row] * closes))

    assert 3e8 <= daily_notional("BTC-USD") <= 5e9
    assert 2e9 <= daily_notional("BTC-PERP") <= 5e10
    assert 5e6 <= daily_notional("DOT-USD") <= 2e8
    assert 1e7 <= np.sum(bars.volume_lots[ROW["AAPL"]]) <= 1.5e8  # shares a day
    assert 1e10 <= daily_notional("SPY") <= 1e11
    assert np.all(bars.volume_lots[bars.is_present] >= 0)
    assert np.mean(bars.volume_lots[bars.is_present] > 0) > 0.95


# --- sessions --------------------------------------------------------------------------------------------------

def test_closed_instrument_does_not_move_shows_an_empty_book_and_does_not_trade():
    simulator = MarketSimulator(UNIVERSE, seed=13, start=START)
    opened = simulator.step(now=START + timedelta(seconds=1), is_open=ALL_OPEN)
    equities_closed = ALL_OPEN.copy()
    equities_closed[EQUITY_ROWS] = False
    closed = run(simulator, [START + timedelta(minutes=k) for k in range(1, 200)], [equities_closed] * 199)
    aapl = ROW["AAPL"]
    assert all(frame.last_ticks[aapl] == opened.last_ticks[aapl] for frame in closed)
    assert all(frame.traded_lots[aapl] == 0 and frame.bid_ticks[aapl] == 0 for frame in closed)
    assert closed[-1].quote_for(aapl).bid is None and closed[-1].quote_for(aapl).ask is None
    assert closed[-1].quote_for(aapl).last == Decimal(int(opened.last_ticks[aapl])) * Decimal("0.01")
    assert closed[-1].book_for(aapl, 20) == ((), ())
    btc = ROW["BTC-USD"]
    assert len({int(frame.bid_ticks[btc]) for frame in closed}) > 100


# --- derived instruments ------------------------------------------------------------------------------------

def test_perpetuals_track_their_spot_within_a_few_bps(live_frames):
    hours = run(MarketSimulator(UNIVERSE, seed=17, start=START), [START + timedelta(minutes=10 * k)
                                                                   for k in range(1, 300)])
    for frames in (live_frames, hours):
        mids = np.array([mid_prices(frame) for frame in frames])
        for spec in UNIVERSE:
            if spec.underlying:
                basis_bps = (mids[:, ROW[spec.symbol]] / mids[:, ROW[spec.underlying]] - 1) * 1e4
                # Basis ~ N(0.5, 3²) bps, plus half-spread rounding of both mids.
                assert np.max(np.abs(basis_bps)) < 20, spec.symbol
                assert abs(np.mean(basis_bps)) < 5, spec.symbol
    assert np.std((mids[:, ROW["BTC-PERP"]] / mids[:, ROW["BTC-USD"]] - 1) * 1e4) > 1


def test_crosses_stay_triangularly_consistent_within_a_spread(live_frames):
    for frame in live_frames[::10]:
        mids = mid_prices(frame)
        for spec in UNIVERSE:
            if spec.derivation:
                implied = math.prod(mids[ROW[symbol]] ** exponent for symbol, exponent in spec.derivation.legs)
                row = ROW[spec.symbol]
                spread = (frame.ask_ticks[row] - frame.bid_ticks[row]) * TICK[row]
                assert abs(mids[row] - implied) <= spread, spec.symbol


# --- conversion to Decimal ---------------------------------------------------------------------------------

def test_quotes_and_books_convert_exactly_to_decimals_on_the_grid(live_frames):
    frame = live_frames[-1]
    for row, spec in enumerate(UNIVERSE):
        quote = frame.quote_for(row)
        assert quote.bid == Decimal(int(frame.bid_ticks[row])) * spec.tick_size
        assert quote.bid % spec.tick_size == 0 and quote.ask % spec.tick_size == 0
        assert quote.bid_quantity % spec.lot_size == 0 and quote.bid_quantity >= spec.lot_size
        book = frame.book_for(row, 20)
        assert len(book.bids) == len(book.asks) == 20
        assert book.bids[0] == (quote.bid, quote.bid_quantity) and book.asks[0] == (quote.ask, quote.ask_quantity)
    btc = frame.quote_for(ROW["BTC-USD"])
    assert btc.bid.as_tuple().exponent == -2 and btc.bid_quantity.as_tuple().exponent == -5


def test_frames_are_read_only(live_frames):
    with pytest.raises(ValueError):
        live_frames[0].bid_ticks[0] = 1


def test_start_prices_are_where_the_simulator_starts():
    start_prices = {"BTC-USD": Decimal("50000.00"), "AAPL": Decimal("100.00"), "EUR-USD": Decimal("1.00000"),
                    "GBP-USD": Decimal("1.25000")}
    frame = MarketSimulator(UNIVERSE, seed=1, start=START, start_prices=start_prices).step(now=START,
                                                                                           is_open=ALL_OPEN)
    mids = mid_prices(frame)
    assert mids[ROW["BTC-USD"]] == pytest.approx(50_000, rel=1e-4)
    assert mids[ROW["AAPL"]] == pytest.approx(100, abs=0.02)
    assert mids[ROW["EUR-GBP"]] == pytest.approx(0.8, abs=3e-4)  # derived from the given majors


# --- refusals ----------------------------------------------------------------------------------------------

def test_time_may_not_go_backwards_and_the_mask_must_fit():
    simulator = MarketSimulator(UNIVERSE, seed=1, start=START)
    with pytest.raises(ValueError, match="backwards"):
        simulator.step(now=START - timedelta(seconds=1), is_open=ALL_OPEN)
    with pytest.raises(ValueError, match="shape"):
        simulator.step(now=START, is_open=ALL_OPEN[:-1])


def test_derived_instruments_need_their_legs_and_options_are_not_simulated():
    with pytest.raises(ValueError, match="BTC-USD"):
        MarketSimulator([spec_by_symbol("BTC-PERP")], seed=1, start=START)
    with pytest.raises(ValueError, match="GBP-USD"):
        MarketSimulator([spec_by_symbol("EUR-USD"), spec_by_symbol("EUR-GBP")], seed=1, start=START)
    option = InstrumentSpec(
        symbol="SPY-C", name="call", asset_class=AssetClass.OPTION, base_currency="SPY", quote_currency="USD",
        tick_size=Decimal("0.01"), lot_size=Decimal(1), liquidity_tier=1, initial_price=Decimal("5.00"),
        annual_volatility=0.2, factor=None, beta=0.0,
    )
    with pytest.raises(ValueError, match="not simulated"):
        MarketSimulator([option], seed=1, start=START)


# --- history ------------------------------------------------------------------------------------------------

def history(start: datetime, days: float, bar_seconds: int, seed: int, start_prices=None):
    n_bars = int(days * 86_400) // bar_seconds
    bar_starts = int(start.timestamp()) + bar_seconds * np.arange(n_bars)
    return generate_history(UNIVERSE, seed=seed, start=start, end=start + timedelta(seconds=bar_seconds * n_bars),
                            bar_seconds=bar_seconds, session_mask=session_mask(bar_starts), start_prices=start_prices)


@pytest.fixture(scope="module")
def chained():
    coarse = history(START, 10, 3600, seed=1)
    fine = history(START + timedelta(days=10), 1, 60, seed=2, start_prices=coarse.final_prices)
    return coarse, fine


def test_history_bars_are_consistent_and_on_the_grid(chained):
    for bars in chained:
        present = bars.is_present
        assert np.all(bars.low_ticks[present] > 0)
        assert np.all(bars.low_ticks <= np.minimum(bars.open_ticks, bars.close_ticks))
        assert np.all(bars.high_ticks >= np.maximum(bars.open_ticks, bars.close_ticks))
    # Sub-steps make real ranges. A Brownian path seen at 13 points (open + 12 sub-steps) has a median
    # high-low range of 1.21·σ·√T (a continuous one about 1.5·σ·√T), so a 1-hour BTC bar spans ~0.0065.
    coarse, _ = chained
    btc = ROW["BTC-USD"]
    ranges = np.log(coarse.high_ticks[btc] / coarse.low_ticks[btc])
    assert np.median(ranges) == pytest.approx(1.21 * 0.5 * math.sqrt(3600 / SECONDS_PER_YEAR), rel=0.2)


def test_history_has_no_bars_outside_the_session(chained):
    coarse, _ = chained
    aapl = ROW["AAPL"]
    hours = (coarse.bar_starts - int(START.timestamp())) % 86_400 // 3600
    weekday = (coarse.bar_starts - int(START.timestamp())) // 86_400 % 7 < 5
    assert np.array_equal(coarse.is_present[aapl], weekday & (hours >= 15) & (hours < 21))
    for name in ("open_ticks", "high_ticks", "low_ticks", "close_ticks", "volume_lots"):
        assert not np.any(getattr(coarse, name)[aapl, ~coarse.is_present[aapl]]), name
    candles = coarse.candles_for(aapl)
    assert len(candles) == 8 * 6  # 8 weekdays in 10 days from a Monday, 15:00-21:00 UTC bars
    assert candles[0].start == START + timedelta(hours=15)
    assert all(candle.low <= candle.open <= candle.high and candle.low <= candle.close <= candle.high
               for candle in candles)
    assert np.all(coarse.is_present[ROW["BTC-USD"]])


def test_chained_segments_are_continuous(chained):
    coarse, fine = chained
    for row, spec in enumerate(UNIVERSE):
        last_close = coarse.close_ticks[row, np.flatnonzero(coarse.is_present[row])[-1]]
        assert coarse.final_prices[spec.symbol] == Decimal(int(last_close)) * spec.tick_size
        if spec.asset_class in (AssetClass.CRYPTO_SPOT, AssetClass.PERPETUAL):
            assert fine.open_ticks[row, 0] == last_close, spec.symbol
        if spec.derivation:
            # Rebuilt from the majors' rounded closes: within a couple of ticks.
            assert abs(int(fine.open_ticks[row, 0]) - int(last_close)) <= 2, spec.symbol


def test_live_simulator_continues_from_the_history(chained):
    _, fine = chained
    end = START + timedelta(days=11)
    frame = MarketSimulator(UNIVERSE, seed=5, start=end, start_prices=fine.final_prices).step(
        now=end + timedelta(milliseconds=250), is_open=ALL_OPEN)
    for row, spec in enumerate(UNIVERSE):
        final = float(fine.final_prices[spec.symbol])
        assert mid_prices(frame)[row] == pytest.approx(final, rel=2e-3), spec.symbol


def test_history_is_deterministic_per_seed():
    first, again, other = (history(START, 2, 3600, seed=seed) for seed in (7, 7, 8))
    assert np.array_equal(first.close_ticks, again.close_ticks)
    assert np.array_equal(first.volume_lots, again.volume_lots)
    assert not np.array_equal(first.close_ticks, other.close_ticks)


def test_history_refuses_a_mask_that_does_not_fit():
    with pytest.raises(ValueError, match="shape"):
        generate_history(UNIVERSE, seed=1, start=START, end=START + timedelta(hours=2), bar_seconds=3600,
                         session_mask=np.ones((N, 3), dtype=bool))
    with pytest.raises(ValueError, match="whole number"):
        generate_history(UNIVERSE, seed=1, start=START, end=START + timedelta(minutes=90), bar_seconds=3600,
                         session_mask=np.ones((N, 1), dtype=bool))
