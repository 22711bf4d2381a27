"""GET /api/market/indicators/{symbol}: an indicator over the platform's candles."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from haunt.market.models import Candle, Instrument
from strategies.indicators import bollinger_bands, rsi

pytestmark = pytest.mark.django_db

FIRST_BAR = datetime(2026, 11, 2, tzinfo=UTC)
CLOSES = [Decimal("100.00") + Decimal(step) / 4 for step in (0, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8,
                                                            4, 6, 2, 6, 4, 3, 3, 8, 3, 2)]
WINDOW = {"start": FIRST_BAR.isoformat(), "end": (FIRST_BAR + timedelta(hours=len(CLOSES))).isoformat()}


@pytest.fixture
def hourly_bars(instruments):
    btc = Instrument.objects.get(symbol="BTC-USD")
    Candle.objects.bulk_create(
        Candle(instrument=btc, resolution=3600, start=FIRST_BAR + timedelta(hours=index), open=close, high=close + 1,
               low=close - 1, close=close, volume=Decimal("2.5"))
        for index, close in enumerate(CLOSES)
    )


def indicator(client, symbol="BTC-USD", **params):
    return client.get(f"/api/market/indicators/{symbol}", {"interval": "1h", **WINDOW, **params})


def test_rsi_series_matches_the_pure_function_bar_for_bar(auth_client, hourly_bars):
    response = indicator(auth_client, name="rsi", period="5")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("symbol", "indicator", "interval", "parameters", "outputs")} == {
        "symbol": "BTC-USD", "indicator": "rsi", "interval": "1h", "parameters": {"period": 5}, "outputs": ["rsi"]}
    expected = rsi(np.array([float(close) for close in CLOSES]), period=5)
    assert [value["time"] for value in body["values"]] == [
        (FIRST_BAR + timedelta(hours=index)).isoformat().replace("+00:00", "Z") for index in range(len(CLOSES))]
    assert [value["rsi"] for value in body["values"]][:5] == [None] * 5
    assert [value["rsi"] for value in body["values"]][5:] == [f"{number:.4f}" for number in expected[5:]]


def test_price_outputs_carry_four_places_beyond_the_tick(auth_client, hourly_bars):
    response = indicator(auth_client, name="bollinger", period="4", deviations="1.5")

    body = response.json()
    assert body["parameters"] == {"period": 4, "deviations": 1.5}
    assert body["outputs"] == ["upper", "middle", "lower"]
    upper, middle, lower = bollinger_bands(np.array([float(close) for close in CLOSES]), period=4, deviations=1.5)
    assert body["values"][2] == {"time": "2026-11-02T02:00:00Z", "upper": None, "middle": None, "lower": None}
    assert body["values"][-1] == {"time": "2026-11-03T05:00:00Z", "upper": f"{upper[-1]:.6f}",
                                  "middle": f"{middle[-1]:.6f}", "lower": f"{lower[-1]:.6f}"}


def test_defaults_apply_to_parameters_not_given(auth_client, hourly_bars):
    body = indicator(auth_client, name="macd", fast="3", slow="6").json()

    assert body["parameters"] == {"fast": 3, "slow": 6, "signal": 9}
    assert body["values"][12]["macd"] is None and body["values"][13]["macd"] is not None


def test_unknown_indicator_is_400(auth_client, hourly_bars):
    response = indicator(auth_client, name="ichimoku")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_choice"
    assert response.json()["error"]["field"] == "name"


def test_missing_name_is_400(auth_client, hourly_bars):
    response = indicator(auth_client)

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "name"


@pytest.mark.parametrize(("params", "code", "field"), [
    ({"name": "sma", "length": "5"}, "unknown_field", "length"),
    ({"name": "obv", "period": "5"}, "unknown_field", "period"),
    ({"name": "sma", "period": "five"}, "invalid_parameter", "period"),
    ({"name": "sma", "period": "2.5"}, "invalid_parameter", "period"),
    ({"name": "sma", "period": "1"}, "invalid_parameter", "period"),
    ({"name": "sma", "period": "1001"}, "invalid_parameter", "period"),
    ({"name": "bollinger", "deviations": "nan"}, "invalid_parameter", "deviations"),
    ({"name": "sma", "period": "1_0"}, "invalid_parameter", "period"),  # the API's one number grammar
    ({"name": "sma", "period": "１２"}, "invalid_parameter", "period"),
    ({"name": "sma", "period": " 12"}, "invalid_parameter", "period"),
    ({"name": "macd", "fast": "26", "slow": "12"}, "invalid_parameter", "fast"),
    ({"name": "rsi", "interval": "2h"}, "invalid_choice", "interval"),
])
def test_bad_parameters_are_400_naming_the_parameter(auth_client, hourly_bars, params, code, field):
    response = indicator(auth_client, **params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == field


def test_unknown_symbol_is_404(auth_client, hourly_bars):
    response = indicator(auth_client, symbol="NOPE", name="rsi")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_symbol"


def test_range_rules_are_the_candles_rules(auth_client, hourly_bars):
    response = auth_client.get("/api/market/indicators/BTC-USD",
                               {"name": "sma", "interval": "1m", "start": "2026-01-01T00:00:00Z",
                                "end": "2026-02-01T00:00:00Z"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "range_too_large"


def test_needs_a_token(api_client, hourly_bars):
    assert indicator(api_client, name="rsi").status_code == 401
