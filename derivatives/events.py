"""Realtime payloads of the derivatives app; sent only from derivatives.services, on commit."""
from haunt.realtime import broadcast_on_commit, portfolio_group, positions_group


def margin_changed(portfolio, payload: dict) -> None:
    """MarginUpdate: the body of GET /api/portfolio/{id}/margin."""
    broadcast_on_commit(group=portfolio_group(portfolio.pk), event="MarginUpdate", data=payload)


def liquidation_warning(*, portfolio_id, payload: dict) -> None:
    """LiquidationWarning: a position's margin use crossed a threshold of the portfolio's ladder."""
    broadcast_on_commit(group=positions_group(portfolio_id), event="LiquidationWarning", data=payload)
