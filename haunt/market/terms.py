"""The trading vocabulary every layer shares: asset classes, the side of an order or fill, and the
side of a position (spec §2 "Asset Classes", §3). Pure: no Django. The models' TextChoices
(haunt.market.models.AssetClass, orders.models.Side, portfolios.models.Position.Direction) are
built from these values, so a stored value, an API value and a value in the arithmetic are one."""
from enum import StrEnum


class AssetClass(StrEnum):
    CRYPTO_SPOT = "crypto_spot"
    STOCK = "stock"
    ETF = "etf"
    PERPETUAL = "perpetual"
    OPTION = "option"
    FOREX = "forex"


class Side(StrEnum):
    """The side of an order or a fill."""

    BUY = "buy"
    SELL = "sell"


class PositionSide(StrEnum):
    """The side of a position; `sign` is what every P&L and margin formula multiplies by."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for a long, which gains when the price rises; −1 for a short."""
        return 1 if self is PositionSide.LONG else -1

    @classmethod
    def of_sign(cls, sign: int) -> "PositionSide":
        return cls.LONG if sign > 0 else cls.SHORT
