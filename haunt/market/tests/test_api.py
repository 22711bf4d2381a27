"""The market REST API (instruments, quotes, books, candles) and the live feed's candle recording."""
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Max, Min, Sum

from haunt.market.calendars import FOREX, NEW_YORK, NYSE
from haunt.market.models import Candle, Instrument
from haunt.market.services import candles_backfill
from haunt.market.state import quote_read
from haunt.market.universe import UNIVERSE

pytestmark = pytest.mark.django_db

HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)
# Backfilled history ends here: a Tuesday, NYSE open since 14:30 UTC (09:30 New York, EST).
BACKFILL_NOW = datetime(2026, 11, 24, 15, 0, 30, tzinfo=UTC)
# Three instruments, one per calendar, keep the backfill fast; the path does not depend on the others.
BACKFILL_SPECS = tuple(spec for spec in UNIVERSE if spec.symbol in {"BTC-USD", "AAPL", "EUR-USD"})


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def error(response) -> dict:
    return response.json()["error"]


@pytest.fixture
def history(instruments):
    """Three days of history up to BACKFILL_NOW: hourly bars to 2026-11-23 15:00, minute bars after."""
    candles_backfill(now=BACKFILL_NOW, seed=1, days=3, minute_days=1, specs=BACKFILL_SPECS)


def candles(client, symbol, **params):
    return client.get(f"/api/market/candles/{symbol}", params)


# Instruments


def test_instrument_list_covers_every_asset_class(auth_client, instruments):
    response = auth_client.get("/api/market/instruments")

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and body["previous"] is None
    by_class = Counter(item["asset_class"] for item in body["results"])
    symbols = {item["symbol"] for item in body["results"]}
    assert by_class["crypto_spot"] >= 10
    assert by_class["stock"] >= 10
    assert by_class["etf"] >= 6
    assert {"SPY", "QQQ", "IWM"} <= symbols
    assert {"BTC-PERP", "ETH-PERP"} <= symbols and by_class["perpetual"] >= 2
    assert by_class["forex"] == 10
    assert sum(by_class.values()) == len(UNIVERSE)


def test_instrument_list_filters_by_asset_class(auth_client, instruments):
    response = auth_client.get("/api/market/instruments", {"asset_class": "forex"})

    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 10
    assert {item["asset_class"] for item in results} == {"forex"}
    assert {"EUR-USD", "USD-JPY", "GBP-JPY"} <= {item["symbol"] for item in results}


def test_instrument_list_search_matches_symbol(auth_client, instruments):
    response = auth_client.get("/api/market/instruments", {"search": "btc"})

    assert response.status_code == 200
    assert [item["symbol"] for item in response.json()["results"]] == ["BTC-PERP", "BTC-USD"]


def test_instrument_list_perpetual_names_its_underlying(auth_client, instruments):
    response = auth_client.get("/api/market/instruments", {"asset_class": "perpetual", "search": "ETH"})

    [perpetual] = response.json()["results"]
    assert perpetual["symbol"] == "ETH-PERP"
    assert perpetual["underlying"] == "ETH-USD"
    assert perpetual["trading_hours"] == "24/7"


def test_instrument_list_cursor_pages_through_every_symbol_once(auth_client, instruments):
    seen, pages = [], 0
    url, params = "/api/market/instruments", {"page_size": 20}
    while url:
        body = auth_client.get(url, params).json()
        assert len(body["results"]) <= 20
        seen += [item["symbol"] for item in body["results"]]
        url, params, pages = body["next"], None, pages + 1

    assert pages == 3
    assert seen == sorted(spec.symbol for spec in UNIVERSE)


def test_instrument_list_unknown_asset_class_is_400(auth_client, instruments):
    response = auth_client.get("/api/market/instruments", {"asset_class": "bonds"})

    assert response.status_code == 400
    assert error(response)["field"] == "asset_class"
    assert error(response)["code"] == "invalid_choice"


def test_instrument_list_needs_authentication(api_client, instruments):
    response = api_client.get("/api/market/instruments")

    assert response.status_code == 401
    assert error(response)["code"] == "not_authenticated"


