"""The derivatives watcher: runs inside the market feed on every update (spec §4, §6).

Before the feed publishes an update it prices every perpetual's index and mark (Binance's
formula, derivatives.funding.mark_price) into the perpetual's quote, so the REST quote, the
WebSocket Quote, the order engine's mark-price triggers and every valuation read the same mark.
After publishing, it checks the margin of every margined position (perpetuals, and spot, stock and
forex positions held with leverage or isolated margin) at the new prices in one vectorised sweep
(derivatives.liquidation.sweep_book, each row under its own tier table) over an in-memory book,
which it refreshes from the rows changed since its last refresh (never a query per position). It
pushes LiquidationWarning when a position's margin use crosses a threshold of its portfolio's
ladder (once per crossing, re-armed on recovery) and hands positions in breach to
derivatives.services.position_liquidate, which re-checks each under its row locks.

The feed runs one instance (HAUNT_FEED_PLUGINS); the minute sweep job (derivatives.tasks)
re-checks everything from the database as a backstop.
"""
import logging
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
from django.utils import timezone

from derivatives import funding, liquidation, services
from derivatives.models import FundingRate
from derivatives.selectors import LADDER_SETTING, margined_positions_filter
from haunt.market import state
from haunt.market.models import Instrument
from haunt.market.terms import AssetClass
from haunt.money import format_decimal, places_of, round_to_step
from portfolios.accounting.account import account_margin, tiers_for
from portfolios.models import Portfolio, Position
from portfolios.valuation import marked_rows

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0
SYNC_OVERLAP = timedelta(seconds=5)  # re-read rows changed this long before the last refresh
BASIS_SAMPLES = 30  # Binance: the mark's basis moving average takes one sample a minute over 30 minutes
FUNDING_RATES_SECONDS = 60.0
# A position the liquidation service found nothing to do for (the book is behind the database), or
# failed on, is not handed to it again for this long; one it liquidated is re-checked at once.
LIQUIDATION_RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class Perpetual:
    symbol: str
    underlying: str
    tick_size: Decimal


@dataclass(frozen=True)
class WatchedRow:
    position_id: object
    portfolio_id: object
    symbol: str
    mark_key: str  # which price the row is marked at (see DerivativesWatcher.marks)
    table: int  # its tier table, an index into TIER_CLASSES
    side: float
    quantity: float
    entry_price: float
    isolated: bool
    collateral: float
    rate: float


@dataclass(frozen=True)
class WatchedAccount:
    cross_wallet: float
    other_pnl: float
    other_maintenance: float
    ladder: tuple[float, ...]


# The tier table of each margin class, in the order the book's `table` column indexes them
# (perpetuals first: the table most rows follow).
TIER_CLASSES = (AssetClass.PERPETUAL,
                *(asset_class for asset_class in AssetClass if asset_class != AssetClass.PERPETUAL))


def mark_key(position: Position) -> str:
    """The price a row is marked at, as portfolios.valuation.position_mark marks it: a perpetual at
    its mark, a long elsewhere at the bid and a short at the ask."""
    symbol = position.instrument.symbol
    if position.instrument.asset_class == "perpetual":
        return symbol
    return f"{symbol}@{'bid' if position.side == Position.Direction.LONG else 'ask'}"


def ladder_of(risk_settings: dict) -> tuple[float, ...]:
    """The portfolio's warning thresholds as fractions of maintenance margin use (default 80/90/95%)."""
    configured = risk_settings.get(LADDER_SETTING)
    if not configured:
        return liquidation.WARNING_THRESHOLDS
    return tuple(float(value) / 100 for value in configured)


