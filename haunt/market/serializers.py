from datetime import UTC, datetime

from rest_framework import serializers

from haunt.market.calendars import calendar_for
from haunt.market.models import Instrument


class InstrumentOut(serializers.ModelSerializer):
    underlying = serializers.SlugRelatedField(slug_field="symbol", read_only=True, allow_null=True,
                                              help_text="The underlying's symbol for derivatives; null for spot.")
    is_open = serializers.SerializerMethodField(help_text="Whether the instrument's session is open right now.")
    next_open = serializers.SerializerMethodField(help_text="Next session open (now, if open).")
    next_close = serializers.SerializerMethodField(help_text="End of the current or next session; null for 24/7 markets.")

    class Meta:
        model = Instrument
        fields = [
            "symbol", "name", "asset_class", "base_currency", "quote_currency", "tick_size", "lot_size",
            "min_quantity", "contract_multiplier", "trading_hours", "liquidity_tier", "underlying",
            "is_open", "next_open", "next_close",
        ]
        read_only_fields = fields

    def _now(self) -> datetime:
        return self.context.get("now") or datetime.now(UTC)

    def get_is_open(self, instrument) -> bool:
        return calendar_for(instrument.asset_class).is_open(self._now())

    def get_next_open(self, instrument) -> datetime:
        return calendar_for(instrument.asset_class).next_open(self._now())

    def get_next_close(self, instrument) -> datetime | None:
        return calendar_for(instrument.asset_class).next_close(self._now())


class QuoteOut(serializers.Serializer):
    """Documents the stored quote dict; the view returns the dict as the feed published it."""

    symbol = serializers.CharField()
    bid = serializers.DecimalField(max_digits=24, decimal_places=10, allow_null=True)
    ask = serializers.DecimalField(max_digits=24, decimal_places=10, allow_null=True)
    last = serializers.DecimalField(max_digits=24, decimal_places=10, allow_null=True)
    bid_size = serializers.DecimalField(max_digits=24, decimal_places=10, allow_null=True)
    ask_size = serializers.DecimalField(max_digits=24, decimal_places=10, allow_null=True)
    volume = serializers.DecimalField(max_digits=24, decimal_places=10, required=False,
                                      help_text="Quantity traded since the feed's previous update.")
    timestamp = serializers.DateTimeField()
    sources = serializers.ListField(child=serializers.CharField())
    is_open = serializers.BooleanField()


class OrderBookOut(serializers.Serializer):
    symbol = serializers.CharField()
    bids = serializers.ListField(child=serializers.ListField(child=serializers.CharField()),
                                 help_text="[[price, quantity], ...] best first")
    asks = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    timestamp = serializers.DateTimeField()
    sources = serializers.ListField(child=serializers.CharField())
    is_open = serializers.BooleanField()


class OrderBookIn(serializers.Serializer):
    depth = serializers.IntegerField(min_value=1, max_value=100, default=20)


EARLIEST_CANDLE_TIME = datetime(1970, 1, 1, tzinfo=UTC)


class CandlesIn(serializers.Serializer):
    interval = serializers.ChoiceField(["1m", "5m", "1h", "1d"], default="1m")
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)

    def validate_start(self, value: datetime) -> datetime:
        return _not_before_epoch(value)

    def validate_end(self, value: datetime) -> datetime:
        # Also keeps the default start (500 bars before end) inside the calendar: from year 1 it
        # would fall before datetime.min.
        return _not_before_epoch(value)


def _not_before_epoch(value: datetime) -> datetime:
    """Bars are keyed by their Unix time; none starts before the epoch."""
    if value < EARLIEST_CANDLE_TIME:
        raise serializers.ValidationError("Candles start at 1970-01-01T00:00:00Z.", code="min_value")
    return value


class CandleOut(serializers.Serializer):
    start = serializers.DateTimeField()
    open = serializers.CharField()
    high = serializers.CharField()
    low = serializers.CharField()
    close = serializers.CharField()
    volume = serializers.CharField()
