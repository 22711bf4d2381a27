"""Cost-basis lots (spec §3 "Position Features", §12 "Tax Reporting"): hand-worked examples.

Every expected number is worked by hand in the comments. m is the contract multiplier.
Long realized P&L = (close − open) × q × m, short = (open − close) × q × m, gross of fees.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolios.accounting.margin import unrealized_pnl
from portfolios.lots import (
    CostBasisMethod,
    Disposal,
    Fill,
    InvalidLotOperation,
    Lot,
    LotOpening,
    PositionChange,
    PositionSide,
    Side,
    apply_fill,
    average_entry_price,
    held_more_than_one_year,
    wash_sales,
)

D = Decimal
LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
T0 = datetime(2025, 1, 2, 15, 30, tzinfo=UTC)


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def lot(lot_id: str, quantity, price, day: int = 0, open_fee="0") -> Lot:
    return Lot(lot_id=lot_id, quantity=D(quantity), price=D(price), opened_at=at(day), open_fee=D(open_fee))


def fill(side: Side, quantity, price, day: int = 10, fee="0", selection=()) -> Fill:
    return Fill(
        side=side,
        quantity=D(quantity),
        price=D(price),
        executed_at=at(day),
        fee=D(fee),
        lot_selection=tuple((lot_id, D(q)) for lot_id, q in selection),
    )


def run(fills, method, multiplier=D(1)):
    """Apply fills in order from flat, naming each new lot after its fill number."""
    side, lots, outcomes = None, (), []
    for number, each in enumerate(fills):
        outcome = apply_fill(side_of_position=side, lots=lots, fill=each, method=method,
                             new_lot_id=f"f{number}", contract_multiplier=multiplier)
        side, lots = outcome.position_side, outcome.lots
        outcomes.append(outcome)
    return outcomes


BUY_10_AT_100_BUY_10_AT_110_SELL_15_AT_120 = [
    fill(Side.BUY, 10, 100, day=0),
    fill(Side.BUY, 10, 110, day=1),
    fill(Side.SELL, 15, 120, day=2),
]


# --- cost basis methods on the same sequence ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected_realized", "expected_disposals", "expected_remaining"),
    [
        # FIFO: the 10 @100 first, then 5 of the 10 @110: 10×20 + 5×10 = 250; 5 @110 remain.
        (CostBasisMethod.FIFO, D(250), [("f0", D(10), D(200)), ("f1", D(5), D(50))], [("f1", D(5), D(110))]),
        # LIFO: the 10 @110 first, then 5 of the 10 @100: 10×10 + 5×20 = 200; 5 @100 remain.
        (CostBasisMethod.LIFO, D(200), [("f1", D(10), D(100)), ("f0", D(5), D(100))], [("f0", D(5), D(100))]),
        # Average: (10×100 + 10×110) / 20 = 105; 15 × (120 − 105) = 225. Dates go oldest first, so the
        # 10 from f0 and 5 from f1 are sold (10×15 = 150, 5×15 = 75) and 5 of f1 remain at 105.
        (CostBasisMethod.AVERAGE, D(225), [("f0", D(10), D(150)), ("f1", D(5), D(75))], [("f1", D(5), D(105))]),
        # HIFO: the 10 @110 is the highest cost, as LIFO here: 200.
        (CostBasisMethod.HIFO, D(200), [("f1", D(10), D(100)), ("f0", D(5), D(100))], [("f0", D(5), D(100))]),
    ],
)
def test_methods_realize_the_hand_worked_pnl(method, expected_realized, expected_disposals, expected_remaining):
    # given buy 10 @100, buy 10 @110 / when sell 15 @120
    outcome = run(BUY_10_AT_100_BUY_10_AT_110_SELL_15_AT_120, method)[-1]

    # then
    assert outcome.realized_pnl == expected_realized
    assert [(d.lot_id, d.quantity, d.realized_pnl) for d in outcome.disposals] == expected_disposals
    assert [(lot.lot_id, lot.quantity, lot.price) for lot in outcome.lots] == expected_remaining
    assert outcome.change is PositionChange.REDUCED
    assert outcome.position_side is LONG
    assert outcome.opened_lot is None


def test_average_keeps_each_lots_date_for_the_holding_period():
    # given 10 bought on day 0 and 10 on day 1 under average cost
    outcome = run(BUY_10_AT_100_BUY_10_AT_110_SELL_15_AT_120, CostBasisMethod.AVERAGE)[-1]

    # then both disposals are valued at 105 but keep their own acquisition dates
    assert [(d.opened_at, d.open_price) for d in outcome.disposals] == [(at(0), D(105)), (at(1), D(105))]
    assert outcome.lots[0].opened_at == at(1)


def test_average_restates_price_and_opening_fee_per_unit_on_add():
    # given buy 10 @100 with fee 10, then buy 30 @120 with fee 2
    outcomes = run([fill(Side.BUY, 10, 100, day=0, fee="10"), fill(Side.BUY, 30, 120, day=1, fee="2")],
                   CostBasisMethod.AVERAGE)

    # then the average price is (1000 + 3600) / 40 = 115 and the fee per unit 12 / 40 = 0.3:
    # lot f0 carries 10 × 0.3 = 3 and lot f1 30 × 0.3 = 9
    assert [(lot.lot_id, lot.quantity, lot.price, lot.open_fee, lot.opened_at) for lot in outcomes[-1].lots] == [
        ("f0", D(10), D(115), D(3), at(0)),
        ("f1", D(30), D(115), D(9), at(1)),
    ]
    assert outcomes[-1].opened_lot == outcomes[-1].lots[-1]
    assert outcomes[-1].change is PositionChange.INCREASED


def test_average_values_lots_at_the_average_even_when_stored_at_their_own_prices():
    # given lots recorded under FIFO, 10 @100 and 30 @120, and the portfolio now on average cost
    lots = (lot("a", 10, 100, day=0), lot("b", 30, 120, day=1))

    # when selling 20 @130
    outcome = apply_fill(side_of_position=LONG, lots=lots, fill=fill(Side.SELL, 20, 130),
                         method=CostBasisMethod.AVERAGE, new_lot_id="n")

    # then the average is 115: 20 × (130 − 115) = 300; 20 of b remain at 115
    assert outcome.realized_pnl == D(300)
    assert [(lot.lot_id, lot.quantity, lot.price) for lot in outcome.lots] == [("b", D(20), D(115))]


# --- opening, adding, partial and full close, flips ---------------------------------------------


def test_buy_on_flat_opens_a_long_lot_named_by_the_caller():
    # when buying 3 @50 with fee 1 from flat
    outcome = apply_fill(side_of_position=None, lots=(), fill=fill(Side.BUY, 3, 50, day=0, fee="1"),
                         method=CostBasisMethod.FIFO, new_lot_id="trade-1")

    # then
    assert outcome.change is PositionChange.OPENED
    assert outcome.position_side is LONG
    assert outcome.lots == (Lot(lot_id="trade-1", quantity=D(3), price=D(50), opened_at=at(0), open_fee=D(1)),)
    assert outcome.opened_lot == outcome.lots[0]
    assert outcome.disposals == ()
    assert outcome.realized_pnl == 0


def test_sell_on_flat_opens_a_short_and_another_sell_adds_to_it():
    # when selling 5 @20, then 5 @22
    first, second = run([fill(Side.SELL, 5, 20, day=0), fill(Side.SELL, 5, 22, day=1)], CostBasisMethod.FIFO)

    # then
    assert (first.change, first.position_side) == (PositionChange.OPENED, SHORT)
    assert (second.change, second.position_side) == (PositionChange.INCREASED, SHORT)
    assert [(lot.lot_id, lot.quantity, lot.price) for lot in second.lots] == [
        ("f0", D(5), D(20)),
        ("f1", D(5), D(22)),
    ]


def test_partial_close_keeps_the_rest_of_the_lot():
    # given long 10 @100 / when selling 4 @105: 4 × 5 = 20
    outcome = apply_fill(side_of_position=LONG, lots=(lot("a", 10, 100),), fill=fill(Side.SELL, 4, 105),
                         method=CostBasisMethod.FIFO, new_lot_id="n")

    # then
    assert outcome.realized_pnl == D(20)
    assert outcome.change is PositionChange.REDUCED
    assert outcome.lots == (lot("a", 6, 100),)


def test_selling_the_whole_position_closes_it():
    # given long 10 @100 in two lots / when selling 10 @90: 4 × −10 + 6 × −10 = −100
    outcome = apply_fill(side_of_position=LONG, lots=(lot("a", 4, 100, day=0), lot("b", 6, 100, day=1)),
                         fill=fill(Side.SELL, 10, 90), method=CostBasisMethod.FIFO, new_lot_id="n")

    # then
    assert outcome.realized_pnl == D(-100)
    assert outcome.change is PositionChange.CLOSED
    assert outcome.position_side is None
    assert outcome.lots == ()
    assert outcome.opened_lot is None


def test_sell_larger_than_long_flips_to_short_in_one_fill():
    # given long 20 @100 / when selling 25 @90 with fee 2.5
    outcome = apply_fill(side_of_position=LONG, lots=(lot("a", 20, 100, day=0),),
                         fill=fill(Side.SELL, 25, 90, fee="2.5"), method=CostBasisMethod.FIFO, new_lot_id="n")

    # then 20 close at 20 × (90 − 100) = −200 carrying 20/25 of the fee = 2; the remaining 5 open a
    # short @90 carrying the other 0.5
    assert outcome.change is PositionChange.FLIPPED
    assert outcome.position_side is SHORT
    assert outcome.realized_pnl == D(-200)
    [disposal] = outcome.disposals
    assert (disposal.lot_id, disposal.quantity, disposal.side, disposal.close_fee) == ("a", D(20), LONG, D(2))
    assert outcome.lots == (Lot(lot_id="n", quantity=D(5), price=D(90), opened_at=at(10), open_fee=D("0.5")),)
    assert outcome.opened_lot == outcome.lots[0]


def test_buy_larger_than_short_flips_to_long():
    # given short 10 @50 / when buying 15 @40: 10 × (50 − 40) = +100, then long 5 @40
    outcome = apply_fill(side_of_position=SHORT, lots=(lot("s", 10, 50),), fill=fill(Side.BUY, 15, 40),
                         method=CostBasisMethod.LIFO, new_lot_id="n")

    assert outcome.change is PositionChange.FLIPPED
    assert outcome.position_side is LONG
    assert outcome.realized_pnl == D(100)
    assert outcome.lots == (Lot(lot_id="n", quantity=D(5), price=D(40), opened_at=at(10)),)


@pytest.mark.parametrize(
    ("cover_price", "expected"),
    [
        ("90", D(40)),  # short 10 @100, buy 4 @90: 4 × (100 − 90) = +40
        ("110", D(-40)),  # buy 4 @110: 4 × (100 − 110) = −40
    ],
)
def test_short_cover_realizes_the_mirrored_pnl(cover_price, expected):
    outcome = apply_fill(side_of_position=SHORT, lots=(lot("s", 10, 100),), fill=fill(Side.BUY, 4, cover_price),
                         method=CostBasisMethod.FIFO, new_lot_id="n")

    assert outcome.realized_pnl == expected
    assert outcome.disposals[0].side is SHORT
    assert outcome.lots == (lot("s", 6, 100),)
    assert outcome.position_side is SHORT


def test_contract_multiplier_scales_realized_pnl():
    # given long 2 option contracts @3.50, multiplier 100 / when selling 2 @5.00: 2 × 1.50 × 100 = 300
    outcome = apply_fill(side_of_position=LONG, lots=(lot("o", 2, "3.50"),), fill=fill(Side.SELL, 2, "5.00"),
                         method=CostBasisMethod.FIFO, new_lot_id="n", contract_multiplier=D(100))

    assert outcome.realized_pnl == D(300)
    assert outcome.disposals[0].proceeds == D(1000)  # 5 × 2 × 100
    assert outcome.disposals[0].cost_basis == D(700)  # 3.5 × 2 × 100


# --- fees: gross, net and tax amounts ------------------------------------------------------------


def test_long_disposal_reports_gross_net_and_tax_amounts():
    # given buy 10 @100 with fee 5 / when selling 4 @110 with fee 2
    outcome = apply_fill(side_of_position=LONG, lots=(lot("a", 10, 100, open_fee="5"),),
                         fill=fill(Side.SELL, 4, 110, fee="2"), method=CostBasisMethod.FIFO, new_lot_id="n")

    # then gross 4 × 10 = 40; open fee share 5 × 4/10 = 2; close fee 2; net 36;
    # proceeds 440 − 2 = 438; cost basis 400 + 2 = 402; 402 + 36 = 438
    [disposal] = outcome.disposals
    assert (disposal.realized_pnl, disposal.open_fee, disposal.close_fee) == (D(40), D(2), D(2))
    assert disposal.net_realized_pnl == D(36)
    assert (disposal.proceeds, disposal.cost_basis) == (D(438), D(402))
    assert outcome.net_realized_pnl == D(36)
    # and the remaining 6 carry the other 3 of the opening fee
    assert outcome.lots == (lot("a", 6, 100, open_fee="3"),)


def test_short_disposal_reports_proceeds_from_the_short_sale_and_basis_from_the_cover():
    # given short 10 @100 with fee 5 / when buying 4 @90 with fee 1
    outcome = apply_fill(side_of_position=SHORT, lots=(lot("s", 10, 100, open_fee="5"),),
                         fill=fill(Side.BUY, 4, 90, fee="1"), method=CostBasisMethod.FIFO, new_lot_id="n")

    # then gross 4 × 10 = 40; open fee 2; close fee 1; net 37;
    # proceeds 400 − 2 = 398; cost basis 360 + 1 = 361; 398 − 361 = 37
    [disposal] = outcome.disposals
    assert (disposal.realized_pnl, disposal.net_realized_pnl) == (D(40), D(37))
    assert (disposal.proceeds, disposal.cost_basis) == (D(398), D(361))


def test_closing_fee_shares_add_up_to_the_fee_exactly():
    # given three lots of 1 / when one sell of 3 pays a fee of 1: thirds that must not lose a digit
    outcome = apply_fill(side_of_position=LONG, lots=(lot("a", 1, 10, 0), lot("b", 1, 10, 1), lot("c", 1, 10, 2)),
                         fill=fill(Side.SELL, 3, 10, fee="1"), method=CostBasisMethod.FIFO, new_lot_id="n")

    shares = [d.close_fee for d in outcome.disposals]
    assert sum(shares) == D(1)
    assert all(abs(share - D(1) / 3) < D("1e-26") for share in shares)


# --- HIFO and specific lots ---------------------------------------------------------------------


def test_hifo_closes_the_highest_cost_long_lots_first():
    # given 10 @100 (oldest), 10 @120, 10 @110 / when selling 15 @115
    lots = (lot("a", 10, 100, 0), lot("b", 10, 120, 1), lot("c", 10, 110, 2))
    outcome = apply_fill(side_of_position=LONG, lots=lots, fill=fill(Side.SELL, 15, 115),
                         method=CostBasisMethod.HIFO, new_lot_id="n")

    # then b (120) closes whole: 10 × −5 = −50; then 5 of c (110): 5 × 5 = 25; total −25
    assert [(d.lot_id, d.quantity) for d in outcome.disposals] == [("b", D(10)), ("c", D(5))]
    assert outcome.realized_pnl == D(-25)
    assert outcome.lots == (lot("a", 10, 100, 0), lot("c", 5, 110, 2))


def test_hifo_counts_the_opening_fee_in_the_cost_per_unit():
    # given 10 @100 with fee 50 (105 per unit) and 10 @104 without fee / when selling 10
    lots = (lot("a", 10, 100, 0, open_fee="50"), lot("b", 10, 104, 1))
    outcome = apply_fill(side_of_position=LONG, lots=lots, fill=fill(Side.SELL, 10, 110),
                         method=CostBasisMethod.HIFO, new_lot_id="n")

    # then a is the dearer lot
    assert [d.lot_id for d in outcome.disposals] == ["a"]


def test_hifo_on_a_short_covers_the_lowest_short_sale_price_first():
    # given shorts 10 @100, 10 @120, 10 @110 / when buying 15 @115
    lots = (lot("a", 10, 100, 0), lot("b", 10, 120, 1), lot("c", 10, 110, 2))
    outcome = apply_fill(side_of_position=SHORT, lots=lots, fill=fill(Side.BUY, 15, 115),
                         method=CostBasisMethod.HIFO, new_lot_id="n")

    # then a (100) closes whole: 10 × (100 − 115) = −150; then 5 of c (110): 5 × −5 = −25; total −175
    assert [(d.lot_id, d.quantity) for d in outcome.disposals] == [("a", D(10)), ("c", D(5))]
    assert outcome.realized_pnl == D(-175)


def test_specific_selection_closes_the_named_lots_in_the_named_order():
    # given a 10 @100, b 10 @110, c 10 @130 / when selling 5 @120 naming 3 of c and 2 of a
    lots = (lot("a", 10, 100, 0), lot("b", 10, 110, 1), lot("c", 10, 130, 2))
    outcome = apply_fill(side_of_position=LONG, lots=lots,
                         fill=fill(Side.SELL, 5, 120, selection=[("c", 3), ("a", 2)]),
                         method=CostBasisMethod.SPECIFIC, new_lot_id="n")

    # then 3 × (120 − 130) = −30 and 2 × (120 − 100) = 40: +10
    assert [(d.lot_id, d.quantity, d.realized_pnl) for d in outcome.disposals] == [("c", D(3), D(-30)),
                                                                                 ("a", D(2), D(40))]
    assert outcome.realized_pnl == D(10)
    assert outcome.lots == (lot("a", 8, 100, 0), lot("b", 10, 110, 1), lot("c", 7, 130, 2))


def test_specific_selection_on_a_flip_must_cover_the_whole_position():
    lots = (lot("a", 10, 100, 0), lot("b", 10, 110, 1))
    outcome = apply_fill(side_of_position=LONG, lots=lots,
                         fill=fill(Side.SELL, 25, 120, selection=[("b", 10), ("a", 10)]),
                         method=CostBasisMethod.SPECIFIC, new_lot_id="n")

    assert [d.lot_id for d in outcome.disposals] == ["b", "a"]
    assert outcome.lots == (Lot(lot_id="n", quantity=D(5), price=D(120), opened_at=at(10)),)


@pytest.mark.parametrize(
    ("method", "selection", "message"),
    [
        (CostBasisMethod.SPECIFIC, [("zz", 5)], "'zz' is not an open lot"),
        (CostBasisMethod.SPECIFIC, [("a", 11)], "holds 10"),
        (CostBasisMethod.SPECIFIC, [("a", 3)], "closes 3 but this fill closes 5"),
        (CostBasisMethod.SPECIFIC, [("a", 3), ("b", 3)], "closes 6 but this fill closes 5"),
        (CostBasisMethod.SPECIFIC, [], "needs a lot_selection"),
        (CostBasisMethod.FIFO, [("a", 5)], "only to the specific method"),
    ],
)
def test_bad_lot_selection_is_refused(method, selection, message):
    lots = (lot("a", 10, 100, 0), lot("b", 10, 110, 1))
    with pytest.raises(InvalidLotOperation, match=message) as refused:
        apply_fill(side_of_position=LONG, lots=lots, fill=fill(Side.SELL, 5, 120, selection=selection),
                   method=method, new_lot_id="n")
    assert refused.value.field == "lot_selection"
    assert isinstance(refused.value, ValueError)


def test_lot_selection_on_an_opening_fill_is_refused():
    with pytest.raises(InvalidLotOperation, match="closes nothing"):
        apply_fill(side_of_position=LONG, lots=(lot("a", 10, 100),),
                   fill=fill(Side.BUY, 5, 120, selection=[("a", 5)]), method=CostBasisMethod.SPECIFIC,
                   new_lot_id="n")


def test_lot_selection_naming_a_lot_twice_is_refused():
    with pytest.raises(InvalidLotOperation, match="more than once"):
        fill(Side.SELL, 4, 120, selection=[("a", 2), ("a", 2)])


# --- holding period and the long-term boundary ---------------------------------------------------


@pytest.mark.parametrize(
    ("bought", "sold", "is_long_term"),
    [
        # more than one year: the day after the anniversary is the first long-term day
        (datetime(2025, 3, 15, 14, 0, tzinfo=UTC), datetime(2026, 3, 15, 23, 59, tzinfo=UTC), False),
        (datetime(2025, 3, 15, 14, 0, tzinfo=UTC), datetime(2026, 3, 16, 0, 1, tzinfo=UTC), True),
        (datetime(2025, 3, 15, 14, 0, tzinfo=UTC), datetime(2025, 9, 1, tzinfo=UTC), False),
        # bought on 29 February: the year is complete on 28 February
        (datetime(2024, 2, 29, tzinfo=UTC), datetime(2025, 2, 28, 23, tzinfo=UTC), False),
        (datetime(2024, 2, 29, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC), True),
    ],
)
def test_long_term_means_sold_after_the_first_anniversary(bought, sold, is_long_term):
    outcome = apply_fill(
        side_of_position=LONG,
        lots=(Lot(lot_id="a", quantity=D(1), price=D(10), opened_at=bought),),
        fill=Fill(side=Side.SELL, quantity=D(1), price=D(12), executed_at=sold),
        method=CostBasisMethod.FIFO,
        new_lot_id="n",
    )
    assert outcome.disposals[0].is_long_term is is_long_term
    assert held_more_than_one_year(acquired_at=bought, disposed_at=sold) is is_long_term


def test_holding_seconds_counts_whole_seconds_between_open_and_close():
    # 2025-03-15 14:00:00 to 2026-03-16 14:00:30.9: 366 days and 30 seconds
    outcome = apply_fill(
        side_of_position=LONG,
        lots=(Lot(lot_id="a", quantity=D(1), price=D(10), opened_at=datetime(2025, 3, 15, 14, tzinfo=UTC)),),
        fill=Fill(side=Side.SELL, quantity=D(1), price=D(12),
                  executed_at=datetime(2026, 3, 16, 14, 0, 30, 900_000, tzinfo=UTC)),
        method=CostBasisMethod.FIFO,
        new_lot_id="n",
    )
    assert outcome.disposals[0].holding_seconds == 366 * 86_400 + 30


def test_a_short_is_short_term_however_long_it_was_open():
    outcome = apply_fill(
        side_of_position=SHORT,
        lots=(Lot(lot_id="s", quantity=D(1), price=D(10), opened_at=datetime(2023, 1, 2, tzinfo=UTC)),),
        fill=Fill(side=Side.BUY, quantity=D(1), price=D(8), executed_at=datetime(2025, 6, 1, tzinfo=UTC)),
        method=CostBasisMethod.FIFO,
        new_lot_id="n",
    )
    assert outcome.disposals[0].is_long_term is False


# --- average entry ------------------------------------------------------------------------------


def test_average_entry_price_weights_by_quantity():
    # (10 × 100 + 30 × 120) / 40 = 4600 / 40 = 115
    assert average_entry_price((lot("a", 10, 100), lot("b", 30, 120, 1))) == D(115)
    assert average_entry_price(()) is None


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "bad"),
    [("quantity", D(0)), ("quantity", D(-1)), ("price", D(-3)), ("fee", D("-0.01")),
     ("price", D("NaN")), ("quantity", D("Infinity"))],
)
def test_fill_with_a_bad_number_is_refused(field, bad):
    values = {"side": Side.BUY, "quantity": D(1), "price": D(1), "fee": D(0), "executed_at": T0, field: bad}
    with pytest.raises(InvalidLotOperation) as refused:
        Fill(**values)
    assert refused.value.field == field


def test_a_fill_at_zero_may_close_but_never_open():
    # A long option expiring worthless: 2 contracts bought at 3.50 (×100) close at nothing.
    _, closed = run([fill(Side.BUY, 2, "3.5", day=0), fill(Side.SELL, 2, 0, day=5)], CostBasisMethod.FIFO,
                    multiplier=D(100))
    assert closed.realized_pnl == D(-700) and closed.lots == ()
    with pytest.raises(InvalidLotOperation) as refused:
        run([fill(Side.BUY, 1, 0)], CostBasisMethod.FIFO)
    assert refused.value.field == "price"


def test_floats_are_refused():
    with pytest.raises(TypeError, match="must be a Decimal"):
        Fill(side=Side.BUY, quantity=1.5, price=D(1), executed_at=T0)


@pytest.mark.parametrize(("field", "bad"), [("quantity", D(0)), ("price", D(0)), ("open_fee", D(-1))])
def test_lot_with_a_bad_number_is_refused(field, bad):
    values = {"lot_id": "a", "quantity": D(1), "price": D(1), "opened_at": T0, "open_fee": D(0), field: bad}
    with pytest.raises(InvalidLotOperation):
        Lot(**values)


@pytest.mark.parametrize(
    ("side", "lots", "message"),
    [
        (None, (lot("a", 1, 1),), "side is None exactly when"),
        (LONG, (), "side is None exactly when"),
        (LONG, (lot("a", 1, 1), lot("a", 2, 1, 1)), "distinct"),
    ],
)
def test_inconsistent_position_is_refused(side, lots, message):
    with pytest.raises(InvalidLotOperation, match=message):
        apply_fill(side_of_position=side, lots=lots, fill=fill(Side.SELL, 1, 1),
                   method=CostBasisMethod.FIFO, new_lot_id="n")


def test_closing_fill_before_the_lot_opened_is_refused():
    with pytest.raises(InvalidLotOperation, match="precedes lot 'a'"):
        apply_fill(side_of_position=LONG, lots=(lot("a", 1, 1, day=20),), fill=fill(Side.SELL, 1, 1, day=10),
                   method=CostBasisMethod.FIFO, new_lot_id="n")


def test_non_positive_contract_multiplier_is_refused():
    with pytest.raises(InvalidLotOperation, match="contract_multiplier"):
        apply_fill(side_of_position=None, lots=(), fill=fill(Side.BUY, 1, 1), method=CostBasisMethod.FIFO,
                   new_lot_id="n", contract_multiplier=D(0))


# --- wash sales ----------------------------------------------------------------------------------


def _loss_disposal(*, lot_id="a", side=LONG, quantity="10", pnl="-100", closed_day=60) -> Disposal:
    return Disposal(lot_id=lot_id, side=side, quantity=D(quantity), open_price=D(100), close_price=D(90),
                    opened_at=at(0), closed_at=at(closed_day), realized_pnl=D(pnl), open_fee=D(0),
                    close_fee=D(0), proceeds=D(0), cost_basis=D(0), holding_seconds=0, is_long_term=False)


def _opening(lot_id, quantity, day, side=LONG) -> LotOpening:
    return LotOpening(lot_id=lot_id, side=side, quantity=D(quantity), opened_at=at(day))


@pytest.mark.parametrize(
    ("rebuy_day", "rebuy_quantity", "expected_washed", "expected_disallowed"),
    [
        (80, "10", D(10), D(100)),  # bought back 20 days after the sale: the whole loss is washed
        (90, "10", D(10), D(100)),  # exactly 30 days after: still inside the window
        (91, "10", None, None),  # 31 days after: outside
        (80, "4", D(4), D(40)),  # only 4 replacement shares: 4/10 of the 100 loss
        (35, "10", D(10), D(100)),  # bought 25 days before the sale
    ],
)
def test_loss_is_washed_by_an_opening_within_thirty_days(rebuy_day, rebuy_quantity, expected_washed,
                                                         expected_disallowed):
    # given a lot bought on day 0 sold on day 60 at a 100 loss
    [found] = wash_sales(disposals=[_loss_disposal()],
                         openings=[_opening("a", 10, 0), _opening("r", rebuy_quantity, rebuy_day)])

    if expected_washed is None:
        assert found is None
    else:
        assert (found.washed_quantity, found.disallowed_loss) == (expected_washed, expected_disallowed)
        assert found.replacements == (("r", expected_washed),)


def test_gain_and_other_side_openings_do_not_wash():
    disposals = [_loss_disposal(pnl="50"), _loss_disposal(lot_id="b", closed_day=61)]
    found = wash_sales(disposals=disposals, openings=[_opening("a", 10, 0), _opening("b", 10, 1),
                                                      _opening("s", 10, 70, side=SHORT)])
    assert found == (None, None)


def test_a_replacement_washes_only_one_loss():
    # two loss sales of 10 on days 60 and 62, one rebuy of 10 on day 70: only the first is washed
    disposals = [_loss_disposal(lot_id="b", closed_day=62), _loss_disposal(lot_id="a", closed_day=60)]
    found = wash_sales(disposals=disposals, openings=[_opening("r", 10, 70)])
    assert found[0] is None
    assert found[1].washed_quantity == D(10)


def test_lots_sold_in_the_same_sale_are_not_replacements():
    # lots a (day 0) and b (day 50) both sold at a loss on day 60: b was bought within 30 days but
    # it is not held after the sale, so neither loss is washed
    disposals = [_loss_disposal(lot_id="a"), _loss_disposal(lot_id="b")]
    found = wash_sales(disposals=disposals, openings=[_opening("a", 10, 0), _opening("b", 10, 50)])
    assert found == (None, None)


def test_short_loss_is_washed_by_a_new_short_sale():
    [found] = wash_sales(disposals=[_loss_disposal(side=SHORT)], openings=[_opening("s2", 10, 65, side=SHORT)])
    assert found.washed_quantity == D(10)


# --- properties ----------------------------------------------------------------------------------

quantities = st.integers(min_value=1, max_value=5000).map(lambda n: D(n) / 100)
prices = st.integers(min_value=1, max_value=100_000).map(lambda n: D(n) / 100)
fees = st.integers(min_value=0, max_value=500).map(lambda n: D(n) / 100)
fill_sequences = st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), quantities, prices, fees),
                          min_size=1, max_size=12)
methods = st.sampled_from(
    [CostBasisMethod.FIFO, CostBasisMethod.LIFO, CostBasisMethod.HIFO, CostBasisMethod.AVERAGE]
)
multipliers = st.sampled_from([D(1), D(100), D("0.01")])
# Average cost divides (the average price, fee shares) at 28 significant digits; the rest is exact.
AVERAGE_TOLERANCE = D("1e-15")


def _signed_position(side, lots) -> Decimal:
    held = sum((lot.quantity for lot in lots), D(0))
    return held if side is LONG else -held


def _signed_fill(side, quantity) -> Decimal:
    return quantity if side is Side.BUY else -quantity


@settings(max_examples=200, deadline=None)
@given(sequence=fill_sequences, method=methods, multiplier=multipliers, mark=prices)
def test_quantity_is_conserved_and_pnl_reconciles_with_cash_flows(sequence, method, multiplier, mark):
    side, lots = None, ()
    realized = net_realized = cash = fees_paid = D(0)
    for number, (fill_side, quantity, price, fee) in enumerate(sequence):
        before = _signed_position(side, lots)
        outcome = apply_fill(
            side_of_position=side, lots=lots,
            fill=Fill(side=fill_side, quantity=quantity, price=price, fee=fee, executed_at=at(number)),
            method=method, new_lot_id=f"f{number}", contract_multiplier=multiplier,
        )
        side, lots = outcome.position_side, outcome.lots
        # the signed quantity moves by exactly the fill; no lot is empty; flat means no lots
        assert _signed_position(side, lots) == before + _signed_fill(fill_side, quantity)
        assert all(lot.quantity > 0 for lot in lots)
        assert (side is None) == (lots == ())
        realized += outcome.realized_pnl
        net_realized += outcome.net_realized_pnl
        cash -= _signed_fill(fill_side, quantity) * price * multiplier
        fees_paid += fee

    # realized + unrealized at the mark = the cash flows + the open position valued at the mark
    open_value = _signed_position(side, lots) * mark * multiplier
    unrealized = unrealized_pnl(side=side, value=sum((lot.quantity for lot in lots), D(0)) * mark * multiplier,
                                cost=sum((lot.price * lot.quantity for lot in lots), D(0)) * multiplier) if side else 0
    tolerance = AVERAGE_TOLERANCE if method is CostBasisMethod.AVERAGE else D(0)
    assert abs(realized + unrealized - (cash + open_value)) <= tolerance
    # net of fees: every fee paid is either in a disposal or still attached to an open lot
    open_fees = sum((lot.open_fee for lot in lots), D(0))
    assert abs(net_realized + unrealized - open_fees - (cash + open_value - fees_paid)) <= AVERAGE_TOLERANCE


@settings(max_examples=100, deadline=None)
@given(buys=st.lists(st.tuples(quantities, prices), min_size=1, max_size=8), sell_price=prices, method=methods)
def test_round_trip_realizes_sell_proceeds_minus_buy_cost(buys, sell_price, method):
    # given any buys / when one sell closes them all / then realized = Σ sell proceeds − Σ buy cost
    sequence = [Fill(side=Side.BUY, quantity=q, price=p, executed_at=at(n)) for n, (q, p) in enumerate(buys)]
    total = sum((q for q, _ in buys), D(0))
    sequence.append(Fill(side=Side.SELL, quantity=total, price=sell_price, executed_at=at(len(buys))))

    outcome = run(sequence, method)[-1]

    expected = total * sell_price - sum((q * p for q, p in buys), D(0))
    tolerance = AVERAGE_TOLERANCE if method is CostBasisMethod.AVERAGE else D(0)
    assert abs(outcome.realized_pnl - expected) <= tolerance
    assert outcome.change is PositionChange.CLOSED
