"""Portfolio writes. Each runs in one transaction, locks the portfolio row first, changes cash only
through ledger_post, and pushes PortfolioUpdate after commit."""
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from haunt.errors import Conflict, DomainError
from haunt.market.models import Instrument
from haunt.market.selectors import conversion_rate
from haunt.money import quantize_currency, quantize_money
from portfolios import events, hooks
from portfolios.accounting.account import pnl_since_invested
from portfolios.models import EquitySnapshot, LedgerEntry, Portfolio, Position
from portfolios.risk_settings import default_leverage, default_risk_settings
from portfolios.selectors import portfolio_get, portfolio_get_for_user, portfolio_open_positions
from portfolios.valuation import portfolio_valuation

# Fields a client may change on an existing portfolio. Money fields are never among them.
UPDATABLE_FIELDS = ("name", "description", "cost_basis_method", "strategy_tags", "visibility", "realism_profile",
                    "simulate_latency", "benchmark_symbol", "risk_free_rate")


@dataclass(frozen=True)
class Posting:
    """One cash movement for ledger_post_all."""

    amount: Decimal
    kind: str
    reference: str = ""
    description: str = ""


def ledger_post(*, portfolio: Portfolio, amount: Decimal, kind: str, reference: str = "", description: str = "") -> LedgerEntry:
    """Append one cash movement and apply it to the portfolio's cash.

    Call inside the transaction that holds the portfolio row lock (portfolio_get(..., for_update=True));
    cash must always equal the sum of the ledger. The caller saves `cash` (with its other changes).
    """
    return ledger_post_all(portfolio=portfolio, postings=[Posting(amount, kind, reference, description)])[0]


def ledger_post_all(*, portfolio: Portfolio, postings: list[Posting]) -> list[LedgerEntry]:
    """ledger_post for several movements in order (a fill's settlement and its fee), in one INSERT."""
    assert transaction.get_connection().in_atomic_block, "ledger_post needs the caller's transaction"
    entries = []
    for posting in postings:
        amount = quantize_money(posting.amount)
        portfolio.cash = quantize_money(portfolio.cash + amount)
        entries.append(LedgerEntry(portfolio=portfolio, kind=posting.kind, amount=amount,
                                   balance_after=portfolio.cash, reference=posting.reference,
                                   description=posting.description))
    return LedgerEntry.objects.bulk_create(entries)


def default_starting_balance(*, base_currency: str) -> Decimal:
    """The configured USD starting balance expressed in the base currency at today's market rate."""
    usd = Decimal(settings.HAUNT_DEFAULT_STARTING_BALANCE)
    return quantize_currency(usd * conversion_rate(from_currency="USD", to_currency=base_currency), base_currency)


@transaction.atomic
def portfolio_create(
    *,
    user,
    name: str,
    description: str = "",
    base_currency: str = "USD",
    starting_balance: Decimal | None = None,
    cost_basis_method: str = "fifo",
    risk_settings: dict | None = None,
    default_leverage_by_class: dict | None = None,
    strategy_tags: list[str] | None = None,
    visibility: str = "private",
    realism_profile: str = "realistic",
    simulate_latency: bool = True,
    benchmark_symbol: str = "",
    risk_free_rate: Decimal = Decimal(0),
    is_competition: bool = False,
) -> Portfolio:
    """Open a portfolio funded with its starting balance through an initial ledger deposit."""
    if starting_balance is None:
        starting_balance = default_starting_balance(base_currency=base_currency)
    portfolio = Portfolio.objects.create(
        owner=user,
        name=name,
        description=description,
        base_currency=base_currency,
        starting_balance=quantize_money(starting_balance),
        cash=Decimal(0),
        cost_basis_method=cost_basis_method,
        risk_settings=_merged(default_risk_settings(), risk_settings),
        default_leverage=_merged(default_leverage(), default_leverage_by_class),
        strategy_tags=strategy_tags or [],
        visibility=visibility,
        realism_profile=realism_profile,
        simulate_latency=simulate_latency,
        benchmark_symbol=benchmark_symbol,
        risk_free_rate=risk_free_rate,
        is_competition=is_competition,
    )
    ledger_post(portfolio=portfolio, amount=portfolio.starting_balance, kind=LedgerEntry.Kind.DEPOSIT,
                description="Starting balance")
    portfolio.save(update_fields=["cash", "updated_at"])
    equity_snapshot_take(portfolio=portfolio, now=portfolio.created_at, reason=EquitySnapshot.Reason.OPENED)
    events.portfolio_changed(portfolio)
    return portfolio


