from django.db import models
from django.db.models import Q

from haunt.fields import money_field, price_field, quantity_field


class OptionType(models.TextChoices):
    CALL = "call", "Call"
    PUT = "put", "Put"


class ExerciseStyle(models.TextChoices):
    AMERICAN = "american", "American (exercise any time)"
    EUROPEAN = "european", "European (exercise at expiry only)"


class Settlement(models.TextChoices):
    PHYSICAL = "physical", "Physical delivery of the underlying"
    CASH = "cash", "Cash settlement"


class OptionContract(models.Model):
    """The terms of one listed option. Its `instrument` is the market registry row (asset class
    option) that orders, trades and positions refer to, so options trade through the order path."""

    instrument = models.OneToOneField("market.Instrument", on_delete=models.PROTECT, related_name="option_contract")
    underlying = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="option_contracts")
    option_type = models.CharField(max_length=4, choices=OptionType.choices)
    style = models.CharField(max_length=8, choices=ExerciseStyle.choices)
    settlement = models.CharField(max_length=8, choices=Settlement.choices)
    strike = price_field()
    expiry = models.DateField()
    expires_at = models.DateTimeField()
    multiplier = quantity_field()
    # Set once the contract has been through expiry processing (exercised, assigned or worthless).
    settled_at = models.DateTimeField(null=True, blank=True)
    settlement_price = price_field(null=True, blank=True)

    class Meta:
        ordering = ["underlying_id", "expiry", "strike", "option_type"]
        indexes = [
            models.Index(fields=["underlying", "expiry"], name="option_contract_chain"),
            models.Index(fields=["expires_at"], name="option_contract_unsettled",
                         condition=Q(settled_at__isnull=True)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["underlying", "expiry", "strike", "option_type"],
                                    name="option_contract_unique_terms"),
            models.CheckConstraint(condition=Q(strike__gt=0), name="option_contract_strike_positive"),
        ]

    def __str__(self):
        return self.instrument.symbol if self.instrument_id else f"{self.option_type} {self.strike} {self.expiry}"


class OptionSettings(models.Model):
    """A portfolio's options preferences (created on first change; absent means the defaults)."""

    portfolio = models.OneToOneField("portfolios.Portfolio", on_delete=models.CASCADE, related_name="option_settings")
    early_assignment = models.BooleanField(default=True)


class OptionEvent(models.Model):
    """An exercise, assignment or expiry applied to a position: what happened, at what price."""

    class Kind(models.TextChoices):
        EXERCISED = "exercised", "Exercised by the holder"
        AUTO_EXERCISED = "auto_exercised", "Exercised automatically at expiry"
        ASSIGNED = "assigned", "Assigned at expiry"
        EARLY_ASSIGNED = "early_assigned", "Assigned before expiry"
        EXPIRED_WORTHLESS = "expired_worthless", "Expired worthless"

    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="option_events")
    contract = models.ForeignKey(OptionContract, on_delete=models.PROTECT, related_name="events")
    position = models.ForeignKey("portfolios.Position", on_delete=models.PROTECT, related_name="option_events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    quantity = quantity_field()
    underlying_price = price_field()
    # Cash the event moved: the strike paid or received on delivery, or the cash settlement.
    cash_amount = money_field()
    option_order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    delivery_order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["portfolio", "-created_at"], name="option_event_portfolio")]
