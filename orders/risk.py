"""Pre-trade checks (spec §4 advisory controls, plus buying power). Each advisory control has a
per-portfolio mode: `block` refuses the order, `warn` accepts it with a warning on the order.

The checks are named functions, one rule each, run in the order of ORDER_CHECKS over an OrderCheck
(what every rule reads about the order, its position and the portfolio). The margin and buying-power
arithmetic is the account core's (portfolios.accounting)."""
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import cached_property

import numpy as np
from django.core.cache import cache
from django.utils import timezone

from haunt.errors import DomainError
from haunt.market import state
from haunt.market.models import Candle
from haunt.market.selectors import conversion_rate
from haunt.market.terms import AssetClass, Side
from orders.market_view import live_prices
from portfolios.accounting.account import AccountMargin, MarginMode, is_margined, pnl_since_invested
from portfolios.accounting.margin import check_leverage, initial_margin
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
    quoted = prices["ask"] if request.side == Side.BUY else prices["bid"]
    return quoted if quoted is not None else prices["last"]


@dataclass
class OrderCheck:
    """An order being checked, with what the checks read about it. `position` is the open position in
    the instrument (either side); `held` is the one the order adds to, if it does. Of the order's
    quantity, `closing` closes the opposite position first and `opening` opens or grows one."""

    portfolio: object
    instrument: object
    request: object
    prices: dict | None
    protective_stop: Decimal | None
    position: Position | None
    warnings: list[dict] = field(default_factory=list)

    @cached_property
    def same_side(self) -> bool:
        return self.position is not None and (self.position.side == Position.Direction.LONG) == (
            self.request.side == Side.BUY)

    @cached_property
    def held(self) -> Position | None:
        return self.position if self.same_side else None

    @cached_property
    def closing(self) -> Decimal:
        if self.position is None or self.same_side:
            return Decimal(0)
        return min(self.position.quantity, self.request.quantity)

    @cached_property
    def opening(self) -> Decimal:
        return self.request.quantity - self.closing

    @cached_property
    def leverage(self) -> Decimal:
        return order_leverage(portfolio=self.portfolio, instrument=self.instrument, request=self.request,
                              position=self.held)

    @cached_property
    def price(self) -> Decimal | None:
        """The price the order is expected to trade at, in the instrument's quote currency."""
        return _order_price(self.request, self.prices)

    @cached_property
    def rate(self) -> Decimal:
        """The instrument's quote currency in the portfolio's base currency."""
        return conversion_rate(from_currency=self.instrument.quote_currency, to_currency=self.portfolio.base_currency)

    @cached_property
    def base_price(self) -> Decimal:
        """`price` in the portfolio's base currency."""
        return self.price * self.rate

    @cached_property
    def valuation(self) -> AccountMargin:
        """The portfolio at the live marks (the account core's figures), read once for every check."""
        return portfolio_valuation(self.portfolio)

    @cached_property
    def settings(self) -> dict:
        return self.portfolio.risk_settings

    @cached_property
    def multiplier(self) -> Decimal:
        return self.instrument.contract_multiplier


def check_reduce_only(order: OrderCheck) -> None:
    if order.request.reduce_only and (order.position is None or order.same_side or order.opening > 0):
        raise RiskCheckFailed("A reduce-only order may only shrink an open position, never open or grow one.",
                              code="reduce_only_would_increase", field="quantity")


def check_asset_class_rules(order: OrderCheck) -> None:
    for check in ASSET_CLASS_CHECKS.get(order.instrument.asset_class, ()):
        check(portfolio=order.portfolio, instrument=order.instrument, request=order.request, prices=order.prices,
              opening=order.opening)


def check_margin_mode_unchanged(order: OrderCheck) -> None:
    request, position = order.request, order.position
    if request.margin_mode and order.same_side and request.margin_mode != position.margin_mode:
        raise RiskCheckFailed(f"The open {order.instrument.symbol} position is {position.margin_mode} margin; close "
                              "it before switching its margin mode.", code="margin_mode_locked", field="margin_mode")


def check_leverage_allowed(order: OrderCheck) -> None:
    """Perpetuals: the tier of the whole position after the order caps its leverage (spec §6)."""
    if order.price is None:
        return
    held = order.held.quantity if order.held is not None else Decimal(0)
    check_leverage(asset_class=AssetClass(order.instrument.asset_class),
                   notional=held * order.price * order.multiplier + order.opening * order.price * order.multiplier,
                   leverage=order.leverage)