def test_instrument_session_state_follows_each_calendar(auth_client, instruments):
    before = datetime.now(UTC)
    results = {item["symbol"]: item for item in auth_client.get("/api/market/instruments").json()["results"]}
    after = datetime.now(UTC)

    bitcoin, apple, euro = results["BTC-USD"], results["AAPL"], results["EUR-USD"]
    assert bitcoin["is_open"] is True and bitcoin["next_close"] is None
    assert before <= parse(bitcoin["next_open"]) <= after
    assert apple["is_open"] in {NYSE.is_open(before), NYSE.is_open(after)}
    apple_close = parse(apple["next_close"]).astimezone(NEW_YORK)
    assert apple_close.time().isoformat() in {"16:00:00", "13:00:00"} and apple_close > before
    if not apple["is_open"]:
        assert parse(apple["next_open"]).astimezone(NEW_YORK).time().isoformat() == "09:30:00"
    assert parse(apple["next_open"]) < parse(apple["next_close"])
    assert euro["is_open"] in {FOREX.is_open(before), FOREX.is_open(after)}
    assert parse(euro["next_close"]).astimezone(NEW_YORK).time().isoformat() == "17:00:00"


def test_instrument_detail(auth_client, instruments):
    response = auth_client.get("/api/market/instruments/AAPL")

    assert response.status_code == 200
    body = response.json()
    assert body["symbol"] == "AAPL"
    assert body["asset_class"] == "stock"
    assert body["trading_hours"] == "nyse"
    assert Decimal(body["tick_size"]) == Decimal("0.01")
    assert Decimal(body["lot_size"]) == Decimal(1)
    assert body["quote_currency"] == "USD"
    assert set(body) >= {"is_open", "next_open", "next_close"}


def test_unknown_instrument_is_404(auth_client, instruments):
    response = auth_client.get("/api/market/instruments/NOPE-USD")

    assert response.status_code == 404
    assert error(response) == {"code": "unknown_symbol", "message": "No instrument 'NOPE-USD'.", "field": "symbol"}


def test_inactive_instrument_is_404(auth_client, instruments):
    Instrument.objects.filter(symbol="AAPL").update(is_active=False)

    response = auth_client.get("/api/market/instruments/AAPL")

    assert response.status_code == 404
    assert error(response)["code"] == "unknown_symbol"


# Quotes and books


def test_quote_from_the_live_feed(auth_client, market_feed):
    response = auth_client.get("/api/market/quotes/BTC-USD")

    assert response.status_code == 200
    quote = response.json()
    assert set(quote) == {"symbol", "bid", "ask", "last", "bid_size", "ask_size", "volume", "timestamp", "sources",
                          "is_open"}
    assert Decimal(quote["volume"]) >= 0
    assert quote["symbol"] == "BTC-USD"
    assert quote["timestamp"] == "2026-11-24T15:00:01Z"
    assert quote["sources"] == ["simulator"]
    assert quote["is_open"] is True
    bid, ask, last = Decimal(quote["bid"]), Decimal(quote["ask"]), Decimal(quote["last"])
    assert bid < ask
    tick, lot = Decimal("0.01"), Decimal("0.00001")
    assert bid % tick == 0 and ask % tick == 0 and last % tick == 0
    assert Decimal(quote["bid_size"]) > 0 and Decimal(quote["bid_size"]) % lot == 0
    assert Decimal(quote["ask_size"]) > 0 and Decimal(quote["ask_size"]) % lot == 0


def test_quote_prices_sit_on_each_instruments_tick_grid(auth_client, market_feed):
    for symbol, tick in [("DOGE-USD", "0.00001"), ("USD-JPY", "0.001"), ("EUR-USD", "0.00001"), ("BTC-PERP", "0.1")]:
        quote = auth_client.get(f"/api/market/quotes/{symbol}").json()

        assert Decimal(quote["bid"]) < Decimal(quote["ask"]), symbol
        assert Decimal(quote["bid"]) % Decimal(tick) == 0, symbol
        assert Decimal(quote["ask"]) % Decimal(tick) == 0, symbol


def test_quote_before_the_feed_ran_is_409(auth_client, instruments):
    response = auth_client.get("/api/market/quotes/BTC-USD")

    assert response.status_code == 409
    assert error(response)["code"] == "market_unavailable"


def test_quote_for_unknown_symbol_is_404(auth_client, market_feed):
    response = auth_client.get("/api/market/quotes/NOPE")

    assert response.status_code == 404
    assert error(response)["code"] == "unknown_symbol"


