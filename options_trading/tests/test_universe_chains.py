"""Every optionable underlying of the simulated universe gets a sane chain off the live feed."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from haunt.market.models import Instrument
from haunt.market.universe import UNIVERSE
from options_trading.contracts import contract_class
from options_trading.services import option_chain_build

FEED_TIME = datetime(2026, 11, 24, 15, 0, 1, tzinfo=UTC)  # the market_feed fixture's update


@pytest.fixture
def feed_clock(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: FEED_TIME)


def test_every_optionable_underlying_has_a_chain(market_feed, feed_clock):
    optionable = [spec.symbol for spec in UNIVERSE
                  if contract_class(symbol=spec.symbol, asset_class=spec.asset_class.value, spot=spec.initial_price)]
    assert len(optionable) == 12 + 7 + 3  # stocks, ETFs, BTC/ETH/SOL
    for symbol in optionable:
        chain = option_chain_build(underlying_symbol=symbol, expiry=None, strikes=8, now=FEED_TIME)
        assert len(chain["expirations"]) >= 16, symbol
        spot = Decimal(chain["spot"])
        rows = chain["contracts"]
        assert len(rows) == 16, symbol
        for row in rows:
            bid, ask, model = Decimal(row["bid"]), Decimal(row["ask"]), Decimal(row["model_price"])
            tick = Instrument.objects.get(symbol=row["symbol"]).tick_size
            # The bid never goes below one tick, even under a model price that does.
            assert Decimal(0) < bid < ask and model <= ask and (bid <= model or bid == tick), (symbol, row)
            assert abs(Decimal(row["strike"]) - spot) / spot < Decimal("0.15"), (symbol, row["strike"])
            sign = 1 if row["option_type"] == "call" else -1
            assert 0 <= sign * Decimal(row["delta"]) <= 1 and Decimal(row["gamma"]) >= 0
