"""The vectorised sweep over a book of accounts agrees with the Decimal account core, row by row."""
import dataclasses
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from derivatives.liquidation import WatchedBook, stacked_tier_arrays, sweep_book, tier_arrays
from haunt.market.terms import AssetClass, PositionSide
from portfolios.accounting.account import PositionRow, account_margin, tiers_for

D = Decimal
MARKS = (D("50000"), D("3000"))
# Rows of several margin classes share one book, each with its own tier table (perpetual tiers,
# one tier at the class rates for the others).
CLASSES = (AssetClass.PERPETUAL, AssetClass.CRYPTO_SPOT, AssetClass.STOCK, AssetClass.FOREX)

position = st.tuples(
    st.integers(min_value=0, max_value=1),  # instrument
    st.sampled_from([PositionSide.LONG, PositionSide.SHORT]),
    st.integers(min_value=1, max_value=400_000),  # notional at entry, whole units
    st.integers(min_value=1, max_value=100),  # leverage
    st.booleans(),  # isolated
    st.integers(min_value=-300, max_value=300),  # entry offset from the mark, bps
    st.sampled_from(CLASSES),
)


@settings(max_examples=200, deadline=None)
@given(accounts=st.lists(st.tuples(st.integers(min_value=0, max_value=200_000), st.lists(position, min_size=1,
                                                                                       max_size=4)),
                         min_size=1, max_size=4))
def test_sweep_book_matches_the_decimal_account(accounts):
    rows_by_account = []
    for cash, positions in accounts:
        rows = []
        for index, (instrument, side, notional, leverage, isolated, offset, asset_class) in enumerate(positions):
            entry = MARKS[instrument] * (1 + D(offset) / 10000)
            quantity = D(notional) / entry
            rows.append(PositionRow(
                key=(len(rows_by_account), index, instrument), asset_class=asset_class, side=side,
                quantity=quantity, cost=quantity * entry, mark_price=MARKS[instrument], leverage=D(leverage),
                is_isolated=isolated, is_margined=True, collateral=quantity * entry / leverage if isolated else D(0)))
        rows_by_account.append((D(cash) - sum((row.side.sign * row.cost for row in rows), D(0)), rows))
    flat = [(account, row) for account, (_, rows) in enumerate(rows_by_account) for row in rows]
    expected = []
    for cash, rows in rows_by_account:
        margin = account_margin(cash=cash, rows=rows)
        expected += [margin.position(row.key) for row in rows]
    cross_wallets = [float(account_margin(cash=cash, rows=rows).wallet_balance
                           - sum((row.collateral for row in rows if row.is_isolated), D(0)))
                     for cash, rows in rows_by_account]
    book = WatchedBook(
        instrument=np.array([row.key[2] for _, row in flat], dtype=np.intp),
        account=np.array([account for account, _ in flat], dtype=np.intp),
        side=np.array([float(row.side.sign) for _, row in flat]),
        quantity=np.array([float(row.quantity) for _, row in flat]),
        entry_price=np.array([float(row.entry_price) for _, row in flat]),
        isolated=np.array([row.is_isolated for _, row in flat]),
        collateral=np.array([float(row.collateral) for _, row in flat]),
        rate=np.ones(len(flat)),
        cross_wallet=np.array(cross_wallets),
        other_pnl=np.zeros(len(rows_by_account)),
        other_maintenance=np.zeros(len(rows_by_account)),
        table=np.array([CLASSES.index(row.asset_class) for _, row in flat], dtype=np.intp),
    )
    sweep = sweep_book(book=book, marks=np.array([float(mark) for mark in MARKS]),
                       tiers=stacked_tier_arrays([tiers_for(asset_class) for asset_class in CLASSES]))
    # The watcher keeps its rows grouped by table (each table's rows swept as one slice): the same rows
    # in that order give the same answers (to the last bits: the per-account sums add in another order).
    order = np.argsort(book.table, kind="stable")
    grouped = dataclasses.replace(book, **{name: getattr(book, name)[order] for name in (
        "instrument", "account", "side", "quantity", "entry_price", "isolated", "collateral", "rate", "table")})
    grouped_sweep = sweep_book(book=grouped, marks=np.array([float(mark) for mark in MARKS]),
                               tiers=stacked_tier_arrays([tiers_for(asset_class) for asset_class in CLASSES]))
    assert np.allclose(grouped_sweep.margin_ratio, sweep.margin_ratio[order], rtol=1e-12, atol=0)
    assert np.allclose(grouped_sweep.liquidation_price, sweep.liquidation_price[order], rtol=1e-12, atol=0,
                       equal_nan=True)
    if all(row.asset_class is AssetClass.PERPETUAL for _, row in flat):
        # One table for every row (the perpetual-only book) gives the same answer as the stacked form.
        one_table = sweep_book(book=dataclasses.replace(book, table=None),
                               marks=np.array([float(mark) for mark in MARKS]), tiers=tier_arrays())
        assert np.array_equal(one_table.margin_ratio, sweep.margin_ratio)
        assert np.array_equal(one_table.liquidation_price, sweep.liquidation_price, equal_nan=True)
    for row, entry in enumerate(expected):
        ratio = float(entry.margin_ratio)
        if ratio > 1e6:  # a margin balance at or within float rounding of zero: both say "far past liquidation"
            assert sweep.margin_ratio[row] > 1e6
        else:
            assert np.isclose(sweep.margin_ratio[row], ratio, rtol=1e-9, atol=1e-9)
        price = sweep.liquidation_price[row]
        if entry.liquidation_price is None or entry.liquidation_price < D("1e-6"):
            # A 1x long liquidates at (or within rounding of) 0: either side may call that "never".
            assert np.isnan(price) or abs(price) < 1e-6
        else:
            assert np.isclose(price, float(entry.liquidation_price), rtol=1e-9)