@transaction.atomic
def portfolio_update(
    *, user, portfolio_id, risk_settings: dict | None = None, default_leverage_by_class: dict | None = None, **changes
) -> Portfolio:
    """Change a portfolio's settings. Risk settings and leverage merge into the stored ones key by key."""
    portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    assert not unknown, f"not updatable: {unknown}"  # the input serializer admits only UPDATABLE_FIELDS
    benchmark = changes.get("benchmark_symbol")
    if benchmark and not Instrument.objects.filter(symbol=benchmark, is_active=True).exists():
        raise DomainError(f"No instrument {benchmark!r} to use as the benchmark.", code="unknown_symbol",
                          field="benchmark_symbol")
    for field, value in changes.items():
        setattr(portfolio, field, value)
    update_fields = [*changes, "updated_at"]
    if risk_settings:
        portfolio.risk_settings = _merged(portfolio.risk_settings, risk_settings)
        update_fields.append("risk_settings")
    if default_leverage_by_class:
        portfolio.default_leverage = _merged(portfolio.default_leverage, default_leverage_by_class)
        update_fields.append("default_leverage")
    portfolio.save(update_fields=update_fields)
    events.portfolio_changed(portfolio)
    return portfolio


@transaction.atomic
def portfolio_archive(*, user, portfolio_id) -> Portfolio:
    """Soft delete: the portfolio leaves the default list and refuses changes; its history stays."""
    portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
    portfolio.is_archived = True
    portfolio.archived_at = timezone.now()
    portfolio.save(update_fields=["is_archived", "archived_at", "updated_at"])
    events.portfolio_changed(portfolio)
    return portfolio


@transaction.atomic
def portfolio_reset(*, user, portfolio_id) -> Portfolio:
    """Bring cash back to the starting balance and clear P&L and top-ups; the ledger keeps the history."""
    portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
    if portfolio.cash != portfolio.starting_balance:
        ledger_post(portfolio=portfolio, amount=portfolio.starting_balance - portfolio.cash,
                    kind=LedgerEntry.Kind.RESET, description="Reset to starting balance")
    portfolio.total_topups = Decimal(0)
    portfolio.realized_pnl = Decimal(0)
    portfolio.margin_used = Decimal(0)
    portfolio.last_reset_at = timezone.now()
    portfolio.save(update_fields=["cash", "total_topups", "realized_pnl", "margin_used",
                                  "last_reset_at", "updated_at"])
    equity_snapshot_take(portfolio=portfolio, now=portfolio.last_reset_at, reason=EquitySnapshot.Reason.RESET)
    events.portfolio_changed(portfolio)
    return portfolio


@transaction.atomic
def portfolio_topup(*, user, portfolio_id, amount: Decimal) -> Portfolio:
    """Add virtual funds. Top-ups are counted apart (total_topups) so they never show as return."""
    portfolio = portfolio_lock_for_user(user=user, portfolio_id=portfolio_id)
    # Read once under the lock for the snapshot, the PortfolioUpdate and the response alike.
    portfolio_open_positions(portfolio)
    entry = ledger_post(portfolio=portfolio, amount=amount, kind=LedgerEntry.Kind.TOPUP, description="Top-up")
    portfolio.total_topups = quantize_money(portfolio.total_topups + entry.amount)
    portfolio.save(update_fields=["cash", "total_topups", "updated_at"])
    # Snapshotting at the flow itself makes the time-weighted return exact (no Modified Dietz weighting).
    equity_snapshot_take(portfolio=portfolio, now=entry.created_at, reason=EquitySnapshot.Reason.TOPUP,
                         cash_flow=entry.amount)
    events.portfolio_changed(portfolio)
    return portfolio


