"""Pre-trade checks (spec §4 advisory controls, plus buying power). Each advisory control has a
per-portfolio mode: `block` refuses the order, `warn` accepts it with a warning on the order."""
from decimal import ROUND_FLOOR, Decimal

from haunt.errors import DomainError
from portfolios.models import Position
from portfolios.valuation import buying_power, portfolio_equity


class RiskCheckFailed(DomainError):
    code = "risk_limit"


def _order_price(request, prices) -> Decimal | None:
    if request.limit_price is not None:
        return request.limit_price
    if request.stop_price is not None:
        return request.stop_price
    if prices is None:
        return None
    quoted = prices["ask"] if request.side == "buy" else prices["bid"]
    return quoted if quoted is not None else prices["last"]


def pre_trade_checks(*, portfolio, instrument, request, prices) -> list[dict]:
    """Refuse (raise) or annotate (return warnings for) an order before it is accepted."""
    position = Position.objects.filter(portfolio=portfolio, instrument=instrument, status=Position.Status.OPEN).first()
    same_side = position is not None and (position.side == Position.Direction.LONG) == (request.side == "buy")
    closing = Decimal(0) if position is None or same_side else min(position.quantity, request.quantity)
    opening = request.quantity - closing
    if request.reduce_only and (position is None or same_side or opening > 0):
        raise RiskCheckFailed("A reduce-only order may only shrink an open position, never open or grow one.",
                              code="reduce_only_would_increase", field="quantity")
    if opening == 0:
        return []

    price = _order_price(request, prices)
    warnings: list[dict] = []
    settings = portfolio.risk_settings
    if price is not None:
        notional = opening * price * instrument.contract_multiplier
        if notional > buying_power(portfolio):
            raise RiskCheckFailed(
                f"Order needs about {notional:.2f} of buying power; {buying_power(portfolio):.2f} is available.",
                code="insufficient_buying_power", field="quantity")
        equity = portfolio_equity(portfolio)
        held = position.quantity if same_side else Decimal(0)
        size_pct = (held + opening) * price * instrument.contract_multiplier / equity * 100 if equity > 0 else None
        limit = Decimal(str(settings["max_position_size_pct"]))
        if size_pct is None or size_pct > limit:
            _violate(warnings, settings, "max_position_size_pct",
                     f"The position would be {size_pct:.2f}% of equity; the limit is {limit}%." if size_pct is not None
                     else "The portfolio has no equity left.")
    if position is None or not same_side and opening > 0:
        open_count = Position.objects.filter(portfolio=portfolio, status=Position.Status.OPEN).count()
        if position is None and open_count >= int(settings["max_open_positions"]):
            _violate(warnings, settings, "max_open_positions",
                     f"{open_count} positions are open; the limit is {settings['max_open_positions']}.")
    return warnings


def _violate(warnings: list[dict], settings: dict, control: str, message: str) -> None:
    if settings.get("modes", {}).get(control, "block") == "block":
        raise RiskCheckFailed(message, code=f"risk_{control}", field="quantity")
    warnings.append({"code": f"risk_{control}", "message": message})


def position_size(*, equity: Decimal, risk_pct: Decimal, entry_price: Decimal, stop_price: Decimal,
                  lot_size: Decimal, contract_multiplier: Decimal) -> dict:
    """The quantity whose loss from entry to stop is `risk_pct` of equity, rounded DOWN to the lot
    (never risk more than asked): quantity = equity × risk% / (|entry − stop| × multiplier)."""
    risk_per_unit = abs(entry_price - stop_price) * contract_multiplier
    if risk_per_unit == 0:
        raise DomainError("The stop must differ from the entry.", code="invalid_stop", field="stop_price")
    risk_amount = equity * risk_pct / 100
    lots = (risk_amount / risk_per_unit / lot_size).to_integral_value(rounding=ROUND_FLOOR)
    quantity = lots * lot_size
    return {"quantity": quantity, "risk_amount": f"{quantity * risk_per_unit:.8f}",
            "risk_per_unit": f"{risk_per_unit:f}", "notional": f"{quantity * entry_price * contract_multiplier:.8f}",
            "equity": f"{equity:.8f}", "risk_pct": f"{risk_pct:f}"}
