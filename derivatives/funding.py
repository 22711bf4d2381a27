"""Perpetual funding, index price and mark price (spec §6 "Funding Rate System" and "Mark Price").

Binance USDⓈ-M futures is the reference:
- premium index P = [max(0, impact bid − index) − max(0, index − impact ask)] / index, where the
  impact prices are the average fills for the impact margin notional (200 USDT / initial margin
  rate at the contract's maximum leverage) against the book;
- the interval's premium is Binance's time-weighted average, sample i weighted by i, so later
  samples count more;
- funding rate F = P̄ + clamp(interest − P̄, −0.05%, +0.05%), then capped per contract;
- mark = median(index × (1 + last funding rate × time to funding / interval),
  index + moving average of (book mid − index), last contract price);
- index = weighted spot price across sources, a source more than 5% from the median weighted out.

Pure module: Decimal in, Decimal out, nothing rounded; callers pass `now` and every rate.
"""
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from haunt.market.terms import PositionSide

ZERO = Decimal(0)

FUNDING_INTERVAL = timedelta(hours=8)  # settles at 00:00, 08:00 and 16:00 UTC
INTEREST_RATE_PER_INTERVAL = Decimal("0.0001")  # Binance: 0.03% a day, 0.01% per 8-hour interval
PREMIUM_CLAMP = Decimal("0.0005")  # the ±0.05% band around the interest rate
IMPACT_MARGIN = Decimal(200)  # USDT of margin whose notional the impact prices must absorb
# Our default cap is ±0.75% per interval. Binance caps each contract at ±0.75 × the maintenance
# rate of its top-leverage bracket (±0.375% for a 0.5% MMR): see `funding_rate_cap_for`.
DEFAULT_FUNDING_RATE_CAP = Decimal("0.0075")
BINANCE_CAP_MULTIPLIER = Decimal("0.75")
INDEX_MAX_DEVIATION = Decimal("0.05")


@dataclass(frozen=True)
class IndexSource:
    """One spot venue's price and its weight in the index."""

    price: Decimal
    weight: Decimal


def impact_margin_notional(*, initial_rate: Decimal, impact_margin: Decimal = IMPACT_MARGIN) -> Decimal:
    """Notional tradable with `impact_margin` at the contract's maximum leverage: 200 / 1% = 20,000."""
    return impact_margin / initial_rate


def impact_price(*, levels: Sequence[tuple[Decimal, Decimal]], notional: Decimal) -> Decimal | None:
    """Average fill price to execute `notional` (quote currency) against one side of the book.

    `levels` are (price, quantity) pairs best first: bids for the impact bid, asks for the impact
    ask. The average fill price is notional / quantity filled. None when the book is too thin to
    fill the whole notional; the caller skips that premium sample.
    """
    if notional <= ZERO:
        raise ValueError("notional must be positive")
    remaining = notional
    filled_quantity = ZERO
    for price, quantity in levels:
        level_notional = price * quantity
        if level_notional >= remaining:
            filled_quantity += remaining / price
            return notional / filled_quantity
        filled_quantity += quantity
        remaining -= level_notional
    return None


def premium_index(*, impact_bid: Decimal, impact_ask: Decimal, index_price: Decimal) -> Decimal:
    """[max(0, impact bid − index) − max(0, index − impact ask)] / index.

    Zero while the index sits inside the impact spread.
    """
    return (max(ZERO, impact_bid - index_price) - max(ZERO, index_price - impact_ask)) / index_price


