"""Margin, liquidation and the insurance fund end to end, with hand-worked numbers (spec §3, §4, §6).

Every scenario trades BTC-PERP (and ETH-PERP) on the frictionless profile: fills at the touch, the
perpetual taker fee of 0.05%, no latency. Quotes are published with the mark equal to the bid.
"""
from decimal import Decimal

import pytest

from portfolios.accounting.margin import LeverageNotAllowed
from derivatives.models import InsuranceFundEntry, Liquidation, MarginEvent
from derivatives.selectors import portfolio_margin
from derivatives.services import position_liquidate
from derivatives.tests.scenarios import (  # noqa: F401 (fixtures)
    NOW,
    books_balance,
    fund_balance,
    instruments,
    make_portfolio,
    open_position,
    publish,
    quote_at,
)
from derivatives.watcher import DerivativesWatcher
from haunt.market import state
from orders.risk import RiskCheckFailed
from orders.services import OrderRequest, order_place
from portfolios.models import LedgerEntry, Portfolio, Position

D = Decimal
SEED = D("1000000")


def watch(watcher: DerivativesWatcher, **prices):
    quotes = publish(**prices)
    watcher.refreshed_at = None  # read the rows now, as the first update after a change does
    watcher.after_publish(quotes=quotes, now=NOW)


def test_an_isolated_long_at_100x_is_liquidated_by_a_0_6_percent_drop(user):
    """0.9 BTC at 50,000 (notional 45,000, tier 1: MMR 0.5%, cum 0) at 100x isolated:
    collateral 45,000 / 100 = 450. Binance one-way LP = (450 − 0.9 × 50,000) / (0.9 × 0.005 − 0.9)
    = 44,550 / 0.8955 = 49,748.74. A 0.5% drop (49,750) holds: margin balance 450 − 225 = 225 against
    maintenance 223.875. A 0.6% drop (49,700) breaches: 180 against 223.65. With MMR = the 0.5% fee
    no partial close helps, so the position goes to the fund at its bankruptcy price
    50,000 − 450 / 0.9 = 49,500: the trader loses exactly the 450, the fund closes at the mark and
    keeps 0.9 × (49,700 − 49,500) = 180."""
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    position = open_position(user, portfolio)
    assert (position.leverage, position.margin_mode, position.cost_basis) == (D(100), "isolated", D("45000"))
    entry = portfolio_margin(Portfolio.objects.get(pk=portfolio.pk)).position(position.pk)
    assert entry.initial_margin == D(450)
    assert entry.liquidation_price.quantize(D("0.01")) == D("49748.74")
    assert entry.bankruptcy_price == D(49500)
    resting, _ = order_place(user=user, portfolio_id=portfolio.pk, now=NOW, request=OrderRequest(
        symbol="BTC-PERP", side="sell", order_type="limit", quantity=D("0.9"), limit_price=D(52000)))
    watcher = DerivativesWatcher()

    watch(watcher, BTC_PERP="49750")
    assert Liquidation.objects.count() == 0

    watch(watcher, BTC_PERP="49700")
    liquidation = Liquidation.objects.get()
    assert (liquidation.kind, liquidation.quantity, liquidation.bankruptcy_price) == ("full", D("0.9"), D(49500))
    assert liquidation.realized_pnl == D(-450) and liquidation.fee == 0 and liquidation.fund_draw == 0
    position.refresh_from_db()
    assert position.status == Position.Status.CLOSED
    portfolio.refresh_from_db()
    assert portfolio.cash == D("5000000") - D("22.5") - D(450)  # the opening fee and exactly the collateral
    assert fund_balance() == SEED + D(180)
    assert list(InsuranceFundEntry.objects.order_by("pk").values_list("kind", "amount")) == [
        ("seed", SEED), ("takeover", D(180))]
    assert MarginEvent.objects.filter(position=position, reason="liquidation").exists()
    resting.refresh_from_db()
    assert (resting.status, resting.reject_reason) == ("cancelled", "Cancelled: the position is being liquidated.")


