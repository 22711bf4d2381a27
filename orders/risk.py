"""Pre-trade checks (spec §4 advisory controls, plus buying power). Each advisory control has a
per-portfolio mode: `block` refuses the order, `warn` accepts it with a warning on the order."""
from datetime import UTC, timedelta
from decimal import ROUND_FLOOR, Decimal

import numpy as np
from django.core.cache import cache
from django.utils import timezone

from derivatives import margin
from derivatives.selectors import portfolio_margin
from haunt.errors import DomainError
from haunt.market import state
from haunt.market.models import Candle
from haunt.market.selectors import conversion_rate
from orders.market_view import live_prices
from portfolios.models import Position
from portfolios.risk_settings import leverage_default
from portfolios.selectors import open_position_in, portfolio_open_positions
from portfolios.valuation import buying_power_freed_by_closing, portfolio_valuation, position_mark


class RiskCheckFailed(DomainError):
    code = "risk_limit"


# Checks of an asset class's own for opening orders (option margin), registered by the app that
# owns the class in its AppConfig.ready; each raises RiskCheckFailed to refuse the order. They run
# at placement (`request` is the OrderRequest) and again when the order executes later (`request`
# is the Order: side and limit_price alike), see asset_class_checks_at_execution.
ASSET_CLASS_CHECKS: dict[str, list] = {}


# Instrument asset classes as the margin tables name them (spec §3).
MARGIN_CLASS = {"perpetual": "crypto_perpetual", "crypto_spot": "crypto_spot", "stock": "stock", "etf": "etf",
                "forex": "forex", "option": "option"}


def order_leverage(*, portfolio, instrument, request, position) -> Decimal:
    """The leverage an opening order trades at: the one it asks for, else the position's it adds to,
    else the portfolio's default for the asset class."""
    if request.leverage is not None:
        return request.leverage
    if position is not None:
        return position.leverage
    return leverage_default(defaults=portfolio.default_leverage, asset_class=instrument.asset_class)


def _order_price(request, prices) -> Decimal | None:
    if request.limit_price is not None:
        return request.limit_price
    if request.stop_price is not None:
        return request.stop_price
    if prices is None:
        return None
    quoted = prices["ask"] if request.side == "buy" else prices["bid"]
    return quoted if quoted is not None else prices["last"]


