"""Trading options through the order path: premium cash, margin, strategies, exercise, assignment
and expiry, each worked by hand from the published quotes."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from haunt.market import state
from haunt.realtime import PORTFOLIO, POSITIONS
from options_trading.models import OptionEvent
from options_trading.services import early_assignments_run, option_quotes_refresh, options_expire_due
from options_trading.tests.conftest import NOW, group_messages
from orders.models import Order, Trade
from orders.tests.books import books_balance, make_portfolio, publish  # noqa: F401 (books_balance is autouse)
from portfolios.models import Portfolio, Position
from portfolios.valuation import portfolio_valuation

D = Decimal
START = D("5000000")
FEE = D("0.65")  # per contract
DEC_CALL_190 = "AAPL  261218C00190000"
DEC_PUT_190 = "AAPL  261218P00190000"
DEC_PUT_195 = "AAPL  261218P00195000"
DEC_CALL_195 = "AAPL  261218C00195000"
DEC_CALL_205 = "AAPL  261218C00205000"
DEC_PUT_210 = "AAPL  261218P00210000"
AFTER_DEC_EXPIRY = datetime(2026, 12, 18, 21, 1, tzinfo=UTC)  # 16:01 New York


def order(client, portfolio, symbol, side, quantity="1", **fields):
    body = {"portfolio": str(portfolio.pk), "symbol": symbol, "side": side, "order_type": "market",
            "quantity": quantity, **fields}
    return client.post("/api/orders", body, format="json")


def quote(symbol) -> tuple[Decimal, Decimal]:
    published = state.quote_read(symbol)
    return D(published["bid"]), D(published["ask"])


def cash(portfolio) -> Decimal:
    return Portfolio.objects.get(pk=portfolio.pk).cash


def open_position(portfolio, symbol):
    return Position.objects.filter(portfolio=portfolio, instrument__symbol=symbol, status="open").first()


def test_long_call_bought_and_sold_moves_exactly_the_premium(auth_client, portfolio):
    bought = order(auth_client, portfolio, DEC_CALL_190, "buy", "2")
    assert bought.status_code == 201, bought.content
    bid, ask = quote(DEC_CALL_190)
    assert bought.json()["status"] == "filled" and D(bought.json()["average_fill_price"]) == ask
    # 2 contracts × 100 shares × the ask, and $0.65 a contract.
    assert cash(portfolio) == START - ask * 200 - 2 * FEE
    position = open_position(portfolio, DEC_CALL_190)
    assert (position.side, position.quantity, position.cost_basis) == ("long", 2, ask * 200)

    sold = order(auth_client, portfolio, DEC_CALL_190, "sell", "2")
    assert sold.json()["status"] == "filled" and D(sold.json()["average_fill_price"]) == bid
    assert cash(portfolio) == START - ask * 200 + bid * 200 - 4 * FEE
    closed = Position.objects.get(pk=position.pk)
    assert closed.status == "closed" and closed.realized_pnl == (bid - ask) * 200 and closed.fees_paid == 4 * FEE


def test_naked_short_put_margin_worked_by_hand(auth_client, portfolio):
    sold = order(auth_client, portfolio, DEC_PUT_190, "sell")
    assert sold.status_code == 201 and sold.json()["status"] == "filled"
    bid, ask = quote(DEC_PUT_190)
    spot = D("200.01")  # the AAPL mid
    # Premium (the put marked at its ask) + max(20% × 200.01 − 10.01 out of the money, 10% × 190)
    # = ask + max(29.992, 19) per share, × 100.
    requirement = (ask + D("29.992")) * 100
    margin = auth_client.get("/api/options/margin", {"portfolio": str(portfolio.pk)}).json()
    assert D(margin["requirement"]) == requirement
    assert margin["lines"]["AAPL"][0]["kind"] == "naked"
    assert cash(portfolio) == START + bid * 100 - FEE
    # Buying power is the cash less the whole requirement (the premium received counts towards it).
    refreshed = Portfolio.objects.get(pk=portfolio.pk)
    assert portfolio_valuation(refreshed).buying_power == START + bid * 100 - FEE - requirement
    assert spot * D("0.2") - (spot - 190) == D("29.992")


def test_naked_short_refused_without_the_margin(auth_client, user, underlyings):
    small = make_portfolio(user, cash=D("2000"))
    response = order(auth_client, small, DEC_PUT_190, "sell")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "insufficient_margin"
    assert cash(small) == D("2000") and not Order.objects.filter(portfolio=small).exists()


def test_credit_spread_margin_is_its_maximum_loss(auth_client, portfolio):
    before = portfolio_valuation(Portfolio.objects.get(pk=portfolio.pk)).buying_power
    response = auth_client.post("/api/options/strategies", {
        "portfolio": str(portfolio.pk), "strategy": "bull_put_spread", "quantity": "1",
        "legs": [{"symbol": DEC_PUT_195, "side": "sell"}, {"symbol": DEC_PUT_190, "side": "buy"}]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    short_bid, _ = quote(DEC_PUT_195)
    _, long_ask = quote(DEC_PUT_190)
    credit = short_bid - long_ask
    assert D(body["net_price"]) == -credit and D(body["net_premium"]) == credit * 100
    assert D(body["max_loss"]) == (credit - 5) * 100  # the $5 width less the credit, per 100 shares
    margin = auth_client.get("/api/options/margin", {"portfolio": str(portfolio.pk)}).json()
    assert D(margin["requirement"]) == 500 and margin["lines"]["AAPL"][0]["kind"] == "spread"
    after = portfolio_valuation(Portfolio.objects.get(pk=portfolio.pk)).buying_power
    assert after - before == D(body["max_loss"]) - 2 * FEE


def test_strategy_is_all_or_nothing(auth_client, user, underlyings):
    portfolio = make_portfolio(user, profile="realistic")
    # 1,000 contracts: the call at the money has the depth, the one 10% out of the money does not.
    response = auth_client.post("/api/options/strategies", {
        "portfolio": str(portfolio.pk), "strategy": "bull_call_spread", "quantity": "1000",
        "legs": [{"symbol": "AAPL  261218C00200000", "side": "buy"},
                 {"symbol": "AAPL  261218C00220000", "side": "sell"}]}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "strategy_unfillable"
    assert cash(portfolio) == START
    assert not Order.objects.filter(portfolio=portfolio).exists() and not Trade.objects.exists()
    assert not Position.objects.filter(portfolio=portfolio).exists()


def test_strategy_preview_payoff_worked_example(auth_client, underlyings):
    response = auth_client.post("/api/options/strategies/preview", {
        "strategy": "bull_call_spread", "quantity": "2",
        "legs": [{"symbol": DEC_CALL_195, "side": "buy"}, {"symbol": DEC_CALL_205, "side": "sell"}]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    _, long_ask = quote(DEC_CALL_195)
    short_bid, _ = quote(DEC_CALL_205)
    debit = long_ask - short_bid
    assert D(body["net_price"]) == debit and D(body["net_premium"]) == -debit * 200
    # Break-even: the lower strike plus the debit. Most it makes: the $10 width less the debit;
    # most it loses: the debit; × 100 shares × 2.
    assert D(body["break_evens"][0]) == 195 + debit
    assert D(body["max_profit"]) == (10 - debit) * 200 and D(body["max_loss"]) == -debit * 200
    # Cash for the whole strategy, all at the money shape's 8 places: the debit lost is the premium paid.
    assert body["max_loss"] == body["net_premium"] and len(body["max_profit"].partition(".")[2]) == 8
    payoff = {D(price): D(value) for price, value in body["payoff"]}
    assert min(payoff.values()) == D(body["max_loss"]) and max(payoff.values()) == D(body["max_profit"])
    refused = auth_client.post("/api/options/strategies/preview", {
        "strategy": "bear_call_spread", "legs": [{"symbol": DEC_CALL_195, "side": "buy"},
                                                 {"symbol": DEC_CALL_205, "side": "sell"}]}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "strategy_shape"


def test_strategy_preview_takes_the_body_of_the_trade_it_previews(auth_client, user, underlyings):
    portfolio = make_portfolio(user)
    trade = {"portfolio": str(portfolio.pk), "strategy": "bull_call_spread", "quantity": "2",
             "legs": [{"symbol": DEC_CALL_195, "side": "buy"}, {"symbol": DEC_CALL_205, "side": "sell"}]}
    plain = auth_client.post("/api/options/strategies/preview", trade, format="json")
    assert plain.status_code == 200, plain.content
    assert "limit_met" not in plain.json()
    _, long_ask = quote(DEC_CALL_195)  # listed, and quoted, by that preview
    short_bid, _ = quote(DEC_CALL_205)
    debit = long_ask - short_bid
    met = auth_client.post("/api/options/strategies/preview", {**trade, "limit_price": str(debit)}, format="json")
    assert met.status_code == 200, met.content
    assert D(met.json()["net_price"]) == debit and met.json()["limit_met"] is True
    missed = auth_client.post("/api/options/strategies/preview", {**trade, "limit_price": str(debit - D("0.01"))},
                              format="json")
    assert missed.status_code == 200 and missed.json()["limit_met"] is False
    foreign = auth_client.post("/api/options/strategies/preview",
                               {**trade, "portfolio": "00000000-0000-0000-0000-000000000000"}, format="json")
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    assert not Order.objects.filter(portfolio=portfolio).exists()


def test_in_the_money_call_is_exercised_into_100_shares_at_expiry(auth_client, portfolio):
    order(auth_client, portfolio, DEC_CALL_190, "buy")
    _, ask = quote(DEC_CALL_190)
    publish("AAPL", bids=[("200.00", "500")], asks=[("200.02", "500")])  # 10.01 in the money at expiry
    assert options_expire_due(now=AFTER_DEC_EXPIRY) >= 1
    # The premium and fee, then 100 shares at the $190 strike.
    assert cash(portfolio) == START - ask * 100 - FEE - 19000
    shares = open_position(portfolio, "AAPL")
    assert (shares.side, shares.quantity, shares.average_entry_price) == ("long", 100, 190)
    assert open_position(portfolio, DEC_CALL_190) is None
    event = OptionEvent.objects.get(portfolio=portfolio)
    assert (event.kind, event.quantity, event.cash_amount) == ("auto_exercised", 1, D(-19000))
    assert options_expire_due(now=AFTER_DEC_EXPIRY) == 0  # settled once


def test_out_of_the_money_option_expires_worthless(auth_client, portfolio):
    order(auth_client, portfolio, DEC_PUT_190, "buy")
    _, ask = quote(DEC_PUT_190)
    options_expire_due(now=AFTER_DEC_EXPIRY)
    assert cash(portfolio) == START - ask * 100 - FEE
    position = Position.objects.get(portfolio=portfolio, instrument__symbol=DEC_PUT_190)
    assert position.status == "closed" and position.realized_pnl == -ask * 100
    assert OptionEvent.objects.get(portfolio=portfolio).kind == "expired_worthless"
    assert not Position.objects.filter(portfolio=portfolio, instrument__symbol="AAPL").exists()


def test_short_put_assigned_at_expiry_buys_the_shares_at_the_strike(auth_client, portfolio):
    order(auth_client, portfolio, DEC_PUT_210, "sell")
    bid, _ = quote(DEC_PUT_210)
    options_expire_due(now=AFTER_DEC_EXPIRY)
    assert cash(portfolio) == START + bid * 100 - FEE - 21000
    shares = open_position(portfolio, "AAPL")
    assert (shares.side, shares.quantity, shares.average_entry_price) == ("long", 100, 210)
    put = Position.objects.get(portfolio=portfolio, instrument__symbol=DEC_PUT_210)
    assert put.status == "closed" and put.realized_pnl == bid * 100  # the premium is kept
    assert OptionEvent.objects.get(portfolio=portfolio).kind == "assigned"


def test_early_exercise_of_a_long_american_call(auth_client, portfolio):
    order(auth_client, portfolio, "AAPL  270115C00190000", "buy", "2")
    _, ask = quote("AAPL  270115C00190000")
    position = open_position(portfolio, "AAPL  270115C00190000")
    response = auth_client.post(f"/api/options/positions/{position.pk}/exercise", {"quantity": "1"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "exercised" and D(response.json()["cash_amount"]) == -19000
    assert cash(portfolio) == START - ask * 200 - 2 * FEE - 19000
    assert open_position(portfolio, "AAPL").quantity == 100
    assert open_position(portfolio, "AAPL  270115C00190000").quantity == 1


def test_european_and_foreign_options_cannot_be_exercised_early(auth_client, other_client, portfolio):
    order(auth_client, portfolio, "BTC-25DEC26-90000-C", "buy")
    position = open_position(portfolio, "BTC-25DEC26-90000-C")
    response = auth_client.post(f"/api/options/positions/{position.pk}/exercise", {}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "european_exercise"
    assert other_client.post(f"/api/options/positions/{position.pk}/exercise", {}, format="json").status_code == 404


def test_cash_settled_crypto_option_pays_its_intrinsic_value(auth_client, portfolio):
    order(auth_client, portfolio, "BTC-25DEC26-85000-C", "buy", "0.5")
    _, ask = quote("BTC-25DEC26-85000-C")
    publish("BTC-USD", bids=[("95000.00", "5")], asks=[("95002.00", "5")])  # mid 95,001
    options_expire_due(now=datetime(2026, 12, 25, 8, 1, tzinfo=UTC))
    # 0.5 BTC × (95,001 − 85,000) in cash; no coins delivered.
    assert cash(portfolio) == START - ask * D("0.5") - D("0.5") * FEE + D("0.5") * 10001
    assert not Position.objects.filter(portfolio=portfolio, instrument__symbol="BTC-USD").exists()


@pytest.mark.parametrize("early_assignment, assigned", [(True, 1), (False, 0)])
def test_deep_short_put_is_assigned_early_unless_switched_off(auth_client, portfolio, early_assignment, assigned):
    response = auth_client.put(f"/api/options/portfolios/{portfolio.pk}/settings",
                               {"early_assignment": early_assignment}, format="json")
    assert response.status_code == 200 and response.json()["early_assignment"] is early_assignment
    order(auth_client, portfolio, "AAPL  261218P00230000", "sell")
    # Three days before expiry the put is 13% in the money: its holder exercises rather than sell
    # at a bid below the intrinsic value.
    assert early_assignments_run(now=datetime(2026, 12, 15, 15, 30, tzinfo=UTC)) == assigned
    assert OptionEvent.objects.filter(portfolio=portfolio, kind="early_assigned").count() == assigned
    # Three weeks before expiry nothing happens.
    assert early_assignments_run(now=datetime(2026, 11, 25, 15, 30, tzinfo=UTC)) == 0


def test_portfolio_greeks_sum_the_positions(auth_client, portfolio):
    order(auth_client, portfolio, DEC_CALL_190, "buy", "2")
    order(auth_client, portfolio, DEC_PUT_190, "sell", "1")
    chain = auth_client.get("/api/options/chains/AAPL", {"expiry": "2026-12-18"}).json()
    rows = {row["symbol"]: row for row in chain["contracts"]}
    greeks = auth_client.get("/api/options/greeks", {"portfolio": str(portfolio.pk)}).json()
    expected_delta = D(rows[DEC_CALL_190]["delta"]) * 200 - D(rows[DEC_PUT_190]["delta"]) * 100
    assert abs(D(greeks["by_underlying"]["AAPL"]["delta"]) - expected_delta) < D("0.000002")
    assert abs(D(greeks["total"]["delta"]) - D(greeks["by_underlying"]["AAPL"]["delta"]) * D("200.01")) < D("0.001")
    assert {row["symbol"] for row in greeks["positions"]} == {DEC_CALL_190, DEC_PUT_190}


def test_orders_on_an_expired_contract_are_refused(auth_client, portfolio, monkeypatch):
    order(auth_client, portfolio, DEC_PUT_190, "buy")
    options_expire_due(now=AFTER_DEC_EXPIRY)
    monkeypatch.setattr("django.utils.timezone.now", lambda: AFTER_DEC_EXPIRY)
    response = order(auth_client, portfolio, DEC_PUT_190, "buy")
    assert response.status_code == 409 and response.json()["error"]["code"] == "option_expired"


def test_quote_refresh_requotes_held_contracts_off_the_moved_underlying(auth_client, portfolio):
    order(auth_client, portfolio, DEC_CALL_190, "buy")
    before_bid, _ = quote(DEC_CALL_190)
    publish("AAPL", bids=[("205.00", "500")], asks=[("205.02", "500")])
    assert option_quotes_refresh(now=NOW) == 1
    after_bid, _ = quote(DEC_CALL_190)
    assert after_bid - before_bid > D("4")  # a deep call moves almost dollar for dollar


def test_iron_condor_holds_the_margin_of_its_wider_side(auth_client, portfolio):
    legs = [("AAPL  261218P00180000", "buy"), (DEC_PUT_190, "sell"), ("AAPL  261218C00210000", "sell"),
            ("AAPL  261218C00220000", "buy")]
    response = auth_client.post("/api/options/strategies", {
        "portfolio": str(portfolio.pk), "strategy": "iron_condor",
        "legs": [{"symbol": symbol, "side": side} for symbol, side in legs]}, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()["order_ids"]) == 4 and len(response.json()["break_evens"]) == 2
    margin = auth_client.get("/api/options/margin", {"portfolio": str(portfolio.pk)}).json()
    assert D(margin["requirement"]) == 1000  # both spreads are $10 wide; only one side can lose


def test_calendar_spread_preview_values_the_later_leg_at_the_first_expiry(auth_client, underlyings):
    response = auth_client.post("/api/options/strategies/preview", {
        "strategy": "calendar_spread",
        "legs": [{"symbol": "AAPL  261218C00200000", "side": "sell"},
                 {"symbol": "AAPL  270115C00200000", "side": "buy"}]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert D(body["net_price"]) > 0  # the longer-dated call costs more: a debit
    # Most profit at the shared strike at the first expiry, a loss far from it on either side.
    payoff = [(D(price), D(value)) for price, value in body["payoff"]]
    best = max(payoff, key=lambda point: point[1])
    assert abs(best[0] - 200) < 10 and payoff[0][1] < 0 and payoff[-1][1] < 0
    assert len(body["break_evens"]) == 2 and D(body["max_loss"]) < 0 < D(body["max_profit"])


def test_expiry_is_pushed_on_the_positions_stream(auth_client, portfolio, django_capture_on_commit_callbacks):
    order(auth_client, portfolio, DEC_PUT_190, "buy")
    messages = group_messages(portfolio.pk, POSITIONS, lambda: options_expire_due(now=AFTER_DEC_EXPIRY),
                              django_capture_on_commit_callbacks)
    option_events = [message for message in messages if message["event"] == "OptionEvent"]
    assert len(option_events) == 1 and option_events[0]["change"] == "expired_worthless"
    assert option_events[0]["data"]["symbol"] == DEC_PUT_190 and option_events[0]["data"]["quantity"] == "1.0000000000"
    assert any(message["event"] == "PositionUpdate" and message.get("change") == "closed" for message in messages)


def test_strategies_wait_for_the_session(auth_client, portfolio, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 11, 28, 15, 0, tzinfo=UTC))  # Saturday
    response = auth_client.post("/api/options/strategies", {
        "portfolio": str(portfolio.pk), "strategy": "straddle",
        "legs": [{"symbol": "AAPL  261218C00200000", "side": "buy"},
                 {"symbol": "AAPL  261218P00200000", "side": "buy"}]}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "market_closed"
    assert not Order.objects.filter(portfolio=portfolio).exists()


@pytest.mark.parametrize("symbol", ["AAPL  261218C00200100", "AAPL  261217C00200000", "ZZZZ  261218C00200000"])
def test_orders_for_unlisted_contracts_are_refused(auth_client, portfolio, symbol):
    response = order(auth_client, portfolio, symbol, "buy")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("unknown_option", "expiry_not_listed")
    assert not Order.objects.filter(portfolio=portfolio).exists()


def test_resting_option_limit_fills_when_the_engine_sees_its_requote(auth_client, portfolio):
    from orders.engine import OrderEngine

    auth_client.get("/api/options/chains/AAPL", {"expiry": "2026-12-18"})  # lists and quotes the contracts
    bid, _ = quote(DEC_CALL_190)
    resting = order(auth_client, portfolio, DEC_CALL_190, "buy", order_type="limit", limit_price=f"{bid:f}")
    assert resting.json()["status"] == "accepted"
    engine = OrderEngine()
    engine.rebuild(now=NOW)
    # AAPL falls $5: the re-quoted call is offered below the limit. The feed's push carries AAPL
    # only; the engine reads the option's quote from the market state.
    publish("AAPL", bids=[("195.00", "500")], asks=[("195.02", "500")])
    option_quotes_refresh(now=NOW)
    assert quote(DEC_CALL_190)[1] < bid
    engine.on_market_update({"seq": 1, "books": [], "quotes": [
        {"symbol": "AAPL", "bid": "195.00", "ask": "195.02", "last": "195.01"}]})
    assert engine.tick(now=NOW)["fired"] == 1
    filled = Order.objects.get(pk=resting.json()["id"])
    assert filled.status == "filled" and filled.average_fill_price == bid
    assert cash(portfolio) == START - bid * 100 - FEE


def test_strategy_legs_fill_together_under_simulated_latency(auth_client, user, underlyings):
    portfolio = make_portfolio(user, profile="realistic", latency=True)
    response = auth_client.post("/api/options/strategies", {
        "portfolio": str(portfolio.pk), "strategy": "strangle", "quantity": "3",
        "legs": [{"symbol": "AAPL  261218C00210000", "side": "buy"},
                 {"symbol": "AAPL  261218P00190000", "side": "buy"}]}, format="json")
    assert response.status_code == 201, response.content
    orders = Order.objects.filter(pk__in=response.json()["order_ids"])
    assert [order.status for order in orders] == ["filled", "filled"]
    assert all(order.latency_ms > 0 and order.tags == ["strategy:strangle"] for order in orders)
    assert len({order.group_id for order in orders}) == 1
    assert Decimal(response.json()["net_premium"]) == -sum(
        (order.average_fill_price * 300 for order in orders), Decimal(0))


def test_crypto_options_trade_around_the_clock_as_their_underlying_does(auth_client, portfolio, monkeypatch):
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: saturday)
    bought = order(auth_client, portfolio, "BTC-25DEC26-90000-C", "buy", "0.5")
    assert bought.status_code == 201 and bought.json()["status"] == "filled"
    # A stock option placed at the same moment waits for the NYSE open.
    waiting = order(auth_client, portfolio, DEC_CALL_190, "buy")
    assert waiting.status_code == 201 and waiting.json()["status"] == "accepted"
    assert waiting.json()["execute_after"].startswith("2026-11-30T14:30")


def test_portfolio_updates_carry_the_option_greeks(auth_client, portfolio, django_capture_on_commit_callbacks):
    messages = group_messages(portfolio.pk, PORTFOLIO,
                              lambda: order(auth_client, portfolio, DEC_CALL_190, "buy", "2"),
                              django_capture_on_commit_callbacks)
    pushed = [message["data"] for message in messages if message["event"] == "PortfolioUpdate"][-1]
    greeks = auth_client.get("/api/options/greeks", {"portfolio": str(portfolio.pk)}).json()
    assert pushed["option_greeks"] == greeks["total"] and D(pushed["option_greeks"]["delta"]) > 0
    # The REST body stays as it was: the Greeks ride on the push (and on GET /api/options/greeks).
    assert "option_greeks" not in auth_client.get(f"/api/portfolio/{portfolio.pk}").json()


def test_isolated_margin_cannot_take_the_buying_power_a_short_option_holds(auth_client, user, portfolio):
    # Given a naked short put, whose requirement holds back buying power, and a 2x isolated BTC long
    assert order(auth_client, portfolio, DEC_PUT_190, "sell").json()["status"] == "filled"
    bought = order(auth_client, portfolio, "BTC-USD", "buy", "0.01", leverage="2", margin_mode="isolated")
    assert bought.json()["status"] == "filled", bought.content
    btc = open_position(portfolio, "BTC-USD")
    available = portfolio_valuation(Portfolio.objects.get(pk=portfolio.pk)).buying_power

    # When its owner moves more than the buying power left into the isolated position's margin
    response = auth_client.post(f"/api/positions/{btc.pk}/margin", {"amount": f"{available + 100:.2f}"},
                                format="json")

    # Then it is refused: the option's margin is not free to move (one buying power for every check)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "insufficient_margin"
    assert open_position(portfolio, "BTC-USD").margin_added == 0
