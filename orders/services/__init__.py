"""Order writes: placement with pre-trade checks, execution against the live book, fills into
positions and the ledger, cancellation, modification, triggers and expiry, one module per topic.

Every function runs in one transaction that locks the portfolio row first, then the order and
position rows it changes, so two requests (or the API and the engine) can never fill an order
twice or spend the same cash twice. Events go out on commit (orders.events).

This package is the orders app's write interface: the names below are what the API, the engine,
tasks and the apps above (derivatives, options) call. The modules' underscored helpers are shared
within the package only.
"""
from orders.requests import ExitLegs, OrderRequest
from orders.services.cancellation import order_cancel
from orders.services.engine_actions import order_expire, order_fire, order_trade_through, order_trail
from orders.services.fills import order_execute_due
from orders.services.groups import bracket_place, oco_place
from orders.services.liquidation import order_liquidate, position_orders_cancel
from orders.services.modification import order_modify
from orders.services.placement import MarketClosed, order_place
from orders.services.positions import position_close, position_set_exits
from orders.services.reset import portfolio_reset_trading
from orders.services.settlement import order_settle_at_price

__all__ = [
    "ExitLegs", "MarketClosed", "OrderRequest", "bracket_place", "oco_place", "order_cancel", "order_execute_due",
    "order_expire", "order_fire", "order_liquidate", "order_modify", "order_place", "order_settle_at_price",
    "order_trade_through", "order_trail", "portfolio_reset_trading", "position_close", "position_orders_cancel",
    "position_set_exits",
]