def pre_trade_checks(*, portfolio, instrument, request, prices, protective_stop: Decimal | None = None) -> list[dict]:
    """Refuse (raise) or annotate (return warnings for) an order before it is accepted.

    `protective_stop` is the stop an entry comes with (a bracket's stop-loss): with it, the order's
    risk — its loss if the stop is hit — is checked against risk_per_trade_pct.
    """
    position = open_position_in(portfolio, instrument.pk)
    same_side = position is not None and (position.side == Position.Direction.LONG) == (request.side == "buy")
    closing = Decimal(0) if position is None or same_side else min(position.quantity, request.quantity)
    opening = request.quantity - closing
    if request.reduce_only and (position is None or same_side or opening > 0):
        raise RiskCheckFailed("A reduce-only order may only shrink an open position, never open or grow one.",
                              code="reduce_only_would_increase", field="quantity")
    if opening == 0:
        return []
    for check in ASSET_CLASS_CHECKS.get(instrument.asset_class, ()):
        check(portfolio=portfolio, instrument=instrument, request=request, prices=prices, opening=opening)
    if request.margin_mode and same_side and request.margin_mode != position.margin_mode:
        raise RiskCheckFailed(f"The open {instrument.symbol} position is {position.margin_mode} margin; close it "
                              "before switching its margin mode.", code="margin_mode_locked", field="margin_mode")
    leverage = order_leverage(portfolio=portfolio, instrument=instrument, request=request,
                              position=position if same_side else None)

    price = _order_price(request, prices)
    warnings: list[dict] = []
    settings = portfolio.risk_settings
    valuation = portfolio_valuation(portfolio)  # once: every check below reads it
    available = valuation.buying_power
    if price is not None:
        held_notional = (position.quantity if same_side else Decimal(0)) * price * instrument.contract_multiplier
        # Perpetuals: the tier of the whole position after the order caps its leverage (spec §6).
        margin.check_leverage(asset_class=margin.AssetClass(MARGIN_CLASS[instrument.asset_class]),
                              notional=held_notional + opening * price * instrument.contract_multiplier,
                              leverage=leverage)
        _check_final_warning(portfolio=portfolio, instrument=instrument, request=request,
                             position=position if same_side else None, leverage=leverage)
        # In the portfolio's base currency: prices are in the instrument's quote currency.
        rate = conversion_rate(from_currency=instrument.quote_currency, to_currency=portfolio.base_currency)
        price = price * rate
        notional = opening * price * instrument.contract_multiplier
        if closing:
            # A flip closes first: what the close frees (a long's sale proceeds) backs what it opens.
            side_sign = 1 if request.side == "sell" else -1
            available += buying_power_freed_by_closing(
                position, quantity=closing, cash_per_unit=side_sign * price * instrument.contract_multiplier,
                mark=position_mark(position, state.quote_read(instrument.symbol)), rate=rate)
        if notional / leverage > available:
            raise RiskCheckFailed(
                f"Order needs about {notional / leverage:.2f} of buying power"
                + (f" (margin at {leverage.normalize():f}x)" if leverage != 1 else "")
                + f"; {available:.2f} is available.",
                code="insufficient_buying_power", field="quantity")
        equity = valuation.equity
        if protective_stop is not None and equity > 0:
            risk = abs(price - protective_stop * rate) * opening * instrument.contract_multiplier
            risk_pct = risk / equity * 100
            limit = Decimal(str(settings["risk_per_trade_pct"]))
            if risk_pct > limit:
                _violate(warnings, settings, "risk_per_trade_pct",
                         f"Stopped out, this order loses {risk_pct:.2f}% of equity; the limit is {limit}%.")
        held = position.quantity if same_side else Decimal(0)
        size_pct = (held + opening) * price * instrument.contract_multiplier / equity * 100 if equity > 0 else None
        limit = Decimal(str(settings["max_position_size_pct"]))
        if size_pct is None or size_pct > limit:
            _violate(warnings, settings, "max_position_size_pct",
                     f"The position would be {size_pct:.2f}% of equity; the limit is {limit}%." if size_pct is not None
                     else "The portfolio has no equity left.")
    _check_losses(portfolio=portfolio, equity=valuation.equity, warnings=warnings, settings=settings)
    if position is None:
        _check_correlation(portfolio=portfolio, instrument=instrument, warnings=warnings, settings=settings)
    if position is None or not same_side and opening > 0:
        open_count = len(portfolio_open_positions(portfolio))
        if position is None and open_count >= int(settings["max_open_positions"]):
            _violate(warnings, settings, "max_open_positions",
                     f"{open_count} positions are open; the limit is {settings['max_open_positions']}.")
    return warnings


def asset_class_checks_at_execution(*, portfolio, order, quantity: Decimal) -> None:
    """Run the order's asset-class checks again as `quantity` of it executes, on the part that
    opens or grows a position, at the live prices of that moment: an order that waited (placed
    while the market was closed, or a resting limit) was checked against the portfolio it was
    placed in, and a short option it sells must still be covered by the margin left now.
    Raises RiskCheckFailed. Classes without checks pay one dictionary lookup."""
    checks = ASSET_CLASS_CHECKS.get(order.instrument.asset_class)
    if not checks:
        return
    position = open_position_in(portfolio, order.instrument_id)
    same_side = position is not None and (position.side == Position.Direction.LONG) == (order.side == "buy")
    opening = quantity - (Decimal(0) if position is None or same_side else min(position.quantity, quantity))
    if opening <= 0:
        return
    prices = live_prices(order.instrument.symbol)
    for check in checks:
        check(portfolio=portfolio, instrument=order.instrument, request=order, prices=prices, opening=opening)


