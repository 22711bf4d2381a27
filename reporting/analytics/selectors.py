"""Analytics reads (spec §8, §14 Analytics): a portfolio's history loaded into arrays, handed to
``reporting.analytics.reports``, and the payload cached.

Every function is a read on behalf of a user: another user's portfolio is not found (404).

Window. Analytics cover one track record: from the portfolio's opening or its last reset (a reset
wipes positions and restores the starting balance, so it starts a new record), narrowed by
``start`` and ``end``. Returns are measured from the last equity snapshot at or before ``start``.

Cache. A payload is cached under a key that holds the portfolio row's ``updated_at``: every fill,
top-up, reset, fee charge, snapshot and settings change saves that row, and the row is read
anyway to check ownership, so new trades invalidate the cache without adding any work to the
order path. Entries expire after CACHE_SECONDS so benchmark prices and live conversion rates
catch up with the market.
"""
import datetime as dt
import functools
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.core.cache import cache
from django.db import connections
from django.db.models import DateTimeField, FloatField, Func, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from haunt.api.formatting import instant_text
from haunt.errors import DomainError
from haunt.market import state
from haunt.market.calendars import calendar_for
from haunt.market.models import AssetClass, Candle, Instrument
from haunt.market.selectors import candle_range, conversion_rate
from portfolios.accounting.account import row_for
from portfolios.models import EquitySnapshot, LedgerEntry, Portfolio, Position
from portfolios.selectors import portfolio_get_for_user
from portfolios.valuation import position_mark
from reporting.analytics import kernels, reports
from reporting.analytics.reports import (
    MICROSECONDS_PER_SECOND,
    BenchmarkHistory,
    ClosedPositions,
    Conventions,
    EquityHistory,
    PnlItems,
)

