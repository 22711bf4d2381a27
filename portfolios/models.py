import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from haunt.fields import money_field, price_field, quantity_field, rate_field
from haunt.market.terms import PositionSide
from portfolios.accounting import account
from portfolios.risk_settings import default_leverage, default_risk_settings


class CostBasisMethod(models.TextChoices):
    FIFO = "fifo", "First in, first out"
    LIFO = "lifo", "Last in, first out"
    AVERAGE = "average", "Average cost"
    HIFO = "hifo", "Highest in, first out"


class BaseCurrency(models.TextChoices):
    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"
    JPY = "JPY"
    CHF = "CHF"
    CAD = "CAD"
    AUD = "AUD"
    NZD = "NZD"
    BTC = "BTC"
    ETH = "ETH"


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    PUBLIC = "public", "Public"


class RealismProfile(models.TextChoices):
    """Names of the execution realism profiles (orders.execution.PROFILES holds their parameters)."""

    FRICTIONLESS = "frictionless", "Frictionless: fill at the touch, no slippage, no latency"
    REALISTIC = "realistic", "Realistic: walk the book, slippage formula, latency, queue position"
    THIN_BOOK = "thin_book", "Thin book: a quarter of the depth, twice the spread"
    STRESS = "stress", "Stress: a tenth of the depth, four times the spread, long latency"


class PortfolioQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_archived=False)


class Portfolio(models.Model):
    """A virtual trading account. `cash` always equals the sum of its ledger entries."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolios")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    base_currency = models.CharField(max_length=3, choices=BaseCurrency.choices, default=BaseCurrency.USD)
    starting_balance = money_field()
    cash = money_field()
    total_topups = money_field(default=0)
    margin_used = money_field(default=0)
    realized_pnl = money_field(default=0)
    cost_basis_method = models.CharField(max_length=8, choices=CostBasisMethod.choices, default=CostBasisMethod.FIFO)
    risk_settings = models.JSONField(default=default_risk_settings)
    default_leverage = models.JSONField(default=default_leverage)
    strategy_tags = models.JSONField(default=list, blank=True)
    # Analytics settings: the instrument returns are compared with (blank: BTC-USD for a crypto-only
    # portfolio, SPY otherwise) and the annual risk-free rate of Sharpe, Sortino and alpha.
    benchmark_symbol = models.CharField(max_length=32, blank=True)
    risk_free_rate = rate_field(default=0)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    realism_profile = models.CharField(max_length=16, choices=RealismProfile.choices, default=RealismProfile.REALISTIC)
    simulate_latency = models.BooleanField(default=True)
    # A competition portfolio (spec §10): its entry, and so which competition, is the competitions
    # app's (CompetitionEntry); portfolios' own rules read only this flag.
    is_competition = models.BooleanField(default=False)
    is_archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    last_reset_at = models.DateTimeField(null=True, blank=True)
    # Kept by every equity snapshot so the risk checks read them without scanning history:
    # the best P&L (equity − invested) since the last reset, and the UTC day's first snapshot.
    peak_pnl = money_field(default=0)
    day_start_date = models.DateField(null=True, blank=True)
    day_start_equity = money_field(default=0)
    day_start_pnl = money_field(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PortfolioQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="portfolio_owner_created"),
            # The derivatives watcher re-reads the accounts changed since its last refresh, every second.
            models.Index(fields=["updated_at"], name="portfolio_updated"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(starting_balance__gt=0), name="portfolio_starting_balance_positive"),
            models.CheckConstraint(condition=models.Q(total_topups__gte=0), name="portfolio_topups_not_negative"),
        ]

    def __str__(self):
        return f"{self.name} ({self.owner_id})"

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        # The open positions a writer read once (portfolios.selectors.portfolio_open_positions) are
        # as stale as the rest of the row was.
        self.__dict__.pop("open_positions", None)


class LedgerEntry(models.Model):
    """One cash movement. Append-only: rows are inserted by portfolios.services.ledger_post and never
    changed, so a portfolio's cash can always be re-derived from its history."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Initial deposit"
        TOPUP = "topup", "Top-up"
        RESET = "reset", "Reset to starting balance"
        TRADE = "trade", "Trade settlement"
        FEE = "fee", "Trading fee"
        FUNDING = "funding", "Funding payment"
        BORROW_FEE = "borrow_fee", "Short borrow fee"
        LIQUIDATION = "liquidation", "Liquidation"
        COPY_FEE = "copy_fee", "Copy-trading fee"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = money_field()
    balance_after = money_field()
    reference = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["portfolio", "-id"], name="ledger_portfolio_seq")]

    def __str__(self):
        return f"{self.portfolio_id} {self.kind} {self.amount}"