def test_cross_margin_lets_a_winner_keep_a_loser_alive(user, other_user):
    """Two portfolios of 1,000 each hold 0.9 BTC-PERP long at 50,000, 100x cross (fee 22.50).
    One also holds 10 ETH-PERP short at 3,000, 100x cross (fee 15). BTC falls 2% to 49,000 (−900)
    while ETH falls to 2,900 (+1,000 for the short).

    Alone: cross pool 1,000 − 22.50 − 900 = 77.50 against maintenance 0.9 × 49,000 × 0.5% = 220.50:
    liquidated, at the bankruptcy price 50,000 − 977.50 / 0.9 = 48,913.89 (the fund keeps the 77.50).
    Hedged: 1,000 − 37.50 − 900 + 1,000 = 1,062.50 against 220.50 + 145 = 365.50: ratio 34%, alive."""
    publish(BTC_PERP="50000", ETH_PERP="3000")
    alone = make_portfolio(user, cash="1000", name="alone")
    hedged = make_portfolio(other_user, cash="1000", name="hedged")
    open_position(user, alone, margin_mode="cross")
    hedged_btc = open_position(other_user, hedged, margin_mode="cross")
    open_position(other_user, hedged, symbol="ETH-PERP", side="sell", quantity="10", margin_mode="cross", price="3000")

    watch(DerivativesWatcher(), BTC_PERP="49000", ETH_PERP="2900")

    liquidation = Liquidation.objects.get()
    assert liquidation.portfolio_id == alone.pk and liquidation.kind == "full"
    assert liquidation.bankruptcy_price.quantize(D("0.01")) == D("48913.89")
    assert fund_balance().quantize(D("0.01")) == SEED + D("77.50")
    alone.refresh_from_db()
    assert alone.cash.quantize(D("0.01")) == D(0)  # all of its equity, and not a cent more
    account = portfolio_margin(Portfolio.objects.get(pk=hedged.pk))
    assert account.equity == D("1062.5")
    assert account.cross_maintenance_margin == D("365.5")
    assert account.cross_margin_ratio.quantize(D("0.0001")) == D("0.3440")
    assert Position.objects.get(pk=hedged_btc.pk).status == Position.Status.OPEN


