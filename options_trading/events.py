"""Realtime payloads for options; called only from options_trading.services, on commit."""
from haunt.realtime import broadcast_on_commit, positions_group
from options_trading.serializers import OptionEventOut


def option_event(event) -> None:
    """OptionEvent (exercised, auto_exercised, assigned, early_assigned or expired_worthless) goes
    to the portfolio's positions stream, next to the PositionUpdate of the settled position."""
    broadcast_on_commit(group=positions_group(event.portfolio_id), event="OptionEvent",
                        data=dict(OptionEventOut(event).data), change=event.kind)