class DerivativesWatcher:
    def __init__(self, *, refresh_seconds: float = REFRESH_SECONDS):
        self.refresh_seconds = refresh_seconds
        self.perpetuals: dict[str, Perpetual] | None = None
        self.basis: dict[str, deque] = defaultdict(lambda: deque(maxlen=BASIS_SAMPLES))
        self.funding_rates: dict[str, Decimal] = {}
        self.funding_rates_read_at: float | None = None
        self.tiers = liquidation.stacked_tier_arrays([tiers_for(asset_class) for asset_class in TIER_CLASSES])
        self.rows: dict[object, WatchedRow] = {}
        self.account_rows: dict[object, list] = defaultdict(list)  # portfolio id → its rows' position ids
        self.accounts: dict[object, WatchedAccount] = {}
        self.liquidating: dict[object, float] = {}
        self.synced_until: datetime | None = None
        self.refreshed_at: float | None = None
        self.book: liquidation.WatchedBook | None = None
        self.keys: list = []  # position id of each book row
        self.row_accounts: list = []  # portfolio id of each book row
        self.level_array = np.zeros(0, dtype=np.int8)  # warning level of each book row
        self.ladders: dict[tuple[float, ...], np.ndarray] = {}  # the book rows under each warning ladder
        self.symbols: list[str] = []  # the mark keys of the book's instrument column
        self.marks: dict[str, Decimal] = {}  # perpetual symbol → mark; "SYMBOL@bid" / "SYMBOL@ask" otherwise

    # --- marks ---------------------------------------------------------------------------------

    def _perpetuals(self) -> dict[str, Perpetual]:
        if self.perpetuals is None:
            self.perpetuals = {
                symbol: Perpetual(symbol=symbol, underlying=underlying, tick_size=tick)
                for symbol, underlying, tick in Instrument.objects.filter(
                    asset_class="perpetual", is_active=True, underlying__isnull=False).values_list(
                    "symbol", "underlying__symbol", "tick_size")}
        return self.perpetuals

    def _last_funding_rates(self) -> dict[str, Decimal]:
        clock = time.monotonic()
        if self.funding_rates_read_at is None or clock - self.funding_rates_read_at >= FUNDING_RATES_SECONDS:
            latest = {}
            for symbol, rate in FundingRate.objects.order_by("instrument_id", "-funding_time").values_list(
                    "instrument__symbol", "rate"):
                latest.setdefault(symbol, rate)
            self.funding_rates, self.funding_rates_read_at = latest, clock
        return self.funding_rates

    def before_publish(self, *, quotes: list[dict], books: list[dict], now: datetime) -> None:
        """Add `index` and `mark` to every perpetual's quote (before the feed publishes it)."""
        perpetuals = self._perpetuals()
        if not perpetuals:
            return
        by_symbol = {quote["symbol"]: quote for quote in quotes}
        rates = self._last_funding_rates()
        time_to_funding = funding.next_funding_time(now=now) - now
        minute = int(now.timestamp()) // 60
        for symbol, perpetual in perpetuals.items():
            quote, spot = by_symbol.get(symbol), by_symbol.get(perpetual.underlying)
            if quote is None or spot is None or None in (spot["bid"], spot["ask"], quote["bid"], quote["ask"],
                                                         quote["last"]):
                continue
            index = funding.index_price(sources=[funding.IndexSource(
                price=(Decimal(spot["bid"]) + Decimal(spot["ask"])) / 2, weight=Decimal(1))])
            if index is None:
                continue
            samples = self.basis[symbol]
            if not samples or samples[-1][0] != minute:
                samples.append((minute, (Decimal(quote["bid"]) + Decimal(quote["ask"])) / 2, index))
            mark = funding.mark_price(
                index_price=index, last_funding_rate=rates.get(symbol, funding.INTEREST_RATE_PER_INTERVAL),
                time_to_funding=time_to_funding,
                basis_moving_average=funding.basis_moving_average(
                    book_mids=[mid for _, mid, _ in samples], index_prices=[price for _, _, price in samples]),
                last_price=Decimal(quote["last"]))
            places = places_of(perpetual.tick_size)  # priced like the perpetual's own quote: on its tick
            quote["index"] = format_decimal(round_to_step(index, perpetual.tick_size), places)
            quote["mark"] = format_decimal(round_to_step(mark, perpetual.tick_size), places)
            self.marks[symbol] = Decimal(quote["mark"])

    # --- margin check --------------------------------------------------------------------------

    def after_publish(self, *, quotes: list[dict], now: datetime) -> None:
        """Refresh the book if due, then check every watched position at the new marks."""
        for quote in quotes:
            if quote.get("mark") is not None:
                self.marks[quote["symbol"]] = Decimal(quote["mark"])
            else:  # as position_mark: the bid for a long, the ask for a short, else the last trade
                for side in ("bid", "ask"):
                    price = quote[side] if quote[side] is not None else quote["last"]
                    if price is not None:
                        self.marks[f"{quote['symbol']}@{side}"] = Decimal(price)
        clock = time.monotonic()
        if self.refreshed_at is None or clock - self.refreshed_at >= self.refresh_seconds:
            self.refresh()
            self.refreshed_at = clock
        if self.book is not None and self.keys:
            self.check(now=now)

    def refresh(self) -> int:
        """Re-read the margined positions and the accounts changed since the last refresh (by the
        rows' own clock, updated_at, whatever time the feed's update carries)."""
        since = None if self.synced_until is None else self.synced_until - SYNC_OVERLAP
        started = timezone.now()
        positions = Position.objects.filter(margined_positions_filter())
        positions = positions.filter(status=Position.Status.OPEN) if since is None else positions.filter(
            updated_at__gte=since)
        changed_portfolios = set(positions.values_list("portfolio_id", flat=True))
        if since is not None:
            changed_portfolios |= set(Portfolio.objects.filter(updated_at__gte=since).values_list("pk", flat=True)) \
                & set(self.accounts)
        self.synced_until = started
        if not changed_portfolios:
            return 0
        self._reload_accounts(changed_portfolios)
        self._rebuild()
        return len(changed_portfolios)

    def _reload_accounts(self, portfolio_ids: set) -> None:
        ids = list(portfolio_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            portfolios = {portfolio.pk: portfolio for portfolio in Portfolio.objects.filter(pk__in=chunk).only(
                "pk", "cash", "base_currency", "risk_settings")}
            held: dict = defaultdict(list)
            for position in Position.objects.filter(portfolio_id__in=chunk, status=Position.Status.OPEN) \
                    .select_related("instrument"):
                held[position.portfolio_id].append(position)
            quotes = state.quotes_read(sorted({p.instrument.symbol for group in held.values() for p in group}))
            for portfolio_id in chunk:
                for key in self.account_rows.pop(portfolio_id, ()):
                    del self.rows[key]
                self.accounts.pop(portfolio_id, None)
                portfolio = portfolios.get(portfolio_id)
                if portfolio is None or not any(position.is_margined for position in held[portfolio_id]):
                    continue
                self._load_account(portfolio, held[portfolio_id], quotes)

    def _load_account(self, portfolio: Portfolio, positions: list[Position], quotes: dict) -> None:
        rows = marked_rows(portfolio, positions, quotes)
        account = account_margin(cash=portfolio.cash, rows=rows)
        cross_wallet = account.cross_wallet_balance
        watched_pnl = watched_maintenance = Decimal(0)
        for position, row in zip(positions, rows, strict=True):
            if not row.is_margined:
                continue
            if not row.is_isolated:
                watched_pnl += row.unrealized_pnl * row.rate
                watched_maintenance += row.maintenance_margin * row.rate
            self.account_rows[portfolio.pk].append(position.pk)
            self.rows[position.pk] = WatchedRow(
                position_id=position.pk, portfolio_id=portfolio.pk, symbol=position.instrument.symbol,
                mark_key=mark_key(position), table=TIER_CLASSES.index(row.asset_class),
                side=float(row.side.sign), quantity=float(row.quantity), entry_price=float(row.entry_price),
                isolated=row.is_isolated, collateral=float(row.collateral), rate=float(row.rate))
        self.accounts[portfolio.pk] = WatchedAccount(
            cross_wallet=float(cross_wallet),
            other_pnl=float(account.cross_margin_balance - cross_wallet - watched_pnl),
            other_maintenance=float(account.cross_maintenance_margin - watched_maintenance),
            ladder=ladder_of(portfolio.risk_settings))

    def _rebuild(self) -> None:
        previous_levels = dict(zip(self.keys, self.level_array.tolist(), strict=True))  # warnings survive a rebuild
        rows = sorted(self.rows.values(), key=lambda row: row.table)  # grouped by table: swept as slices
        self.keys = [row.position_id for row in rows]
        self.symbols = sorted({row.mark_key for row in rows})
        symbol_index = {symbol: index for index, symbol in enumerate(self.symbols)}
        account_ids = list(self.accounts)
        account_index = {portfolio_id: index for index, portfolio_id in enumerate(account_ids)}
        accounts = [self.accounts[portfolio_id] for portfolio_id in account_ids]
        self.row_accounts = [row.portfolio_id for row in rows]
        self.book = liquidation.WatchedBook(
            instrument=np.array([symbol_index[row.mark_key] for row in rows], dtype=np.intp),
            account=np.array([account_index[row.portfolio_id] for row in rows], dtype=np.intp),
            side=np.array([row.side for row in rows]),
            quantity=np.array([row.quantity for row in rows]),
            entry_price=np.array([row.entry_price for row in rows]),
            isolated=np.array([row.isolated for row in rows], dtype=bool),
            collateral=np.array([row.collateral for row in rows]),
            rate=np.array([row.rate for row in rows]),
            cross_wallet=np.array([account.cross_wallet for account in accounts]),
            other_pnl=np.array([account.other_pnl for account in accounts]),
            other_maintenance=np.array([account.other_maintenance for account in accounts]),
            table=np.array([row.table for row in rows], dtype=np.intp),
        )
        self.level_array = np.array([previous_levels.get(key, 0) for key in self.keys], dtype=np.int8)
        ladders: dict[tuple[float, ...], list[int]] = defaultdict(list)
        for index, row in enumerate(rows):
            ladders[self.accounts[row.portfolio_id].ladder].append(index)
        self.ladders = {ladder: np.array(indices, dtype=np.intp) for ladder, indices in ladders.items()}

    def check(self, *, now: datetime) -> dict[str, int]:
        """One sweep at the current marks: warnings for new crossings, liquidation for breaches."""
        marks = np.array([float(self.marks.get(symbol, "nan")) for symbol in self.symbols])
        checked = liquidation.check_book(book=self.book, marks=marks, tiers=self.tiers, level=self.level_array,
                                         ladders=self.ladders)
        sweep, self.level_array = checked.sweep, checked.level
        warnings = 0
        for row in np.flatnonzero(checked.emitted):
            key = self.keys[row]
            warnings += 1
            price = float(sweep.liquidation_price[row])
            services.liquidation_warning_send(
                portfolio_id=self.row_accounts[row], position_id=key, symbol=self.rows[key].symbol,
                threshold=self.accounts[self.row_accounts[row]].ladder[checked.emitted[row] - 1],
                margin_ratio=min(float(sweep.margin_ratio[row]), 1e9),
                liquidation_price=None if np.isnan(price) else price,
                move=None if np.isnan(price) else float(sweep.liquidation_move[row]))
        liquidated = 0
        clock = time.monotonic()
        for row in np.flatnonzero(sweep.breached & ~np.isnan(marks.take(self.book.instrument))):
            key = self.keys[row]
            if clock - self.liquidating.get(key, -LIQUIDATION_RETRY_SECONDS) < LIQUIDATION_RETRY_SECONDS:
                continue
            try:
                if services.position_liquidate(position_id=key, now=now) is not None:
                    liquidated += 1
                    self.liquidating.pop(key, None)  # the refresh below shows what is left: check it at once
                else:
                    self.liquidating[key] = clock  # the database disagrees with the book: wait for a refresh
            except Exception:  # one failed liquidation must not stop the feed or the others
                self.liquidating[key] = clock
                logger.exception("Liquidation of position %s failed", key)
        if liquidated:
            self.refreshed_at = None  # read what the liquidations changed on the next update
        return {"warnings": warnings, "liquidated": liquidated}
