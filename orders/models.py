import uuid

from django.db import models
from django.db.models import F, Q

from haunt.fields import money_field, price_field, quantity_field
from haunt.market import terms


class Side(models.TextChoices):
    BUY = terms.Side.BUY.value, "Buy"
    SELL = terms.Side.SELL.value, "Sell"


class OrderType(models.TextChoices):
    MARKET = "market", "Market"
    LIMIT = "limit", "Limit"
    STOP = "stop", "Stop loss (stop market)"
    TAKE_PROFIT = "take_profit", "Take profit"
    STOP_LIMIT = "stop_limit", "Stop limit"
    TRAILING_STOP = "trailing_stop", "Trailing stop"


class TimeInForce(models.TextChoices):
    GTC = "gtc", "Good till cancelled"
    GTD = "gtd", "Good till date"
    IOC = "ioc", "Immediate or cancel"
    FOK = "fok", "Fill or kill"
    DAY = "day", "Day (instruments with trading hours)"


class TriggerSource(models.TextChoices):
    LAST = "last", "Last trade"
    MID = "mid", "Mid price"
    BID_ASK = "bid_ask", "Bid for sells, ask for buys"
    MARK = "mark", "Mark price (perpetuals; Binance's workingType MARK_PRICE)"


class OrderStatus(models.TextChoices):
    HELD = "held", "Held (bracket exit waiting for its entry)"
    ACCEPTED = "accepted", "Accepted"
    PENDING_TRIGGER = "pending_trigger", "Pending trigger"
    TRIGGERED = "triggered", "Triggered"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    REJECTED = "rejected", "Rejected"

    @classmethod
    def open(cls) -> tuple[str, ...]:
        return (cls.HELD, cls.ACCEPTED, cls.PENDING_TRIGGER, cls.TRIGGERED, cls.PARTIALLY_FILLED)


class OrderRole(models.TextChoices):
    SINGLE = "single", "Single order"
    OCO = "oco", "One-cancels-other leg"
    ENTRY = "entry", "Bracket entry"
    STOP_LOSS = "stop_loss", "Bracket / position stop loss"
    TAKE_PROFIT = "take_profit", "Bracket / position take profit"


class OrderQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OrderStatus.open())


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="orders")
    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="orders")
    client_order_id = models.CharField(max_length=64, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    order_type = models.CharField(max_length=16, choices=OrderType.choices)
    time_in_force = models.CharField(max_length=4, choices=TimeInForce.choices, default=TimeInForce.GTC)
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    reject_reason = models.CharField(max_length=200, blank=True)
    quantity = quantity_field()
    filled_quantity = quantity_field(default=0)
    average_fill_price = price_field(null=True, blank=True)
    limit_price = price_field(null=True, blank=True)
    stop_price = price_field(null=True, blank=True)
    trail_amount = price_field(null=True, blank=True)
    trail_percent = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    high_water_mark = price_field(null=True, blank=True)
    trigger_source = models.CharField(max_length=8, choices=TriggerSource.choices, default=TriggerSource.LAST)
    reduce_only = models.BooleanField(default=False)
    post_only = models.BooleanField(default=False)
    # Asked for with the order (None / blank: keep the position's, or the portfolio's default for a
    # new position); applied to the position when the order fills (derivatives app).
    leverage = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    margin_mode = models.CharField(max_length=8, blank=True)
    role = models.CharField(max_length=12, choices=OrderRole.choices, default=OrderRole.SINGLE)
    # OCO legs point at each other; bracket exits also point at their entry through `parent`.
    linked_order = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    group_id = models.UUIDField(null=True, blank=True, db_index=True)
    position = models.ForeignKey("portfolios.Position", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="exit_orders")
    realism_profile = models.CharField(max_length=24)
    arrival_price = price_field(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    execute_after = models.DateTimeField(null=True, blank=True)
    queue_ahead = quantity_field(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    # Specific identification: the PositionLot ids a closing order closes first (portfolios.lots).
    lot_ids = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    fees_paid = money_field(default=0)
    triggered_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["portfolio", "-created_at"], name="order_portfolio_created"),
            models.Index(fields=["status", "instrument"], name="order_status_instrument"),
            # The engine asks every tick which orders' latency has passed: only those rows are indexed.
            models.Index(fields=["execute_after"], name="order_due_execution",
                         condition=Q(execute_after__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "client_order_id"], condition=~Q(client_order_id=""),
                                    name="order_client_order_id_unique_per_portfolio"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=F("quantity")),
                                   name="order_filled_within_quantity"),
        ]

    def __str__(self):
        return f"{self.side} {self.quantity} {self.instrument_id} {self.order_type} ({self.status})"

    @property
    def remaining_quantity(self):
        return self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self.status in OrderStatus.open()


class OrderEvent(models.Model):
    """Append-only history of an order: creation, every modification, fill and status change."""

    class Kind(models.TextChoices):
        CREATED = "created"
        MODIFIED = "modified"
        TRIGGERED = "triggered"
        ACTIVATED = "activated"
        PARTIAL_FILL = "partial_fill"
        FILLED = "filled"
        CANCELLED = "cancelled"
        EXPIRED = "expired"
        REJECTED = "rejected"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class Trade(models.Model):
    """One fill: a book level walked, or a resting order's fill. Every trade has ledger entries."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="trades")
    portfolio = models.ForeignKey("portfolios.Portfolio", on_delete=models.CASCADE, related_name="trades")
    instrument = models.ForeignKey("market.Instrument", on_delete=models.PROTECT, related_name="trades")
    position = models.ForeignKey("portfolios.Position", null=True, on_delete=models.SET_NULL, related_name="trades")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = quantity_field()
    price = price_field()
    fee = money_field()
    slippage = money_field(default=0)
    liquidity = models.CharField(max_length=5, choices=[("maker", "Maker"), ("taker", "Taker")])
    realized_pnl = money_field(default=0)
    explanation = models.JSONField(default=dict)
    executed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["portfolio", "-executed_at"], name="trade_portfolio_executed"),
        ]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive")]
