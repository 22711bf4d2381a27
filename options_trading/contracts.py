"""Option contract terms: symbols, exercise style and settlement, listed expirations and strikes
(spec §7 "Option Types", "Options chains with strikes and expirations").

Two listing conventions, each the one its market uses:

- US equity and ETF options follow the OCC: ``AAPL  261218C00200000`` is the root padded to six
  characters, the expiry as yymmdd, C or P, and the strike times 1,000 in eight digits. They are
  American, physically settled in 100 shares, and expire at 16:00 New York on the third Friday of
  the month (monthlies) or on a Friday (weeklies); an expiry on an exchange holiday moves to the
  trading day before.
- Crypto options follow Deribit: ``BTC-18DEC26-100000-C`` (a decimal point in the strike is written
  ``d``, as Deribit writes ``2d4`` for 2.4). They are European, cash-settled, on one unit of the
  coin, and expire at 08:00 UTC on Fridays (weeklies) and on the last Friday of the month
  (monthlies). The OCC's eight strike digits stop at 99,999.999, below where Bitcoin trades.

Index options would be European and cash-settled too; the universe lists no index yet.
Pure module: no Django.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
EQUITY_EXPIRY_TIME = time(16, 0)  # New York: the last moment to trade and the exercise cut-off
CRYPTO_EXPIRY_TIME = time(8, 0)  # UTC, Deribit's daily settlement
EQUITY_MULTIPLIER = Decimal(100)
WEEKLY_EXPIRATIONS = 8
LISTING_HORIZON_DAYS = 366
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_OCC = re.compile(r"^(?P<root>[A-Z0-9.]{1,6}) *(?P<date>\d{6})(?P<type>[CP])(?P<strike>\d{8})$")
_DERIBIT = re.compile(r"^(?P<root>[A-Z0-9]{1,10})-(?P<day>\d{1,2})(?P<month>[A-Z]{3})(?P<year>\d{2})-"
                      r"(?P<strike>\d+(?:d\d+)?)-(?P<type>[CP])$")

# Crypto underlyings with listed options (Deribit's majors) and their minimum order size in coins.
CRYPTO_OPTION_LOTS: dict[str, Decimal] = {
    "BTC-USD": Decimal("0.1"),
    "ETH-USD": Decimal(1),
    "SOL-USD": Decimal(1),
}
_STRIKE_STEPS = tuple(Decimal(step) for step in (
    "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "25", "50", "100", "250", "500",
    "1000", "2500", "5000"))


class OptionType(StrEnum):
    CALL = "call"
    PUT = "put"


class ExerciseStyle(StrEnum):
    AMERICAN = "american"
    EUROPEAN = "european"


class Settlement(StrEnum):
    PHYSICAL = "physical"
    CASH = "cash"


@dataclass(frozen=True)
class ContractClass:
    """What every option on one underlying shares: how it exercises, settles, is sized and quoted."""

    style: ExerciseStyle
    settlement: Settlement
    multiplier: Decimal
    tick_size: Decimal
    lot_size: Decimal


@dataclass(frozen=True)
class ContractTerms:
    """One contract as its symbol names it; ``root`` is the OCC root or the Deribit currency."""

    root: str
    expiry: date
    option_type: OptionType
    strike: Decimal


def contract_class(*, symbol: str, asset_class: str, spot: Decimal) -> ContractClass | None:
    """The contract class of options on an underlying, or None when it has no listed options
    (perpetuals, forex, and crypto outside Deribit's majors).

    US equity and ETF options quote in cents (every name here is in the penny programme); crypto
    options tick at about a ten-thousandth of the coin's price, in dollars.
    """
    if asset_class in ("stock", "etf"):
        return ContractClass(ExerciseStyle.AMERICAN, Settlement.PHYSICAL, EQUITY_MULTIPLIER, Decimal("0.01"),
                             Decimal(1))
    if asset_class == "crypto_spot" and symbol in CRYPTO_OPTION_LOTS:
        tick = Decimal(1).scaleb(math.floor(math.log10(spot)) - 4)
        return ContractClass(ExerciseStyle.EUROPEAN, Settlement.CASH, Decimal(1), tick, CRYPTO_OPTION_LOTS[symbol])
    return None


def option_root(*, symbol: str, asset_class: str) -> str:
    """The OCC root of an equity (its ticker) or the Deribit currency of a crypto pair."""
    return symbol.split("-")[0] if asset_class == "crypto_spot" else symbol


def option_symbol(*, terms: ContractTerms, asset_class: str) -> str:
    if asset_class == "crypto_spot":
        strike = format(terms.strike.normalize(), "f").replace(".", "d")
        day = terms.expiry
        return f"{terms.root}-{day.day}{_MONTHS[day.month - 1]}{day:%y}-{strike}-{terms.option_type.value[0].upper()}"
    millis = terms.strike * 1000
    if millis != millis.to_integral_value() or not 0 < millis < 10**8:
        raise ValueError(f"strike {terms.strike} has no OCC code")
    return f"{terms.root:<6}{terms.expiry:%y%m%d}{terms.option_type.value[0].upper()}{int(millis):08d}"


def parse_option_symbol(symbol: str) -> ContractTerms | None:
    """The terms an OCC or Deribit option symbol names, or None when ``symbol`` is neither."""
    match = _OCC.match(symbol)
    if match:
        try:
            expiry = datetime.strptime(match["date"], "%y%m%d").date()
        except ValueError:
            return None
        return ContractTerms(root=match["root"], expiry=expiry, option_type=_type(match["type"]),
                             strike=Decimal(int(match["strike"])) / 1000)
    match = _DERIBIT.match(symbol)
    if match and match["month"] in _MONTHS:
        try:
            expiry = date(2000 + int(match["year"]), _MONTHS.index(match["month"]) + 1, int(match["day"]))
        except ValueError:
            return None
        return ContractTerms(root=match["root"], expiry=expiry, option_type=_type(match["type"]),
                             strike=Decimal(match["strike"].replace("d", ".")))
    return None


def _type(letter: str) -> OptionType:
    return OptionType.CALL if letter == "C" else OptionType.PUT


def expires_at(*, expiry: date, settlement: Settlement) -> datetime:
    """The instant a contract expires: 16:00 New York for equity options, 08:00 UTC for crypto."""
    if settlement == Settlement.CASH:
        return datetime.combine(expiry, CRYPTO_EXPIRY_TIME, UTC)
    return datetime.combine(expiry, EQUITY_EXPIRY_TIME, NEW_YORK).astimezone(UTC)


def listed_expirations(*, today: date, settlement: Settlement,
                       is_trading_day: Callable[[date], bool] = lambda day: True) -> list[date]:
    """Expirations listed on ``today``, nearest first, out to a year: the next WEEKLY_EXPIRATIONS
    Fridays, and each month's monthly (third Friday for equity options, last Friday for crypto).
    An expiry that is not a trading day moves to the trading day before it (equity options)."""
    fridays = [today + timedelta(days=(4 - today.weekday()) % 7 + 7 * week) for week in range(WEEKLY_EXPIRATIONS)]
    monthly = []
    for offset in range(13):
        year, month = today.year + (today.month - 1 + offset) // 12, (today.month - 1 + offset) % 12 + 1
        monthly.append(_last_friday(year, month) if settlement == Settlement.CASH else _third_friday(year, month))
    horizon = today + timedelta(days=LISTING_HORIZON_DAYS)
    expiries = set()
    for day in (*fridays, *monthly):
        while not is_trading_day(day):
            day -= timedelta(days=1)
        if today <= day <= horizon:
            expiries.add(day)
    return sorted(expiries)


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _last_friday(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 4) % 7)


def strike_step(spot: Decimal) -> Decimal:
    """The listed strike spacing near the money: the largest standard step within 1% of spot."""
    target = spot / 100
    return max((step for step in _STRIKE_STEPS if step <= target), default=_STRIKE_STEPS[0])


MAX_STRIKES_PER_SIDE = 40


def listed_strikes(*, spot: Decimal, volatility: float, years: float) -> list[Decimal]:
    """Strikes on the step grid from spot·e^(−w) to spot·e^(w), with w three standard deviations of
    the log-price to expiry but at least 10%: long-dated expirations list wider ranges, and the
    grid coarsens to the next standard step while either side would list more than 40 strikes."""
    width = max(0.10, 3.0 * volatility * math.sqrt(max(years, 0.0)))
    low, high = spot * Decimal(math.exp(-width)), spot * Decimal(math.exp(width))
    index = _STRIKE_STEPS.index(strike_step(spot))
    while True:
        step = _STRIKE_STEPS[index]
        first = (low / step).to_integral_value(rounding=ROUND_CEILING)
        last = (high / step).to_integral_value(rounding=ROUND_FLOOR)
        at_money = (spot / step).to_integral_value()
        if max(at_money - first, last - at_money) <= MAX_STRIKES_PER_SIDE or index == len(_STRIKE_STEPS) - 1:
            return [step * units for units in range(max(int(first), 1), int(last) + 1)]
        index += 1
