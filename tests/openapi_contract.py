"""Every API response a test receives is checked against the published OpenAPI schema.

The test clients of the root conftest are ContractCheckedAPIClients, and the end-to-end
walkthrough's httpx client checks every response it receives from the real server the same way:
after each request to an operation the schema lists, the response's status must be one the
operation documents, and a JSON body must validate against the schema documented for that status
(OpenAPI 3.0 semantics, response direction: nullable, readOnly). The test clients also hold the
request to the schema when the API accepted it: a JSON body answered with 2xx must be one the
operation's documented request body allows (write direction), and its query parameters ones the
operation documents. So the whole suite, with its real orders, positions and errors, keeps the
schema honest: a client generated from it can send what the API takes and parse every answer we
give.
"""
import re
from functools import cache
from urllib.parse import parse_qsl

import orjson
from drf_spectacular.generators import SchemaGenerator
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from rest_framework.test import APIClient


class ContractViolation(AssertionError):
    pass


@cache
def api_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@cache
def _operation_paths() -> list[tuple[re.Pattern, str]]:
    """(regex, template) for every schema path; literal paths before templated ones, so
    /api/positions/size is not read as /api/positions/{id}."""
    paths = []
    for template in api_schema()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        paths.append((template.count("{"), re.compile(f"^{pattern}$"), template))
    return [(regex, template) for _, regex, template in sorted(paths, key=lambda entry: entry[0])]


def operation_for(method: str, path: str) -> tuple[str, dict] | None:
    for regex, template in _operation_paths():
        if regex.match(path):
            operation = api_schema()["paths"][template].get(method.lower())
            return (template, operation) if operation is not None else None
    return None


def _nullable_references(node):
    """drf-spectacular writes a nullable nested object as {"allOf": [{"$ref": …}], "nullable": true}.
    Strict OpenAPI 3.0.3 applies `nullable` only beside `type`, but generators (openapi-generator,
    Swagger UI) read this as "the object or null", and so does this check."""
    if isinstance(node, list):
        return [_nullable_references(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_references(value) for key, value in node.items()}
    if node.get("nullable") and "type" not in node:
        rest = {key: value for key, value in node.items() if key != "nullable"}
        return {"anyOf": [rest, {"enum": [None]}]}
    return node


@cache
def _checked_components() -> dict:
    return _nullable_references(api_schema()["components"])


def _first_violation(validator, instance) -> str | None:
    """Where and how `instance` breaks the schema (its first error by location), or None."""
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    if not errors:
        return None
    location = "/".join(str(part) for part in errors[0].absolute_path) or "(body)"
    return f"at {location}: {errors[0].message} ({len(errors)} error(s) in all)"


@cache
def _response_validator(template: str, method: str, status: str, media_type: str) -> OAS30ReadValidator:
    body = api_schema()["paths"][template][method]["responses"][status]["content"][media_type]["schema"]
    return OAS30ReadValidator({"components": _checked_components(), "allOf": [_nullable_references(body)]})


@cache
def _request_validator(template: str, method: str) -> OAS30WriteValidator | None:
    body = api_schema()["paths"][template][method].get("requestBody", {}).get("content", {}).get("application/json")
    if body is None:
        return None
    return OAS30WriteValidator({"components": _checked_components(), "allOf": [_nullable_references(body["schema"])]})


def check_response(method: str, path: str, response) -> None:
    """A Django test client's response."""
    check_answer(method, path, status_code=response.status_code, content_type=response.get("Content-Type", ""),
                 body=None if response.streaming else response.content)


def check_httpx_response(response) -> None:
    """An httpx response event hook, for the end-to-end tests' real HTTP clients."""
    response.read()
    check_answer(response.request.method, response.request.url.path, status_code=response.status_code,
                 content_type=response.headers.get("content-type", ""), body=response.content)


def check_answer(method: str, path: str, *, status_code: int, content_type: str, body: bytes | None) -> None:
    """`body` is None for a streamed response, whose body is not read here."""
    found = operation_for(method, path)
    if found is None:  # an unknown URL or method: not an operation of the schema
        return
    template, operation = found
    status = str(status_code)
    where = f"{method.upper()} {path} ({template})"
    documented = operation["responses"].get(status)
    if documented is None:
        raise ContractViolation(f"{where} answered {status}, which the schema does not document "
                                f"(it documents {sorted(operation['responses'])}).")
    media_type = content_type.split(";")[0].strip()
    content = documented.get("content")
    if not content or body is None:
        return
    if media_type not in content and not any(
            documented_type.endswith("/*") and media_type.startswith(documented_type[:-1])
            for documented_type in content):
        raise ContractViolation(f"{where} answered {status} as {media_type!r}; the schema documents {sorted(content)}.")
    if media_type != "application/json":
        return
    violation = _first_violation(_response_validator(template, method.lower(), status, media_type), orjson.loads(body))
    if violation:
        raise ContractViolation(f"{where} answered {status} with a body the schema does not allow {violation}.")


def check_accepted_request(method: str, path: str, *, content_type: str, body: bytes, status_code: int) -> None:
    """A JSON body the API accepted (2xx) must be one the schema allows: a field the API takes but
    the schema leaves out, or a looser type than it documents, is invisible to generated clients."""
    found = operation_for(method, path)
    if found is None or not 200 <= status_code < 300 or not body or not content_type.startswith("application/json"):
        return
    template, _ = found
    validator = _request_validator(template, method.lower())
    if validator is None:
        raise ContractViolation(f"{method.upper()} {path} ({template}) accepted a JSON body, "
                                "but the schema documents none.")
    violation = _first_violation(validator, orjson.loads(body))
    if violation:
        raise ContractViolation(f"{method.upper()} {path} ({template}) accepted ({status_code}) a body the schema "
                                f"does not allow {violation}.")


def check_accepted_query(method: str, path: str, query_string: str, *, status_code: int) -> None:
    """Every query parameter of an accepted request is one the operation documents."""
    found = operation_for(method, path)
    if found is None or not 200 <= status_code < 300 or not query_string:
        return
    template, operation = found
    documented = {parameter["name"] for parameter in operation.get("parameters", ()) if parameter["in"] == "query"}
    sent = {name for name, _ in parse_qsl(query_string, keep_blank_values=True)}
    if sent - documented:
        raise ContractViolation(f"{method.upper()} {path} ({template}) accepted query parameters the schema does not "
                                f"document: {sorted(sent - documented)} (it documents {sorted(documented)}).")


class ContractCheckedAPIClient(APIClient):
    def request(self, **request):
        response = super().request(**request)
        check_response(request["REQUEST_METHOD"], request["PATH_INFO"], response)
        check_accepted_query(request["REQUEST_METHOD"], request["PATH_INFO"], request.get("QUERY_STRING", ""),
                             status_code=response.status_code)
        return response

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=False, **extra):
        response = super().generic(method, path, data, content_type, secure, **extra)
        body = data.encode() if isinstance(data, str) else data
        check_accepted_request(method, path.split("?")[0], content_type=content_type or "", body=body or b"",
                               status_code=response.status_code)
        return response
