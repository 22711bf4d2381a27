"""The rules docs/testing.md gives for the guide's examples, checked on small cases."""
from pathlib import Path

from tests.e2e.doc_examples import examples, shape_mismatches


def test_a_bash_block_reaching_the_server_is_an_example_and_the_json_right_after_it_its_answer(tmp_path):
    guide = Path(tmp_path / "guide.md")
    guide.write_text(
        "```shell\nmake run   # serves http://127.0.0.1:8000\n```\n\n"
        "```bash\ncurl -s http://127.0.0.1:8000/api/health\n```\n\n```json\n{\"status\": \"ok\"}\n```\n\n"
        "```bash\ncurl -s http://127.0.0.1:8000/api/schema/\n```\nProse.\n```json\n{\"not\": \"its answer\"}\n```\n")
    found = examples(guide)
    assert [(example.line, example.answer) for example in found] == [(5, {"status": "ok"}), (13, None)]


def test_market_values_are_compared_by_kind_and_words_exactly():
    documented = {"symbol": "BTC-USD", "bid": "66691.17", "timestamp": "2026-11-24T10:29:56.828237Z",
                  "id": "bb219634-5331-4aae-acbe-ace613a9d51f", "option": "AAPL  261218C00200000",
                  "size": 3, "open": True, "seq": None, "...": "(trimmed)"}
    actual = {"symbol": "BTC-USD", "bid": "70000.01", "timestamp": "2026-12-08T00:00:00Z",
              "id": "ff3bc766-9cce-4f1a-92c6-dafd0c97ce02", "option": "AAPL  261211C00312500",
              "size": 12, "open": False, "seq": 14, "extra": 1}
    assert shape_mismatches(documented, actual) == []
    assert shape_mismatches(documented, {**actual, "symbol": "ETH-USD", "bid": None}) == [
        "$.symbol: 'ETH-USD', documented 'BTC-USD'", "$.bid: expected a string like '66691.17', got None"]
    assert shape_mismatches({"a": 1}, {}) == ["$: no key 'a' (keys: [])"]


def test_a_list_placeholder_with_a_count_fixes_the_length():
    documented = [{"start": "2026-08-26T00:00:00Z"}, "... 2 more", {"start": "2026-11-24T00:00:00Z"}]
    bars = [{"start": f"2026-11-2{day}T00:00:00Z"} for day in range(4)]
    assert shape_mismatches(documented, bars) == []
    assert shape_mismatches(documented, bars[:3]) == ["$: 3 elements, documented 4"]
    assert shape_mismatches(["a", "... and the rest"], ["a", "b", "c"]) == []
    assert shape_mismatches(["a"], ["a", "b"]) == ["$: 2 elements, documented 1"]
    assert shape_mismatches("/api/journal/5b0d.../attachments/0f6a...", "/api/journal/85d0-ea/attachments/92b2") == []
