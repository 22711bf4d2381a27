"""Realtime payloads for portfolios; called only from portfolios.services."""
from haunt.realtime import PORTFOLIO, POSITIONS, broadcast_on_commit
from portfolios.serializers import PortfolioOut, PositionOut


# Apps that add to PortfolioUpdate: callables (portfolio, its open positions or None when not at
# hand) -> dict of extra keys, or {} when they have nothing for this portfolio (options_trading adds
# its live Greeks).
PORTFOLIO_UPDATE_EXTRAS: list = []


def portfolio_changed(portfolio) -> None:
    """PortfolioUpdate carries the same body as GET /api/portfolio/{id}, plus what the registered
    extras add (`option_greeks` for a portfolio holding options)."""
    data = dict(PortfolioOut(portfolio).data)
    # The open positions a writer already holds (None: the extra reads what it needs itself).
    open_positions = getattr(portfolio, "open_positions", None)
    for extra in PORTFOLIO_UPDATE_EXTRAS:
        data.update(extra(portfolio, open_positions))
    broadcast_on_commit(portfolio_id=portfolio.pk, stream=PORTFOLIO, event="PortfolioUpdate", data=data)


def position_changed(position, change: str) -> None:
    """PositionUpdate with `change`: opened, increased, reduced, closed or flipped."""
    broadcast_on_commit(portfolio_id=position.portfolio_id, stream=POSITIONS, event="PositionUpdate",
                        data=dict(PositionOut(position).data), change=change)