def portfolio_clone(*, user, portfolio_id, name: str | None = None) -> Portfolio:
    """A new portfolio with the source's settings and a fresh starting balance (no positions, no history)."""
    source = portfolio_get_for_user(user=user, portfolio_id=portfolio_id)
    return portfolio_create(
        user=user,
        name=name or f"{source.name} (copy)"[:100],
        description=source.description,
        base_currency=source.base_currency,
        starting_balance=source.starting_balance,
        cost_basis_method=source.cost_basis_method,
        risk_settings=source.risk_settings,
        default_leverage_by_class=source.default_leverage,
        strategy_tags=list(source.strategy_tags),
        visibility=source.visibility,
        realism_profile=source.realism_profile,
        simulate_latency=source.simulate_latency,
        benchmark_symbol=source.benchmark_symbol,
        risk_free_rate=source.risk_free_rate,
    )


def portfolio_lock_for_user(*, user, portfolio_id) -> Portfolio:
    """Check ownership (404 otherwise), then lock the row; archived portfolios refuse every change
    (settings, cash and trading alike). Call inside a transaction."""
    portfolio = portfolio_get_for_user(user=user, portfolio_id=portfolio_id, for_update=True)
    if portfolio.is_archived:
        raise Conflict("This portfolio is archived and cannot change.", code="portfolio_archived")
    return portfolio


def _merged(stored: dict, changes: dict | None) -> dict:
    """Shallow-merge `changes` into `stored`, one level deep for nested dicts (risk modes)."""
    merged = {**stored}
    for key, value in (changes or {}).items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return merged


def portfolio_settle_fill(*, portfolio: Portfolio, realized_pnl: Decimal) -> None:
    """Save the cash the fill's ledger entries moved and its realized P&L, and tell subscribers.

    Call inside the transaction holding the portfolio lock, after ledger_post.
    """
    portfolio.realized_pnl = quantize_money(portfolio.realized_pnl + realized_pnl)
    equity_snapshot_take(portfolio=portfolio, now=timezone.now(), reason=EquitySnapshot.Reason.FILL,
                         also_save=("cash", "realized_pnl"))
    events.portfolio_changed(portfolio)


def equity_snapshot_take(*, portfolio: Portfolio, now, reason: str, cash_flow: Decimal = Decimal(0),
                         also_save: tuple[str, ...] = ()) -> EquitySnapshot:
    """Record the portfolio's equity valued at the live market now, and keep its running peak and
    the UTC day's opening figures (the first snapshot of each day) on the portfolio row.

    `cash_flow` is the external money (top-up +, withdrawal −) the caller just booked: it is in
    this equity and analytics take it out of the return. `also_save` names other portfolio fields
    the caller changed, saved in the same UPDATE."""
    equity = quantize_money(portfolio_valuation(portfolio).equity)
    invested = portfolio.starting_balance + portfolio.total_topups
    pnl = pnl_since_invested(equity=equity, invested=invested)
    if reason in (EquitySnapshot.Reason.OPENED, EquitySnapshot.Reason.RESET):
        portfolio.peak_pnl = pnl
    else:
        portfolio.peak_pnl = max(portfolio.peak_pnl, pnl)
    today = now.astimezone(UTC).date()
    if portfolio.day_start_date != today or reason == EquitySnapshot.Reason.RESET:
        portfolio.day_start_date, portfolio.day_start_equity, portfolio.day_start_pnl = today, equity, pnl
    portfolio.save(update_fields=[*also_save, "peak_pnl", "day_start_date", "day_start_equity", "day_start_pnl",
                                  "updated_at"])
    return EquitySnapshot.objects.create(portfolio=portfolio, taken_at=now, equity=equity, cash=portfolio.cash,
                                         invested=invested, cash_flow=quantize_money(cash_flow), reason=reason)


