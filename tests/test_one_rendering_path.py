"""One rendering path (issue 13): every response and event payload of derivatives and
options_trading is written by an output serializer, and a decimal becomes a string only in a
serializer field (haunt.api.fields.DecimalOut and the shape fields), never by hand.

Three checks over the source:
1. every view answers `Response(<Thing>Out(...).data, ...)` (list views use serializer_class);
2. every event broadcasts `data=<Thing>Out(...).data`;
3. no module of the two apps formats a decimal by hand (an f-string spec such as `:f`, `:.2f` or
   `:,`, `format(x, "f")`, `"{:.2f}".format(x)`) except in prose a person reads — an exception's
   message, a log line, a `detail`, `description` or `name` text, a `__str__` — or in the functions allow-listed
   below with their reasons.
"""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("derivatives", "options_trading")

DECIMAL_SPEC = re.compile(r"^[+\- ]?\d*[,_]?(\.\d+)?[fFeEgG%]$|^[+\- ]?\d*[,_](\.\d+)?$")
PROSE_KEYWORDS = {"detail", "description", "name"}
PROSE_FUNCTIONS = {"__str__", "__repr__", "describe"}
LOGGING_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}

# (module, function): why its decimal strings are not a response's.
ALLOWED = {
    ("derivatives/services.py", "warning_ladder_set"):
        "the ladder is stored in risk_settings as percentages in the client's own digits, as every risk setting is",
    ("derivatives/services.py", "_partial_close"):
        "Liquidation.fills is stored JSON: the trades' quantities and prices at their stored digits",
    ("derivatives/services.py", "_takeover"):
        "Liquidation.fills is stored JSON: the trades' quantities and prices at their stored digits",
    ("derivatives/services.py", "_auto_deleverage"):
        "Liquidation.adl_counterparties is stored JSON: what each counterparty gave up, and at what price",
    ("options_trading/contracts.py", "option_symbol"):
        "the strike's digits inside a Deribit-style symbol, not a number in JSON",
    ("options_trading/alpaca.py", "_text"):
        "Alpaca's quotes enter the market state in the plain notation of every quote there (haunt.market serves it)",
}


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" not in relative and "/migrations/" not in relative:
                yield relative, ast.parse(path.read_text(), filename=relative)


def _is_out_data(node) -> bool:
    """`<Thing>Out(...).data`, or `dict(<Thing>Out(...).data)`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and node.args:
        node = node.args[0]
    return (isinstance(node, ast.Attribute) and node.attr == "data" and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id.endswith("Out"))


def _is_decimal_format(node) -> bool:
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        spec = "".join(part.value for part in node.format_spec.values if isinstance(part, ast.Constant))
        return bool(DECIMAL_SPEC.match(spec))
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "format" and len(node.args) == 2:
            spec = node.args[1]
            return isinstance(spec, ast.Constant) and bool(DECIMAL_SPEC.match(str(spec.value)))
        if (isinstance(node.func, ast.Attribute) and node.func.attr == "format"
                and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)):
            specs = re.findall(r"\{[^{}]*:([^{}]*)\}", node.func.value.value)
            return any(DECIMAL_SPEC.match(spec) for spec in specs)
    return False


def _is_prose(node) -> bool:
    if isinstance(node, ast.Raise):
        return True
    if isinstance(node, ast.keyword) and node.arg in PROSE_KEYWORDS:
        return True
    if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id in PROSE_KEYWORDS
                                            for target in node.targets):
        return True
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in PROSE_FUNCTIONS:
        return True
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOGGING_METHODS and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "logger")


def hand_formatted_decimals(module: str, tree: ast.AST, allowed_seen: set | None = None) -> list[str]:
    """`module:line in function` for each decimal formatted by hand outside prose and the allow-list
    (the allow-list entries it meets go into `allowed_seen`)."""
    found = []

    def visit(node, function: str | None, in_prose: bool):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        in_prose = in_prose or _is_prose(node)
        if _is_decimal_format(node) and not in_prose:
            if (module, function) not in ALLOWED:
                found.append(f"{module}:{node.lineno} in {function}")
            elif allowed_seen is not None:
                allowed_seen.add((module, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function, in_prose)

    visit(tree, None, False)
    return found


def test_every_view_answers_with_an_output_serializer():
    found = []
    for module, tree in _modules():
        if not module.endswith("/api.py"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Response":
                if not node.args or not _is_out_data(node.args[0]):
                    found.append(f"{module}:{node.lineno}")
    assert not found, f"Responses not written by a ...Out serializer: {found}"


def test_every_event_payload_is_an_output_serializers():
    broadcasts, found = 0, []
    for module, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "broadcast_on_commit":
                broadcasts += 1
                data = next((keyword.value for keyword in node.keywords if keyword.arg == "data"), None)
                if not module.endswith("/events.py") or data is None or not _is_out_data(data):
                    found.append(f"{module}:{node.lineno}")
    assert broadcasts >= 3  # MarginUpdate, LiquidationWarning, OptionEvent
    assert not found, f"Event payloads not written by a ...Out serializer in events.py: {found}"


def test_no_decimal_is_formatted_by_hand():
    allowed_seen = set()
    found = [place for module, tree in _modules() for place in hand_formatted_decimals(module, tree, allowed_seen)]
    assert not found, ("Decimals formatted by hand; render them with a serializer field from haunt.api.fields "
                       f"(or, for prose or stored data, say why in ALLOWED): {found}")
    stale = set(ALLOWED) - allowed_seen
    assert not stale, f"ALLOWED names functions that format nothing now: {stale}"


@pytest.mark.parametrize(("source", "expected"), [
    ('def rows(x):\n    return {"mid": f"{x:.3f}"}\n', ["planted.py:2 in rows"]),
    ('def rows(x):\n    return {"mid": format(x, "f")}\n', ["planted.py:2 in rows"]),
    ('def rows(x):\n    return {"mid": "{:,}".format(x)}\n', ["planted.py:2 in rows"]),
    ('def check(x):\n    raise ValueError(f"{x:.2f} is too much")\n', []),
    ('def label(x):\n    return f"{x:%d %b %Y} {x!r}"\n', []),
])
def test_the_check_finds_a_planted_hand_written_format(source, expected):
    assert hand_formatted_decimals("planted.py", ast.parse(source)) == expected
