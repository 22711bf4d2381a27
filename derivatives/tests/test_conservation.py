"""Whatever the path of marks: no money is made or lost inside the platform, and no isolated
position loses more than its margin (spec §4, §6).

Four accounts hold BTC-PERP: an isolated 100x long, a thinly funded 50x cross long, a 20x cross
short and an isolated 100x short. The mark walks a random path (each step up to ±3%), the watcher
runs at every mark, and funding settles once on the way. Then:

- all cash + the insurance fund = the starting balances + the fund's seed + what crossed the
  platform's edge: fills against the book (their settlement and fee entries), funding (the market
  pays or receives it) and the fund closing taken-over positions at the mark. Liquidation fees,
  takeovers at the bankruptcy price, shortfalls and ADL only move money inside;
- an isolated position's realized loss, with its closing and liquidation fees, never exceeds its
  collateral; no account is left with negative equity.
"""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from derivatives.models import InsuranceFund, Liquidation, PremiumSample
from derivatives.selectors import portfolio_margin
from derivatives.services import funding_settle
from derivatives.tests.scenarios import NOW, instruments, make_portfolio, open_position, publish  # noqa: F401
from derivatives.watcher import DerivativesWatcher
from haunt.market.models import Instrument
from orders.models import Trade
from portfolios.models import LedgerEntry, Portfolio, Position

D = Decimal
TOLERANCE = D("0.000001")  # each ledger and fund entry is rounded once to 8 places


def market_flows() -> Decimal:
    internal = {str(trade.pk) for trade in Trade.objects.select_related("order")
                if {"takeover", "adl"} & set(trade.order.tags)}
    flows = sum((amount for kind, reference, amount in LedgerEntry.objects.filter(
        kind__in=("trade", "fee")).values_list("kind", "reference", "amount") if reference not in internal), D(0))
    flows += sum(LedgerEntry.objects.filter(kind="funding").values_list("amount", flat=True), D(0))
    for liquidation in Liquidation.objects.exclude(takeover_close_price=None):
        sign = 1 if liquidation.side == "long" else -1  # the fund sells a long it took over, buys back a short
        flows += sign * liquidation.takeover_closed_quantity * liquidation.takeover_close_price
    return flows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# A short cross position partly liquidated, then pushed past its bankruptcy price by the next mark:
# the watcher must re-check a position it has just liquidated at once.
@example(moves=[103, 280, 300, 77], funding_step=1, premium="-0.002", seed="0")
@given(moves=st.lists(st.integers(min_value=-300, max_value=300), min_size=1, max_size=8),
       funding_step=st.integers(min_value=0, max_value=7),
       premium=st.sampled_from(["-0.002", "0.0003", "0.002"]),
       seed=st.sampled_from(["0", "50", "1000000"]))
def test_cash_and_fund_are_conserved_and_isolated_losses_are_capped(user, instruments, settings, moves,  # noqa: F811
                                                                  funding_step, premium, seed):
    settings.HAUNT_INSURANCE_FUND_SEED = seed
    with transaction.atomic():
        publish(BTC_PERP="50000")
        accounts = [
            (make_portfolio(user, name="isolated long"), {"side": "buy", "leverage": "100"}),
            (make_portfolio(user, cash="2000", name="cross long"),
             {"side": "buy", "quantity": "1", "leverage": "50", "margin_mode": "cross"}),
            (make_portfolio(user, cash="8000", name="cross short"),
             {"side": "sell", "quantity": "2", "leverage": "20", "margin_mode": "cross"}),
            (make_portfolio(user, name="isolated short"), {"side": "sell", "leverage": "100"}),
        ]
        positions = [open_position(user, portfolio, **order) for portfolio, order in accounts]
        starting = sum((portfolio.starting_balance for portfolio, _ in accounts), D(0))
        watcher = DerivativesWatcher()
        perpetual = Instrument.objects.get(symbol="BTC-PERP")
        price = D(50000)
        for step, move in enumerate(moves):
            price = (price * (1 + D(move) / 10000)).quantize(D("0.1"))
            quotes = publish(BTC_PERP=f"{price:f}")
            watcher.refreshed_at = None
            watcher.after_publish(quotes=quotes, now=NOW)
            if step == funding_step:
                funding_time = datetime(2026, 11, 24, 16, tzinfo=UTC)
                PremiumSample.objects.create(instrument=perpetual, sampled_at=funding_time - timedelta(minutes=1),
                                             premium=D(premium), index_price=price, book_mid=price)
                funding_settle(instrument=perpetual, funding_time=funding_time)

        fund = InsuranceFund.objects.filter(currency="USD").first()
        fund_balance, fund_seed = (fund.balance, D(seed)) if fund else (D(0), D(0))
        cash = sum(Portfolio.objects.values_list("cash", flat=True), D(0))
        assert abs(cash + fund_balance - (starting + fund_seed + market_flows())) <= TOLERANCE

        for position in positions:
            position = Position.objects.get(pk=position.pk)
            if position.margin_mode == "isolated" and position.liquidations.exists():
                trades = list(position.trades.all())
                # Every fill here carries the same timestamp, so row order says nothing: the closing
                # trades are the ones on the other side from the position.
                opening_side = "buy" if position.side == "long" else "sell"
                closing_fees = sum((trade.fee for trade in trades if trade.side != opening_side), D(0))
                fees = sum((liquidation.fee for liquidation in position.liquidations.all()), D(0))
                loss = sum((trade.realized_pnl for trade in trades), D(0)) - closing_fees - fees
                assert loss >= -D(450) - TOLERANCE  # 0.9 × 50,000 / 100
        for portfolio, _ in accounts:
            assert portfolio_margin(Portfolio.objects.get(pk=portfolio.pk)).equity >= -TOLERANCE
        transaction.set_rollback(True)
