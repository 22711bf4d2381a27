"""Strategy reads: indicator series over the platform's candles."""
from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np

from haunt.api.formatting import float_text, instant_text
from haunt.errors import DomainError
from haunt.market.models import Instrument
from haunt.market.selectors import candle_bars_get
from haunt.money import places_of
from strategies.indicators import INDICATORS, IndicatorParameterError

# Indicator values are not prices a trade settles at, so they keep digits beyond the tick: a
# moving average of cent prices to 1/10000 of a cent, an oscillator to four places.
EXTRA_PRICE_PLACES = 4
INDEX_PLACES = 4


def indicator_series_get(*, instrument: Instrument, name: str, given_parameters: Mapping[str, str], interval: str,
                         now: datetime, start: datetime | None = None, end: datetime | None = None) -> dict:
    """The indicator over the bars the candles endpoint answers for the same interval and range:
    one entry per bar, oldest first, each output a decimal string or null during the warm-up."""
    spec = INDICATORS[name]
    try:
        parameters = spec.parameters_from(given_parameters)
    except IndicatorParameterError as error:
        raise DomainError(error.message, code=error.code, field=error.field) from None
    bars = candle_bars_get(instrument=instrument, interval=interval, now=now, start=start, end=end)
    series = {
        "time": np.array([bar.start for bar in bars], dtype=np.int64),
        **{field: np.array([float(getattr(bar, field)) for bar in bars])
           for field in ("open", "high", "low", "close", "volume")},
    }
    outputs = spec.compute(series, parameters)
    places = {"price": places_of(instrument.tick_size) + EXTRA_PRICE_PLACES, "index": INDEX_PLACES,
              "volume": places_of(instrument.lot_size)}
    columns = [(output_name, values.tolist(), places[unit]) for (output_name, unit), values in zip(spec.outputs, outputs,
                                                                                                   strict=True)]
    return {
        "symbol": instrument.symbol,
        "indicator": name,
        "interval": interval,
        "parameters": parameters,
        "outputs": [output_name for output_name, _ in spec.outputs],
        "values": [
            {"time": instant_text(datetime.fromtimestamp(bar.start, tz=UTC)),
             **{output_name: float_text(values[index], output_places) for output_name, values, output_places in columns}}
            for index, bar in enumerate(bars)
        ],
    }