def test_order_book_at_depth_20(auth_client, market_feed):
    response = auth_client.get("/api/market/orderbook/BTC-USD", {"depth": 20})

    assert response.status_code == 200
    book = response.json()
    bids = [(Decimal(price), Decimal(quantity)) for price, quantity in book["bids"]]
    asks = [(Decimal(price), Decimal(quantity)) for price, quantity in book["asks"]]
    assert len(bids) == 20 and len(asks) == 20
    assert all(higher[0] > lower[0] for higher, lower in zip(bids, bids[1:]))
    assert all(lower[0] < higher[0] for lower, higher in zip(asks, asks[1:]))
    assert bids[0][0] < asks[0][0]
    assert all(quantity > 0 for _, quantity in bids + asks)
    assert book["sources"] == ["simulator"] and book["symbol"] == "BTC-USD" and book["is_open"] is True
    quote = auth_client.get("/api/market/quotes/BTC-USD").json()
    assert book["bids"][0] == [quote["bid"], quote["bid_size"]]
    assert book["asks"][0] == [quote["ask"], quote["ask_size"]]


def test_order_book_depth_defaults_to_20_and_caps_at_the_stored_book(auth_client, market_feed):
    default = auth_client.get("/api/market/orderbook/ETH-USD").json()
    deepest = auth_client.get("/api/market/orderbook/ETH-USD", {"depth": 100}).json()
    one = auth_client.get("/api/market/orderbook/ETH-USD", {"depth": 1}).json()

    assert (len(default["bids"]), len(default["asks"])) == (20, 20)
    assert (len(deepest["bids"]), len(deepest["asks"])) == (25, 25)  # the feed publishes 25 levels
    assert deepest["bids"][:20] == default["bids"]
    assert (one["bids"], one["asks"]) == (default["bids"][:1], default["asks"][:1])


@pytest.mark.parametrize(("depth", "code"), [("0", "min_value"), ("101", "max_value"), ("ten", "invalid")])
def test_order_book_depth_out_of_range_is_400(auth_client, market_feed, depth, code):
    response = auth_client.get("/api/market/orderbook/BTC-USD", {"depth": depth})

    assert response.status_code == 400
    assert error(response)["field"] == "depth"
    assert error(response)["code"] == code


def test_order_book_before_the_feed_ran_is_409(auth_client, instruments):
    response = auth_client.get("/api/market/orderbook/BTC-USD")

    assert response.status_code == 409
    assert error(response)["code"] == "market_unavailable"


# Candles


def test_hourly_candles_oldest_first_aligned_and_consistent(auth_client, history):
    response = candles(auth_client, "BTC-USD", interval="1h", start="2026-11-22T00:00:00Z", end="2026-11-24T00:00:00Z")

    assert response.status_code == 200
    bars = response.json()
    first = datetime(2026, 11, 22, tzinfo=UTC)
    assert [bar["start"] for bar in bars] == [
        (first + index * HOUR).isoformat().replace("+00:00", "Z") for index in range(48)
    ]
    for bar in bars:
        open_, high, low, close = (Decimal(bar[key]) for key in ("open", "high", "low", "close"))
        assert low <= min(open_, close) and max(open_, close) <= high
        assert Decimal(bar["volume"]) >= 0
    stored = Candle.objects.get(instrument__symbol="BTC-USD", resolution=3600, start=first + 30 * HOUR)
    assert {key: Decimal(value) for key, value in bars[30].items() if key != "start"} == {
        "open": stored.open, "high": stored.high, "low": stored.low, "close": stored.close, "volume": stored.volume,
    }


def test_candle_prices_carry_the_tick_precision(auth_client, history):
    [bar] = candles(auth_client, "EUR-USD", interval="1h", start="2026-11-23T10:00:00Z",
                    end="2026-11-23T11:00:00Z").json()

    assert len(bar["open"].split(".")[1]) == 5  # tick 0.00001
    assert bar["volume"].isdigit()  # lots of 1,000 units: no decimals


def day_by_hand(symbol: str, day: datetime) -> dict:
    rows = Candle.objects.filter(instrument__symbol=symbol, resolution=3600, start__gte=day,
                                 start__lt=day + timedelta(days=1)).order_by("start")
    totals = rows.aggregate(high=Max("high"), low=Min("low"), volume=Sum("volume"))
    return {
        "start": day.isoformat().replace("+00:00", "Z"),
        "open": rows.first().open, "high": totals["high"], "low": totals["low"], "close": rows.last().close,
        "volume": totals["volume"],
    }


def as_decimals(bar: dict) -> dict:
    return {key: value if key == "start" else Decimal(value) for key, value in bar.items()}


def test_daily_candles_aggregate_the_hours_of_each_utc_day(auth_client, history):
    # The start is mid-day: the first bar is still the whole day it falls in.
    response = candles(auth_client, "BTC-USD", interval="1d", start="2026-11-22T12:00:00Z", end="2026-11-24T00:00:00Z")

    assert response.status_code == 200
    assert [as_decimals(bar) for bar in response.json()] == [
        day_by_hand("BTC-USD", datetime(2026, 11, 22, tzinfo=UTC)),
        day_by_hand("BTC-USD", datetime(2026, 11, 23, tzinfo=UTC)),
    ]