def test_leverage_is_capped_by_the_tier_past_250k_and_maintenance_steps_up_with_cum(user, auth_client):
    """6 BTC at 50,000 is 300,000 of notional: tier 3 (250,000 to 1,000,000) allows 20x. 50x is refused
    naming the tier; 20x is taken. Maintenance = 300,000 × 2.5% − cum₃ where cum₂ = 50,000 × (1% − 0.5%)
    = 250 and cum₃ = 250 + 250,000 × (2.5% − 1%) = 4,000: 3,500 (the same as 250,000 × 1% − 250 + the
    50,000 above it at 2.5%)."""
    publish(at="ask", BTC_PERP="50000")
    portfolio = make_portfolio(user)
    response = auth_client.post("/api/orders", {
        "portfolio": str(portfolio.pk), "symbol": "BTC-PERP", "side": "buy", "order_type": "market",
        "quantity": "6", "leverage": "50", "margin_mode": "isolated"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("leverage_not_allowed", "leverage")
    assert error["message"] == ("leverage 50.00x exceeds the 20x maximum of tier 3 (notional 250,000 < 1,000,000, "
                                "max 20x) for a position notional of 300,000.00")

    position = open_position(user, portfolio, quantity="6", leverage="20")
    entry = portfolio_margin(Portfolio.objects.get(pk=portfolio.pk)).position(position.pk)
    assert (entry.initial_margin, entry.maintenance_margin) == (D(15000), D(3500))
    tiers = auth_client.get("/api/derivatives/tiers/BTC-PERP").json()["tiers"]
    assert [(tier["max_leverage"], tier["maintenance_amount"]) for tier in tiers] == [
        ("100", "0.000"), ("50", "250.000"), ("20", "4000.000"), ("10", "29000.000"), ("5", "279000.000")]


def test_a_breach_in_tier_3_is_cured_by_the_smallest_partial_close_through_the_book(user):
    """6 BTC long at 50,000, 20x isolated: collateral 15,000. At 48,000: margin balance 15,000 − 12,000
    = 3,000 against 288,000 × 2.5% − 4,000 = 3,200 (ratio 1.067). Each BTC closed at the 48,000 bid
    releases 48,000 × 2.5% = 1,200 of maintenance and costs 0.6% × 48,000 = 288 (liquidation fee plus
    the taker allowance): the smallest cure is 200 / 912 = 0.2193, on the 0.001 lot grid 0.220 BTC.
    The fund receives 0.5% × 0.22 × 48,000 = 52.80; the rest stays open and out of breach."""
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    position = open_position(user, portfolio, quantity="6", leverage="20")
    publish(BTC_PERP="48000")

    liquidation = position_liquidate(position_id=position.pk, now=NOW)

    assert (liquidation.kind, liquidation.quantity, liquidation.fee) == ("partial", D("0.22"), D("52.8"))
    assert liquidation.realized_pnl == D("-440")  # 0.22 × (48,000 − 50,000)
    position.refresh_from_db()
    assert position.status == Position.Status.OPEN and position.quantity == D("5.78")
    entry = portfolio_margin(Portfolio.objects.get(pk=portfolio.pk)).position(position.pk)
    # Collateral kept: 15,000 − 440 − 5.28 (taker fee) − 52.80 = 14,501.92; balance 14,501.92 − 11,560.
    assert entry.row.collateral == D("14501.92")
    assert entry.margin_ratio < 1
    assert fund_balance() == SEED + D("52.8")
    assert position_liquidate(position_id=position.pk, now=NOW) is None  # nothing left in breach


def test_a_bankruptcy_beyond_the_collateral_is_drawn_from_the_fund(user):
    """The mark gaps from 50,000 to 49,000, past the 49,500 bankruptcy price of a 100x isolated long:
    the trader still loses only the 450 collateral; the fund takes 0.9 BTC at 49,500 and closes it at
    49,000, paying 0.9 × 500 = 450 (a shortfall)."""
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    open_position(user, portfolio)
    watch(DerivativesWatcher(), BTC_PERP="49000")

    liquidation = Liquidation.objects.get()
    assert (liquidation.fund_draw, liquidation.uncovered, liquidation.adl_counterparties) == (D(450), D(0), [])
    portfolio.refresh_from_db()
    assert portfolio.cash == D("5000000") - D("22.5") - D(450)
    assert fund_balance() == SEED - D(450)


def test_a_bankruptcy_the_fund_cannot_cover_deleverages_the_top_ranked_counterparty(user, other_user, settings,
                                                                                   django_user_model):
    """The fund holds 100. The long's takeover at 49,500 closed at a 49,000 mark would cost it 450, so
    it pays 100 and closes the uncovered 350 / 500 = 0.7 BTC against short counterparties at 49,500
    instead. Two shorts: 1 BTC at 50,000 at 10x (PnL% 1,000 / 5,000 = 20%) and 1 BTC at 50,000 at 50x
    (1,000 / 1,000 = 100%, and the higher margin ratio): the 50x short is first and gives up 0.7 BTC at
    49,500, realizing 350 instead of 700 on it."""
    settings.HAUNT_INSURANCE_FUND_SEED = "100"
    third = django_user_model.objects.create_user(username="third", password="x")
    publish(BTC_PERP="50000")
    liquidated = make_portfolio(user)
    open_position(user, liquidated)
    low = make_portfolio(other_user, name="low")
    low_short = open_position(other_user, low, side="sell", quantity="1", leverage="10")
    high = make_portfolio(third, name="high")
    high_short = open_position(third, high, side="sell", quantity="1", leverage="50")
    assert fund_balance() == 0  # created on first use

    watch(DerivativesWatcher(), BTC_PERP="49000")

    liquidation = Liquidation.objects.get()
    assert (liquidation.fund_draw, liquidation.uncovered) == (D(100), D(350))
    assert [(party["position_id"], party["quantity"], party["price"]) for party in liquidation.adl_counterparties] == [
        (str(high_short.pk), "0.7000000000", "49500.0000000000")]
    high_short.refresh_from_db()
    low_short.refresh_from_db()
    assert (high_short.quantity, low_short.quantity) == (D("0.3"), D(1))
    assert fund_balance() == 0
    [adl_trade] = [trade for trade in high_short.trades.select_related("order") if "adl" in trade.order.tags]
    assert (adl_trade.realized_pnl, adl_trade.fee) == (D(350), D(0))
    assert not LedgerEntry.objects.filter(kind="fee", reference=str(adl_trade.pk)).exists()


def test_past_the_final_warning_only_orders_that_reduce_exposure_are_accepted(user):
    """1,000 of cash, 0.9 BTC long at 50,000, 100x cross (fee 22.50). At 49,170 the cross pool holds
    977.50 − 0.9 × 830 = 230.50 against 0.9 × 49,170 × 0.5% = 221.265 of maintenance: 95.99% used,
    past the 95% final warning. Adding is refused; reducing is not."""
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user, cash="1000")
    open_position(user, portfolio, margin_mode="cross")
    publish(BTC_PERP="49170")
    with pytest.raises(RiskCheckFailed) as refused:
        order_place(user=user, portfolio_id=portfolio.pk, now=NOW, request=OrderRequest(
            symbol="BTC-PERP", side="buy", order_type="market", quantity=D("0.01")))
    assert refused.value.code == "margin_final_warning"
    assert refused.value.message.startswith("Margin use is 95.99% of maintenance")
    order, _ = order_place(user=user, portfolio_id=portfolio.pk, now=NOW, request=OrderRequest(
        symbol="BTC-PERP", side="sell", order_type="market", quantity=D("0.1")))
    assert order.status == "filled"


def test_spot_crypto_trades_at_up_to_10x_on_margin(user):
    """10,000 of cash buys 20 ETH-USD at 2,000 (40,000) at 5x: 8,000 of initial margin. 11x is above
    the class maximum; at 5x, 30 ETH (12,000 of margin) is more than the 10,000 available."""
    state_quote, state_book = quote_at("ETH-USD", "2000", at="ask")
    state.market_state_write(quotes=[state_quote], books=[state_book], status={})
    portfolio = make_portfolio(user, cash="10000")

    def buy(quantity, leverage):
        return order_place(user=user, portfolio_id=portfolio.pk, now=NOW, request=OrderRequest(
            symbol="ETH-USD", side="buy", order_type="market", quantity=D(quantity), leverage=D(leverage)))[0]

    with pytest.raises(LeverageNotAllowed):
        buy("1", "11")
    with pytest.raises(RiskCheckFailed) as refused:
        buy("30", "5")
    assert refused.value.code == "insufficient_buying_power"
    order = buy("20", "5")
    assert (order.status, order.filled_quantity) == ("filled", D(20))
    position = order.trades.get().position
    assert (position.leverage, position.margin_mode) == (D(5), "cross")
    account = portfolio_margin(Portfolio.objects.get(pk=portfolio.pk))
    assert account.margin_used == D(8000)
    # Maintenance 5% of 40,000 = 2,000 against a pool of 10,000 less the fee: far from liquidation.
    assert account.cross_maintenance_margin == D(2000)


def publish_spot(symbol: str, price: str, *, at: str = "bid") -> list[dict]:
    """A spot quote as the feed publishes it: no mark (the watcher marks a long at the bid)."""
    quote, book = quote_at(symbol, price, at=at)
    del quote["mark"], quote["index"]
    state.market_state_write(quotes=[quote], books=[book], status={})
    return [quote]


def test_a_leveraged_spot_position_is_watched_on_every_price_update(user):
    """5 ETH-USD at 2,000 at 10x isolated: collateral 10,000 / 10 = 1,000; maintenance is the class
    rate, 5% of the notional at the bid. Liquidation where 1,000 + 5 × (p − 2,000) = 0.05 × 5 × p:
    p = 9,000 / 4.75 = 1,894.74. At a 1,900 bid: 500 against 475 (95% used: the final warning); at
    1,890: 450 against 472.50, a breach, cured by a partial close. The watcher acts on the price
    update itself, not the minute sweep."""
    publish_spot("ETH-USD", "2000", at="ask")
    portfolio = make_portfolio(user)
    position = open_position(user, portfolio, symbol="ETH-USD", quantity="5", leverage="10", price="2000")
    publish_spot("ETH-USD", "2000", at="ask")  # open_position's own quote carries a perpetual's mark
    assert (position.leverage, position.margin_mode) == (D(10), "isolated")
    entry = portfolio_margin(Portfolio.objects.get(pk=portfolio.pk)).position(position.pk)
    assert entry.liquidation_price.quantize(D("0.01")) == D("1894.74")
    watcher = DerivativesWatcher()

    def watch_spot(price):
        quotes = publish_spot("ETH-USD", price)
        watcher.refreshed_at = None
        watcher.after_publish(quotes=quotes, now=NOW)

    watch_spot("1900")
    assert Liquidation.objects.count() == 0
    assert watcher.level_array.tolist() == [3]  # 95% of maintenance used: the last rung of the ladder

    watch_spot("1890")
    liquidation = Liquidation.objects.get()
    position.refresh_from_db()
    # The venue sequence: the smallest close through the book that restores the margin.
    assert (liquidation.position_id, liquidation.kind) == (position.pk, "partial")
    assert D(0) < liquidation.quantity < D(5) and position.quantity == D(5) - liquidation.quantity
    assert portfolio_margin(Portfolio.objects.get(pk=portfolio.pk)).position(position.pk).margin_ratio < 1
