"""Rows of the derivatives app: margin history, funding, the insurance fund and liquidations."""
from django.db import models

from haunt.fields import money_field, price_field, quantity_field, rate_field


class MarginEvent(models.Model):
    """margin_history: one change of a position's margin (or leverage, or mode) and why."""

    class Reason(models.TextChoices):
        OPENED = "opened", "Position opened"
        FILL = "fill", "A fill changed the position"
        ADDED = "added", "Margin added by the owner"
        REMOVED = "removed", "Margin removed by the owner"
        LIQUIDATION = "liquidation", "Liquidation"
        ADL = "adl", "Auto-deleveraged"
        CLOSED = "closed", "Position closed"

    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="margin_events")
    position = models.ForeignKey("portfolios.Position", on_delete=models.CASCADE, related_name="margin_events")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    margin_mode = models.CharField(max_length=8)
    leverage = models.DecimalField(max_digits=6, decimal_places=2)
    change = money_field()
    margin_after = money_field()
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["position", "-id"], name="margin_event_position_seq")]


class FundingRate(models.Model):
    """One funding settlement of a perpetual (00:00, 08:00, 16:00 UTC)."""

    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="funding_rates")
    funding_time = models.DateTimeField()
    rate = rate_field()
    average_premium = rate_field()
    samples = models.PositiveIntegerField()
    mark_price = price_field()
    index_price = price_field()
    settled_positions = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["instrument", "funding_time"], name="funding_rate_once")]
        indexes = [models.Index(fields=["instrument", "-funding_time"], name="funding_rate_symbol_time")]


class PremiumSample(models.Model):
    """The premium index of a perpetual at one instant (sampled every minute through the interval)."""

    instrument = models.ForeignKey("market.Instrument", on_delete=models.CASCADE, related_name="premium_samples")
    sampled_at = models.DateTimeField()
    premium = rate_field()
    index_price = price_field()
    book_mid = price_field()

    class Meta:
        indexes = [models.Index(fields=["instrument", "sampled_at"], name="premium_symbol_time")]


class FundingPayment(models.Model):
    """What one position paid (amount < 0) or received at one funding settlement."""

    funding_rate = models.ForeignKey(FundingRate, on_delete=models.PROTECT, related_name="payments")
    position = models.ForeignKey("portfolios.Position", on_delete=models.CASCADE, related_name="funding_payments")
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="funding_payments")
    side = models.CharField(max_length=5)
    quantity = quantity_field()
    mark_price = price_field()
    rate = rate_field()
    amount = money_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["funding_rate", "position"], name="funding_paid_once")]


class InsuranceFund(models.Model):
    """The virtual fund that absorbs liquidation losses beyond a position's collateral (one per currency)."""

    currency = models.CharField(max_length=12, unique=True)
    balance = money_field()
    updated_at = models.DateTimeField(auto_now=True)


class InsuranceFundEntry(models.Model):
    """Every contribution to, and payout from, the fund. Append-only; balance = sum of entries."""

    class Kind(models.TextChoices):
        SEED = "seed", "Opening balance"
        LIQUIDATION_FEE = "liquidation_fee", "Liquidation fee"
        TAKEOVER = "takeover", "Gain on closing a position taken over at its bankruptcy price"
        SHORTFALL = "shortfall", "Loss beyond a liquidated position's collateral"

    fund = models.ForeignKey(InsuranceFund, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = money_field()
    balance_after = money_field()
    liquidation = models.ForeignKey("Liquidation", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="fund_entries")
    created_at = models.DateTimeField(auto_now_add=True)


class Liquidation(models.Model):
    """One liquidation of (part of) a position."""

    class Kind(models.TextChoices):
        PARTIAL = "partial", "Partial: enough closed through the book to restore margin"
        FULL = "full", "Closed at the bankruptcy price, taken over by the insurance fund"

    position = models.ForeignKey("portfolios.Position", on_delete=models.PROTECT, related_name="liquidations")
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="liquidations")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    margin_mode = models.CharField(max_length=8)
    side = models.CharField(max_length=5)
    quantity = quantity_field()
    mark_price = price_field()
    bankruptcy_price = price_field(null=True, blank=True)
    margin_ratio = rate_field()
    fills = models.JSONField(default=list)  # [{"trade_id", "quantity", "price"}]
    realized_pnl = money_field()
    fee = money_field()
    fund_draw = money_field(default=0)
    uncovered = money_field(default=0)  # what the fund could not pay: recovered by ADL
    # The fund's takeover: the quantity it took at the bankruptcy price, and how much of it it closed
    # at the mark (close price) rather than against ADL counterparties.
    takeover_quantity = quantity_field(default=0)
    takeover_closed_quantity = quantity_field(default=0)
    takeover_close_price = price_field(null=True, blank=True)
    adl_counterparties = models.JSONField(default=list)  # [{"position_id", "portfolio_id", "quantity", "price", "score"}]
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["portfolio", "-created_at"], name="liquidation_portfolio_time")]
