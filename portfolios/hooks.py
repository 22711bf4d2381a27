"""Hooks through which the apps above portfolios follow its writes and add to what it shows (style
guide §3.15): portfolios cannot import the apps that care, so it calls what they registered, from
their AppConfig.ready().

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


# COMPETITION_OF holds callables (portfolio) -> the id of the competition the portfolio is entered
# in, or None. `competition_of` asks them only for a portfolio whose is_competition is set, so an
# ordinary portfolio costs no query; the competitions app registers the lookup of its entries.
COMPETITION_OF: list[Callable] = []


def competition_of(portfolio):
    """The id of the competition `portfolio` is entered in (PortfolioOut's `competition`), or None."""
    if not portfolio.is_competition:
        return None
    for lookup in COMPETITION_OF:
        competition_id = lookup(portfolio)
        if competition_id is not None:
            return competition_id
    return None