def _check_final_warning(*, portfolio, instrument, request, position, leverage: Decimal) -> None:
    """Spec §4: past the final liquidation warning (95% of maintenance margin use unless the
    portfolio's ladder says otherwise) a margined position, or the cross pool, takes no new exposure."""
    isolated = position.margin_mode == "isolated" if position is not None else request.margin_mode == "isolated"
    margined = isolated or leverage != 1 or instrument.asset_class == "perpetual"
    if not margined or (isolated and position is None):
        return  # a new isolated position brings its own margin
    account = portfolio_margin(portfolio)
    ratio = account.position(position.pk).margin_ratio if isolated else account.cross_margin_ratio
    ladder = portfolio.risk_settings.get("liquidation_warning_ladder") or ["95"]
    final = Decimal(str(ladder[-1])) / 100
    if ratio >= final:
        raise RiskCheckFailed(
            f"Margin use is {min(ratio, Decimal(999)) * 100:.2f}% of maintenance, past the final warning at "
            f"{final * 100:.0f}%: only orders that reduce exposure are accepted.",
            code="margin_final_warning", field="quantity")


def _check_losses(*, portfolio, equity: Decimal, warnings: list[dict], settings: dict) -> None:
    """Daily loss limit and drawdown stop, from the figures the equity snapshots keep on the
    portfolio. P&L is equity − invested, so a top-up is never mistaken for a gain or a loss."""
    pnl_now = equity - portfolio.starting_balance - portfolio.total_topups
    today = timezone.now().astimezone(UTC).date()
    if portfolio.day_start_date == today and portfolio.day_start_equity > 0:
        loss_pct = (portfolio.day_start_pnl - pnl_now) / portfolio.day_start_equity * 100
        limit = Decimal(str(settings["daily_loss_limit_pct"]))
        if loss_pct >= limit:
            _violate(warnings, settings, "daily_loss_limit_pct",
                     f"Today's loss is {loss_pct:.2f}% of the day's opening equity; the limit is {limit}%.")
    peak_pnl = max(portfolio.peak_pnl, pnl_now)
    peak_equity = portfolio.starting_balance + portfolio.total_topups + peak_pnl
    if peak_equity > 0:
        drawdown_pct = (peak_pnl - pnl_now) / peak_equity * 100
        limit = Decimal(str(settings["drawdown_stop_pct"]))
        if drawdown_pct >= limit:
            _violate(warnings, settings, "drawdown_stop_pct",
                     f"The portfolio is {drawdown_pct:.2f}% below its equity peak; the stop is {limit}%.")


CORRELATION_DAYS = 30
CORRELATION_CACHE_SECONDS = 3600


def daily_returns(instrument_id: int, *, now) -> np.ndarray:
    """Log returns of daily closes over the last CORRELATION_DAYS, from hourly candles (cached)."""
    key = f"risk:daily-returns:{instrument_id}:{now:%Y%m%d}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    closes: dict = {}
    for start, close in (Candle.objects.filter(instrument_id=instrument_id, resolution=3600,
                                               start__gte=now - timedelta(days=CORRELATION_DAYS))
                         .order_by("start").values_list("start", "close")):
        closes[start.date()] = float(close)
    series = np.diff(np.log(np.array(list(closes.values())))) if len(closes) > 2 else np.array([])
    cache.set(key, series, CORRELATION_CACHE_SECONDS)
    return series


def _check_correlation(*, portfolio, instrument, warnings: list[dict], settings: dict) -> None:
    """A new position whose daily returns move with an open one's (above the threshold) is flagged."""
    now = timezone.now()
    threshold = float(settings["correlation_warning_threshold"])
    mine = daily_returns(instrument.pk, now=now)
    for other_id, symbol in [(position.instrument_id, position.instrument.symbol)
                             for position in portfolio_open_positions(portfolio)]:
        theirs = daily_returns(other_id, now=now)
        length = min(len(mine), len(theirs))
        if length < 5:
            continue
        correlation = float(np.corrcoef(mine[-length:], theirs[-length:])[0, 1])
        if np.isfinite(correlation) and correlation > threshold:
            _violate(warnings, settings, "correlation_warning_threshold",
                     f"{instrument.symbol} has moved with your {symbol} position (daily return correlation "
                     f"{correlation:.2f} over {length} days; threshold {threshold}).")
            return


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
