"""The chain, calculator and implied-volatility endpoints against the pricing kernels."""
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote as percent_encoded

import pytest

from haunt.market.universe import spec_by_symbol
from options_trading import pricing, surface
from options_trading.market import SECONDS_PER_YEAR
from options_trading.models import OptionContract

D = Decimal


def _pinned(value: float) -> str:
    return f"{D(float(value)).quantize(D('1e-8')):f}"


def _places(text: str) -> int:
    return len(text.partition(".")[2])


@pytest.mark.parametrize("symbol, expiry, style", [
    ("AAPL", "2027-01-15", "american"),
    ("BTC-USD", "2026-12-25", "european"),
])
def test_chain_numbers_are_the_pricing_kernels(auth_client, underlyings, symbol, expiry, style):
    response = auth_client.get(f"/api/options/chains/{symbol}", {"expiry": expiry, "strikes": 6})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expiry"] == expiry and expiry in body["expirations"]
    spot = D(body["spot"])
    assert spot == {"AAPL": D("200.01"), "BTC-USD": D("90000.5")}[symbol]
    rows = body["contracts"]
    assert len(rows) == 12 and {row["style"] for row in rows} == {style}
    as_of = datetime.fromisoformat(body["as_of"].replace("Z", "+00:00"))
    shape = surface.surface_shape("stock" if symbol == "AAPL" else "crypto_spot")
    rate = float(body["rate"])
    kernel = pricing.american_valuation if style == "american" else pricing.european_valuation
    for row in rows:
        contract = OptionContract.objects.get(instrument__symbol=row["symbol"])
        years = (contract.expires_at - as_of).total_seconds() / SECONDS_PER_YEAR
        volatility = surface.implied_volatility_at(
            shape=shape, anchor=spec_by_symbol(symbol).annual_volatility, spot=float(spot),
            strike=float(row["strike"]), time_to_expiry=years, rate=rate)
        expected = kernel(option_type=row["option_type"], spot=float(spot), strike=float(row["strike"]),
                          time_to_expiry=years, rate=rate, dividend_yield=0.0, volatility=float(volatility))
        assert row["implied_volatility"] == _pinned(volatility)
        assert row["model_price"] == _pinned(expected.price)
        for greek in ("delta", "gamma", "theta", "vega", "rho"):
            assert row[greek] == _pinned(getattr(expected, greek)), greek
        bid, ask, mid = D(row["bid"]), D(row["ask"]), D(row["mid"])
        assert D(0) < bid < ask and mid == (bid + ask) / 2
        # One place finer than the tick, always (as the quote's last): not "1.24" beside "1.235".
        assert _places(row["mid"]) == _places(row["bid"]) + 1 == _places(row["ask"]) + 1
        assert bid <= D(row["model_price"]) <= ask


def test_chain_lists_contracts_once_with_their_terms(auth_client, underlyings):
    first = auth_client.get("/api/options/chains/AAPL", {"expiry": "2026-12-18"}).json()
    again = auth_client.get("/api/options/chains/AAPL", {"expiry": "2026-12-18"}).json()
    assert [row["symbol"] for row in first["contracts"]] == [row["symbol"] for row in again["contracts"]]
    call = next(row for row in first["contracts"] if row["strike"] == "200" and row["option_type"] == "call")
    assert call["symbol"] == "AAPL  261218C00200000"
    assert (call["style"], call["settlement"], call["multiplier"]) == ("american", "physical", "100")
    assert call["expires_at"] == "2026-12-18T21:00:00Z"  # 16:00 New York
    contract = OptionContract.objects.select_related("instrument").get(instrument__symbol=call["symbol"])
    assert contract.instrument.asset_class == "option" and contract.instrument.contract_multiplier == 100
    btc = auth_client.get("/api/options/chains/BTC-USD", {"expiry": "2026-12-25", "strikes": 1}).json()
    assert [row["symbol"] for row in btc["contracts"]] == ["BTC-25DEC26-90000-C", "BTC-25DEC26-90000-P"]
    assert btc["contracts"][0]["multiplier"] == "1" and btc["contracts"][0]["settlement"] == "cash"


def test_market_endpoints_take_occ_symbols(auth_client, underlyings):
    """An OCC symbol's padding spaces (URL-encoded) reach the market endpoints: the quote, book and
    instrument the chain published for the contract."""
    rows = auth_client.get("/api/options/chains/AAPL", {"expiry": "2026-12-18", "strikes": 1}).json()["contracts"]
    call = next(row for row in rows if row["option_type"] == "call")
    path = percent_encoded(call["symbol"])
    assert path == "AAPL%20%20261218C00200000"
    market_quote = auth_client.get(f"/api/market/quotes/{path}").json()
    assert [market_quote[key] for key in ("symbol", "bid", "ask", "last")] == [
        call["symbol"], call["bid"], call["ask"], call["mid"]]
    book = auth_client.get(f"/api/market/orderbook/{path}", {"depth": 2}).json()
    assert book["bids"][0][0] == call["bid"] and len(book["asks"]) == 2
    assert auth_client.get(f"/api/market/instruments/{path}").json()["asset_class"] == "option"


