"""Combining market data sources into one quote and one book per symbol.

Pure module (no Django). The original Haunt aggregated several exchanges per symbol; this keeps
that shape: every source (the offline simulator today, exchange adapters later) implements
`MarketDataSource`, and `aggregate` turns the sources' latest snapshots of one symbol into a single
consolidated view, recording which sources contributed.

Rules, in order:
1. A snapshot older than `stale_after` is dropped: a source that stopped updating must not pin the price.
2. With three or more fresh sources, one whose mid is more than `max_deviation` (5%) from the median
   mid is dropped as an outlier (a broken feed, a wrong symbol mapping). With two there is no majority
   to decide which is wrong, so both are kept; likewise when no source is near the median.
3. The books are merged level by level (quantities at the same price add up), and a crossed
   consolidated book — one venue's bid above another's ask — is uncrossed by netting the crossing
   quantities, as an order router sweeping both venues would.
4. `last` is the last trade price of the most recently updated source that has one.
"""
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median

Level = tuple[Decimal, Decimal]  # (price, quantity)


@dataclass(frozen=True)
class SourceSnapshot:
    """One source's latest view of one symbol. Books are best first."""

    source: str
    symbol: str
    timestamp: datetime
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    last: Decimal | None
    is_open: bool = True
    traded_quantity: Decimal = Decimal(0)  # volume traded since the source's previous snapshot

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2


@dataclass(frozen=True)
class AggregatedMarket:
    symbol: str
    timestamp: datetime
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    last: Decimal | None
    sources: tuple[str, ...]
    is_open: bool
    traded_quantity: Decimal

    @property
    def bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2


class MarketDataSource(ABC):
    """A feed of quotes and books: the simulator, or an exchange or data-provider adapter."""

    name: str

    @abstractmethod
    def snapshots(self, *, now: datetime) -> Iterable[SourceSnapshot]:
        """The source's latest snapshot of every symbol it covers, as of `now`."""


def aggregate(
    snapshots: Sequence[SourceSnapshot],
    *,
    now: datetime,
    stale_after: timedelta,
    max_deviation: Decimal = Decimal("0.05"),
) -> AggregatedMarket | None:
    """One consolidated view of a symbol from its sources' snapshots; None when no source is fresh."""
    fresh = [snapshot for snapshot in snapshots if now - snapshot.timestamp <= stale_after]
    if not fresh:
        return None
    if len(fresh) == 1:  # the common case: nothing to merge
        only = fresh[0]
        return AggregatedMarket(only.symbol, only.timestamp, only.bids, only.asks, only.last, (only.source,),
                                only.is_open, only.traded_quantity)

    fresh = _without_outliers(fresh, max_deviation)
    bids, asks = _uncross(_merge(fresh, "bids", reverse=True), _merge(fresh, "asks", reverse=False))
    newest = max(fresh, key=lambda snapshot: snapshot.timestamp)
    with_last = [snapshot for snapshot in fresh if snapshot.last is not None]
    last = max(with_last, key=lambda snapshot: snapshot.timestamp).last if with_last else None
    return AggregatedMarket(
        symbol=newest.symbol,
        timestamp=newest.timestamp,
        bids=bids,
        asks=asks,
        last=last,
        sources=tuple(snapshot.source for snapshot in fresh),
        is_open=any(snapshot.is_open for snapshot in fresh),
        traded_quantity=sum((snapshot.traded_quantity for snapshot in fresh), Decimal(0)),
    )


def _without_outliers(snapshots: list[SourceSnapshot], max_deviation: Decimal) -> list[SourceSnapshot]:
    mids = [snapshot.mid for snapshot in snapshots if snapshot.mid is not None]
    if len(mids) < 3:
        return snapshots
    centre = median(mids)
    is_near = {id(snapshot): snapshot.mid is not None and abs(snapshot.mid / centre - 1) <= max_deviation
               for snapshot in snapshots}
    if not any(is_near.values()):
        # Two camps with the median between them (100, 100, 120, 120): no majority says which is
        # wrong, so, as with two sources, every one is kept rather than every one dropped.
        return snapshots
    return [snapshot for snapshot in snapshots if snapshot.mid is None or is_near[id(snapshot)]]


def _merge(snapshots: list[SourceSnapshot], side: str, *, reverse: bool) -> list[list[Decimal]]:
    depth: dict[Decimal, Decimal] = {}
    for snapshot in snapshots:
        for price, quantity in getattr(snapshot, side):
            depth[price] = depth.get(price, Decimal(0)) + quantity
    return [[price, depth[price]] for price in sorted(depth, reverse=reverse)]


def _uncross(bids: list[list[Decimal]], asks: list[list[Decimal]]) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    while bids and asks and bids[0][0] >= asks[0][0]:
        traded = min(bids[0][1], asks[0][1])
        bids[0][1] -= traded
        asks[0][1] -= traded
        if bids[0][1] == 0:
            bids.pop(0)
        if asks[0][1] == 0:
            asks.pop(0)
    return tuple((price, quantity) for price, quantity in bids), tuple((price, quantity) for price, quantity in asks)