def equity_snapshots_take_all(*, now, reason: str = EquitySnapshot.Reason.SCHEDULED) -> int:
    """A snapshot of every active portfolio (the hourly and the day-close beat jobs), each under its row lock.

    Day-close snapshots are taken once per UTC day: a rerun (a retried or duplicated beat) skips
    the portfolios already closed since the last midnight."""
    portfolio_ids = Portfolio.objects.active().values_list("pk", flat=True)
    if reason == EquitySnapshot.Reason.DAY_CLOSE:
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        portfolio_ids = portfolio_ids.exclude(pk__in=EquitySnapshot.objects.filter(
            reason=EquitySnapshot.Reason.DAY_CLOSE, taken_at__gte=midnight).values("portfolio_id"))
    taken = 0
    for portfolio_id in portfolio_ids.iterator():
        with transaction.atomic():
            portfolio = portfolio_get(portfolio_id=portfolio_id, for_update=True)
            equity_snapshot_take(portfolio=portfolio, now=now, reason=reason)
        taken += 1
    return taken


# --- writes for the apps above (derivatives): they call these instead of saving portfolios' rows ---


def portfolio_cash_post(*, portfolio: Portfolio, amount: Decimal, kind: str, reference: str = "",
                        description: str = "") -> LedgerEntry:
    """ledger_post one cash movement that is not part of a fill (a liquidation fee) and save the cash.

    Call inside the transaction holding the portfolio row lock."""
    entry = ledger_post(portfolio=portfolio, amount=amount, kind=kind, reference=reference, description=description)
    portfolio.save(update_fields=["cash", "updated_at"])
    return entry


def position_funding_book(*, portfolio: Portfolio, position: Position, amount: Decimal, description: str) -> None:
    """Book one funding payment of a perpetual position: `amount` to the portfolio's cash (negative
    when it pays) through the ledger, the opposite to the position's funding_paid; then the
    POSITION_SAVED hooks, PositionUpdate ("funding") and PortfolioUpdate.

    Call inside the transaction holding the portfolio row lock and the position's row lock."""
    ledger_post(portfolio=portfolio, amount=amount, kind=LedgerEntry.Kind.FUNDING, reference=str(position.pk),
                description=description)
    portfolio.save(update_fields=["cash", "updated_at"])
    position.funding_paid = quantize_money(position.funding_paid - amount)
    position.save(update_fields=["funding_paid", "updated_at"])
    hooks.position_saved(position)
    events.position_changed(position, "funding")
    events.portfolio_changed(portfolio)


def position_margin_added_set(*, position: Position, margin_added: Decimal) -> None:
    """Store the margin an isolated position holds beyond its initial margin (added or removed by
    its owner, or what a partial liquidation leaves backing the rest), then run the POSITION_SAVED hooks.

    Call inside the transaction holding the portfolio row lock and the position's row lock."""
    position.margin_added = quantize_money(margin_added)
    position.save(update_fields=["margin_added", "updated_at"])
    hooks.position_saved(position)


def positions_liquidation_price_store(*, positions: list[Position]) -> None:
    """Save the liquidation price set on each of these positions (derived from the portfolio's
    margin: no hook runs, the margin refresh that derived it is the caller).

    Call inside the transaction holding their portfolio's row lock."""
    if positions:
        Position.objects.bulk_update(positions, ["liquidation_price"])


def portfolio_margin_used_store(*, portfolio: Portfolio, margin_used: Decimal) -> None:
    """Save the initial margin the portfolio's margined positions hold, when it changed.

    Call inside the transaction holding the portfolio row lock."""
    if portfolio.margin_used != margin_used:
        portfolio.margin_used = margin_used
        Portfolio.objects.filter(pk=portfolio.pk).update(margin_used=margin_used)


def positions_adl_score_store(*, positions: list[Position]) -> None:
    """Save the auto-deleveraging score and quantile set on each of these positions (a ranking
    refreshed every minute; no lock: the next refresh rewrites it, and nothing else writes them)."""
    Position.objects.bulk_update(positions, ["adl_score", "adl_quantile"])
