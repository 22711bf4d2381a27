"""JSON answers for requests that never reach a DRF view (unknown URL, server error)."""
from django.http import JsonResponse

from haunt.api.exceptions import error_body


def bad_request(request, exception=None):
    return JsonResponse(error_body(code="bad_request", message="Bad request."), status=400)


def not_found(request, exception=None):
    return JsonResponse(error_body(code="not_found", message="No such endpoint."), status=404)


def server_error(request):
    return JsonResponse(error_body(code="server_error", message="Internal server error."), status=500)
