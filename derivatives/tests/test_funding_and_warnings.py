"""Funding settlement, the warning ladder and the derivatives endpoints, with hand-worked numbers."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from derivatives import events, services
from derivatives.models import FundingPayment, FundingRate, Liquidation, PremiumSample
from derivatives.services import funding_settle
from derivatives.tests.scenarios import (  # noqa: F401 (fixtures)
    NOW,
    books_balance,
    instruments,
    make_portfolio,
    open_position,
    publish,
)
from derivatives.watcher import DerivativesWatcher
from haunt.market.models import Instrument
from portfolios.models import LedgerEntry, Portfolio, Position

D = Decimal
FUNDING_TIME = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # the first settlement after NOW


def premium_samples(instrument, premiums):
    """One sample a minute ending at the funding time, oldest first."""
    PremiumSample.objects.bulk_create([
        PremiumSample(instrument=instrument, sampled_at=FUNDING_TIME - timedelta(minutes=len(premiums) - 1 - i),
                      premium=D(premium), index_price=D(50000), book_mid=D(50000))
        for i, premium in enumerate(premiums)])


@pytest.mark.parametrize(("premiums", "rate", "long_cash", "short_cash"), [
    # Weighted P̄ = (1×3 + 2×6 + 3×9) / 6 × 0.0001 = 0.0007; F = 0.0007 + clamp(0.0001 − 0.0007) = 0.0002.
    # 1 BTC long pays 50,000 × 0.0002 = 10; the 2 BTC short receives 20.
    (["0.0003", "0.0006", "0.0009"], "0.0002", "-10", "20"),
    # P̄ = −0.001; F = −0.001 + 0.0005 = −0.0005: the long receives 25, the short pays 50.
    (["-0.001", "-0.001"], "-0.0005", "25", "-50"),
    # |P̄ − interest| within 0.05%: F is the interest rate, 0.01%.
    (["0.0002"], "0.0001", "-5", "10"),
])
def test_funding_moves_cash_between_longs_and_shorts_by_size_mark_and_rate(user, other_user, premiums, rate,
                                                                         long_cash, short_cash):
    publish(BTC_PERP="50000")
    long_portfolio = make_portfolio(user, name="long")
    short_portfolio = make_portfolio(other_user, name="short")
    long_position = open_position(user, long_portfolio, quantity="1", leverage="10", margin_mode="cross")
    short_position = open_position(other_user, short_portfolio, side="sell", quantity="2", leverage="10")
    premium_samples(Instrument.objects.get(symbol="BTC-PERP"), premiums)
    publish(BTC_PERP="50000")

    settled = funding_settle(instrument=Instrument.objects.get(symbol="BTC-PERP"), funding_time=FUNDING_TIME)

    assert (settled.rate, settled.mark_price, settled.samples, settled.settled_positions) == (
        D(rate), D(50000), len(premiums), 2)
    for position, amount in ((long_position, long_cash), (short_position, short_cash)):
        payment = FundingPayment.objects.get(position=position)
        assert payment.amount == D(amount)
        entry = LedgerEntry.objects.get(portfolio=position.portfolio_id, kind="funding")
        assert entry.amount == D(amount)
        position.refresh_from_db()
        assert position.funding_paid == -D(amount)
    # A second run (a retried beat) pays nobody twice.
    assert funding_settle(instrument=Instrument.objects.get(symbol="BTC-PERP"), funding_time=FUNDING_TIME) == settled
    assert LedgerEntry.objects.filter(kind="funding").count() == 2


def test_a_position_opened_after_the_funding_time_pays_nothing(user):
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    open_position(user, portfolio, quantity="1", leverage="10")
    settled = funding_settle(instrument=Instrument.objects.get(symbol="BTC-PERP"),
                             funding_time=NOW - timedelta(hours=7))
    assert settled.settled_positions == 0 and not FundingPayment.objects.exists()


def _warnings_sent(monkeypatch) -> list[dict]:
    """The LiquidationWarning payloads, as the sockets receive them (other events go out as usual)."""
    sent = []
    broadcast = events.broadcast_on_commit

    def capture(**message):
        if message["event"] == "LiquidationWarning":
            sent.append(message["data"])
        else:
            broadcast(**message)

    monkeypatch.setattr(events, "broadcast_on_commit", capture)
    return sent


def test_warnings_fire_once_per_crossing_and_re_arm_on_recovery(user, monkeypatch):
    """0.9 BTC long at 50,000, 100x isolated (collateral 450): margin use at mark m is
    0.0045 m / (0.9 m − 44,550). 49,900: 62%. 49,800: 83% (80% warning). 49,805: 82% (nothing).
    49,770: 92% (90%). 49,760: 96% (95%). 49,765: 94% (still above 90% − 5%: nothing). 49,900: 62%
    (re-armed). 49,800: 83% (80% again)."""
    sent = _warnings_sent(monkeypatch)
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    position = open_position(user, portfolio)
    watcher = DerivativesWatcher()
    for mark in ("49900", "49800", "49805", "49770", "49760", "49765", "49900", "49800"):
        watcher.after_publish(quotes=publish(BTC_PERP=mark), now=NOW)

    assert [payload["threshold"] for payload in sent] == ["0.80", "0.90", "0.95", "0.80"]
    first = sent[0]
    assert first["position"] == str(position.pk) and first["symbol"] == "BTC-PERP"
    assert D(first["margin_ratio"]).quantize(D("0.0001")) == D("0.8300")
    assert D(first["liquidation_price"]).quantize(D("0.01")) == D("49748.74")
    # From 49,800 a fall of 0.10% reaches the liquidation price.
    assert D(first["price_move_to_liquidation"]).quantize(D("0.0001")) == D("-0.0010")
    assert Position.objects.get(pk=position.pk).status == Position.Status.OPEN


def test_a_portfolio_sets_its_own_warning_ladder(user, auth_client, monkeypatch):
    sent = _warnings_sent(monkeypatch)
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    response = auth_client.put(f"/api/portfolio/{portfolio.pk}/liquidation-warnings", {"thresholds": ["50", "70"]},
                               format="json")
    assert response.status_code == 200
    assert response.json()["risk_settings"]["liquidation_warning_ladder"] == ["50", "70"]
    open_position(user, portfolio)
    DerivativesWatcher().after_publish(quotes=publish(BTC_PERP="49800"), now=NOW)  # 83%: past both
    assert [payload["threshold"] for payload in sent] == ["0.70"]
    bad = auth_client.put(f"/api/portfolio/{portfolio.pk}/liquidation-warnings", {"thresholds": ["90", "80"]},
                          format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "thresholds"


def test_isolated_margin_can_be_added_and_removed_within_limits(user, auth_client, other_client,
                                                                 django_capture_on_commit_callbacks):
    """Adding 450 to the 100x long doubles its collateral to 900: LP = (900 − 45,000) / (0.0045 − 0.9)
    = 49,246.23. Removing more than was added is refused; removing it all brings LP back."""
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    with django_capture_on_commit_callbacks(execute=True):  # the margin refresh that follows a fill
        position = open_position(user, portfolio)
    position.refresh_from_db()
    assert position.liquidation_price.quantize(D("0.01")) == D("49748.74")

    response = auth_client.post(f"/api/positions/{position.pk}/margin", {"amount": "450"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["margin_added"] == "450.00000000"
    assert D(body["liquidation_price"]).quantize(D("0.01")) == D("49246.23")
    refused = auth_client.post(f"/api/positions/{position.pk}/margin", {"amount": "-451"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "margin_removal_too_large"
    assert auth_client.post(f"/api/positions/{position.pk}/margin", {"amount": "-450"},
                            format="json").json()["margin_added"] == "0.00000000"
    assert other_client.post(f"/api/positions/{position.pk}/margin", {"amount": "1"},
                             format="json").status_code == 404
    history = auth_client.get(f"/api/derivatives/margin-history?position={position.pk}").json()["results"]
    assert [(event["reason"], event["margin_after"]) for event in history] == [
        ("removed", "450.00000000"), ("added", "900.00000000"), ("opened", "450.00000000")]


def test_a_cross_position_has_no_margin_of_its_own_to_adjust(user, auth_client):
    publish(BTC_PERP="50000")
    position = open_position(user, make_portfolio(user), margin_mode="cross")
    response = auth_client.post(f"/api/positions/{position.pk}/margin", {"amount": "10"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_isolated"


def test_margin_endpoint_and_insurance_fund_endpoint(user, auth_client, other_client):
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    open_position(user, portfolio)
    margin = auth_client.get(f"/api/portfolio/{portfolio.pk}/margin").json()
    # Equity 5,000,000 − 22.50 fee; the isolated 450 is used; available = equity − used.
    assert (margin["equity"], margin["margin_used"], margin["margin_available"]) == (
        "4999977.50000000", "450.00000000", "4999527.50000000")
    assert margin["positions"][0]["liquidation_price"].startswith("49748.7437")
    assert other_client.get(f"/api/portfolio/{portfolio.pk}/margin").status_code == 404
    fund = auth_client.get("/api/derivatives/insurance-fund").json()
    assert (fund["currency"], fund["balance"], fund["history"]) == ("USD", "1000000.00000000", [])


def test_funding_endpoint_shows_history_next_time_and_predicted_rate(user, auth_client):
    publish(BTC_PERP="50000")
    instrument = Instrument.objects.get(symbol="BTC-PERP")
    FundingRate.objects.create(instrument=instrument, funding_time=FUNDING_TIME, rate=D("0.0002"),
                               average_premium=D("0.0007"), samples=3, mark_price=D(50000), index_price=D(50000))
    body = auth_client.get("/api/derivatives/funding/BTC-PERP").json()
    assert body["history"][0]["rate"] == "0.0002000000"
    assert body["mark_price"] == "50000"
    assert body["predicted_rate"] == "0.0001000000"  # no samples yet in the running interval: the interest rate
    assert datetime.fromisoformat(body["next_funding_time"].replace("Z", "+00:00")).hour in (0, 8, 16)
    assert auth_client.get("/api/derivatives/funding/BTC-USD").status_code == 404


def test_the_minute_sweep_is_idempotent_and_stores_liquidation_prices(user):
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    position = open_position(user, portfolio)
    publish(BTC_PERP="49700")
    assert services.liquidation_sweep(now=NOW)["liquidated"] == 1
    assert services.liquidation_sweep(now=NOW)["liquidated"] == 0
    assert Position.objects.get(pk=position.pk).status == Position.Status.CLOSED
    assert Portfolio.objects.get(pk=portfolio.pk).cash == D("5000000") - D("22.5") - D(450)


def test_the_watcher_reads_margin_added_since_its_last_refresh(user):
    """The 100x long's liquidation price is 49,748.74; with 450 more collateral it is 49,246.23, so
    the watcher, once it has re-read the changed row, leaves it alone at 49,700."""
    publish(BTC_PERP="50000")
    portfolio = make_portfolio(user)
    position = open_position(user, portfolio)
    watcher = DerivativesWatcher()
    watcher.after_publish(quotes=publish(BTC_PERP="49800"), now=NOW)
    assert watcher.keys == [position.pk]
    services.position_margin_adjust(user=user, position_id=position.pk, amount=D(450))
    watcher.refreshed_at = None  # a second has passed
    watcher.after_publish(quotes=publish(BTC_PERP="49700"), now=NOW)
    assert watcher.book.collateral.tolist() == [900.0]
    assert not Liquidation.objects.exists()
    assert Position.objects.get(pk=position.pk).status == Position.Status.OPEN


def test_the_funding_job_settles_the_last_funding_time_of_every_perpetual_once(user):
    """At 15:00:02 UTC the last funding time is 08:00. Samples older than a day before it go."""
    publish(BTC_PERP="50000", ETH_PERP="3000")
    instrument = Instrument.objects.get(symbol="BTC-PERP")
    PremiumSample.objects.create(instrument=instrument, sampled_at=NOW - timedelta(days=2), premium=D("0.001"),
                                 index_price=D(50000), book_mid=D(50000))
    assert services.funding_settle_due(now=NOW) == 2
    assert services.funding_settle_due(now=NOW) == 2
    assert sorted(FundingRate.objects.values_list("instrument__symbol", "funding_time")) == [
        ("BTC-PERP", datetime(2026, 11, 24, 8, tzinfo=UTC)), ("ETH-PERP", datetime(2026, 11, 24, 8, tzinfo=UTC))]
    assert not PremiumSample.objects.exists()
