import uuid

from django.conf import settings
from django.db import models

from haunt.fields import money_field
from portfolios.risk_settings import default_leverage, default_risk_settings


class CostBasisMethod(models.TextChoices):
    FIFO = "fifo", "First in, first out"
    LIFO = "lifo", "Last in, first out"
    AVERAGE = "average", "Average cost"


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
    unrealized_pnl = money_field(default=0)
    realized_pnl = money_field(default=0)
    cost_basis_method = models.CharField(max_length=8, choices=CostBasisMethod.choices, default=CostBasisMethod.FIFO)
    risk_settings = models.JSONField(default=default_risk_settings)
    default_leverage = models.JSONField(default=default_leverage)
    strategy_tags = models.JSONField(default=list, blank=True)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    competition = models.ForeignKey("competitions.Competition", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="portfolios")
    is_archived = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    last_reset_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PortfolioQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"], name="portfolio_owner_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(starting_balance__gt=0), name="portfolio_starting_balance_positive"),
            models.CheckConstraint(condition=models.Q(total_topups__gte=0), name="portfolio_topups_not_negative"),
        ]

    def __str__(self):
        return f"{self.name} ({self.owner_id})"

    @property
    def is_competition(self) -> bool:
        return self.competition_id is not None


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
