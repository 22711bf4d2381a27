"""JSON as the API reads it, from request bodies and WebSocket messages: with a bound on how deeply
a document may nest, and no string PostgreSQL cannot store.

Python's json module recurses once per level and raises RecursionError (a 500, or a crashed socket)
at about a thousand levels. No operation or message takes anything nested deeper than a few levels
(an order's legs are three), so a document deeper than MAX_JSON_DEPTH is refused as malformed
before anything walks it. A `\\ud800` escape without its pair decodes to a lone surrogate, which
cannot be encoded as UTF-8: PostgreSQL refuses it and so does the JSON renderer, so it is refused
here too. (orjson would refuse both itself, but reads an integer beyond 64 bits as a float, an
inexact value where the json module keeps the exact one.)
"""
import codecs
import json

from rest_framework import renderers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.settings import api_settings

MAX_JSON_DEPTH = 32


def json_loads(document: bytes | str):
    """The value `document` holds; ValueError if it is not JSON (NaN and Infinity are not), nests
    arrays and objects more than MAX_JSON_DEPTH levels, or holds an unpaired surrogate."""
    try:
        data = json.loads(document, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels.") from None
    problem = _structure_problem(data)
    if problem is not None:
        raise ValueError(problem)
    return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number.")


def _structure_problem(data) -> str | None:
    """Why `data` cannot be taken (too deep, a string that is not valid Unicode), or None.
    Iterative, so it cannot itself run out of stack."""
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not _encodable(value):
                return "a string holds an unpaired surrogate."
            continue
        if isinstance(value, dict):
            if not all(_encodable(key) for key in value):
                return "a key holds an unpaired surrogate."
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth == MAX_JSON_DEPTH:
            return f"nested deeper than {MAX_JSON_DEPTH} levels."
        pending.extend((child, depth + 1) for child in children)
    return None


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class JSONParser(BaseParser):
    """DRF's JSONParser (same media type, same 400 parse_error) reading through json_loads."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or api_settings.DEFAULT_CHARSET or "utf-8"
        try:
            return json_loads(codecs.getreader(encoding)(stream).read())
        except (ValueError, LookupError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {exc}") from exc
