"""How a payload built as a plain dict, not through a serializer, writes numbers and instants as
JSON text: the same text the serializers write (haunt.api.fields, DRF's DateTimeField), so every
response renders a value one way. Pure: no Django, so pure payload builders use it too.

- A Decimal is a string in plain notation, never exponent notation (``1E+2`` is ``"100"``).
- A float result (numpy, scipy) is a decimal string rounded once, half-even, from its exact
  binary value: the rule of ``haunt.money.from_float``.
- A figure that is undefined (None, NaN, ±infinity) is ``null``.
- An instant is ISO 8601 in UTC with a ``Z``.
"""
import math
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from haunt.money import quantum


def decimal_text(value: Decimal | None, places: int | None = None) -> str | None:
    """``value`` in plain notation: rounded half-even to exactly ``places`` decimals when given
    (``decimal_text(Decimal("1.005"), 2) == "1.00"``), else every digit it holds; None is null."""
    if value is None:
        return None
    if places is not None:
        value = value.quantize(quantum(places), rounding=ROUND_HALF_EVEN)
    return format(value, "f")


def trimmed_decimal_text(value: Decimal | None) -> str | None:
    """``value`` in plain notation without trailing zeros, for a quantity or a strike a person
    reads: ``Decimal("1.500")`` is ``"1.5"``, ``Decimal("100.00")`` is ``"100"``; None is null."""
    return None if value is None else format(value.normalize(), "f")


def float_text(value: float | None, places: int) -> str | None:
    """A float as a decimal string with exactly ``places`` decimals, rounded half-even from its
    exact binary value (Python's correctly rounded format); null when it is None or not finite.
    A value that rounds to zero is ``"0.000…"``, never ``"-0.000…"``."""
    if value is None:
        return None
    value = float(value)  # np.float32 is not a float subclass
    if not math.isfinite(value):
        return None
    text = f"{value:.{places}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def instant_text(moment: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 in UTC ending in ``Z``, as DRF's DateTimeField writes it."""
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
