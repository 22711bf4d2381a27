"""Order requests: one order, or the exit legs of an OCO pair or bracket, as a client asked for it."""
import dataclasses
from datetime import datetime
from decimal import Decimal

from orders.models import TimeInForce


@dataclasses.dataclass(frozen=True)
class OrderRequest:
    """One order as the client asked for it (validated for types and required fields)."""

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


@dataclasses.dataclass(frozen=True)
class ExitLegs:
    """The take-profit limit and the stop leg (stop, stop limit or trailing stop) of an OCO or bracket."""

    take_profit_price: Decimal
    stop_price: Decimal | None = None
    stop_limit_price: Decimal | None = None
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
