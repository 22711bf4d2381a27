"""Realtime payloads for portfolios; called only from portfolios.services."""
from haunt.realtime import broadcast_on_commit, portfolio_group, positions_group
from portfolios.serializers import PortfolioOut, PositionOut


def portfolio_changed(portfolio) -> None:
    """PortfolioUpdate carries the same body as GET /api/portfolio/{id}."""
    broadcast_on_commit(group=portfolio_group(portfolio.pk), event="PortfolioUpdate",
                        data=dict(PortfolioOut(portfolio).data))


def position_changed(position, change: str) -> None:
    """PositionUpdate with `change`: opened, increased, reduced, closed or flipped."""
    broadcast_on_commit(group=positions_group(position.portfolio_id), event="PositionUpdate",
                        data=dict(PositionOut(position).data), change=change)