CACHE_SECONDS = 300
CRYPTO_ASSET_CLASSES = frozenset({AssetClass.CRYPTO_SPOT, AssetClass.PERPETUAL})
DEFAULT_CRYPTO_BENCHMARK = "BTC-USD"
DEFAULT_BENCHMARK = "SPY"
UNTAGGED = "untagged"
UNASSIGNED = "unassigned"
# Ledger kinds charged to a position: the attribution column each fills, and the lookup from a
# Position to the row its reference names (the position itself, or a derivatives.Liquidation).
# A new kind of position-level cost slots in here.
POSITION_CHARGES = {
    LedgerEntry.Kind.FUNDING: ("funding", "pk"),
    LedgerEntry.Kind.BORROW_FEE: ("borrow_fees", "pk"),
    LedgerEntry.Kind.LIQUIDATION: ("liquidation_penalties", "liquidations__pk"),
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class AnalyticsQuery:
    """The window and the settings a request may override (None: the portfolio's own)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    risk_free_rate: Decimal | None = None

    def cache_suffix(self) -> str:
        parts = (self.start and self.start.timestamp(), self.end and self.end.timestamp(), self.risk_free_rate)
        return ":".join("-" if part is None else str(part) for part in parts)


def analytics_performance_for_user(*, user, portfolio_id, query: AnalyticsQuery) -> dict:
    """Daily, calendar, to-date and trailing time-weighted returns, against the benchmark."""
    return _cached("performance", user=user, portfolio_id=portfolio_id, query=query, build=_performance)


def analytics_metrics_for_user(*, user, portfolio_id, query: AnalyticsQuery) -> dict:
    """Sharpe, Sortino, Calmar, information ratio, alpha, beta, R² and the drawdown episodes."""
    return _cached("metrics", user=user, portfolio_id=portfolio_id, query=query, build=_metrics)


def analytics_trades_for_user(*, user, portfolio_id, query: AnalyticsQuery) -> dict:
    """Win/loss statistics over the positions closed in the window."""
    return _cached("trades", user=user, portfolio_id=portfolio_id, query=query, build=_trades)


def analytics_attribution_for_user(*, user, portfolio_id, query: AnalyticsQuery) -> dict:
    """P&L by instrument, asset class and strategy tag, split into the price move and each cost."""
    return _cached("attribution", user=user, portfolio_id=portfolio_id, query=query, build=_attribution)


# --------------------------------------------------------------------------- payload builders


@dataclass(frozen=True)
class _Window:
    portfolio: Portfolio
    track_start: dt.datetime
    start: dt.datetime  # the later of the track record's start and the requested start
    end: dt.datetime | None
    query: AnalyticsQuery

    def header(self) -> dict:
        return {
            "portfolio": str(self.portfolio.pk),
            "start": instant_text(self.start),
            "end": instant_text(self.end),
        }


def _performance(window: _Window) -> dict:
    history = _equity_history(window)
    conventions = _conventions(window, history)
    report = reports.performance_report(
        history, benchmark=_benchmark_history(conventions, history), conventions=conventions)
    return {**window.header(), "conventions": conventions.as_json(), **report}


def _metrics(window: _Window) -> dict:
    history = _equity_history(window)
    conventions = _conventions(window, history)
    report = reports.metrics_report(
        history, benchmark=_benchmark_history(conventions, history), conventions=conventions)
    return {**window.header(), "conventions": conventions.as_json(), **report}


def _trades(window: _Window) -> dict:
    closed = Position.objects.filter(
        portfolio=window.portfolio, status=Position.Status.CLOSED,
        # Strictly after the track record's start: a reset closes positions without trading them.
        closed_at__gt=window.track_start, closed_at__gte=window.start,
        **({"closed_at__lte": window.end} if window.end else {}),
    ).values_list(_as_float("realized_pnl"), _as_float("fees_paid"), _as_float("borrow_fees_paid"),
                  _as_float("funding_paid"), _Instant("opened_at"), _Instant("closed_at"),
                  "instrument__quote_currency")
    realized, fees, borrow_fees, funding, opened_at, closed_at, quote_currencies = _columns(closed, 7)
    rates = _RatesToBase(window.portfolio.base_currency).per_row(quote_currencies)
    report = reports.trades_report(ClosedPositions(
        net_pnl=(np.array(realized) - np.array(fees) - np.array(borrow_fees) - np.array(funding)) * rates,
        holding_seconds=(_epoch_microseconds(closed_at) - _epoch_microseconds(opened_at)) / MICROSECONDS_PER_SECOND,
    ))
    return {**window.header(), "conventions": {
        "currency": window.portfolio.base_currency,
        "unit": "closed position; P&L net of its trading fees, borrow fees and funding",
        "conversion": "P&L in another quote currency is converted at the current market rate",
    }, **report}


def _attribution(window: _Window) -> dict:
    portfolio = window.portfolio
    end_filter = {"executed_at__lte": window.end} if window.end else {}
    fill_instruments, realized, fees, slippage, fill_orders = _columns(
        portfolio.trades.filter(executed_at__gte=window.start, **end_filter).values_list(
            "instrument_id", _as_float("realized_pnl"), _as_float("fee"), _as_float("slippage"), "order_id"), 5)
    # The tagged orders apart, not joined to every fill: on SQLite the join costs twice the two reads.
    tagged_orders, order_tags = _columns(portfolio.orders.exclude(tags=[]).values_list(
        "id", Cast("tags", TextField())), 2)
    tags_of_order = dict(zip(tagged_orders, order_tags, strict=True))
    ledger_end = {"created_at__lte": window.end} if window.end else {}
    charges = list(LedgerEntry.objects.filter(
        portfolio=portfolio, kind__in=list(POSITION_CHARGES), created_at__gte=window.start, **ledger_end,
    ).values_list("kind", "amount", "reference"))
    # Without an end the window reaches now, so it holds the open positions' unrealized P&L too.
    open_positions = [] if window.end else list(
        Position.objects.filter(portfolio=portfolio, status=Position.Status.OPEN).select_related("instrument"))
    marked_at = timezone.now()

    charged = _charged_positions(portfolio, charges)
    position_ids = {position_id for position_id, _ in charged.values()} | {position.pk for position in open_positions}
    instrument_of_position = {position_id: instrument_id for position_id, instrument_id in charged.values()}
    instrument_of_position.update({position.pk: position.instrument_id for position in open_positions})
    tags_of_position: dict = {}
    for position_id, tags in portfolio.trades.filter(position_id__in=position_ids).order_by(
            "-executed_at").values_list("position_id", "order__tags"):
        tags_of_position[position_id] = tags  # the opening fill (oldest) is written last and wins

    instrument_ids = set(fill_instruments) | set(instrument_of_position.values())
    instruments = {pk: (symbol, asset_class, quote) for pk, symbol, asset_class, quote in Instrument.objects.filter(
        pk__in=instrument_ids).values_list("pk", "symbol", "asset_class", "quote_currency")}
    index_of = {pk: index for index, pk in enumerate(sorted(instruments))}
    symbols = [instruments[pk][0] for pk in sorted(instruments)] + [UNASSIGNED]
    asset_classes = [instruments[pk][1] for pk in sorted(instruments)] + [UNASSIGNED]

    rates = _RatesToBase(portfolio.base_currency)
    column_of = {name: index + 1 for index, name in enumerate(reports.COST_COLUMNS)}
    fill_count = len(fill_instruments)
    row_count = fill_count + len(charges) + len(open_positions)
    costs = np.zeros((row_count, 1 + len(reports.COST_COLUMNS)))
    row_instrument = np.full(row_count, len(symbols) - 1, dtype=np.int64)  # unassigned unless found
    fill_rates = rates.per_row([instruments[pk][2] for pk in fill_instruments])
    fill_slippage = np.array(slippage) * fill_rates
    costs[:fill_count, 0] = np.array(realized) * fill_rates + fill_slippage  # the move before the slippage paid
    costs[:fill_count, column_of["fees"]] = np.array(fees) * fill_rates
    costs[:fill_count, column_of["slippage"]] = fill_slippage
    row_instrument[:fill_count] = [index_of[pk] for pk in fill_instruments]
    tags = _TagPairs()
    tags.add_texts([tags_of_order.get(order_id) for order_id in fill_orders])
    row = fill_count
    for kind, amount, reference in charges:
        column, _ = POSITION_CHARGES[kind]
        costs[row, column_of[column]] = float(-amount)  # ledger amounts are in the base currency
        position_id, instrument_id = charged.get((kind, reference), (None, None))
        if instrument_id is not None:
            row_instrument[row] = index_of[instrument_id]
        tags.add(row, tags_of_position.get(position_id))
        row += 1
    quotes = state.quotes_read([position.instrument.symbol for position in open_positions]) if open_positions else {}
    for position in open_positions:
        instrument = position.instrument
        unrealized = row_for(position, mark_price=position_mark(position, quotes.get(instrument.symbol))).unrealized_pnl
        costs[row, 0] = float(unrealized * rates.rate(instrument.quote_currency))
        row_instrument[row] = index_of[instrument.pk]
        tags.add(row, tags_of_position.get(position.pk))
        row += 1

    report = reports.attribution_report(PnlItems(
        instrument=row_instrument, symbols=symbols, asset_classes=asset_classes, costs=costs,
        tag_rows=np.array(tags.rows, dtype=np.int64), tag_codes=np.array(tags.codes, dtype=np.int64),
        tags=list(tags.code_of),
    ), capital=float(_window_base(window)[1]))
    return {**window.header(), "conventions": {
        "currency": portfolio.base_currency,
        "unit": "realized P&L of the fills in the window, the position charges booked in it and, without an "
                "end, the unrealized P&L of the open positions",
        "price_move": "P&L before fees, with the slippage paid added back",
        "costs": "positive when paid; funding received is negative",
        "contribution": "net P&L over the equity at the window's start",
        "strategy_tags": "a fill with several order tags counts under each of them",
        "conversion": "amounts in another quote currency are converted at the current market rate",
        "marked_at": None if window.end else instant_text(marked_at),
    }, **report}


# --------------------------------------------------------------------------- loading


def _cached(kind: str, *, user, portfolio_id, query: AnalyticsQuery, build) -> dict:
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    if query.start and query.end and query.start >= query.end:
        raise DomainError("start must be before end.", code="invalid_range", field="start")
    key = f"analytics:{kind}:{portfolio.pk}:{portfolio.updated_at.timestamp()}:{query.cache_suffix()}"
    payload = cache.get(key)
    if payload is None:
        track_start = portfolio.last_reset_at or portfolio.created_at
        window = _Window(portfolio=portfolio, track_start=track_start,
                         start=max(query.start, track_start) if query.start else track_start,
                         end=query.end, query=query)
        payload = build(window)
        cache.set(key, payload, CACHE_SECONDS)
    return payload


def _window_base(window: _Window) -> tuple[dt.datetime, Decimal]:
    """The snapshot returns are measured from: the last one at or before the window's start."""
    base = EquitySnapshot.objects.filter(
        portfolio=window.portfolio, taken_at__gte=window.track_start, taken_at__lte=window.start,
    ).order_by("-taken_at", "-id").values_list("taken_at", "equity").first()
    return base or (window.track_start, window.portfolio.starting_balance)


def _equity_history(window: _Window) -> EquityHistory:
    base_time, _ = _window_base(window)
    rows = EquitySnapshot.objects.filter(portfolio=window.portfolio, taken_at__gte=base_time,
                                         **({"taken_at__lte": window.end} if window.end else {}))
    taken_at, equity, cash_flow = _columns(rows.order_by("taken_at", "id").values_list(
        _Instant("taken_at"), _as_float("equity"), _as_float("cash_flow")), 3)
    return EquityHistory(times_us=_epoch_microseconds(taken_at), equity=np.array(equity, dtype=np.float64),
                         cash_flow=np.array(cash_flow, dtype=np.float64))


def _conventions(window: _Window, history: EquityHistory) -> Conventions:
    portfolio = window.portfolio
    asset_classes = set(Position.objects.filter(portfolio=portfolio, opened_at__gte=window.track_start)
                        .values_list("instrument__asset_class", flat=True).distinct())
    is_crypto_only = bool(asset_classes) and asset_classes <= CRYPTO_ASSET_CLASSES
    session_days = None
    if not is_crypto_only and history.times_us.size:
        first_year = _utc_from_microseconds(history.times_us[0]).year
        last_year = _utc_from_microseconds(history.times_us[-1]).year
        session_days = np.concatenate([_nyse_session_days(year) for year in range(first_year, last_year + 2)])
    annual_risk_free = window.query.risk_free_rate
    if annual_risk_free is None:
        annual_risk_free = portfolio.risk_free_rate
    return Conventions(
        currency=portfolio.base_currency,
        periods_per_year=kernels.daily_periods_per_year(is_crypto_only=is_crypto_only),
        annual_risk_free_rate=float(annual_risk_free),
        session_days=session_days,
        benchmark_symbol=portfolio.benchmark_symbol or (
            DEFAULT_CRYPTO_BENCHMARK if is_crypto_only else DEFAULT_BENCHMARK),
        track_record_start=window.track_start,
    )


def _benchmark_history(conventions: Conventions, history: EquityHistory) -> BenchmarkHistory | None:
    """Hourly closes of the benchmark from the day before the history starts (its first return's base)."""
    instrument = Instrument.objects.filter(symbol=conventions.benchmark_symbol).first()
    if instrument is None or history.times_us.size == 0:
        return None
    first = _utc_from_microseconds(history.times_us[0]).replace(hour=0, minute=0, second=0, microsecond=0)
    last = _utc_from_microseconds(history.times_us[-1]) + dt.timedelta(days=1)
    # Ten days back reaches the previous session's close across any weekend and holiday.
    bar_starts, closes = _columns(candle_range(
        instrument=instrument, resolution=Candle.Resolution.HOUR, start=first - dt.timedelta(days=10), end=last,
    ).values_list(_Instant("start"), _as_float("close")), 2)
    return BenchmarkHistory(
        symbol=instrument.symbol,
        bar_end_seconds=_epoch_microseconds(bar_starts) // MICROSECONDS_PER_SECOND + Candle.Resolution.HOUR,
        closes=np.array(closes, dtype=np.float64),
    )


class _RatesToBase:
    """Current conversion rates into the portfolio's base currency, looked up once per currency."""

    def __init__(self, base_currency: str):
        self.base_currency = base_currency
        self.rates: dict[str, Decimal] = {base_currency: Decimal(1)}

    def rate(self, currency: str) -> Decimal:
        if currency not in self.rates:
            self.rates[currency] = conversion_rate(from_currency=currency, to_currency=self.base_currency)
        return self.rates[currency]

    def per_row(self, currencies: list[str]) -> np.ndarray:
        """The rate of each row's currency, as floats for the numeric kernels."""
        as_float = {currency: float(self.rate(currency)) for currency in set(currencies)}
        return np.array([as_float[currency] for currency in currencies], dtype=np.float64)


@functools.cache
def _nyse_session_days(year: int) -> np.ndarray:
    sessions = calendar_for(AssetClass.STOCK).sessions_in_year(year)
    return np.array([session.close.astimezone(dt.UTC).date() for session in sessions], dtype="datetime64[D]")


class _TagPairs:
    """(row, tag code) pairs: each row once per tag of its order, or once as untagged."""

    def __init__(self):
        self.rows: list[int] = []
        self.codes: list[int] = []
        self.code_of: dict[str, int] = {}

    def add(self, row: int, tags) -> None:
        for tag in tags or (UNTAGGED,):
            self.rows.append(row)
            self.codes.append(self.code_of.setdefault(str(tag), len(self.code_of)))

    def add_texts(self, texts: list[str | None]) -> None:
        """Rows 0, 1, … with their tags as JSON text: each distinct text is decoded once."""
        text_code: dict = {}
        row_text = np.array([text_code.setdefault(text, len(text_code)) for text in texts], dtype=np.int64)
        order = np.argsort(row_text, kind="stable")
        boundaries = np.flatnonzero(np.diff(row_text[order])) + 1
        for text, rows in zip(text_code, np.split(order, boundaries) if order.size else [], strict=True):
            for tag in (json.loads(text) if text else None) or (UNTAGGED,):
                code = self.code_of.setdefault(str(tag), len(self.code_of))
                self.rows.extend(rows.tolist())
                self.codes.extend([code] * rows.size)


def _as_float(field: str) -> Cast:
    """A money column read as a float by the database: the kernels work in float64, and Django's
    per-row Decimal conversion would cost more than the analytics themselves."""
    return Cast(field, FloatField())


def _columns(rows: QuerySet, width: int) -> list[list]:
    """The columns of a values_list query, fetched through the database cursor.

    Django's per-row converters (datetime parsing, JSON decoding) take most of the time of a
    100,000-row read; the callers convert whole columns instead (_epoch_microseconds, _TagPairs).
    """
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    return [[row[column] for row in fetched] for column in range(width)]


class _Instant(Func):
    """A datetime column as the driver reads it fastest: SQLite's stored text (naive UTC, parsed
    a whole column at a time by _epoch_microseconds) rather than Python's per-row parsing there;
    the native timestamp elsewhere."""

    template = "%(expressions)s"
    output_field = DateTimeField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="CAST(%(expressions)s AS TEXT)", **extra_context)