def test_five_minute_candles_aggregate_the_minute_bars(auth_client, history):
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    response = candles(auth_client, "BTC-USD", interval="5m", start="2026-11-24T10:00:00Z", end="2026-11-24T11:00:00Z")

    assert response.status_code == 200
    bars = [as_decimals(bar) for bar in response.json()]
    assert len(bars) == 12
    for index, bar in enumerate(bars):
        bucket = start + index * 5 * MINUTE
        rows = Candle.objects.filter(instrument__symbol="BTC-USD", resolution=60, start__gte=bucket,
                                     start__lt=bucket + 5 * MINUTE).order_by("start")
        assert rows.count() == 5
        totals = rows.aggregate(high=Max("high"), low=Min("low"), volume=Sum("volume"))
        assert bar == {"start": bucket.isoformat().replace("+00:00", "Z"), "open": rows.first().open,
                       "high": totals["high"], "low": totals["low"], "close": rows.last().close,
                       "volume": totals["volume"]}


def test_minute_candles_are_the_stored_minute_bars(auth_client, history):
    response = candles(auth_client, "BTC-USD", interval="1m", start="2026-11-24T14:57:00Z", end="2026-11-24T15:10:00Z")

    bars = response.json()
    assert [bar["start"] for bar in bars] == ["2026-11-24T14:57:00Z", "2026-11-24T14:58:00Z", "2026-11-24T14:59:00Z"]
    stored = Candle.objects.get(instrument__symbol="BTC-USD", resolution=60,
                                start=datetime(2026, 11, 24, 14, 59, tzinfo=UTC))
    assert Decimal(bars[-1]["close"]) == stored.close


def test_stocks_have_no_bars_outside_nyse_hours(auth_client, history):
    # In November New York is UTC-5: the session is 14:30-21:00 UTC on Monday the 23rd and from 14:30 on
    # Tuesday. The history starts on Saturday the 21st.
    hourly = candles(auth_client, "AAPL", interval="1h", start="2026-11-21T15:00:00Z",
                     end="2026-11-24T15:00:00Z").json()
    minutes = candles(auth_client, "AAPL", interval="1m", start="2026-11-23T14:00:00Z",
                      end="2026-11-24T15:00:00Z").json()

    assert [bar["start"] for bar in hourly] == [
        *(f"2026-11-23T{hour}:00:00Z" for hour in range(14, 21)), "2026-11-24T14:00:00Z",
    ]
    minute_starts = [parse(bar["start"]) for bar in minutes]
    assert len(minute_starts) == 6 * 60 + 30  # Monday 15:00-21:00 (before that, hourly history) + Tuesday 14:30-15:00
    assert all(NYSE.is_open(start) for start in minute_starts)
    assert minute_starts[0] == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert minute_starts[-1] == datetime(2026, 11, 24, 14, 59, tzinfo=UTC)
    assert datetime(2026, 11, 24, 14, 30, tzinfo=UTC) in minute_starts
    assert datetime(2026, 11, 24, 14, 29, tzinfo=UTC) not in minute_starts


def test_unknown_interval_is_400(auth_client, instruments):
    response = candles(auth_client, "BTC-USD", interval="2h")

    assert response.status_code == 400
    assert error(response)["field"] == "interval"
    assert error(response)["code"] == "invalid_choice"


@pytest.mark.parametrize("end", ["2026-11-24T00:00:00Z", "2026-11-23T00:00:00Z"])
def test_start_not_before_end_is_400(auth_client, instruments, end):
    response = candles(auth_client, "BTC-USD", interval="1h", start="2026-11-24T00:00:00Z", end=end)

    assert response.status_code == 400
    assert error(response)["code"] == "invalid_range"
    assert error(response)["field"] == "start"


def test_range_of_more_than_5000_bars_is_400(auth_client, instruments):
    exactly = candles(auth_client, "BTC-USD", interval="1m", start="2026-11-20T00:00:00Z", end="2026-11-23T11:20:00Z")
    one_more = candles(auth_client, "BTC-USD", interval="1m", start="2026-11-20T00:00:00Z", end="2026-11-23T11:21:00Z")

    assert exactly.status_code == 200  # 3 days 11 h 20 min = 5000 minutes
    assert one_more.status_code == 400
    assert error(one_more)["code"] == "range_too_large"


