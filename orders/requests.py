"""Order requests: one order, or the exit legs of an OCO pair or bracket, as a client asked for it,
and the rules of their shape (which types take which prices, GTD needs an expiry, post-only is for
limits, a stop-loss is a stop or a trail).

The services check these themselves (order_place, oco_place, bracket_place), so every door, the
REST API, strategies, copy trading or an Alpaca-shaped API, gets the same refusals; a serializer
only parses. Each refusal is a DomainError naming its code and the field (the REST payload's
path) at fault, the first fault only.
"""
import dataclasses
from datetime import datetime
from decimal import Decimal

from haunt.errors import DomainError
from orders.models import OrderType, Side, TimeInForce, TriggerSource

LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)
STOP_TYPES = (OrderType.STOP, OrderType.TAKE_PROFIT, OrderType.STOP_LIMIT)
BRACKET_ENTRY_TYPES = (OrderType.MARKET, OrderType.LIMIT)
MARGIN_MODES = ("", "cross", "isolated")


@dataclasses.dataclass(frozen=True)
class OrderRequest:
    """One order as the client asked for it; validate() says whether its shape holds together."""

    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    time_in_force: str = TimeInForce.GTC
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    trigger_source: str = "last"
    expires_at: datetime | None = None
    client_order_id: str = ""
    reduce_only: bool = False
    post_only: bool = False
    tags: tuple[str, ...] = ()
    lot_ids: tuple[int, ...] = ()  # lots a closing order closes first (specific identification)
    leverage: Decimal | None = None  # None: the position's, or the portfolio's default for the class
    margin_mode: str = ""  # cross or isolated for a new position; blank: cross

    def validate(self) -> None:
        """Raise DomainError for the first rule of an order's shape this request breaks. What
        depends on the instrument or the account (lot and tick grid, session, risk) is checked
        at placement."""
        for name, choices in (("side", Side.values), ("order_type", OrderType.values),
                              ("time_in_force", TimeInForce.values), ("trigger_source", TriggerSource.values),
                              ("margin_mode", MARGIN_MODES)):
            _check_choice(name, getattr(self, name), choices)
        _check_positive("quantity", self.quantity)
        for name in ("limit_price", "stop_price", "trail_amount", "trail_percent", "leverage"):
            _check_positive(name, getattr(self, name))
        if self.trail_percent is not None and self.trail_percent >= 100:
            raise DomainError("trail_percent must be below 100.", code="max_value", field="trail_percent")
        if self.time_in_force == TimeInForce.GTD and self.expires_at is None:
            raise DomainError("A GTD order needs expires_at.", code="required", field="expires_at")
        if self.time_in_force != TimeInForce.GTD and self.expires_at is not None:
            raise DomainError("Only GTD orders take expires_at.", code="not_allowed", field="expires_at")
        order_type = self.order_type
        if order_type in LIMIT_TYPES and self.limit_price is None:
            raise DomainError(f"A {order_type} order needs limit_price.", code="required", field="limit_price")
        if order_type not in LIMIT_TYPES and self.limit_price is not None:
            raise DomainError(f"A {order_type} order takes no limit_price.", code="not_allowed", field="limit_price")
        if order_type in STOP_TYPES and self.stop_price is None:
            raise DomainError(f"A {order_type} order needs stop_price.", code="required", field="stop_price")
        if order_type not in STOP_TYPES and self.stop_price is not None:
            raise DomainError(f"A {order_type} order takes no stop_price.", code="not_allowed", field="stop_price")
        trails = [name for name in ("trail_amount", "trail_percent") if getattr(self, name) is not None]
        if order_type == OrderType.TRAILING_STOP and len(trails) != 1:
            raise DomainError("A trailing stop needs exactly one of trail_amount or trail_percent.", code="required",
                              field="trail_amount")
        if order_type != OrderType.TRAILING_STOP and trails:
            raise DomainError("Only trailing stops take a trail.", code="not_allowed", field=trails[0])
        if self.post_only and order_type != OrderType.LIMIT:
            raise DomainError("Only limit orders can be post-only.", code="not_allowed", field="post_only")

    def validate_as_bracket_entry(self) -> None:
        """The rules of a bracket's entry: those of any order, and it is a market or limit order
        naming no lots (its exits close what it opens)."""
        if self.lot_ids:
            raise DomainError("Only a simple order can name lots.", code="not_allowed", field="lot_ids")
        if self.order_type not in BRACKET_ENTRY_TYPES:
            raise DomainError("A bracket entry is a market or limit order.", code="not_allowed", field="order_type")
        self.validate()


@dataclasses.dataclass(frozen=True)
class ExitLegs:
    """The take-profit limit and the stop leg (stop, stop limit or trailing stop) of an OCO or bracket."""

    take_profit_price: Decimal
    stop_price: Decimal | None = None
    stop_limit_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None

    def validate(self) -> None:
        """Raise DomainError unless the stop leg is a stop (stop_price, and a limit for a stop
        limit) or a trailing stop (one trail and no prices). Fields are named as the REST payload
        nests them (stop_loss.stop_price)."""
        _check_positive("take_profit.limit_price", self.take_profit_price)
        for name, value in (("stop_price", self.stop_price), ("limit_price", self.stop_limit_price),
                            ("trail_amount", self.trail_amount), ("trail_percent", self.trail_percent)):
            _check_positive(f"stop_loss.{name}", value)
        trails = [name for name in ("trail_amount", "trail_percent") if getattr(self, name) is not None]
        if len(trails) > 1:
            raise DomainError("Give one trail: amount or percent.", code="not_allowed",
                              field="stop_loss.trail_percent")
        if self.trail_percent is not None and self.trail_percent >= 100:
            raise DomainError("trail_percent must be below 100.", code="max_value", field="stop_loss.trail_percent")
        if trails and (self.stop_price is not None or self.stop_limit_price is not None):
            raise DomainError("A trailing stop-loss takes no stop_price or limit_price.", code="not_allowed",
                              field=f"stop_loss.{trails[0]}")
        if not trails and self.stop_price is None:
            raise DomainError("A stop-loss needs stop_price (or a trail).", code="required",
                              field="stop_loss.stop_price")


def _check_choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise DomainError(f'"{value}" is not a valid choice.', code="invalid_choice", field=name)


def _check_positive(name: str, value: Decimal | None) -> None:
    if value is not None and value <= 0:
        raise DomainError(f"{name} must be positive.", code="min_value", field=name)
