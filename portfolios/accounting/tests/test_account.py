"""The account core on hand-worked accounts: equity, P&L, margin used, margin level, buying power
and what a close frees (spec §3, Appendix B)."""
from decimal import Decimal

import pytest

from haunt.market.terms import AssetClass, PositionSide
from portfolios.accounting.account import PositionRow, account_margin, freed_by_closing, is_margined

D = Decimal


@pytest.mark.parametrize(("asset_class", "leverage", "margin_mode", "expected"), [
    ("perpetual", D(1), "cross", True), ("stock", D(2), "cross", True), ("crypto_spot", D(1), "isolated", True),
    ("crypto_spot", D(1), "cross", False), ("option", D(1), "cross", False),
])
def test_is_margined(asset_class, leverage, margin_mode, expected):
    assert is_margined(asset_class=asset_class, leverage=leverage, margin_mode=margin_mode) is expected


def _row(*, key, asset_class=AssetClass.PERPETUAL, side=PositionSide.LONG, quantity, cost, mark, leverage=D(1),
         isolated=False, margined=True, collateral=D(0)):
    return PositionRow(key=key, asset_class=asset_class, side=side, quantity=D(quantity), cost=D(cost),
                       mark_price=D(mark), leverage=D(leverage), is_isolated=isolated, is_margined=margined,
                       collateral=D(collateral))


def test_equity_margin_level_and_buying_power_of_a_levered_long():
    # Given 10,000 of cash that bought 1 BTC-PERP at 60,000 on 10x cross (cash now −50,000), marked at 59,000
    account = account_margin(cash=D(-50_000), rows=[_row(key=1, quantity=1, cost=60_000, mark=59_000,
                                                         leverage=D(10))])
    # equity = cash + long value; the open loss of 1,000 comes off the 10,000 wallet
    assert (account.equity, account.unrealized_pnl, account.wallet_balance) == (D(9_000), D(-1_000), D(10_000))
    # margin used = 59,000 / 10; level = equity / used; buying power = equity − used
    assert account.margin_used == D(5_900)
    assert account.margin_level == D(9_000) / D(5_900)
    assert account.buying_power == account.margin_available == D(3_100)


def test_unlevered_spot_ties_up_a_long_in_full_and_a_short_not_at_all():
    # Given 1,000 cash after buying 10 at 100 (now 110) and shorting 5 at 100 (now 90)
    rows = [_row(key=1, asset_class=AssetClass.CRYPTO_SPOT, quantity=10, cost=1_000, mark=110, margined=False),
            _row(key=2, asset_class=AssetClass.CRYPTO_SPOT, side=PositionSide.SHORT, quantity=5, cost=500, mark=90,
                 margined=False)]
    account = account_margin(cash=D(1_000), rows=rows)
    assert (account.long_value, account.short_value, account.equity) == (D(1_100), D(450), D(1_650))
    assert account.unrealized_pnl == D(100) + D(50)
    # buying power without leverage: cash − short value
    assert account.margin_used == D(1_100)
    assert account.buying_power == D(1_000) - D(450)
    assert account.margin_level == D(1_650) / D(1_100)
    assert account_margin(cash=D(1_000), rows=[]).margin_level is None


def test_an_isolated_position_keeps_its_pnl_and_holds_its_collateral():
    # Given a 5x isolated short of 2 at 100 (collateral 40 + 10 added), marked at 110
    row = _row(key=1, side=PositionSide.SHORT, quantity=2, cost=200, mark=110, leverage=D(5), isolated=True,
               collateral=D(50))
    account = account_margin(cash=D(1_200), rows=[row])
    assert account.equity == D(1_200) - D(220)
    assert account.isolated_unrealized_pnl == D(-20)
    assert account.margin_used == D(50)
    assert account.buying_power == D(980) + D(20) - D(50)


@pytest.mark.parametrize(("side", "margined", "isolated", "freed"), [
    # closing 1 of a 10-unit position marked at 110 for a cash move of +108 (a sell) or −112 (a buy)
    (PositionSide.LONG, False, False, D(108) - D(110) + D(110)),  # an unlevered long releases its value
    (PositionSide.SHORT, False, False, D(-112) + D(110)),  # an unlevered short releases nothing
    (PositionSide.LONG, True, False, D(108) - D(110) + D(55)),  # 2x cross: value / leverage
    (PositionSide.LONG, True, True, D(108) - D(110)),  # isolated: counted as releasing nothing
])
def test_what_closing_frees(side, margined, isolated, freed):
    row = _row(key=1, side=side, quantity=10, cost=1_000, mark=110, leverage=D(2) if margined else D(1),
               isolated=isolated, margined=margined)
    cash = D(108) if side is PositionSide.LONG else D(-112)
    assert freed_by_closing(row, units=D(1), cash=cash) == freed
