"""The OpenAPI schema documents the errors each operation can answer with, not only its success.

drf-spectacular lists the success response alone, so a client generated from the schema (or a
contract tester such as schemathesis) meets 400, 401, 404, 409 and 429 as undocumented statuses and
cannot type their body. Every error the API sends has one shape (haunt.api.exceptions), so each
operation gets the statuses it can produce, derived from what the operation takes:

- 400 when it takes a body or query parameters (validation, the domain's refusals);
- 401 when it requires authentication;
- 404 when its path names a resource, or when it requires authentication and takes a body or query
  parameters, which may name one (a portfolio: missing, or another user's);
- 409 when it writes (archived portfolio, market closed or unavailable, state conflicts), unless
  its view says it cannot conflict (`may_conflict = False`);
- 413 when it takes a body (larger than the 2.5 MB a body other than an upload may be);
- 415 when it takes a body (sent as a media type it does not parse);
- 429 when it is throttled.

Request bodies read by a StrictInput serializer say `additionalProperties: false`: such a body with
a field the serializer does not declare is refused (400 unknown_field), so the schema says so.

A status an operation declares itself (422 from the implied-volatility calculator, 401 for a wrong
password at login) keeps its own description.
"""
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from haunt.api.serializers import StrictInput

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: the field that is wrong, or the rule the request breaks.",
    "401": "Missing or invalid token.",
    "404": "No such resource, or it belongs to another user.",
    "409": "The request conflicts with the resource's current state.",
    "413": "The body is larger than allowed.",
    "415": "The body's media type is not one the operation parses.",
    "422": "Well-formed input that cannot be answered.",
    "429": "Too many requests; Retry-After says when to try again.",
}


class ErrorDetailOut(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable reason, e.g. insufficient_buying_power.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    field = serializers.CharField(allow_null=True, help_text="The input field at fault (dotted path), if any.")


class ErrorOut(serializers.Serializer):
    error = ErrorDetailOut()


def error_response(status: str, description: str | None = None) -> OpenApiResponse:
    """For @extend_schema(responses=…) on an operation that answers with a status the rules above
    do not derive, such as 422."""
    return OpenApiResponse(ErrorOut, description=description or ERROR_DESCRIPTIONS[status])


class HauntAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:  # excluded from the schema
            return None
        responses = operation["responses"]
        for status in self._error_statuses(operation):
            if status not in responses:
                responses[status] = self._get_response_for_code(error_response(status), status)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if "description" in schema and not type(serializer).__dict__.get("__doc__"):
            # drf-spectacular falls back to a base class's docstring: StrictInput's and FastOutput's
            # explain our implementation, not the component, and do not belong in the API docs.
            del schema["description"]
        if direction == "request" and isinstance(serializer, StrictInput):
            schema["additionalProperties"] = False
        return schema

    def _error_statuses(self, operation: dict) -> list[str]:
        locations = {parameter["in"] for parameter in operation.get("parameters", ())}
        security = operation.get("security", [])
        takes_input = "requestBody" in operation or "query" in locations
        authenticated = bool(security) and {} not in security
        statuses = []
        if takes_input:
            statuses.append("400")
        if authenticated:
            statuses.append("401")
        if "path" in locations or (authenticated and takes_input):
            statuses.append("404")
        if self.method in WRITE_METHODS and getattr(self.view, "may_conflict", True):
            statuses.append("409")
        if "requestBody" in operation:
            statuses.extend(("413", "415"))
        if self.view.get_throttles():
            statuses.append("429")
        return statuses
