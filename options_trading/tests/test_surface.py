"""The volatility surface and the quotes made around model prices (pure)."""
from decimal import Decimal

import numpy as np

from options_trading.surface import CRYPTO_SURFACE, EQUITY_SURFACE, implied_volatility_at, option_quotes

D = Decimal


def test_equity_surface_skews_to_puts_and_sits_in_contango():
    strikes = np.array([160.0, 200.0, 240.0])
    near = implied_volatility_at(shape=EQUITY_SURFACE, anchor=0.25, spot=200.0, strike=strikes, time_to_expiry=0.1,
                                 rate=0.0)
    assert near[0] > near[1] > near[2]  # downside strikes dearer
    atm = implied_volatility_at(shape=EQUITY_SURFACE, anchor=0.25, spot=200.0, strike=200.0,
                                time_to_expiry=np.array([0.02, 0.25, 2.0]), rate=0.0)
    assert atm[0] < atm[1] < atm[2] < 0.25  # rising towards the anchor
    # At the money forward, the short end is 85% of the anchor and converges with a 3-month constant.
    assert abs(float(atm[1]) - 0.25 * (1 - 0.15 * np.exp(-1))) < 1e-12


def test_crypto_surface_smiles_on_both_wings():
    vols = implied_volatility_at(shape=CRYPTO_SURFACE, anchor=0.5, spot=90000.0,
                                 strike=np.array([60000.0, 90000.0, 130000.0]), time_to_expiry=0.25, rate=0.0)
    assert vols[0] > vols[1] and vols[2] > vols[1]


def test_quotes_bracket_the_model_on_the_tick_and_widen_away_from_the_money():
    quotes = option_quotes(price=np.array([5.0, 5.0, 0.004]), vega=np.array([0.2, 0.2, 0.001]),
                           moneyness=np.array([0.0, 2.5, 4.0]), time_to_expiry=np.array([0.1, 0.1, 0.1]), tier=1,
                           tick_size=D("0.01"), lot_size=D(1))
    # At the money: half-spread ½ · 0.6 points · vega 0.2 · 1.1 = 0.066 → 4.93 / 5.07.
    assert (quotes.bids[0], quotes.asks[0]) == (D("4.93"), D("5.07"))
    assert quotes.asks[1] - quotes.bids[1] > quotes.asks[0] - quotes.bids[0]
    # A nearly worthless option is still bid one tick, offered above it.
    assert quotes.bids[2] == D("0.01") and quotes.asks[2] == D("0.02")
    assert quotes.level_lots.shape == (3, 5) and (quotes.level_lots[0] > quotes.level_lots[1]).all()
