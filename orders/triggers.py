"""Trigger arithmetic and the in-memory trigger index of the order engine (spec §1 Order Types, Appendix A).

The engine process keeps every resting order that waits for a price in a ``TriggerIndex``, so that a market
tick costs O(1 + fired) per reference price instead of a scan of every order, and every order with an
expiry (GTD, DAY) in an ``ExpiryIndex``. Both are rebuilt from the database when the engine starts. This
module decides *when* an order fires; what firing does (market or limit execution, OCO cancellation,
bracket activation) belongs to the engine and the order services. Pure module: no Django, no clock.

How each order type maps onto an entry (``trigger_direction`` computes the direction):

====================================================  =====  ==================  ================  =========
Order (Appendix A)                                     side   level               fires when        BID_ASK
====================================================  =====  ==================  ================  =========
Stop loss of a long, stop-limit trigger, trailing      SELL   stop price          price <= level    bid
Stop loss of a short, stop-limit trigger, trailing     BUY    stop price          price >= level    ask
Take profit of a long                                  SELL   target price        price >= level    bid
Take profit of a short                                 BUY    target price        price <= level    ask
Limit buy (marketable once ask <= limit)               BUY    limit price         price <= level    ask
Limit sell (marketable once bid >= limit)              SELL   limit price         price >= level    bid
====================================================  =====  ==================  ================  =========

``Direction.DOWN`` entries fire when the reference price falls to or through their level, ``Direction.UP``
entries when it rises to or through it; touching the level fires. The reference price comes from the
entry's ``PriceSource``: the last trade, the mid quote, the mark price, or ``BID_ASK``, which is the side of
the book the order would trade against: the bid for a sell, the ask for a buy. So a sell stop compares the
bid and a buy stop the ask, and a limit buy is marketable once the ask reaches the limit.

A stop limit is two entries in turn: its stop fires like a stop loss, then the engine rests a ``LIMIT``
entry at the limit price, which may never fire if the price has already moved past it. A trailing stop is
a stop whose level follows ``TrailingStop`` arithmetic: ``TriggerIndex.trail`` moves it on each tick.

Prices are Decimals compared exactly; the only rounding is the trailing stop's snap to the tick grid,
whose policy is stated at ``trailing_stop_price``.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import Enum

from haunt.market.terms import Side
from haunt.money import round_to_step

_ONE_HUNDRED = Decimal(100)


class Direction(Enum):
    UP = "up"  # fires when the reference price rises to the level or above
    DOWN = "down"  # fires when the reference price falls to the level or below


class PriceSource(Enum):
    LAST = "last"
    MID = "mid"
    BID_ASK = "bid_ask"  # the bid for sells, the ask for buys
    MARK = "mark"


class TriggerKind(Enum):
    STOP = "stop"  # stop loss, the trigger of a stop limit, trailing stop
    TAKE_PROFIT = "take_profit"
    LIMIT = "limit"


@dataclass(frozen=True, slots=True, kw_only=True)
class TickPrices:
    """The prices of one symbol at one tick. A missing price (None) fires nothing that references it."""

    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None
    mid: Decimal | None = None
    mark: Decimal | None = None


def trigger_direction(*, kind: TriggerKind, side: Side) -> Direction:
    """Which way the price must move to fire an order of this kind and side (Appendix A; table above)."""
    if kind is TriggerKind.STOP:
        return Direction.DOWN if side is Side.SELL else Direction.UP
    return Direction.UP if side is Side.SELL else Direction.DOWN


def _quote_name(source: PriceSource, side: Side) -> str:
    """The TickPrices field an order of this side watches under this source."""
    if source is PriceSource.BID_ASK:
        return "bid" if side is Side.SELL else "ask"
    return source.value


def reference_price(*, prices: TickPrices, source: PriceSource, side: Side) -> Decimal | None:
    """The price an order of this side compares with its level: last, mid, mark, or bid (sell) / ask (buy)."""
    return getattr(prices, _quote_name(source, side))


def is_crossed(*, direction: Direction, level: Decimal, price: Decimal) -> bool:
    """True when ``price`` has reached ``level`` in ``direction``; touching the level counts."""
    return price <= level if direction is Direction.DOWN else price >= level


def stop_is_triggered(*, side: Side, stop_price: Decimal, price: Decimal) -> bool:
    """Stop loss, stop-limit trigger, trailing stop: a sell stop fires at price <= stop, a buy stop at >= stop."""
    return is_crossed(direction=trigger_direction(kind=TriggerKind.STOP, side=side), level=stop_price, price=price)


def take_profit_is_triggered(*, side: Side, target_price: Decimal, price: Decimal) -> bool:
    """Take profit: a sell (closing a long) fires at price >= target, a buy (closing a short) at <= target."""
    return is_crossed(
        direction=trigger_direction(kind=TriggerKind.TAKE_PROFIT, side=side), level=target_price, price=price
    )


def limit_is_marketable(*, side: Side, limit_price: Decimal, bid: Decimal, ask: Decimal) -> bool:
    """A limit buy can trade once ask <= limit, a limit sell once bid >= limit."""
    return ask <= limit_price if side is Side.BUY else bid >= limit_price


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerEntry:
    """One resting order as the index sees it. ``order_id`` is any hashable key (a UUID string, say)."""

    order_id: Hashable
    symbol: str
    side: Side
    direction: Direction
    level: Decimal
    source: PriceSource
    is_limit: bool = False  # a resting limit, which also fills from volume traded at its price

    @classmethod
    def for_order(
        cls,
        *,
        order_id: Hashable,
        symbol: str,
        kind: TriggerKind,
        side: Side,
        level: Decimal,
        source: PriceSource,
    ) -> TriggerEntry:
        """The entry of an order of ``kind``, with its direction taken from the table in the module docstring."""
        return cls(
            order_id=order_id,
            symbol=symbol,
            side=side,
            direction=trigger_direction(kind=kind, side=side),
            level=level,
            source=source,
            is_limit=kind is TriggerKind.LIMIT,
        )

    def is_crossed_by(self, prices: TickPrices) -> bool:
        """Whether this tick fires the entry: the check to make when an order is placed or amended."""
        price = reference_price(prices=prices, source=self.source, side=self.side)
        return price is not None and is_crossed(direction=self.direction, level=self.level, price=price)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrailingStop:
    """A trailing stop's state (spec §1 Trailing Stop, Appendix A).

    ``side`` is the side of the stop order: SELL protects a long and trails below the best price, BUY
    protects a short and trails above it. ``high_water_mark`` is the most favourable reference price since
    activation: the highest for a SELL, the lowest for a BUY. Exactly one of ``trail_amount`` (a price
    distance) and ``trail_percent`` (in percent: 5 means 5 %, below 100) is set.
    """

    side: Side
    high_water_mark: Decimal
    stop_price: Decimal
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None

    def __post_init__(self) -> None:
        _check_trail(trail_amount=self.trail_amount, trail_percent=self.trail_percent)


def _check_trail(*, trail_amount: Decimal | None, trail_percent: Decimal | None) -> None:
    if (trail_amount is None) == (trail_percent is None):
        raise ValueError("a trailing stop needs exactly one of trail_amount and trail_percent")
    if trail_amount is not None and trail_amount <= 0:
        raise ValueError(f"trail_amount must be positive, got {trail_amount}")
    if trail_percent is not None and not 0 < trail_percent < _ONE_HUNDRED:
        raise ValueError(f"trail_percent must be between 0 and 100, got {trail_percent}")


def trailing_stop_price(
    *,
    side: Side,
    high_water_mark: Decimal,
    tick_size: Decimal,
    trail_amount: Decimal | None = None,
    trail_percent: Decimal | None = None,
) -> Decimal:
    """The stop that trails ``high_water_mark`` by the amount or percentage, on the tick grid.

    SELL: hwm - amount or hwm x (100 - percent) / 100, rounded down to a tick. BUY: hwm + amount or
    hwm x (100 + percent) / 100, rounded up. Rounding away from the market keeps the distance at least
    the trail the user asked for, so the stop never sits closer than requested.
    """
    _check_trail(trail_amount=trail_amount, trail_percent=trail_percent)
    if side is Side.SELL:
        if trail_amount is not None:
            exact = high_water_mark - trail_amount
        else:
            exact = high_water_mark * (_ONE_HUNDRED - trail_percent) / _ONE_HUNDRED
        return round_to_step(exact, tick_size, rounding=ROUND_FLOOR)
    if trail_amount is not None:
        exact = high_water_mark + trail_amount
    else:
        exact = high_water_mark * (_ONE_HUNDRED + trail_percent) / _ONE_HUNDRED
    return round_to_step(exact, tick_size, rounding=ROUND_CEILING)


def trailing_start(
    *,
    side: Side,
    price: Decimal,
    tick_size: Decimal,
    trail_amount: Decimal | None = None,
    trail_percent: Decimal | None = None,
) -> TrailingStop:
    """The state of a trailing stop activated at reference price ``price``."""
    return TrailingStop(
        side=side,
        high_water_mark=price,
        stop_price=trailing_stop_price(
            side=side,
            high_water_mark=price,
            tick_size=tick_size,
            trail_amount=trail_amount,
            trail_percent=trail_percent,
        ),
        trail_amount=trail_amount,
        trail_percent=trail_percent,
    )


def trailing_update(*, state: TrailingStop, price: Decimal, tick_size: Decimal) -> TrailingStop:
    """The state after a tick at ``price``: the mark and stop only ever move in the favourable direction.

    Returns ``state`` itself when the price does not beat the high-water mark. Does not decide whether the
    stop fires; that is ``stop_is_triggered`` (a price that raises a sell stop's mark is always above it).
    """
    if state.side is Side.SELL:
        if price <= state.high_water_mark:
            return state
    elif price >= state.high_water_mark:
        return state
    candidate = trailing_stop_price(
        side=state.side,
        high_water_mark=price,
        tick_size=tick_size,
        trail_amount=state.trail_amount,
        trail_percent=state.trail_percent,
    )
    # A stop stored above the formula (set by hand, or under an older trail) is never loosened.
    stop_price = max(state.stop_price, candidate) if state.side is Side.SELL else min(state.stop_price, candidate)
    return TrailingStop(
        side=state.side,
        high_water_mark=price,
        stop_price=stop_price,
        trail_amount=state.trail_amount,
        trail_percent=state.trail_percent,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TrailingEntry:
    """A resting trailing stop as the index sees it; its trigger level is ``state.stop_price``."""

    order_id: Hashable
    symbol: str
    source: PriceSource
    state: TrailingStop
    tick_size: Decimal

    def trigger_entry(self) -> TriggerEntry:
        """The stop entry this trailing stop rests as."""
        return TriggerEntry.for_order(
            order_id=self.order_id,
            symbol=self.symbol,
            kind=TriggerKind.STOP,
            side=self.state.side,
            level=self.state.stop_price,
            source=self.source,
        )


# Every ladder holds keys (sort_value, -sequence, order_id) in ascending order, arranged so that the entry
# a tick reaches first is always last. A trigger ladder sorts DOWN entries by level (the highest sell stop
# fires first) and UP entries by negated level (the lowest buy stop fires first). A trailing ladder sorts
# by the high-water mark a tick must beat: a BUY's mark as is, a SELL's negated. A tick therefore only
# peeks at and pops from the end of a ladder, and among equal values the oldest order (smallest sequence)
# comes off first. The unique sequence means tuple comparison never reaches the order id, so ids need only
# be hashable.
#
# Each symbol has ten ladders of each kind, at position 2 x quote + negated. The hot loops walk the plain
# (quote, negated) specs below rather than enums: an enum member lookup costs about 0.25 µs on Python 3.11.
_QUOTE_NAMES = ("last", "mid", "bid", "ask", "mark")
_LADDER_SPECS = tuple((quote, negated) for quote in range(len(_QUOTE_NAMES)) for negated in (False, True))

_Key = tuple[Decimal, int, Hashable]


def _quotes(prices: TickPrices) -> tuple[Decimal | None, ...]:
    return (prices.last, prices.mid, prices.bid, prices.ask, prices.mark)


def _ladder_position(*, source: PriceSource, side: Side, negated: bool) -> int:
    return 2 * _QUOTE_NAMES.index(_quote_name(source, side)) + negated


def _key(value: Decimal, negated: bool, sequence: int, order_id: Hashable) -> _Key:
    return (value.copy_negate() if negated else value, -sequence, order_id)


def _delete_key(ladder: list[_Key], key: _Key) -> None:
    del ladder[bisect_left(ladder, key)]


class _Resting:
    """The index's record of one resting order: its entry, and where its keys sit."""

    __slots__ = ("entry", "sequence", "ladder", "negated", "key", "trailing", "trailing_ladder", "trailing_key")

    def __init__(self, entry: TriggerEntry, sequence: int, ladders: tuple[list[_Key], ...]) -> None:
        self.entry = entry
        self.sequence = sequence
        self.negated = entry.direction is Direction.UP
        self.ladder = ladders[_ladder_position(source=entry.source, side=entry.side, negated=self.negated)]
        self.key = _key(entry.level, self.negated, sequence, entry.order_id)
        self.trailing: TrailingEntry | None = None
        self.trailing_ladder: list[_Key] | None = None
        self.trailing_key: _Key | None = None


class TriggerIndex:
    """Resting trigger orders by symbol, reference price and direction, sorted by level.

    Costs, with n orders on the symbol: ``fire`` is O(1 + fired) per ladder (ten per symbol: five
    reference prices, two directions), since it only looks at the end of each sorted ladder; a tick that
    fires nothing costs at most ten comparisons. ``add``, ``remove`` and ``update_level`` are O(log n)
    comparisons plus a list insert or delete (a memmove of the pointers behind it). ``trail`` is O(1) per
    ladder when no trailing stop's high-water mark moves and O(m log n) when a tick beats the marks of m
    trailing stops: each of those moves its stop individually, so in a steady rally every trailing stop on
    the symbol moves on every new high. ``rebuild`` is O(n log n).

    Adding, moving or trailing an entry never fires it; the engine checks ``TriggerEntry.is_crossed_by``
    against the current prices when it places or amends an order, and calls ``trail`` then ``fire`` on
    each tick.
    """

    def __init__(self) -> None:
        self._resting: dict[Hashable, _Resting] = {}
        self._ladders: dict[str, tuple[list[_Key], ...]] = {}
        self._trailing_ladders: dict[str, tuple[list[_Key], ...]] = {}
        self._next_sequence = 0

    def __len__(self) -> int:
        return len(self._resting)

    def __contains__(self, order_id: Hashable) -> bool:
        return order_id in self._resting

    def get(self, order_id: Hashable) -> TriggerEntry:
        """The entry resting under ``order_id``, at its current level. Raises KeyError if it is not resting."""
        return self._resting[order_id].entry

    def get_trailing(self, order_id: Hashable) -> TrailingEntry:
        """The trailing state of a resting trailing stop. Raises KeyError if it is not one."""
        trailing = self._resting[order_id].trailing
        if trailing is None:
            raise KeyError(order_id)
        return trailing

    def add(self, entry: TriggerEntry) -> None:
        """Rest an entry. Raises ValueError if its order id is already resting."""
        resting = self._admit(entry)
        insort(resting.ladder, resting.key)

    def add_trailing(self, trailing: TrailingEntry) -> None:
        """Rest a trailing stop at ``trailing.state.stop_price``. Raises ValueError if already resting."""
        resting = self._admit(trailing.trigger_entry())
        insort(resting.ladder, resting.key)
        self._attach_trailing(resting, trailing)
        insort(resting.trailing_ladder, resting.trailing_key)

    def remove(self, order_id: Hashable) -> bool:
        """Take an order out of the index (cancelled, filled, expired). Returns whether it was resting."""
        resting = self._resting.pop(order_id, None)
        if resting is None:
            return False
        _delete_key(resting.ladder, resting.key)
        if resting.trailing_key is not None:
            _delete_key(resting.trailing_ladder, resting.trailing_key)
        return True

    def update_level(self, order_id: Hashable, level: Decimal) -> None:
        """Move a resting order's trigger level, keeping its time priority among equal levels.

        Raises KeyError if the order is not resting, and ValueError for a trailing stop, whose level
        follows its state (``trail``).
        """
        resting = self._resting[order_id]
        if resting.trailing is not None:
            raise ValueError(f"order {order_id!r} is a trailing stop; its level moves with trail()")
        self._move_level(resting, level)

    def fire(self, symbol: str, prices: TickPrices) -> list[Hashable]:
        """Pop and return every order on ``symbol`` whose level this tick reaches.

        Fired orders are returned ladder by ladder in a fixed order (last, mid, bid, ask, mark; DOWN before
        UP), and within a ladder nearest level first (the order the move passes through them), ties oldest
        first. Each fired order leaves the index, so none fires twice.
        """
        ladders = self._ladders.get(symbol)
        if ladders is None:
            return []
        quotes = _quotes(prices)
        fired: list[Hashable] = []
        for (quote, negated), ladder in zip(_LADDER_SPECS, ladders):
            if not ladder:
                continue
            price = quotes[quote]
            if price is None:
                continue
            threshold = price.copy_negate() if negated else price
            while ladder and ladder[-1][0] >= threshold:
                order_id = ladder.pop()[2]
                fired.append(order_id)
                resting = self._resting.pop(order_id)
                if resting.trailing_key is not None:
                    _delete_key(resting.trailing_ladder, resting.trailing_key)
        return fired

    def limits_traded_at(self, symbol: str, last: Decimal) -> list[Hashable]:
        """Resting limit orders on ``symbol`` that a trade at ``last`` printed at or through: buys
        priced at or above it, sells at or below it (those still resting, so the other side has not
        crossed them). They may fill from the traded volume once the queue ahead of them is used up.
        O(1 + found) per side; nothing leaves the index."""
        ladders = self._ladders.get(symbol)
        if ladders is None:
            return []
        found: list[Hashable] = []
        for side in (Side.BUY, Side.SELL):
            negated = side is Side.SELL  # a sell limit fires upwards (bid rises to it): negated keys
            ladder = ladders[_ladder_position(source=PriceSource.BID_ASK, side=side, negated=negated)]
            threshold = last.copy_negate() if negated else last
            for key in reversed(ladder):
                if key[0] < threshold:
                    break
                if self._resting[key[2]].entry.is_limit:
                    found.append(key[2])
        return found

    def trail(self, symbol: str, prices: TickPrices) -> list[TrailingEntry]:
        """Advance the trailing stops on ``symbol`` whose high-water mark this tick beats.

        Moves their trigger levels in the index and returns their new entries, for the engine to store the
        new ``high_water_mark`` and ``stop_price``. Each stop trails its own reference price (bid for a
        sell, ask for a buy under BID_ASK). Call it before ``fire``: a price that raises a sell stop's mark
        is above the stop, so the order of the two calls never changes what fires.
        """
        ladders = self._trailing_ladders.get(symbol)
        if ladders is None:
            return []
        quotes = _quotes(prices)
        moved: list[TrailingEntry] = []
        for (quote, negated), ladder in zip(_LADDER_SPECS, ladders):
            if not ladder:
                continue
            price = quotes[quote]
            if price is None:
                continue
            threshold = price.copy_negate() if negated else price
            if ladder[-1][0] <= threshold:
                continue
            beaten: list[_Key] = []
            while ladder and ladder[-1][0] > threshold:
                beaten.append(ladder.pop())
            for _, _, order_id in beaten:
                resting = self._resting[order_id]
                trailing = resting.trailing
                state = trailing_update(state=trailing.state, price=price, tick_size=trailing.tick_size)
                trailing = TrailingEntry(
                    order_id=order_id,
                    symbol=symbol,
                    source=trailing.source,
                    state=state,
                    tick_size=trailing.tick_size,
                )
                resting.trailing = trailing
                resting.trailing_key = _key(state.high_water_mark, negated, resting.sequence, order_id)
                insort(ladder, resting.trailing_key)
                if state.stop_price != resting.entry.level:
                    self._move_level(resting, state.stop_price)
                moved.append(trailing)
        return moved

    def rebuild(self, *, entries: Iterable[TriggerEntry] = (), trailing: Iterable[TrailingEntry] = ()) -> None:
        """Replace the contents with these orders, as loaded from the database at engine start.

        Sorts each ladder once instead of inserting one by one. Time priority among equal levels follows
        the order given (plain entries first, then trailing stops), so pass orders oldest first. Raises
        ValueError on a repeated order id, leaving the index empty.
        """
        self._resting = {}
        self._ladders = {}
        self._trailing_ladders = {}
        self._next_sequence = 0
        try:
            for entry in entries:
                resting = self._admit(entry)
                resting.ladder.append(resting.key)
            for trailing_entry in trailing:
                resting = self._admit(trailing_entry.trigger_entry())
                resting.ladder.append(resting.key)
                self._attach_trailing(resting, trailing_entry)
                resting.trailing_ladder.append(resting.trailing_key)
        except ValueError:
            self.rebuild()
            raise
        for ladders in (*self._ladders.values(), *self._trailing_ladders.values()):
            for ladder in ladders:
                ladder.sort()

    def _admit(self, entry: TriggerEntry) -> _Resting:
        """Register an entry and return its record; the caller puts its key into the ladder."""
        if entry.order_id in self._resting:
            raise ValueError(f"order {entry.order_id!r} is already resting")
        ladders = self._ladders.get(entry.symbol)
        if ladders is None:
            ladders = self._ladders[entry.symbol] = tuple([] for _ in _LADDER_SPECS)
        resting = _Resting(entry, self._next_sequence, ladders)
        self._next_sequence += 1
        self._resting[entry.order_id] = resting
        return resting

    def _attach_trailing(self, resting: _Resting, trailing: TrailingEntry) -> None:
        ladders = self._trailing_ladders.get(trailing.symbol)
        if ladders is None:
            ladders = self._trailing_ladders[trailing.symbol] = tuple([] for _ in _LADDER_SPECS)
        side = trailing.state.side
        negated = side is Side.SELL
        resting.trailing = trailing
        resting.trailing_ladder = ladders[_ladder_position(source=trailing.source, side=side, negated=negated)]
        resting.trailing_key = _key(trailing.state.high_water_mark, negated, resting.sequence, trailing.order_id)

    def _move_level(self, resting: _Resting, level: Decimal) -> None:
        entry = resting.entry
        _delete_key(resting.ladder, resting.key)
        resting.entry = TriggerEntry(
            order_id=entry.order_id,
            symbol=entry.symbol,
            side=entry.side,
            direction=entry.direction,
            level=level,
            source=entry.source,
            is_limit=entry.is_limit,
        )
        resting.key = _key(level, resting.negated, resting.sequence, entry.order_id)
        insort(resting.ladder, resting.key)


class ExpiryIndex:
    """Orders with an expiry (GTD, and DAY at the session close), soonest first.

    A heap of (expires_at, sequence, order_id) with lazy deletion: ``remove`` forgets the order at once and
    its stale heap item is dropped when it surfaces, or when stale items outnumber live ones. ``add`` and
    ``pop_expired`` cost O(log n) per order. An order expires at its ``expires_at`` instant: it is live
    strictly before it. Datetimes must be timezone-aware.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Hashable]] = []
        self._live: dict[Hashable, tuple[datetime, int]] = {}
        self._next_sequence = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, order_id: Hashable) -> bool:
        return order_id in self._live

    def add(self, *, order_id: Hashable, expires_at: datetime) -> None:
        """Schedule an order's expiry. Raises ValueError if it is already scheduled or the time is naive."""
        item = self._admit(order_id, expires_at)
        heapq.heappush(self._heap, item)

    def remove(self, order_id: Hashable) -> bool:
        """Forget an order's expiry (filled, cancelled). Returns whether it was scheduled."""
        if self._live.pop(order_id, None) is None:
            return False
        if len(self._heap) > 2 * len(self._live) + 64:
            self._heap = [(expires_at, sequence, key) for key, (expires_at, sequence) in self._live.items()]
            heapq.heapify(self._heap)
        return True

    def pop_expired(self, *, now: datetime) -> list[Hashable]:
        """Remove and return the orders whose expiry is at or before ``now``, soonest first (ties: oldest)."""
        _require_aware(now)
        expired: list[Hashable] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, sequence, order_id = heapq.heappop(heap)
            if self._is_live(order_id, sequence):
                del self._live[order_id]
                expired.append(order_id)
        return expired

    def next_expiry(self) -> datetime | None:
        """The soonest pending expiry, so the engine can sleep until it; None when nothing is scheduled."""
        heap = self._heap
        while heap and not self._is_live(heap[0][2], heap[0][1]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def rebuild(self, entries: Iterable[tuple[Hashable, datetime]]) -> None:
        """Replace the contents with (order_id, expires_at) pairs, as loaded at engine start.

        Raises ValueError on a repeated order id or a naive datetime, leaving the index empty.
        """
        self._heap = []
        self._live = {}
        self._next_sequence = 0
        try:
            self._heap = [self._admit(order_id, expires_at) for order_id, expires_at in entries]
        except ValueError:
            self.rebuild(())
            raise
        heapq.heapify(self._heap)

    def _admit(self, order_id: Hashable, expires_at: datetime) -> tuple[datetime, int, Hashable]:
        _require_aware(expires_at)
        if order_id in self._live:
            raise ValueError(f"order {order_id!r} already has an expiry")
        sequence = self._next_sequence
        self._next_sequence += 1
        self._live[order_id] = (expires_at, sequence)
        return (expires_at, sequence, order_id)

    def _is_live(self, order_id: Hashable, sequence: int) -> bool:
        live = self._live.get(order_id)
        return live is not None and live[1] == sequence


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} is a naive datetime; pass a timezone-aware one")
