"""Trading calendars against the published NYSE holiday calendar and hand-worked forex hours.

Expected dates come from NYSE's published "Holidays and Trading Hours" for 2024-2027 (and the
January 9, 2025 closure for President Carter's national day of mourning); UTC instants are worked by
hand: New York is UTC-5 in winter (EST) and UTC-4 in summer (EDT).
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haunt.market.calendars import FOREX, NYSE, calendar_for

NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def new_york(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK)


def epoch(when: datetime) -> int:
    return int(when.timestamp())


def minute_grid(start: datetime, end: datetime) -> np.ndarray:
    return np.arange(epoch(start), epoch(end), 60, dtype=np.int64)


# --- NYSE holidays and early closes -------------------------------------------------------------------

NYSE_FULL_DAY_CLOSURES = [
    # 2025
    date(2025, 1, 1),  # New Year's Day
    date(2025, 1, 9),  # National Day of Mourning, President Jimmy Carter
    date(2025, 1, 20),  # Martin Luther King Jr. Day
    date(2025, 2, 17),  # Washington's Birthday
    date(2025, 4, 18),  # Good Friday
    date(2025, 5, 26),  # Memorial Day
    date(2025, 6, 19),  # Juneteenth
    date(2025, 7, 4),  # Independence Day
    date(2025, 9, 1),  # Labor Day
    date(2025, 11, 27),  # Thanksgiving Day
    date(2025, 12, 25),  # Christmas Day
    # 2026
    date(2026, 1, 1),
    date(2026, 1, 19),
    date(2026, 2, 16),
    date(2026, 4, 3),
    date(2026, 5, 25),
    date(2026, 6, 19),
    date(2026, 7, 3),  # Independence Day observed: July 4, 2026 is a Saturday
    date(2026, 9, 7),
    date(2026, 11, 26),
    date(2026, 12, 25),
    # 2027
    date(2027, 1, 1),
    date(2027, 6, 18),  # Juneteenth observed: June 19, 2027 is a Saturday
    date(2027, 7, 5),  # Independence Day observed: July 4, 2027 is a Sunday
    date(2027, 12, 24),  # Christmas observed: December 25, 2027 is a Saturday
]

# Early closes at 13:00 New York, and that instant in UTC.
NYSE_EARLY_CLOSES = [
    (date(2024, 7, 3), utc(2024, 7, 3, 17)),
    (date(2024, 11, 29), utc(2024, 11, 29, 18)),
    (date(2024, 12, 24), utc(2024, 12, 24, 18)),
    (date(2025, 7, 3), utc(2025, 7, 3, 17)),
    (date(2025, 11, 28), utc(2025, 11, 28, 18)),
    (date(2025, 12, 24), utc(2025, 12, 24, 18)),
    (date(2026, 11, 27), utc(2026, 11, 27, 18)),
    (date(2026, 12, 24), utc(2026, 12, 24, 18)),
    (date(2027, 11, 26), utc(2027, 11, 26, 18)),
]

# Days next to a holiday that trade full hours: the 13:00 rule does not move to the previous day.
NYSE_FULL_DAYS_NEAR_HOLIDAYS = [
    (date(2026, 7, 2), utc(2026, 7, 2, 20)),  # Thursday before the observed July 3 holiday
    (date(2027, 7, 2), utc(2027, 7, 2, 20)),  # Friday before the observed July 5 holiday
    (date(2027, 12, 23), utc(2027, 12, 23, 21)),  # Thursday before the observed Dec 24 holiday
    (date(2026, 12, 31), utc(2026, 12, 31, 21)),  # New Year's Eve
    (date(2025, 11, 26), utc(2025, 11, 26, 21)),  # Day before Thanksgiving
]


@pytest.mark.parametrize("closed_day", NYSE_FULL_DAY_CLOSURES, ids=str)
def test_nyse_is_closed_all_day_on_holidays(closed_day):
    # Given every minute of the New York holiday
    start = datetime.combine(closed_day, time(0), NEW_YORK)
    minutes = minute_grid(start, start + timedelta(days=1))

    # When / then: closed at noon and in every minute of the day, and no session that date
    assert not NYSE.is_open(datetime.combine(closed_day, time(12), NEW_YORK))
    assert not NYSE.session_mask(minutes).any()
    assert NYSE.session_on(closed_day) is None


@pytest.mark.parametrize(("early_close_day", "close_utc"), NYSE_EARLY_CLOSES, ids=str)
def test_nyse_closes_at_13_00_new_york_on_early_close_days(early_close_day, close_utc):
    # Given the morning of an early-close day
    morning = datetime.combine(early_close_day, time(10), NEW_YORK)

    # When / then: the session ends at 13:00 New York
    assert NYSE.next_close(morning) == close_utc
    assert NYSE.is_open(close_utc - timedelta(seconds=1))
    assert not NYSE.is_open(close_utc)
    open_minutes = NYSE.session_mask(minute_grid(morning - timedelta(hours=10), morning + timedelta(hours=14)))
    assert open_minutes.sum() == 210  # 09:30 to 13:00


@pytest.mark.parametrize(("full_day", "close_utc"), NYSE_FULL_DAYS_NEAR_HOLIDAYS, ids=str)
def test_nyse_trades_full_hours_beside_holidays(full_day, close_utc):
    morning = datetime.combine(full_day, time(10), NEW_YORK)

    assert NYSE.next_close(morning) == close_utc
    assert NYSE.is_open(datetime.combine(full_day, time(15, 59), NEW_YORK))


def test_nyse_holiday_count_matches_published_2025_and_2026_calendars():
    # Given every minute of 2025 and 2026
    minutes = minute_grid(new_york(2025, 1, 1), new_york(2027, 1, 1))

    # When the open minutes are counted
    open_minutes = int(NYSE.session_mask(minutes).sum())

    # Then: 2025 has 250 trading days (261 weekdays less 11 closures), 3 of them early closes;
    # 2026 has 251 (261 weekdays less 10 closures), 2 of them early closes.
    full_days = (250 - 3) + (251 - 2)
    early_days = 3 + 2
    assert open_minutes == full_days * 390 + early_days * 210


# --- NYSE hours across daylight saving time ----------------------------------------------------------


@pytest.mark.parametrize(
    ("trading_day", "open_utc", "close_utc"),
    [
        (date(2025, 1, 6), utc(2025, 1, 6, 14, 30), utc(2025, 1, 6, 21)),  # EST
        (date(2025, 6, 16), utc(2025, 6, 16, 13, 30), utc(2025, 6, 16, 20)),  # EDT
        (date(2025, 3, 7), utc(2025, 3, 7, 14, 30), utc(2025, 3, 7, 21)),  # Friday before spring-forward
        (date(2025, 3, 10), utc(2025, 3, 10, 13, 30), utc(2025, 3, 10, 20)),  # Monday after spring-forward
        (date(2025, 10, 31), utc(2025, 10, 31, 13, 30), utc(2025, 10, 31, 20)),  # Friday before fall-back
        (date(2025, 11, 3), utc(2025, 11, 3, 14, 30), utc(2025, 11, 3, 21)),  # Monday after fall-back
    ],
    ids=str,
)
def test_nyse_session_follows_new_york_daylight_saving(trading_day, open_utc, close_utc):
    # Given the New York midnight that starts the trading day
    midnight = datetime.combine(trading_day, time(0), NEW_YORK)

    # When / then: opens at 09:30 and closes at 16:00 New York, expressed in UTC
    assert NYSE.next_open(midnight) == open_utc
    assert NYSE.next_close(midnight) == close_utc
    assert not NYSE.is_open(open_utc - timedelta(seconds=1))
    assert NYSE.is_open(open_utc)
    assert NYSE.is_open(close_utc - timedelta(seconds=1))
    assert not NYSE.is_open(close_utc)


@pytest.mark.parametrize(
    "weekend_instant",
    [utc(2025, 6, 14, 15), utc(2025, 6, 15, 15), utc(2026, 1, 10, 15), utc(2026, 1, 11, 15)],
    ids=str,
)
def test_nyse_is_closed_on_weekends_during_regular_hours(weekend_instant):
    assert not NYSE.is_open(weekend_instant)


# --- next_open / next_close --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected_open"),
    [
        (utc(2025, 4, 17, 20), utc(2025, 4, 21, 13, 30)),  # Thursday close -> Good Friday -> Monday
        (utc(2026, 1, 16, 21), utc(2026, 1, 20, 14, 30)),  # Friday close -> MLK Monday -> Tuesday
        (utc(2026, 11, 25, 21), utc(2026, 11, 27, 14, 30)),  # Wednesday close -> Thanksgiving -> Friday
        (utc(2026, 12, 24, 18), utc(2026, 12, 28, 14, 30)),  # Christmas Eve early close -> Monday
        (utc(2026, 12, 31, 21), utc(2027, 1, 4, 14, 30)),  # Year end -> New Year's Day Friday -> Monday
        (utc(2026, 7, 2, 20), utc(2026, 7, 6, 13, 30)),  # Thursday -> observed July 3 -> Monday
        (utc(2025, 1, 8, 21), utc(2025, 1, 10, 14, 30)),  # Day of mourning skipped
    ],
    ids=str,
)
def test_nyse_next_open_skips_holidays_and_weekends(after, expected_open):
    assert NYSE.next_open(after) == expected_open


def test_nyse_next_open_during_a_session_is_the_instant_itself():
    inside = datetime(2025, 6, 16, 15, 0, 30, 250_000, tzinfo=UTC)

    assert NYSE.next_open(inside) == inside


def test_nyse_next_open_at_the_opening_instant_is_that_instant():
    assert NYSE.next_open(utc(2025, 6, 16, 13, 30)) == utc(2025, 6, 16, 13, 30)


def test_nyse_next_close_at_the_closing_instant_is_the_following_session_close():
    # Given Friday's 16:00 EDT close; Monday closes at 16:00 EDT
    assert NYSE.next_close(utc(2025, 6, 13, 20)) == utc(2025, 6, 16, 20)


def test_results_are_utc_for_inputs_in_any_timezone():
    tokyo = ZoneInfo("Asia/Tokyo")
    # 2025-06-16 22:00 Tokyo is 13:00 UTC, half an hour before the 09:30 EDT open
    before_open = datetime(2025, 6, 16, 22, 0, tzinfo=tokyo)

    opens = NYSE.next_open(before_open)

    assert opens == utc(2025, 6, 16, 13, 30)
    assert opens.tzinfo is UTC


@pytest.mark.parametrize(
    "call",
    [NYSE.is_open, NYSE.next_open, NYSE.next_close, FOREX.is_open, calendar_for("crypto_spot").is_open],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(datetime(2025, 6, 16, 15, 0))


# --- Forex 24/5 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("friday_close", "sunday_open"),
    [
        (utc(2025, 1, 10, 22), utc(2025, 1, 12, 22)),  # EST both sides
        (utc(2025, 6, 13, 21), utc(2025, 6, 15, 21)),  # EDT both sides
        (utc(2025, 3, 7, 22), utc(2025, 3, 9, 21)),  # closes in EST, reopens after spring-forward in EDT
        (utc(2025, 10, 31, 21), utc(2025, 11, 2, 22)),  # closes in EDT, reopens after fall-back in EST
    ],
    ids=str,
)
def test_forex_closes_friday_17_00_and_reopens_sunday_17_00_new_york(friday_close, sunday_open):
    # Given the Friday close instant
    # When / then: open until 17:00 Friday, closed all weekend, open again from 17:00 Sunday
    assert FOREX.is_open(friday_close - timedelta(seconds=1))
    assert not FOREX.is_open(friday_close)
    assert not FOREX.is_open(friday_close + timedelta(days=1))
    assert not FOREX.is_open(sunday_open - timedelta(seconds=1))
    assert FOREX.is_open(sunday_open)
    assert FOREX.next_open(friday_close) == sunday_open
    assert FOREX.next_close(friday_close - timedelta(days=4)) == friday_close


def test_forex_trades_through_weekday_nights():
    # Wednesday 2025-06-11 03:00 New York: the middle of the night, mid-week
    assert FOREX.is_open(new_york(2025, 6, 11, 3))
    assert FOREX.is_open(new_york(2025, 6, 11, 17))


def test_forex_is_closed_for_the_christmas_and_new_year_trading_days():
    # Given Christmas 2025 on a Thursday and New Year's Day 2026 on a Thursday:
    # the trading day Dec 25 runs Dec 24 17:00 to Dec 25 17:00 New York (22:00 UTC in EST).
    monday = utc(2025, 12, 22, 12)

    # When / then
    assert FOREX.next_close(monday) == utc(2025, 12, 24, 22)
    assert FOREX.next_open(utc(2025, 12, 24, 22)) == utc(2025, 12, 25, 22)
    assert not FOREX.is_open(new_york(2025, 12, 25, 9))
    assert FOREX.next_close(utc(2025, 12, 25, 22)) == utc(2025, 12, 26, 22)
    assert FOREX.next_close(utc(2025, 12, 28, 22)) == utc(2025, 12, 31, 22)
    assert FOREX.next_open(utc(2025, 12, 31, 22)) == utc(2026, 1, 1, 22)


def test_forex_new_year_on_friday_closes_from_thursday_evening_to_sunday():
    # Given New Year's Day 2027 on a Friday
    assert FOREX.next_close(utc(2026, 12, 28, 12)) == utc(2026, 12, 31, 22)
    assert FOREX.next_open(utc(2026, 12, 31, 22)) == utc(2027, 1, 3, 22)


def test_forex_open_minutes_per_week():
    # Given a normal week and the 2025 Christmas week, each from Sunday 00:00 New York
    normal_week = minute_grid(new_york(2025, 6, 8), new_york(2025, 6, 15))
    christmas_week = minute_grid(new_york(2025, 12, 21), new_york(2025, 12, 28))

    # Then: Sunday 17:00 to Friday 17:00 is 120 hours; Christmas removes one 24-hour trading day
    assert FOREX.session_mask(normal_week).sum() == 120 * 60
    assert FOREX.session_mask(christmas_week).sum() == 96 * 60


# --- Always open -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("asset_class", ["crypto_spot", "perpetual"])
def test_crypto_and_perpetuals_are_always_open(asset_class):
    calendar = calendar_for(asset_class)
    christmas_sunday = utc(2022, 12, 25, 3, 17, 41)
    minutes = minute_grid(utc(2025, 12, 24), utc(2026, 1, 2))

    assert calendar.is_open(christmas_sunday)
    assert calendar.next_open(christmas_sunday) == christmas_sunday
    assert calendar.next_close(christmas_sunday) is None
    assert calendar.session_mask(minutes).all()


# --- calendar_for ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asset_class", "calendar_name"),
    [
        ("crypto_spot", "always_open"),
        ("perpetual", "always_open"),
        ("stock", "nyse"),
        ("etf", "nyse"),
        ("option", "nyse"),
        ("forex", "forex"),
    ],
)
def test_each_asset_class_has_its_calendar(asset_class, calendar_name):
    assert calendar_for(asset_class).name == calendar_name


def test_unknown_asset_class_is_refused():
    with pytest.raises(ValueError, match="bond"):
        calendar_for("bond")


# --- session_mask agrees with is_open ---------------------------------------------------------------------

START_2024 = epoch(utc(2024, 1, 1))
END_2027 = epoch(utc(2028, 1, 1))

# Instants a second either side of every session edge either calendar uses, on random dates.
BOUNDARY_TIMES = [time(9, 29, 59), time(9, 30), time(12, 59, 59), time(13, 0), time(15, 59, 59), time(16, 0)]
BOUNDARY_TIMES += [time(16, 59, 59), time(17, 0), time(23, 59, 59), time(0, 0)]

boundary_instants = st.builds(
    lambda day, clock: epoch(datetime.combine(day, clock, NEW_YORK)),
    st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
    st.sampled_from(BOUNDARY_TIMES),
)
any_instants = st.integers(min_value=START_2024, max_value=END_2027 - 1)
instant_samples = st.lists(st.one_of(any_instants, boundary_instants), min_size=1, max_size=40)


@pytest.mark.parametrize("calendar", [NYSE, FOREX], ids=lambda calendar: calendar.name)
@settings(max_examples=60, deadline=None)
@given(seconds=instant_samples)
def test_session_mask_agrees_with_is_open(calendar, seconds):
    mask = calendar.session_mask(np.array(seconds, dtype=np.int64))

    expected = [calendar.is_open(datetime.fromtimestamp(second, UTC)) for second in seconds]
    assert mask.tolist() == expected


@pytest.mark.parametrize("calendar", [NYSE, FOREX], ids=lambda calendar: calendar.name)
@settings(max_examples=60, deadline=None)
@given(second=st.one_of(any_instants, boundary_instants))
def test_next_open_and_next_close_bracket_an_open_stretch(calendar, second):
    # Given any instant
    when = datetime.fromtimestamp(second, UTC)

    # When the next open and the next close are found
    opens = calendar.next_open(when)
    closes = calendar.next_close(when)

    # Then the market is open from the next open until just before the next close, and closed at it
    assert when <= opens < closes
    assert calendar.is_open(opens)
    assert calendar.is_open(closes - timedelta(seconds=1))
    assert not calendar.is_open(closes)
    if opens > when:
        assert not calendar.is_open(opens - timedelta(seconds=1))


def test_session_mask_of_an_empty_array_is_empty():
    assert NYSE.session_mask(np.array([], dtype=np.int64)).shape == (0,)
