"""Advisory controls (spec §4) that depend on history: daily loss, drawdown stop, correlation."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from haunt.market.models import Candle, Instrument
from orders.risk import RiskCheckFailed
from orders.market_view import live_prices
from orders.services import ExitLegs, OrderRequest, bracket_place, order_place
from portfolios.models import EquitySnapshot, Portfolio
from portfolios.services import portfolio_create, portfolio_update

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)


@pytest.fixture
def trader(user, market_feed):
    return portfolio_create(user=user, name="Risky", simulate_latency=False)


def buy(user, portfolio, symbol="BTC-USD", quantity="0.1"):
    return order_place(user=user, portfolio_id=portfolio.pk, now=NOW, request=OrderRequest(
        symbol=symbol, side="buy", order_type="market", quantity=Decimal(quantity)))[0]


def earlier_figures(portfolio, **figures):
    """What the equity snapshots would have kept on the row after a better moment today."""
    Portfolio.objects.filter(pk=portfolio.pk).update(**{key: Decimal(value) for key, value in figures.items()})


def test_daily_loss_limit_blocks_new_risk_after_a_bad_day(user, trader):
    # The day opened at 5,600,000 (a 600,000 gain); equity is now 5,000,000: a 10.71% loss today.
    earlier_figures(trader, day_start_equity="5600000", day_start_pnl="600000", peak_pnl="600000")

    with pytest.raises(RiskCheckFailed) as refusal:
        buy(user, trader)

    assert refusal.value.code == "risk_daily_loss_limit_pct"


def test_daily_loss_in_warn_mode_accepts_the_order_with_a_warning(user, trader):
    portfolio_update(user=user, portfolio_id=trader.pk, risk_settings={"modes": {"daily_loss_limit_pct": "warn"}})
    earlier_figures(trader, day_start_equity="5600000", day_start_pnl="600000", peak_pnl="600000")

    order = buy(user, trader)

    assert order.status == "filled"
    assert [warning["code"] for warning in order.warnings] == ["risk_daily_loss_limit_pct"]


def test_drawdown_stop_blocks_after_a_fall_from_the_peak(user, trader):
    # Peak P&L +1,800,000 (equity 6,800,000); now 5,000,000: 26.5% below the peak, past the 25% stop.
    earlier_figures(trader, peak_pnl="1800000")

    with pytest.raises(RiskCheckFailed) as refusal:
        buy(user, trader)

    assert refusal.value.code == "risk_drawdown_stop_pct"


def test_a_top_up_is_not_a_drawdown_or_a_daily_loss(user, trader):
    from portfolios.services import portfolio_reset, portfolio_topup

    portfolio_topup(user=user, portfolio_id=trader.pk, amount=Decimal(3_000_000))
    portfolio_reset(user=user, portfolio_id=trader.pk)  # equity back to 5,000,000; history restarts

    assert buy(user, trader).status == "filled"


def closes(instrument, values, *, end):
    Candle.objects.bulk_create([
        Candle(instrument=instrument, resolution=3600, start=end - timedelta(days=len(values) - index),
               open=value, high=value, low=value, close=value, volume=1)
        for index, value in enumerate(values)])


def test_correlated_new_position_is_flagged_and_an_uncorrelated_one_is_not(user, trader):
    now = timezone.now()
    moves = [1, -2, 3, 1, -1, 2, -3, 2, 1, -2, 1, 3]
    level = Decimal(100)
    path, inverse = [], []
    for move in moves:
        level += move
        path.append(level)
        inverse.append(Decimal(300) - level)
    closes(Instrument.objects.get(symbol="LINK-USD"), path, end=now)
    closes(Instrument.objects.get(symbol="DOT-USD"), [value * 2 for value in path], end=now)
    closes(Instrument.objects.get(symbol="LTC-USD"), inverse, end=now)
    buy(user, trader, "LINK-USD", "10")

    correlated = buy(user, trader, "DOT-USD", "10")
    opposite = buy(user, trader, "LTC-USD", "1")

    assert [warning["code"] for warning in correlated.warnings] == ["risk_correlation_warning_threshold"]
    assert "LINK-USD" in correlated.warnings[0]["message"]
    assert opposite.warnings == []


def test_snapshots_keep_the_peak_and_the_days_opening_figures(user, trader):
    from portfolios.services import equity_snapshot_take, portfolio_topup

    trader.refresh_from_db()
    today = timezone.now().astimezone(UTC).date()
    assert (trader.day_start_date, trader.day_start_equity, trader.peak_pnl) == (today, Decimal(5_000_000), 0)

    portfolio_topup(user=user, portfolio_id=trader.pk, amount=Decimal(1_000_000))
    trader.refresh_from_db()
    snapshot = equity_snapshot_take(portfolio=trader, now=timezone.now(), reason=EquitySnapshot.Reason.SCHEDULED)
    tomorrow = equity_snapshot_take(portfolio=trader, now=timezone.now() + timedelta(days=1),
                                    reason=EquitySnapshot.Reason.SCHEDULED)

    trader.refresh_from_db()
    assert snapshot.equity == Decimal(6_000_000) and snapshot.invested == Decimal(6_000_000)
    assert trader.peak_pnl == 0  # the top-up is not a gain
    assert trader.day_start_date == tomorrow.taken_at.astimezone(UTC).date()
    assert trader.day_start_equity == Decimal(6_000_000)


def test_a_bracket_whose_stop_risks_too_much_of_equity_is_refused(user, trader):
    ask = live_prices("BTC-USD")["ask"]
    # 10 BTC with a stop 2,000 below the ask risks ~20,000 + slippage ≈ 0.4% of 5,000,000: allowed;
    # with the stop 20,000 below, ~200,000 = 4%: above the 2% default.
    allowed, _ = bracket_place(user=user, portfolio_id=trader.pk, now=NOW, entry=OrderRequest(
        symbol="BTC-USD", side="buy", order_type="limit", quantity=Decimal("10"), limit_price=ask),
        legs=ExitLegs(take_profit_price=ask + 5000, stop_price=ask - 2000))
    with pytest.raises(RiskCheckFailed) as refusal:
        bracket_place(user=user, portfolio_id=trader.pk, now=NOW, entry=OrderRequest(
            symbol="BTC-USD", side="buy", order_type="limit", quantity=Decimal("10"), limit_price=ask),
            legs=ExitLegs(take_profit_price=ask + 5000, stop_price=ask - 20000))

    assert allowed[0].warnings == []
    assert refusal.value.code == "risk_risk_per_trade_pct"