def test_malformed_start_is_400(auth_client, instruments):
    response = candles(auth_client, "BTC-USD", start="yesterday")

    assert response.status_code == 400
    assert error(response)["field"] == "start"
    assert error(response)["code"] == "invalid"


def test_candles_for_unknown_symbol_is_404(auth_client, instruments):
    response = candles(auth_client, "NOPE", interval="1h")

    assert response.status_code == 404
    assert error(response)["code"] == "unknown_symbol"


# The feed


def test_feed_update_publishes_a_quote_for_every_instrument(market_feed):
    symbols = list(Instrument.objects.values_list("symbol", flat=True))

    update = market_feed.update(datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC))

    assert {quote["symbol"] for quote in update.quotes} == set(symbols)
    assert {book["symbol"] for book in update.books} == set(symbols)
    assert update.sequence == 2
    for symbol in symbols:
        assert quote_read(symbol)["timestamp"] == "2026-11-24T15:00:02Z"


def test_feed_records_minute_and_hour_bars_closing_at_the_last_trade(market_feed):
    first = {quote["symbol"]: Decimal(quote["last"]) for quote in
             (quote_read(symbol) for symbol in market_feed.instrument_ids)}

    flushed = market_feed.flush_bars()

    # 15:00:01 on a Tuesday: every calendar is open, so every instrument has a bar at both resolutions.
    assert flushed == 2 * len(market_feed.instrument_ids)
    assert Candle.objects.count() == flushed
    for symbol, last in first.items():
        for resolution in (60, 3600):
            candle = Candle.objects.get(instrument__symbol=symbol, resolution=resolution)
            assert candle.start == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
            assert candle.open == candle.high == candle.low == candle.close == last


def test_second_update_in_the_same_minute_updates_the_same_rows(market_feed):
    first = {quote["symbol"]: Decimal(quote["last"]) for quote in
             (quote_read(symbol) for symbol in market_feed.instrument_ids)}
    market_feed.flush_bars()
    ids = dict(Candle.objects.values_list("pk", "instrument__symbol"))

    update = market_feed.update(datetime(2026, 11, 24, 15, 0, 40, tzinfo=UTC))
    market_feed.flush_bars()

    second = {quote["symbol"]: Decimal(quote["last"]) for quote in update.quotes}
    assert dict(Candle.objects.values_list("pk", "instrument__symbol")) == ids
    moved = 0
    for symbol in first:
        candle = Candle.objects.get(instrument__symbol=symbol, resolution=60)
        assert (candle.open, candle.close) == (first[symbol], second[symbol])
        assert (candle.high, candle.low) == (max(first[symbol], second[symbol]), min(first[symbol], second[symbol]))
        moved += first[symbol] != second[symbol]
    assert moved > 0  # the check above would not notice an update that wrote nothing otherwise


def test_restart_backfill_rebuilds_the_partial_hour_from_every_minute(instruments):
    """The feed wrote 15:00 (a partial hour) and stopped; a restart at 15:20 backfills 15:01-15:19 and
    the 15:00 hourly bar must then cover all twenty minutes, not just the first."""
    from haunt.market.bars import Bar
    from haunt.market.services import candles_upsert
    from haunt.market.universe import spec_by_symbol

    specs = (spec_by_symbol("BTC-USD"),)
    btc = Instrument.objects.get(symbol="BTC-USD")
    hour = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    candles_backfill(now=hour, seed=1, days=1, minute_days=1, specs=specs)
    first_minute = Bar(int(hour.timestamp()), Decimal("90000"), Decimal("90010"), Decimal("89990"), Decimal("90005"),
                       Decimal("1.5"))
    candles_upsert([("BTC-USD", 60, first_minute), ("BTC-USD", 3600, Bar(**{**first_minute.__dict__}))],
                   {"BTC-USD": btc.pk})

    candles_backfill(now=hour + timedelta(minutes=20), seed=1, days=1, minute_days=1, specs=specs)

    minutes = list(Candle.objects.filter(instrument=btc, resolution=60, start__gte=hour).order_by("start"))
    hourly = Candle.objects.get(instrument=btc, resolution=3600, start=hour)
    assert len(minutes) == 20
    assert hourly.open == minutes[0].open == Decimal("90000")
    assert hourly.close == minutes[-1].close
    assert hourly.high == max(bar.high for bar in minutes) and hourly.low == min(bar.low for bar in minutes)
    assert hourly.volume == sum(bar.volume for bar in minutes)