def test_instrument_list_shows_option_contracts_only_when_asked(auth_client, underlyings):
    listed = auth_client.get("/api/options/chains/AAPL", {"expiry": "2026-12-18"}).json()["contracts"]
    assert len(listed) > 20

    plain = auth_client.get("/api/market/instruments").json()["results"]
    assert "AAPL" in {item["symbol"] for item in plain}
    assert "option" not in {item["asset_class"] for item in plain}
    options = auth_client.get("/api/market/instruments", {"asset_class": "option", "page_size": 500}).json()["results"]
    assert {item["symbol"] for item in options} == {row["symbol"] for row in listed}
    by_underlying = auth_client.get("/api/market/instruments", {"underlying": "AAPL", "page_size": 500}).json()
    assert {item["symbol"] for item in by_underlying["results"]} == {row["symbol"] for row in listed}
    mixed = auth_client.get("/api/market/instruments", {"asset_class": ["stock", "option"], "page_size": 500}).json()
    assert {"AAPL", listed[0]["symbol"]} <= {item["symbol"] for item in mixed["results"]}


def test_chain_refuses_what_is_not_listed(auth_client, underlyings):
    response = auth_client.get("/api/options/chains/AAPL", {"expiry": "2026-12-17"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "expiry_not_listed"
    assert auth_client.get("/api/options/chains/EUR-USD").status_code == 404  # not in this test's market
    assert auth_client.get("/api/options/chains/AAPL", {"strikes": 0}).json()["error"]["field"] == "strikes"
    assert auth_client.get("/api/options/chains/AAPL", {"bogus": 1}).json()["error"]["code"] == "unknown_field"


def test_price_endpoint_answers_black_scholes_with_greeks(auth_client):
    params = {"option_type": "call", "style": "european", "spot": "100", "strike": "100",
              "time_to_expiry": "1", "rate": "0.05", "dividend_yield": "0", "volatility": "0.2"}
    response = auth_client.get("/api/options/price", params)
    assert response.status_code == 200
    body = response.json()
    # Hull's textbook case: S = K = 100, r = 5%, σ = 20%, T = 1 → call 10.4506, delta 0.6368.
    assert body["price"] == "10.45058357"
    assert body["delta"] == "0.63683065"
    assert body["gamma"] == "0.01876202"
    assert body["vega"] == "0.37524035"  # per volatility point
    assert body["theta"] == "-0.01757268"  # per calendar day: −6.41403 / 365
    assert body["rho"] == "0.53232482"  # per rate point
    american = auth_client.get("/api/options/price", {**params, "option_type": "put", "style": "american"}).json()
    expected = pricing.american_valuation(option_type="put", spot=100.0, strike=100.0, time_to_expiry=1.0, rate=0.05,
                                          dividend_yield=0.0, volatility=0.2)
    assert american["price"] == _pinned(expected.price) and american["delta"] == _pinned(expected.delta)


def test_price_endpoint_validation_errors_in_the_house_shape(auth_client):
    response = auth_client.get("/api/options/price", {"option_type": "call", "spot": "-1", "strike": "100",
                                                      "time_to_expiry": "1", "volatility": "0.2"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "spot"
    response = auth_client.get("/api/options/price", {"option_type": "straddle", "spot": "1", "strike": "1",
                                                      "time_to_expiry": "1", "volatility": "0.2"})
    assert response.json()["error"] == {"code": "invalid_choice", "field": "option_type",
                                        "message": response.json()["error"]["message"]}


@pytest.mark.parametrize("style", ["european", "american"])
def test_implied_volatility_recovers_the_pricing_volatility(auth_client, style):
    kernel = pricing.american_price if style == "american" else pricing.european_price
    price = float(kernel(option_type="put", spot=100.0, strike=110.0, time_to_expiry=0.5, rate=0.03,
                         dividend_yield=0.01, volatility=0.35))
    response = auth_client.get("/api/options/implied-volatility", {
        "option_type": "put", "style": style, "price": f"{price:.10f}", "spot": "100", "strike": "110",
        "time_to_expiry": "0.5", "rate": "0.03", "dividend_yield": "0.01"})
    assert response.status_code == 200
    assert abs(D(response.json()["implied_volatility"]) - D("0.35")) < D("0.00000002")


@pytest.mark.parametrize("style", ["european", "american"])
def test_implied_volatility_422_says_why_no_volatility_fits(auth_client, style):
    base = {"option_type": "call", "style": style, "spot": "100", "strike": "80", "time_to_expiry": "0.5",
            "rate": "0", "dividend_yield": "0"}
    below = auth_client.get("/api/options/implied-volatility", {**base, "price": "15"})  # intrinsic is 20
    assert below.status_code == 422
    assert below.json()["error"]["code"] == "below_intrinsic" and below.json()["error"]["field"] == "price"
    above = auth_client.get("/api/options/implied-volatility", {**base, "price": "100"})  # a call is worth < spot
    assert above.status_code == 422 and above.json()["error"]["code"] == "above_upper_bound"


def test_calculator_needs_a_login(api_client, db):
    assert api_client.get("/api/options/price").status_code == 401


def test_admin_lists_contracts_and_events_read_only(client, auth_client, underlyings):
    from haunt.accounts.models import User

    auth_client.get("/api/options/chains/AAPL", {"expiry": "2026-12-18", "strikes": 1})
    client.force_login(User.objects.create_superuser("root", "root@example.com", "admin-password-123"))
    page = client.get("/admin/options_trading/optioncontract/")
    assert page.status_code == 200 and b"AAPL  261218C00200000" in page.content
    assert client.get("/admin/options_trading/optionevent/").status_code == 200
    assert client.get("/admin/options_trading/optioncontract/add/").status_code == 403


def test_underlyings_without_listed_options_are_refused(auth_client, underlyings):
    from haunt.market.services import instruments_sync
    from orders.tests.books import publish

    instruments_sync((spec_by_symbol("DOGE-USD"),))
    publish("DOGE-USD", bids=[("0.14500", "1000")], asks=[("0.14510", "1000")])
    response = auth_client.get("/api/options/chains/DOGE-USD")
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_optionable"
