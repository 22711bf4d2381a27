"""Realtime payloads of the derivatives app; sent only from derivatives.services, on commit."""
from haunt.realtime import PORTFOLIO, POSITIONS, broadcast_on_commit


def margin_changed(portfolio, payload: dict) -> None:
    """MarginUpdate: the body of GET /api/portfolio/{id}/margin."""
    broadcast_on_commit(portfolio_id=portfolio.pk, stream=PORTFOLIO, event="MarginUpdate", data=payload)


def liquidation_warning(*, portfolio_id, payload: dict) -> None:
    """LiquidationWarning: a position's margin use crossed a threshold of the portfolio's ladder."""
    broadcast_on_commit(portfolio_id=portfolio_id, stream=POSITIONS, event="LiquidationWarning", data=payload)
