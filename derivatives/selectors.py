"""Reads of the derivatives app: a portfolio's margin account at the live marks, funding history,
the insurance fund and liquidations. Reads on behalf of a user filter by owner (404 otherwise)."""
from dataclasses import dataclass
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
from portfolios.accounting.account import AccountMargin
from portfolios.accounting.margin import PERP_LEVERAGE_TIERS
from portfolios.models import MarginMode, Portfolio, Position
from portfolios.selectors import portfolio_get_for_user, portfolio_open_positions, position_get_for_user
from portfolios.valuation import portfolio_valuation

ZERO = Decimal(0)
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
    return {"symbol": instrument.symbol, "tiers": PERP_LEVERAGE_TIERS}


FUNDING_HISTORY_LIMIT = 90  # 30 days of 8-hour settlements


def funding_overview(instrument: Instrument, *, now) -> dict:
    """GET /api/derivatives/funding/{symbol}: rate history, the next funding time and the rate the
    premium samples of the running interval predict for it."""
    next_time = funding.next_funding_time(now=now)
    samples = list(PremiumSample.objects.filter(
        instrument=instrument, sampled_at__gt=next_time - funding.FUNDING_INTERVAL, sampled_at__lte=now)
        .order_by("sampled_at").values_list("premium", flat=True))
    predicted = funding.funding_rate(average_premium=funding.average_premium_index(samples) if samples else ZERO)
    quote = state.quote_read(instrument.symbol) or {}
    return {
        "symbol": instrument.symbol, "next_funding_time": next_time,
        "predicted_rate": predicted, "predicted_from_samples": len(samples),
        "interest_rate": funding.INTEREST_RATE_PER_INTERVAL,
        "mark_price": quote.get("mark"), "index_price": quote.get("index"),
        "history": funding_history(instrument)[:FUNDING_HISTORY_LIMIT],
    }


FUND_HISTORY_LIMIT = 200


def insurance_fund_overview(currency: str = "USD") -> dict:
    """GET /api/derivatives/insurance-fund: the balance and the latest entries, newest first."""
    fund = insurance_fund_get(currency)
    if fund is None:
        return {"currency": currency, "balance": fund_seed(), "history": []}
    entries = InsuranceFundEntry.objects.filter(fund=fund).order_by("-pk")[:FUND_HISTORY_LIMIT]
    return {"currency": currency, "balance": fund.balance, "history": entries}


def fund_seed() -> Decimal:
    return Decimal(str(getattr(settings, "HAUNT_INSURANCE_FUND_SEED", "1000000")))


def funding_payments_for_user(*, user) -> QuerySet[FundingPayment]:
    return (FundingPayment.objects.filter(portfolio__owner=user).select_related("funding_rate", "position__instrument")
            .order_by("-created_at", "-pk"))


@dataclass(frozen=True)
class PortfolioMargin:
    """A portfolio's margin account, as GET /api/portfolio/{id}/margin and MarginUpdate carry it."""

    portfolio: Portfolio
    account: AccountMargin

    @property
    def buying_power(self) -> Decimal:
        """The margin available to open positions; none (not a negative amount) once it is used up."""
        return max(self.account.margin_available, ZERO)


def portfolio_margin_for_user(*, user, portfolio_id) -> PortfolioMargin:
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    return PortfolioMargin(portfolio=portfolio, account=portfolio_margin(portfolio))