def _epoch_microseconds(values: list) -> np.ndarray:
    """UTC epoch microseconds of _Instant values: SQLite's naive UTC text or aware datetimes."""
    if values and isinstance(values[0], str):
        return np.array(values, dtype="datetime64[us]").astype(np.int64)
    return np.array([(value - _EPOCH) // _MICROSECOND for value in values], dtype=np.int64)


def _charged_positions(portfolio: Portfolio, charges: list[tuple]) -> dict[tuple, tuple]:
    """(kind, reference) of each position charge → (position id, instrument id), for the charges
    whose reference names a position of this portfolio."""
    references_by_lookup: dict[str, set] = {}
    for kind, _, reference in charges:
        lookup = POSITION_CHARGES[kind][1]
        # A reference that cannot be such an id (the lookups name UUID or integer keys) would fail the query.
        if _is_uuid(reference) if lookup == "pk" else reference.isdigit():
            references_by_lookup.setdefault(lookup, set()).add(reference)
    found = {}
    for lookup, references in references_by_lookup.items():
        for named, position_id, instrument_id in Position.objects.filter(
                portfolio=portfolio, **{f"{lookup}__in": references}).values_list(lookup, "pk", "instrument_id"):
            found[(lookup, str(named))] = (position_id, instrument_id)
    return {(kind, reference): found[(POSITION_CHARGES[kind][1], reference)]
            for kind, _, reference in charges if (POSITION_CHARGES[kind][1], reference) in found}


def _is_uuid(reference: str) -> bool:
    try:
        uuid.UUID(reference)
    except ValueError:
        return False
    return True


def _utc_from_microseconds(microseconds) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=int(microseconds))
