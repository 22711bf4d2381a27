"""Realtime payloads for options; called only from options_trading.services, on commit."""
from haunt.realtime import POSITIONS, broadcast_on_commit
from options_trading.serializers import OptionEventOut


def option_event(event) -> None:
    """OptionEvent (exercised, auto_exercised, assigned, early_assigned or expired_worthless) goes
    to the portfolio's positions stream, next to the PositionUpdate of the settled position."""
    broadcast_on_commit(portfolio_id=event.portfolio_id, stream=POSITIONS, event="OptionEvent",
                        data=dict(OptionEventOut(event).data), change=event.kind)
