"""One error shape for the whole API: {"error": {"code", "message", "field"}}.

Wraps DRF's handler rather than replacing it (style guide §3.6): DRF still sets the status and
headers (WWW-Authenticate, Retry-After); we only reshape the body. Anything that is neither a
DomainError nor an APIException returns None, so a real bug is a logged 500.
"""
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from haunt.errors import DomainError, TooManyAttempts


def error_body(*, code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def payload_too_large_body() -> dict:
    return error_body(code="payload_too_large",
                      message=f"Request bodies are limited to {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")


def first_error(detail, path: tuple[str, ...] = ()) -> tuple[str | None, exceptions.ErrorDetail | str]:
    """The first leaf of a (possibly nested) DRF error detail and the dotted field path to it.

    Only the first error is reported, as Zulip does, so clients handle one shape.
    """
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        if key in ("non_field_errors", "detail"):
            return first_error(value, path)
        return first_error(value, (*path, str(key)))
    if isinstance(detail, list):
        for index, item in enumerate(detail):
            if item:
                nested = (*path, str(index)) if isinstance(item, (dict, list)) else path
                return first_error(item, nested)
        return (".".join(path) or None), "Invalid value."
    return (".".join(path) or None), detail


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        response = Response(error_body(code=exc.code, message=exc.message, field=exc.field), status=exc.status)
        if isinstance(exc, TooManyAttempts):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, RequestDataTooBig):  # the form fields of a multipart body beyond the limit
        return Response(payload_too_large_body(), status=413)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        field, detail = first_error(exc.detail)
        code = getattr(detail, "code", None) or "invalid"
        response.data = error_body(code=code, message=str(detail), field=field)
    elif isinstance(exc, exceptions.APIException):
        code = getattr(exc.detail, "code", None) or exc.default_code
        response.data = error_body(code=code, message=str(exc.detail))
    return response
