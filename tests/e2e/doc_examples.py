"""The examples in README.md and docs/*.md, as a test runs them (the rules are in docs/testing.md).

A ```bash block that talks to http://127.0.0.1:8000 (or ws://) is an example: it runs, in document
order, in one shell per document. A ```json block right after it (nothing but blank lines between) is
its answer: the block's output must have that shape. ```shell blocks are shown, never run.
"""
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

DOCUMENTED_BASE = "127.0.0.1:8000"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
PLACEHOLDER_COUNT = re.compile(r"^\.\.\. (\d+) (?:more|earlier)")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OPTION_SYMBOL = re.compile(r"^([A-Z]{1,6} *\d{6}[CP]\d{8}|[A-Z]+-\d{1,2}[A-Z]{3}\d{2}-\d+(d\d+)?-[CP])$")  # OCC, Deribit
IDENTIFIER = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{40})$")
ABBREVIATED_ID = re.compile(r"[0-9a-f]{2,}\.\.\.")


@dataclass
class Example:
    document: str
    line: int
    script: str
    answer: object | None  # the documented JSON answer, None when the example shows none


def examples(path: Path) -> list[Example]:
    text = path.read_text()
    fences = list(FENCE.finditer(text))
    found = []
    for index, fence in enumerate(fences):
        language, body = fence.group(1), fence.group(2)
        if language != "bash" or f"//{DOCUMENTED_BASE}" not in body:
            continue
        answer = None
        following = fences[index + 1] if index + 1 < len(fences) else None
        if following and following.group(1) == "json" and not text[fence.end():following.start()].strip():
            answer = json.loads(following.group(2))
        found.append(Example(path.name, text.count("\n", 0, fence.start()) + 1, body, answer))
    return found


def last_json_value(output: str) -> object:
    decoder, position, value = json.JSONDecoder(), 0, None
    output = output.strip()
    while position < len(output):
        value, position = decoder.raw_decode(output, position)
        while position < len(output) and output[position].isspace():
            position += 1
    return value


def is_placeholder(value: object) -> bool:
    return isinstance(value, str) and value.startswith("...")


def shape_mismatches(documented: object, actual: object, where: str = "$") -> list[str]:
    """How `actual` differs from the documented answer. Market-dependent values are compared by kind:
    a number-like string must be a number-like string, a timestamp a timestamp, an id an id; other
    strings, such as statuses and names, must be equal. `"...": ...` in an object allows more keys;
    `"... N more"` in a list stands for N elements like the ones shown."""
    if documented is None or is_placeholder(documented):
        return []
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r:.80}"]
        problems = []
        for key, value in documented.items():
            if key == "...":
                continue
            if key not in actual:
                problems.append(f"{where}: no key {key!r} (keys: {sorted(actual)})")
            else:
                problems += shape_mismatches(value, actual[key], f"{where}.{key}")
        return problems
    if isinstance(documented, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {actual!r:.80}"]
        marker = next((index for index, item in enumerate(documented) if is_placeholder(item)), None)
        if marker is None:
            if len(actual) != len(documented):
                return [f"{where}: {len(actual)} elements, documented {len(documented)}"]
            pairs = zip(documented, actual)
        else:
            head, tail = documented[:marker], [item for item in documented[marker + 1:] if not is_placeholder(item)]
            count = PLACEHOLDER_COUNT.match(documented[marker])
            if count and len(actual) != len(head) + len(tail) + int(count.group(1)):
                return [f"{where}: {len(actual)} elements, documented {len(head) + len(tail) + int(count.group(1))}"]
            if len(actual) < len(head) + len(tail):
                return [f"{where}: {len(actual)} elements, documented at least {len(head) + len(tail)}"]
            pairs = [*zip(head, actual), *zip(tail, actual[len(actual) - len(tail):])]
        problems = []
        for index, (expected, got) in enumerate(pairs):
            problems += shape_mismatches(expected, got, f"{where}[{index}]")
        return problems
    if isinstance(documented, bool):
        return [] if isinstance(actual, bool) else [f"{where}: expected a boolean, got {actual!r}"]
    if isinstance(documented, int | float):
        ok = isinstance(actual, int | float) and not isinstance(actual, bool)
        return [] if ok else [f"{where}: expected a number, got {actual!r}"]
    if not isinstance(actual, str):
        return [f"{where}: expected a string like {documented!r}, got {actual!r:.80}"]
    if ABBREVIATED_ID.search(documented):  # "/api/journal/5b0d.../attachments/0f6a...": any ids there
        pattern = ABBREVIATED_ID.sub(lambda _: "[0-9a-f-]+", re.escape(documented).replace(r"\.\.\.", "..."))
        return [] if re.fullmatch(pattern, actual) else [f"{where}: {actual!r} is not like {documented!r}"]
    for kind in (ISO_DATETIME, ISO_DATE, OPTION_SYMBOL, IDENTIFIER):
        if kind.match(documented):
            return [] if kind.match(actual) or IDENTIFIER is kind else [f"{where}: {actual!r} is not like {documented!r}"]
    if is_decimal(documented):
        return [] if is_decimal(actual) else [f"{where}: {actual!r} is not a number like {documented!r}"]
    return [] if actual == documented else [f"{where}: {actual!r}, documented {documented!r}"]


def is_decimal(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text))