class MarginMode(models.TextChoices):
    CROSS = account.MarginMode.CROSS.value, "Cross: shares the portfolio's equity"
    ISOLATED = account.MarginMode.ISOLATED.value, "Isolated: its own margin, the most it can lose"


class Position(models.Model):
    class Direction(models.TextChoices):
        LONG = PositionSide.LONG.value, "Long"
        SHORT = PositionSide.SHORT.value, "Short"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="positions")
    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="positions")
    side = models.CharField(max_length=5, choices=Direction.choices)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    quantity = quantity_field()
    average_entry_price = price_field()
    cost_basis = money_field()
    realized_pnl = money_field(default=0)
    fees_paid = money_field(default=0)
    borrow_fees_paid = money_field(default=0)
    stop_loss = price_field(null=True, blank=True)
    take_profit = price_field(null=True, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # The record a closed position keeps (its `quantity` is then 0): the size its fills closed and
    # their average exit price; `average_entry_price` becomes the average entry of that size.
    closed_quantity = quantity_field(default=0)
    average_exit_price = price_field(null=True, blank=True)
    borrow_accrued_until = models.DateTimeField(null=True, blank=True)
    # Margin (spec §3, §6; derivatives app). Leverage 1 on a non-perpetual is a plain cash position.
    # An isolated position's collateral is cost_basis / leverage + margin_added (what the owner
    # added or removed since); a cross position draws on the portfolio's free equity.
    leverage = models.DecimalField(max_digits=6, decimal_places=2, default=1)
    margin_mode = models.CharField(max_length=8, choices=MarginMode.choices, default=MarginMode.CROSS)
    margin_added = money_field(default=0)
    liquidation_price = price_field(null=True, blank=True)
    funding_paid = money_field(default=0)  # net funding paid (negative: received)
    adl_score = models.FloatField(null=True, blank=True)
    adl_quantile = models.PositiveSmallIntegerField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["portfolio", "status"], name="position_portfolio_status"),
            # The derivatives watcher re-reads the positions changed since its last refresh, every second.
            models.Index(fields=["updated_at"], name="position_updated"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "instrument"], condition=Q(status="open"),
                                    name="position_one_open_per_instrument"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="position_quantity_not_negative"),
        ]

    def __str__(self):
        return f"{self.side} {self.quantity} {self.instrument_id} ({self.status})"

    @property
    def is_margined(self) -> bool:
        """Whether its margin is notional / leverage, with a maintenance margin to watch (the account
        core's rule: a perpetual, above 1x, or isolated)."""
        return account.is_margined(asset_class=self.instrument.asset_class, leverage=self.leverage,
                                   margin_mode=self.margin_mode)


class PositionLot(models.Model):
    """An open tax lot: what is left of one opening fill, with its price and date."""

    position = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="lots")
    trade = models.ForeignKey("orders.Trade", on_delete=models.PROTECT, related_name="lots")
    quantity = quantity_field()
    original_quantity = quantity_field()
    price = price_field()
    open_fee = money_field(default=0)
    opened_at = models.DateTimeField()

    class Meta:
        ordering = ["opened_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=0), name="lot_quantity_not_negative")]


class LotDisposal(models.Model):
    """Part of a lot closed by a trade: the realized gain or loss and its holding period."""

    lot = models.ForeignKey(PositionLot, on_delete=models.PROTECT, related_name="disposals")
    trade = models.ForeignKey("orders.Trade", on_delete=models.PROTECT, related_name="disposals")
    quantity = quantity_field()
    open_price = price_field()
    close_price = price_field()
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField()
    realized_pnl = money_field()
    open_fee = money_field(default=0)
    close_fee = money_field(default=0)
    is_long_term = models.BooleanField()


class EquitySnapshot(models.Model):
    """A portfolio's equity at one instant: after every fill and top-up, hourly and at each UTC day
    close (beat jobs). `invested` is the starting balance plus top-ups at that moment; `cash_flow` is
    the external money (top-up +, withdrawal −) that arrived with this snapshot and is already in its
    equity, so time-weighted returns never count a deposit as profit."""

    class Reason(models.TextChoices):
        OPENED = "opened", "Portfolio opened"
        FILL = "fill", "After a fill"
        SCHEDULED = "scheduled", "Scheduled"
        DAY_CLOSE = "day_close", "UTC day close"
        TOPUP = "topup", "After a top-up"
        RESET = "reset", "After a reset"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="equity_snapshots")
    taken_at = models.DateTimeField()
    equity = money_field()
    cash = money_field()
    invested = money_field()
    cash_flow = money_field(default=0)
    reason = models.CharField(max_length=10, choices=Reason.choices)

    class Meta:
        indexes = [models.Index(fields=["portfolio", "taken_at"], name="snapshot_portfolio_time")]
