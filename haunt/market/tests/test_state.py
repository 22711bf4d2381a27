"""The live market state's one_market_instant(): repeated reads in one operation see one instant
and reach the cache once per key; writes made inside are seen; outside, every read is fresh."""
from django.core.cache import cache

from haunt.market import state


def quote(symbol: str, bid: str) -> dict:
    return {"symbol": symbol, "bid": bid, "ask": str(int(bid) + 1), "last": bid}


def book(symbol: str, bid: str) -> dict:
    return {"symbol": symbol, "bids": [[bid, "1"]], "asks": [[str(int(bid) + 1), "1"]]}


def publish(bid: str) -> None:
    state.market_state_write(quotes=[quote("ETH-USD", bid), quote("SOL-USD", bid)],
                             books=[book("ETH-USD", bid)], status={"timestamp": "t"})


class CountingCache:
    """Counts the keys the state module asks of the real cache (a backend's get_many may call its
    own get: those inner calls are not asked twice)."""

    def __init__(self, monkeypatch):
        self.keys: list[str] = []
        self.inside = False
        real_get, real_get_many = cache.get, cache.get_many

        def get(key, *args, **kwargs):
            if not self.inside:
                self.keys.append(key)
            return real_get(key, *args, **kwargs)

        def get_many(keys, *args, **kwargs):
            self.keys.extend(keys)
            self.inside = True
            try:
                return real_get_many(keys, *args, **kwargs)
            finally:
                self.inside = False

        monkeypatch.setattr(state.cache, "get", get)
        monkeypatch.setattr(state.cache, "get_many", get_many)


def test_reads_in_one_instant_see_the_first_read_and_ask_the_cache_once(monkeypatch):
    publish("100")
    asked = CountingCache(monkeypatch)

    with state.one_market_instant():
        assert state.quote_read("ETH-USD")["bid"] == "100"
        assert state.book_read("ETH-USD")["bids"] == [["100", "1"]]
        # The feed moves on in another process: this operation keeps its instant.
        cache.set(state.quote_key("ETH-USD"), quote("ETH-USD", "200"))
        cache.set(state.book_key("ETH-USD"), book("ETH-USD", "200"))
        assert state.quote_read("ETH-USD")["bid"] == "100"
        assert state.quotes_read(["ETH-USD", "SOL-USD"]) == {"ETH-USD": quote("ETH-USD", "100"),
                                                              "SOL-USD": quote("SOL-USD", "100")}
        assert state.book_read("ETH-USD")["bids"] == [["100", "1"]]
        assert state.book_read("ETH-USD")["bids"] == [["100", "1"]]
        assert state.quote_read("BTC-USD") is None
        assert state.quotes_read(["BTC-USD", "SOL-USD"]) == {"SOL-USD": quote("SOL-USD", "100")}

    assert sorted(asked.keys) == sorted([state.quote_key("ETH-USD"), state.quote_key("SOL-USD"),
                                         state.book_key("ETH-USD"), state.quote_key("BTC-USD")])
    assert state.quote_read("ETH-USD")["bid"] == "200"  # outside an instant every read is fresh
    assert state.book_read("ETH-USD")["bids"] == [["200", "1"]]


def test_quotes_published_inside_an_instant_are_what_it_reads_next():
    with state.one_market_instant():
        assert state.quote_read("AAPL  261218C00200000") is None
        state.market_quotes_write(quotes=[quote("AAPL  261218C00200000", "5")],
                                  books=[book("AAPL  261218C00200000", "5")])
        assert state.quote_read("AAPL  261218C00200000")["bid"] == "5"
        assert state.book_read("AAPL  261218C00200000")["asks"] == [["6", "1"]]
    assert state.quote_read("AAPL  261218C00200000")["bid"] == "5"


def test_a_nested_instant_shares_the_outer_one():
    publish("100")
    with state.one_market_instant():
        assert state.quote_read("ETH-USD")["bid"] == "100"
        with state.one_market_instant():
            publish("300")
            assert state.quote_read("ETH-USD")["bid"] == "300"  # written inside: seen
        cache.set(state.quote_key("ETH-USD"), quote("ETH-USD", "400"))
        assert state.quote_read("ETH-USD")["bid"] == "300"  # the inner block did not end the instant
