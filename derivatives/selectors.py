"""Reads of the derivatives app: a portfolio's margin account at the live marks, funding history,
the insurance fund and liquidations. Reads on behalf of a user filter by owner (404 otherwise)."""
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, QuerySet

from derivatives import funding
from derivatives.models import (
    FundingPayment,
    FundingRate,
    InsuranceFund,
    InsuranceFundEntry,
    Liquidation,
    MarginEvent,
    PremiumSample,
)
from haunt.errors import NotFound
from haunt.market import state
from haunt.market.models import Instrument
from haunt.money import RATE_PLACES, quantize_money, quantum
from portfolios.accounting.account import AccountMargin
from portfolios.accounting.margin import PERP_LEVERAGE_TIERS
from portfolios.models import MarginMode, Portfolio, Position
from portfolios.selectors import portfolio_get_for_user, portfolio_open_positions, position_get_for_user
from portfolios.valuation import portfolio_valuation

ZERO = Decimal(0)
RATE_QUANTUM = quantum(RATE_PLACES)
LADDER_SETTING = "liquidation_warning_ladder"  # risk_settings key: percentages of maintenance margin use


def margined_positions_filter() -> Q:
    """portfolios.accounting.account.is_margined as a query filter on Position."""
    return Q(instrument__asset_class="perpetual") | ~Q(leverage=1) | Q(margin_mode=MarginMode.ISOLATED)


def portfolio_margin(portfolio: Portfolio, open_positions: list[Position] | None = None) -> AccountMargin:
    """The portfolio's margin account at the live marks, in its base currency: its valuation, so the
    margin option strategies hold counts here as in the order checks."""
    positions = portfolio_open_positions(portfolio) if open_positions is None else open_positions
    return portfolio_valuation(portfolio, positions)


def perpetual_get(symbol: str) -> Instrument:
    try:
        return Instrument.objects.get(symbol=symbol, asset_class="perpetual", is_active=True)
    except Instrument.DoesNotExist:
        raise NotFound(f"No perpetual {symbol!r}.", field="symbol") from None


def funding_history(instrument: Instrument) -> QuerySet[FundingRate]:
    return FundingRate.objects.filter(instrument=instrument).order_by("-funding_time")


def insurance_fund_get(currency: str = "USD") -> InsuranceFund | None:
    return InsuranceFund.objects.filter(currency=currency).first()


def liquidations_for_user(*, user) -> QuerySet[Liquidation]:
    return (Liquidation.objects.filter(portfolio__owner=user).select_related("position__instrument")
            .order_by("-created_at", "-pk"))


def margin_history_for_user(*, user, position_id=None) -> QuerySet[MarginEvent]:
    """`position_id` narrows to one of the user's positions: anyone else's is 404, as everywhere."""
    events = MarginEvent.objects.filter(portfolio__owner=user)
    if position_id:
        events = events.filter(position=position_get_for_user(user=user, position_id=position_id))
    return events.order_by("-pk")


def tier_table(instrument: Instrument) -> dict:
    """GET /api/derivatives/tiers/{symbol}: the notional tiers every perpetual shares (spec §6)."""
    return {"symbol": instrument.symbol, "tiers": [
        {"tier": tier.number, "notional_floor": f"{tier.notional_floor:f}",
         "notional_cap": None if tier.notional_cap is None else f"{tier.notional_cap:f}",
         "max_leverage": f"{tier.max_leverage:f}", "initial_margin_rate": f"{tier.initial_rate:f}",
         "maintenance_margin_rate": f"{tier.maintenance_rate:f}", "maintenance_amount": f"{tier.maintenance_amount:f}"}
        for tier in PERP_LEVERAGE_TIERS]}


FUNDING_HISTORY_LIMIT = 90  # 30 days of 8-hour settlements


def funding_overview(instrument: Instrument, *, now) -> dict:
    """GET /api/derivatives/funding/{symbol}: rate history, the next funding time and the rate the
    premium samples of the running interval predict for it."""
    from derivatives.serializers import FundingRateOut  # serializers are the rendering layer of this read

    next_time = funding.next_funding_time(now=now)
    samples = list(PremiumSample.objects.filter(
        instrument=instrument, sampled_at__gt=next_time - funding.FUNDING_INTERVAL, sampled_at__lte=now)
        .order_by("sampled_at").values_list("premium", flat=True))
    predicted = funding.funding_rate(average_premium=funding.average_premium_index(samples) if samples else ZERO)
    quote = state.quote_read(instrument.symbol) or {}
    return {
        "symbol": instrument.symbol, "next_funding_time": next_time,
        "predicted_rate": f"{predicted.quantize(RATE_QUANTUM):f}", "predicted_from_samples": len(samples),
        "interest_rate": f"{funding.INTEREST_RATE_PER_INTERVAL.quantize(RATE_QUANTUM):f}",
        "mark_price": quote.get("mark"), "index_price": quote.get("index"),
        "history": FundingRateOut(funding_history(instrument)[:FUNDING_HISTORY_LIMIT], many=True).data,
    }


FUND_HISTORY_LIMIT = 200


def insurance_fund_overview(currency: str = "USD") -> dict:
    """GET /api/derivatives/insurance-fund: the balance and the latest entries, newest first."""
    from derivatives.serializers import FundEntryOut

    fund = insurance_fund_get(currency)
    if fund is None:
        return {"currency": currency, "balance": f"{quantize_money(fund_seed()):f}", "history": []}
    entries = InsuranceFundEntry.objects.filter(fund=fund).order_by("-pk")[:FUND_HISTORY_LIMIT]
    return {"currency": currency, "balance": f"{fund.balance:f}", "history": FundEntryOut(entries, many=True).data}


def fund_seed() -> Decimal:
    return Decimal(str(getattr(settings, "HAUNT_INSURANCE_FUND_SEED", "1000000")))


def funding_payments_for_user(*, user) -> QuerySet[FundingPayment]:
    return (FundingPayment.objects.filter(portfolio__owner=user).select_related("funding_rate", "position__instrument")
            .order_by("-created_at", "-pk"))


def portfolio_margin_for_user(*, user, portfolio_id) -> dict:
    from derivatives.services import margin_payload

    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    return margin_payload(portfolio, portfolio_margin(portfolio))
