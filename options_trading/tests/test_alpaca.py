"""The Alpaca options adapter on recorded payloads (fixtures/alpaca/README.md says how they were made)."""
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from options_trading.alpaca import (
    DATA_URL,
    TRADING_URL,
    AlpacaOptionsClient,
    market_quote,
    parse_contracts,
    parse_snapshots,
)
from options_trading.contracts import ExerciseStyle, OptionType, option_symbol, parse_option_symbol

D = Decimal
FIXTURES = Path(__file__).parent / "fixtures" / "alpaca"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_contracts_page_parses_into_our_types():
    contracts, token = parse_contracts(load("contracts_aapl_page1.json"))
    assert token == "MTAwMA=="
    call, put = contracts
    assert (call.symbol, call.underlying_symbol, call.option_type, call.style) == (
        "AAPL240621C00190000", "AAPL", OptionType.CALL, ExerciseStyle.AMERICAN)
    assert (call.strike, call.expiry, call.multiplier, call.tradable) == (D(190), date(2024, 6, 21), D(100), True)
    assert (call.open_interest, call.close_price) == (D(21474), D("3.15"))
    assert (put.option_type, put.strike) == (OptionType.PUT, D(185))
    # Alpaca's unpadded OCC symbol names the same terms.
    terms = parse_option_symbol(call.symbol)
    assert (terms.root, terms.expiry, terms.option_type, terms.strike) == ("AAPL", call.expiry, call.option_type,
                                                                           call.strike)


def test_inactive_contract_with_null_fields():
    contracts, token = parse_contracts(load("contracts_aapl_page2.json"))
    assert token is None
    (contract,) = contracts
    assert contract.strike == D("192.5") and contract.tradable is False
    assert contract.open_interest is None and contract.close_price is None


def test_snapshots_parse_quotes_trades_and_greeks_exactly():
    quotes, token = parse_snapshots(load("snapshots_aapl.json"))
    assert token is None
    call, put = quotes
    assert call.symbol == "AAPL240621C00190000"
    assert (call.bid, call.ask, call.bid_size, call.ask_size) == (D("3.15"), D("3.2"), D(49), D(102))
    assert call.quoted_at == datetime(2024, 5, 16, 19, 59, 59, 896469, tzinfo=UTC)  # nanoseconds cut to µs
    assert (call.last, call.last_size, call.traded_at) == (D("3.16"), D(3), datetime(2024, 5, 16, 19, 59, 58, 108523,
                                                                                        tzinfo=UTC))
    assert (call.implied_volatility, call.delta, call.gamma, call.theta, call.vega, call.rho) == (
        D("0.1969"), D("0.4803"), D("0.0431"), D("-0.0698"), D("0.2478"), D("0.0954"))
    # An empty bid side comes as 0; a contract without trades or Greeks has none.
    assert put.bid is None and put.ask == D("2.9") and put.bid_size == 0
    assert put.quoted_at == datetime(2024, 5, 16, 19, 59, 59, 510000, tzinfo=UTC)
    assert put.last is None and put.delta is None and put.implied_volatility == D("0.2111")


def test_client_pages_through_the_contracts_and_reads_the_chain():
    calls = []
    pages = {None: load("contracts_aapl_page1.json"), "MTAwMA==": load("contracts_aapl_page2.json")}

    def fetch(url, params, headers):
        calls.append((url, params, headers))
        if url.endswith("/v2/options/contracts"):
            return pages[params.get("page_token")]
        return load("snapshots_aapl.json")

    client = AlpacaOptionsClient(key_id="key", secret_key="secret", fetch=fetch)
    symbols = [contract.symbol for contract in client.contracts(underlying="AAPL",
                                                                expiration_date_lte=date(2024, 6, 30))]
    assert symbols == ["AAPL240621C00190000", "AAPL240621P00185000", "AAPL240621C00192500"]
    assert calls[0] == (f"{TRADING_URL}/v2/options/contracts",
                        {"underlying_symbols": "AAPL", "status": "active", "limit": 1000,
                         "expiration_date_lte": "2024-06-30"},
                        {"APCA-API-KEY-ID": "key", "APCA-API-SECRET-KEY": "secret"})
    assert calls[1][1]["page_token"] == "MTAwMA=="
    chain = list(client.chain(underlying="AAPL"))
    assert [quote.symbol for quote in chain] == ["AAPL240621C00190000", "AAPL240621P00185000"]
    assert calls[2][0] == f"{DATA_URL}/v1beta1/options/snapshots/AAPL"
    assert calls[2][1] == {"feed": "indicative", "limit": 1000}


def test_alpaca_chain_maps_onto_our_contracts_and_market_state():
    contracts, _ = parse_contracts(load("contracts_aapl_page1.json"))
    terms = contracts[0].terms
    ours = option_symbol(terms=terms, asset_class="stock")
    assert ours == "AAPL  240621C00190000"  # our OCC form, padded
    quotes, _ = parse_snapshots(load("snapshots_aapl.json"))
    assert market_quote(quotes[0], symbol=ours) == {
        "symbol": "AAPL  240621C00190000", "bid": "3.15", "ask": "3.2", "last": "3.16", "bid_size": "49",
        "ask_size": "102", "timestamp": "2024-05-16T19:59:59.896469Z", "sources": ["alpaca"], "is_open": True}
    # No bid: the side is empty, as the feed publishes an empty side.
    put = market_quote(quotes[1], symbol="AAPL  240621P00185000")
    assert (put["bid"], put["bid_size"], put["ask"], put["last"]) == (None, None, "2.9", None)
