"""Trading calendars: when each asset class can trade (spec §2 Asset Classes; §11 market-hours conditions).

Three calendars cover the six asset classes:

- **Always open** (crypto spot, perpetual futures): 24/7, no sessions, never closes.
- **NYSE** (stocks, ETFs, equity options): regular hours 09:30-16:00 America/New_York on weekdays,
  closed on NYSE holidays (taken from ``holidays.financial_holidays("NYSE")``, which includes one-off
  closures such as national days of mourning), closing at 13:00 on the early-close days of NYSE Rule 7.2:
  July 3 and December 24 when they are trading days, and the day after Thanksgiving.
- **Forex** (24/5): open from Sunday 17:00 to Friday 17:00 America/New_York. Following the market's
  convention, the FX trading day D runs from 17:00 New York on D-1 to 17:00 New York on D; Saturday and
  Sunday are not trading days, and neither are December 25 and January 1. So when Christmas falls on a
  Thursday the market is closed from 17:00 on the 24th to 17:00 on the 25th, and when it falls on a
  weekend the weekend closure already covers it.

Sessions are half-open intervals ``[open, close)``: the market is open at the opening instant and closed
at the closing instant. All functions take timezone-aware datetimes and return UTC datetimes; vectorised
masks take int64 UTC epoch seconds. Pure module: no Django, no clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np

NEW_YORK = ZoneInfo("America/New_York")

# Session searches look this many years past `when`; every calendar here has sessions every year,
# so running out means a broken calendar rather than a long closure.
_SEARCH_HORIZON_YEARS = 3


@dataclass(frozen=True)
class Session:
    """One trading session, ``[open, close)``, as timezone-aware datetimes."""

    open: datetime
    close: datetime


class TradingCalendar(ABC):
    """When a market is open. Every `when` must be timezone-aware; results are in UTC."""

    name: str

    @abstractmethod
    def is_open(self, when: datetime) -> bool:
        """Whether the market is open at the instant `when`."""

    @abstractmethod
    def next_open(self, when: datetime) -> datetime:
        """The first instant at or after `when` at which the market is open (`when` itself if open)."""

    @abstractmethod
    def next_close(self, when: datetime) -> datetime | None:
        """The first session end strictly after `when`; None for a market that never closes."""

    @abstractmethod
    def session_mask(self, epoch_seconds: np.ndarray) -> np.ndarray:
        """Vectorised `is_open` over int64 UTC epoch seconds: a bool array of the same shape."""


class AlwaysOpenCalendar(TradingCalendar):
    """A 24/7 market (crypto spot, perpetual futures)."""

    name = "always_open"

    def is_open(self, when: datetime) -> bool:
        _require_aware(when)
        return True

    def next_open(self, when: datetime) -> datetime:
        return _require_aware(when).astimezone(UTC)

    def next_close(self, when: datetime) -> None:
        """Always None: the market never closes."""
        _require_aware(when)
        return None

    def session_mask(self, epoch_seconds: np.ndarray) -> np.ndarray:
        return np.ones(np.shape(epoch_seconds), dtype=bool)


class SessionCalendar(TradingCalendar):
    """A market open in discrete sessions, precomputed per New York calendar year as epoch-second arrays.

    Subclasses list a year's sessions; each must open and close within that New York year, so the
    sessions of consecutive years concatenate into one sorted, disjoint sequence and the session holding
    an instant, if any, belongs to that instant's New York year.
    """

    def __init__(self) -> None:
        self._sessions_by_year: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @abstractmethod
    def sessions_in_year(self, year: int) -> list[Session]:
        """The sessions of New York calendar year `year`, in order, each opening and closing within it."""

    def next_open(self, when: datetime) -> datetime:
        session_index, opens, _ = self._first_session_ending_after(when)
        return max(when.astimezone(UTC), _utc_from_epoch(opens[session_index]))

    def next_close(self, when: datetime) -> datetime:
        session_index, _, closes = self._first_session_ending_after(when)
        return _utc_from_epoch(closes[session_index])

    def session_mask(self, epoch_seconds: np.ndarray) -> np.ndarray:
        """Locates each instant among the sorted session opens with one `searchsorted`."""
        seconds = np.asarray(epoch_seconds, dtype=np.int64)
        if seconds.size == 0:
            return np.zeros(seconds.shape, dtype=bool)
        first_year = _new_york_year(_utc_from_epoch(seconds.min()))
        last_year = _new_york_year(_utc_from_epoch(seconds.max()))
        yearly = [self._session_arrays(year) for year in range(first_year, last_year + 1)]
        opens = np.concatenate([year_opens for year_opens, _ in yearly])
        closes = np.concatenate([year_closes for _, year_closes in yearly])
        if opens.size == 0:
            return np.zeros(seconds.shape, dtype=bool)
        latest_open_index = np.searchsorted(opens, seconds, side="right") - 1
        has_opened = latest_open_index >= 0
        return has_opened & (seconds < closes[np.maximum(latest_open_index, 0)])

    def _first_session_ending_after(self, when: datetime) -> tuple[int, np.ndarray, np.ndarray]:
        instant = _require_aware(when).timestamp()
        first_year = _new_york_year(when)
        for year in range(first_year, first_year + _SEARCH_HORIZON_YEARS + 1):
            opens, closes = self._session_arrays(year)
            session_index = int(np.searchsorted(closes, instant, side="right"))
            if session_index < closes.size:
                return session_index, opens, closes
        raise ValueError(f"{self.name}: no session within {_SEARCH_HORIZON_YEARS} years after {when.isoformat()}")

    def _session_arrays(self, year: int) -> tuple[np.ndarray, np.ndarray]:
        arrays = self._sessions_by_year.get(year)
        if arrays is None:
            sessions = self.sessions_in_year(year)
            opens = np.array([int(session.open.timestamp()) for session in sessions], dtype=np.int64)
            closes = np.array([int(session.close.timestamp()) for session in sessions], dtype=np.int64)
            arrays = self._sessions_by_year.setdefault(year, (opens, closes))
        return arrays


class NyseCalendar(SessionCalendar):
    """NYSE regular trading hours (stocks, ETFs, equity options)."""

    name = "nyse"
    REGULAR_OPEN = time(9, 30)
    REGULAR_CLOSE = time(16, 0)
    EARLY_CLOSE = time(13, 0)

    def __init__(self) -> None:
        super().__init__()
        self._holidays_by_year: dict[int, holidays.HolidayBase] = {}

    def session_on(self, day: date) -> Session | None:
        """The regular session on the New York date `day`, or None when the exchange is closed all day."""
        if day.weekday() >= 5 or day in self._holidays(day.year):
            return None
        close = self.EARLY_CLOSE if self._is_early_close(day) else self.REGULAR_CLOSE
        return Session(
            open=datetime.combine(day, self.REGULAR_OPEN, NEW_YORK),
            close=datetime.combine(day, close, NEW_YORK),
        )

    def is_open(self, when: datetime) -> bool:
        local = _require_aware(when).astimezone(NEW_YORK)
        session = self.session_on(local.date())
        return session is not None and session.open <= local < session.close

    def sessions_in_year(self, year: int) -> list[Session]:
        sessions = (self.session_on(day) for day in _days_of_year(year))
        return [session for session in sessions if session is not None]

    @staticmethod
    def _is_early_close(trading_day: date) -> bool:
        """NYSE Rule 7.2 early closes, for a day already known to be a trading day.

        July 3 and December 24 close early only when they are trading days: when July 4 is a Saturday,
        July 3 is the observed holiday, and the day before (July 2) is a full day; likewise for
        Christmas. Thanksgiving is the fourth Thursday of November (22nd-28th), so the day after is the
        Friday falling on the 23rd-29th.
        """
        month, day_of_month = trading_day.month, trading_day.day
        is_day_before_independence_day = month == 7 and day_of_month == 3
        is_christmas_eve = month == 12 and day_of_month == 24
        is_day_after_thanksgiving = month == 11 and trading_day.weekday() == 4 and 23 <= day_of_month <= 29
        return is_day_before_independence_day or is_christmas_eve or is_day_after_thanksgiving

    def _holidays(self, year: int) -> holidays.HolidayBase:
        year_holidays = self._holidays_by_year.get(year)
        if year_holidays is None:
            year_holidays = self._holidays_by_year.setdefault(year, holidays.financial_holidays("NYSE", years=year))
        return year_holidays


class ForexCalendar(SessionCalendar):
    """Spot FX, 24/5: Sunday 17:00 to Friday 17:00 New York, closed for the trading days Dec 25 and Jan 1."""

    name = "forex"
    DAY_ROLL = time(17, 0)
    CLOSED_DATES = frozenset({(12, 25), (1, 1)})

    def is_trading_day(self, day: date) -> bool:
        """Whether the FX trading day `day` (17:00 New York on the day before to 17:00 on `day`) trades."""
        return day.weekday() < 5 and (day.month, day.day) not in self.CLOSED_DATES

    def is_open(self, when: datetime) -> bool:
        local = _require_aware(when).astimezone(NEW_YORK)
        trading_day = local.date() if local.time() < self.DAY_ROLL else local.date() + timedelta(days=1)
        return self.is_trading_day(trading_day)

    def sessions_in_year(self, year: int) -> list[Session]:
        """Consecutive trading days merge into one session, so a session ends at the weekly or holiday close.

        January 1 is never a trading day, so no session starts in one year and ends in the next.
        """
        sessions: list[Session] = []
        for day in _days_of_year(year):
            if not self.is_trading_day(day):
                continue
            opens = datetime.combine(day - timedelta(days=1), self.DAY_ROLL, NEW_YORK)
            closes = datetime.combine(day, self.DAY_ROLL, NEW_YORK)
            if sessions and sessions[-1].close == opens:
                sessions[-1] = Session(open=sessions[-1].open, close=closes)
            else:
                sessions.append(Session(open=opens, close=closes))
        return sessions


ALWAYS_OPEN = AlwaysOpenCalendar()
NYSE = NyseCalendar()
FOREX = ForexCalendar()

_CALENDAR_BY_ASSET_CLASS: dict[str, TradingCalendar] = {
    "crypto_spot": ALWAYS_OPEN,
    "perpetual": ALWAYS_OPEN,
    "stock": NYSE,
    "etf": NYSE,
    "option": NYSE,
    "forex": FOREX,
}


def calendar_for(asset_class: str) -> TradingCalendar:
    """The shared calendar for an asset class; raises ValueError for an unknown one."""
    try:
        return _CALENDAR_BY_ASSET_CLASS[asset_class]
    except KeyError:
        raise ValueError(f"no trading calendar for asset class {asset_class!r}") from None


def _require_aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {when.isoformat()}")
    return when


def _new_york_year(when: datetime) -> int:
    return _require_aware(when).astimezone(NEW_YORK).year


def _utc_from_epoch(epoch_seconds: np.integer | int) -> datetime:
    return datetime.fromtimestamp(int(epoch_seconds), UTC)


def _days_of_year(year: int) -> list[date]:
    first_day = date(year, 1, 1)
    return [first_day + timedelta(days=offset) for offset in range((date(year + 1, 1, 1) - first_day).days)]
