"""OHLCV bars: building them from ticks and resampling stored bars to a requested interval.

Pure module (no Django). Bar starts are UTC epoch seconds aligned to the bar's length.
"""
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

INTERVAL_SECONDS = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}
# Which stored resolution serves each interval: minute bars for intraday, hourly bars for the long range.
SOURCE_RESOLUTION = {"1m": 60, "5m": 60, "1h": 3600, "1d": 3600}
RECORDED_RESOLUTIONS = (60, 3600)


@dataclass
class Bar:
    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def resample(bars: Iterable[Bar], interval_seconds: int) -> list[Bar]:
    """Merge consecutive bars (sorted by start) into bars of `interval_seconds` aligned to the epoch."""
    merged: list[Bar] = []
    for bar in bars:
        bucket = bar.start - bar.start % interval_seconds
        if merged and merged[-1].start == bucket:
            current = merged[-1]
            current.high = max(current.high, bar.high)
            current.low = min(current.low, bar.low)
            current.close = bar.close
            current.volume += bar.volume
        else:
            merged.append(Bar(bucket, bar.open, bar.high, bar.low, bar.close, bar.volume))
    return merged


class BarBuilder:
    """The bars in progress for every symbol at each recorded resolution, updated tick by tick.

    `drain` hands back the bars touched since the last drain, for the caller to upsert; a bar
    whose period has ended is dropped from memory once drained.
    """

    def __init__(self, resolutions: tuple[int, ...] = RECORDED_RESOLUTIONS):
        self.resolutions = resolutions
        self._open: dict[tuple[str, int], Bar] = {}
        self._touched: set[tuple[str, int]] = set()
        self._finished: list[tuple[str, int, Bar]] = []

    def resume(self, *, symbol: str, resolution: int, bar: Bar) -> None:
        """Continue a stored bar (after a restart) instead of opening a new one at the next tick."""
        self._open[(symbol, resolution)] = bar

    def update(self, *, symbol: str, price: Decimal, volume: Decimal, epoch_seconds: int) -> None:
        for resolution in self.resolutions:
            key = (symbol, resolution)
            start = epoch_seconds - epoch_seconds % resolution
            bar = self._open.get(key)
            if bar is None or bar.start != start:
                if bar is not None and key in self._touched:
                    # The previous period ended before it was drained: keep it for the next drain.
                    self._finished.append((symbol, resolution, bar))
                self._open[key] = Bar(start, price, price, price, price, volume)
            else:
                bar.high = max(bar.high, price)
                bar.low = min(bar.low, price)
                bar.close = price
                bar.volume += volume
            self._touched.add(key)

    def drain(self) -> list[tuple[str, int, Bar]]:
        """Every bar changed since the last call, as (symbol, resolution, bar) copies."""
        changed = list(self._finished)
        self._finished.clear()
        for key in self._touched:
            bar = self._open[key]
            changed.append((key[0], key[1], Bar(bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume)))
        self._touched.clear()
        return changed