def average_premium_index(samples: Sequence[Decimal]) -> Decimal:
    """Binance's time-weighted average over the interval: Σ i·P_i / Σ i for samples oldest first."""
    if not samples:
        raise ValueError("at least one premium sample is needed")
    weighted_sum = sum((index * sample for index, sample in enumerate(samples, start=1)), ZERO)
    count = len(samples)
    return weighted_sum / Decimal(count * (count + 1) // 2)


def funding_rate_cap_for(*, maintenance_rate: Decimal, multiplier: Decimal = BINANCE_CAP_MULTIPLIER) -> Decimal:
    """Binance's per-contract cap: multiplier × the maintenance rate of the top-leverage bracket."""
    return multiplier * maintenance_rate


def funding_rate(
    *,
    average_premium: Decimal,
    interest_rate: Decimal = INTEREST_RATE_PER_INTERVAL,
    clamp: Decimal = PREMIUM_CLAMP,
    cap: Decimal = DEFAULT_FUNDING_RATE_CAP,
    floor: Decimal | None = None,
) -> Decimal:
    """F = P̄ + clamp(interest − P̄, −clamp, +clamp), then held within [floor, cap] (floor defaults to −cap).

    The inner clamp pins F to the interest rate while |P̄ − interest| ≤ 0.05%; beyond that band F
    follows the premium, offset by 0.05% towards the interest rate.
    """
    lower = -cap if floor is None else floor
    rate = average_premium + min(max(interest_rate - average_premium, -clamp), clamp)
    return min(max(rate, lower), cap)


def funding_cash_flow(*, side: PositionSide, quantity: Decimal, mark_price: Decimal, rate: Decimal) -> Decimal:
    """Signed cash to the position holder: −side × quantity × mark × F.

    A positive rate takes from longs and gives to shorts; a negative rate does the reverse, so a
    long and a short of the same size receive exact opposites.
    """
    return -side.sign * quantity * mark_price * rate


def next_funding_time(*, now: datetime, interval: timedelta = FUNDING_INTERVAL) -> datetime:
    """The first funding time strictly after `now`, in UTC, on the grid of `interval` from midnight UTC.

    With the 8-hour default: 00:00, 08:00, 16:00. At exactly 08:00 the 08:00 funding is due now,
    so the next one is 16:00. `interval` must divide a day; `now` must be timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if timedelta(days=1) % interval:
        raise ValueError("the funding interval must divide a day")
    now_utc = now.astimezone(UTC)
    midnight = now_utc.replace(hour=0, minute=0, second=0, microsecond=0)
    intervals_elapsed = (now_utc - midnight) // interval
    return midnight + (intervals_elapsed + 1) * interval


def index_price(*, sources: Sequence[IndexSource], max_deviation: Decimal = INDEX_MAX_DEVIATION) -> Decimal | None:
    """Weighted average of the sources' prices, a source further than `max_deviation` from the median weighted out.

    The median is of the raw prices, unweighted, so a single heavily weighted venue cannot drag the
    reference it is judged against. None when every source is weighted out (two venues far apart):
    the caller keeps its previous index.
    """
    if not sources:
        raise ValueError("at least one index source is needed")
    median = statistics.median(source.price for source in sources)
    kept = [source for source in sources if abs(source.price - median) <= max_deviation * median]
    total_weight = sum((source.weight for source in kept), ZERO)
    if total_weight <= ZERO:
        return None
    return sum((source.price * source.weight for source in kept), ZERO) / total_weight


def basis_moving_average(*, book_mids: Sequence[Decimal], index_prices: Sequence[Decimal]) -> Decimal:
    """Mean of (book mid − index) over paired samples (Binance: one a minute over 30 minutes)."""
    if not book_mids or len(book_mids) != len(index_prices):
        raise ValueError("book mids and index prices must be non-empty and paired")
    basis_sum = sum((mid - index for mid, index in zip(book_mids, index_prices, strict=True)), ZERO)
    return basis_sum / len(book_mids)


def mark_price(
    *,
    index_price: Decimal,
    last_funding_rate: Decimal,
    time_to_funding: timedelta,
    basis_moving_average: Decimal,
    last_price: Decimal,
    funding_interval: timedelta = FUNDING_INTERVAL,
) -> Decimal:
    """median(index × (1 + F × time to funding / interval), index + basis MA, last price).

    The median of three keeps one manipulated input (a spiked last trade) from moving the price
    that liquidations are judged on.
    """
    funding_fraction = Decimal(time_to_funding // timedelta(microseconds=1)) / Decimal(
        funding_interval // timedelta(microseconds=1)
    )
    funding_basis_price = index_price * (1 + last_funding_rate * funding_fraction)
    moving_basis_price = index_price + basis_moving_average
    return sorted([funding_basis_price, moving_basis_price, last_price])[1]