def check_final_margin_warning(order: OrderCheck) -> None:
    """Spec §4: past the final liquidation warning (95% of maintenance margin use unless the
    portfolio's ladder says otherwise) a margined position, or the cross pool, takes no new exposure."""
    if order.price is None:
        return
    position = order.held
    margin_mode = position.margin_mode if position is not None else order.request.margin_mode
    isolated = margin_mode == MarginMode.ISOLATED
    margined = is_margined(asset_class=order.instrument.asset_class, leverage=order.leverage,
                           margin_mode=MarginMode.ISOLATED if isolated else MarginMode.CROSS)
    if not margined or (isolated and position is None):
        return  # a new isolated position brings its own margin
    account = order.valuation
    ratio = account.position(position.pk).margin_ratio if isolated else account.cross_margin_ratio
    ladder = order.settings.get("liquidation_warning_ladder") or ["95"]
    final = Decimal(str(ladder[-1])) / 100
    if ratio >= final:
        raise RiskCheckFailed(
            f"Margin use is {min(ratio, Decimal(999)) * 100:.2f}% of maintenance, past the final warning at "
            f"{final * 100:.0f}%: only orders that reduce exposure are accepted.",
            code="margin_final_warning", field="quantity")


def check_buying_power(order: OrderCheck) -> None:
    """The margin the opening part needs (notional / leverage) must be within buying power. A flip
    closes first: what the close frees (a long's sale proceeds) backs what it opens."""
    if order.price is None:
        return
    available = order.valuation.buying_power
    if order.closing:
        side_sign = 1 if order.request.side == Side.SELL else -1
        available += buying_power_freed_by_closing(
            order.position, quantity=order.closing, cash_per_unit=side_sign * order.base_price * order.multiplier,
            mark=position_mark(order.position, state.quote_read(order.instrument.symbol)), rate=order.rate)
    leverage = order.leverage
    required = initial_margin(notional=order.opening * order.base_price * order.multiplier, leverage=leverage)
    if required > available:
        raise RiskCheckFailed(
            f"Order needs about {required:.2f} of buying power"
            + (f" (margin at {leverage.normalize():f}x)" if leverage != 1 else "")
            + f"; {available:.2f} is available.",
            code="insufficient_buying_power", field="quantity")


def check_risk_per_trade(order: OrderCheck) -> None:
    """With a protective stop (a bracket's stop-loss), the order's loss if the stop is hit, as a share
    of equity, is held to risk_per_trade_pct."""
    equity = order.valuation.equity
    if order.price is None or order.protective_stop is None or equity <= 0:
        return
    risk = abs(order.base_price - order.protective_stop * order.rate) * order.opening * order.multiplier
    risk_pct = risk / equity * 100
    limit = Decimal(str(order.settings["risk_per_trade_pct"]))
    if risk_pct > limit:
        _violate(order, "risk_per_trade_pct",
                 f"Stopped out, this order loses {risk_pct:.2f}% of equity; the limit is {limit}%.")


def check_position_size(order: OrderCheck) -> None:
    if order.price is None:
        return
    equity = order.valuation.equity
    held = order.held.quantity if order.held is not None else Decimal(0)
    size_pct = (held + order.opening) * order.base_price * order.multiplier / equity * 100 if equity > 0 else None
    limit = Decimal(str(order.settings["max_position_size_pct"]))
    if size_pct is None or size_pct > limit:
        _violate(order, "max_position_size_pct",
                 f"The position would be {size_pct:.2f}% of equity; the limit is {limit}%." if size_pct is not None
                 else "The portfolio has no equity left.")


def _pnl_now(order: OrderCheck) -> Decimal:
    portfolio = order.portfolio
    return pnl_since_invested(equity=order.valuation.equity,
                              invested=portfolio.starting_balance + portfolio.total_topups)


def check_daily_loss(order: OrderCheck) -> None:
    """Daily loss limit, from the day's opening figures the equity snapshots keep on the portfolio."""
    portfolio = order.portfolio
    today = timezone.now().astimezone(UTC).date()
    if portfolio.day_start_date == today and portfolio.day_start_equity > 0:
        loss_pct = (portfolio.day_start_pnl - _pnl_now(order)) / portfolio.day_start_equity * 100
        limit = Decimal(str(order.settings["daily_loss_limit_pct"]))
        if loss_pct >= limit:
            _violate(order, "daily_loss_limit_pct",
                     f"Today's loss is {loss_pct:.2f}% of the day's opening equity; the limit is {limit}%.")


