"""Hooks through which the apps above portfolios follow its writes (style guide §3.15): portfolios
cannot import the apps that care, so it calls what they registered, from their AppConfig.ready().

POSITION_SAVED holds callables (position) -> None, run by `position_saved` after every write of a
position row by a portfolios service: a fill (position_apply_fill: opened, increased, reduced,
closed, flipped), a reset's wipe (positions_wipe), a borrow fee, new exit prices, a funding payment
(position_funding_book) and margin added or removed (position_margin_added_set). Each runs inside
the writer's transaction, under the portfolio row lock, with the position as saved; a hook that
needs the committed state defers its work with transaction.on_commit. derivatives registers its
margin refresh here (liquidation prices, margin used, margin_history, MarginUpdate).
"""
from collections.abc import Callable

POSITION_SAVED: list[Callable] = []


def position_saved(position) -> None:
    """Run every POSITION_SAVED hook for `position`, which a portfolios write has just saved."""
    for hook in POSITION_SAVED:
        hook(position)

