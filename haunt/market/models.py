from django.db import models

from haunt.fields import price_field, quantity_field, rate_field
from haunt.market import terms


class AssetClass(models.TextChoices):
    CRYPTO_SPOT = terms.AssetClass.CRYPTO_SPOT.value, "Crypto spot"
    STOCK = terms.AssetClass.STOCK.value, "Stock"
    ETF = terms.AssetClass.ETF.value, "ETF"
    PERPETUAL = terms.AssetClass.PERPETUAL.value, "Perpetual future"
    OPTION = terms.AssetClass.OPTION.value, "Option"
    FOREX = terms.AssetClass.FOREX.value, "Forex"


class TradingHours(models.TextChoices):
    ALWAYS = "24/7", "24/7"
    NYSE = "nyse", "NYSE regular hours (America/New_York)"
    FOREX = "24/5", "24/5 (Sunday 17:00 to Friday 17:00 New York)"


class Instrument(models.Model):
    """A tradable instrument: the registry every order, position and quote refers to."""

    symbol = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    asset_class = models.CharField(max_length=16, choices=AssetClass.choices)
    base_currency = models.CharField(max_length=12)
    quote_currency = models.CharField(max_length=12)
    tick_size = price_field()
    lot_size = quantity_field()
    min_quantity = quantity_field()
    contract_multiplier = quantity_field(default=1)
    trading_hours = models.CharField(max_length=8, choices=TradingHours.choices)
    liquidity_tier = models.PositiveSmallIntegerField()
    # Annual rate a short position pays to borrow the asset, charged daily (0: no borrow, as for
    # forex and perpetuals, which carry rollover or funding instead).
    borrow_rate = rate_field(default=0)
    underlying = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="derivatives")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["asset_class", "symbol"]
        constraints = [
            models.CheckConstraint(condition=models.Q(tick_size__gt=0), name="instrument_tick_size_positive"),
            models.CheckConstraint(condition=models.Q(lot_size__gt=0), name="instrument_lot_size_positive"),
            models.CheckConstraint(condition=models.Q(liquidity_tier__gte=1, liquidity_tier__lte=3),
                                   name="instrument_liquidity_tier_1_to_3"),
        ]

    def __str__(self):
        return self.symbol


class Candle(models.Model):
    """One OHLCV bar. Resolution 60 s bars are recorded as ticks arrive; 3600 s bars hold the long
    history (the backfill's coarse part and a live rollup), so any window can be served cheaply."""

    class Resolution(models.IntegerChoices):
        MINUTE = 60, "1 minute"
        HOUR = 3600, "1 hour"

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="candles")
    resolution = models.PositiveIntegerField(choices=Resolution.choices)
    start = models.DateTimeField()
    open = price_field()
    high = price_field()
    low = price_field()
    close = price_field()
    volume = quantity_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument", "resolution", "start"], name="candle_unique_bar"),
        ]

    def __str__(self):
        return f"{self.instrument_id} {self.resolution}s {self.start:%Y-%m-%d %H:%M}"