def check_drawdown(order: OrderCheck) -> None:
    """Drawdown stop, from the P&L peak the equity snapshots keep on the portfolio."""
    portfolio = order.portfolio
    pnl_now = _pnl_now(order)
    peak_pnl = max(portfolio.peak_pnl, pnl_now)
    peak_equity = portfolio.starting_balance + portfolio.total_topups + peak_pnl
    if peak_equity > 0:
        drawdown_pct = (peak_pnl - pnl_now) / peak_equity * 100
        limit = Decimal(str(order.settings["drawdown_stop_pct"]))
        if drawdown_pct >= limit:
            _violate(order, "drawdown_stop_pct",
                     f"The portfolio is {drawdown_pct:.2f}% below its equity peak; the stop is {limit}%.")


def check_correlation(order: OrderCheck) -> None:
    """A new position whose daily returns move with an open one's (above the threshold) is flagged."""
    if order.position is not None:
        return
    now = timezone.now()
    settings = order.settings
    threshold = float(settings["correlation_warning_threshold"])
    mine = daily_returns(order.instrument.pk, now=now)
    for other_id, symbol in [(position.instrument_id, position.instrument.symbol)
                             for position in portfolio_open_positions(order.portfolio)]:
        theirs = daily_returns(other_id, now=now)
        length = min(len(mine), len(theirs))
        if length < 5:
            continue
        correlation = float(np.corrcoef(mine[-length:], theirs[-length:])[0, 1])
        if np.isfinite(correlation) and correlation > threshold:
            _violate(order, "correlation_warning_threshold",
                     f"{order.instrument.symbol} has moved with your {symbol} position (daily return correlation "
                     f"{correlation:.2f} over {length} days; threshold {threshold}).")
            return


def check_open_positions(order: OrderCheck) -> None:
    """A new position may not take the count of open positions past max_open_positions."""
    if order.position is not None:
        return
    open_count = len(portfolio_open_positions(order.portfolio))
    if open_count >= int(order.settings["max_open_positions"]):
        _violate(order, "max_open_positions",
                 f"{open_count} positions are open; the limit is {order.settings['max_open_positions']}.")


# Run in this order on an order that opens or grows a position (one that only closes is checked by
# check_reduce_only alone). A check refuses by raising RiskCheckFailed, or warns through _violate.
ORDER_CHECKS: tuple[Callable[[OrderCheck], None], ...] = (
    check_asset_class_rules,
    check_margin_mode_unchanged,
    check_leverage_allowed,
    check_final_margin_warning,
    check_buying_power,
    check_risk_per_trade,
    check_position_size,
    check_daily_loss,
    check_drawdown,
    check_correlation,
    check_open_positions,
)


def pre_trade_checks(*, portfolio, instrument, request, prices, protective_stop: Decimal | None = None) -> list[dict]:
    """Refuse (raise) or annotate (return warnings for) an order before it is accepted.

    `protective_stop` is the stop an entry comes with (a bracket's stop-loss): with it, the order's
    risk — its loss if the stop is hit — is checked against risk_per_trade_pct.
    """
    order = OrderCheck(portfolio=portfolio, instrument=instrument, request=request, prices=prices,
                       protective_stop=protective_stop, position=open_position_in(portfolio, instrument.pk))
    check_reduce_only(order)
    if order.opening == 0:
        return []
    for check in ORDER_CHECKS:
        check(order)
    return order.warnings


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
    same_side = position is not None and (position.side == Position.Direction.LONG) == (order.side == Side.BUY)
    opening = quantity - (Decimal(0) if position is None or same_side else min(position.quantity, quantity))
    if opening <= 0:
        return
    prices = live_prices(order.instrument.symbol)
    for check in checks:
        check(portfolio=portfolio, instrument=order.instrument, request=order, prices=prices, opening=opening)


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


def _violate(order: OrderCheck, control: str, message: str) -> None:
    if order.settings.get("modes", {}).get(control, "block") == "block":
        raise RiskCheckFailed(message, code=f"risk_{control}", field="quantity")
    order.warnings.append({"code": f"risk_{control}", "message": message})


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
