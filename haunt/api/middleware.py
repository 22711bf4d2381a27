"""Checks on a request that hold for every endpoint, before any view reads it."""
from django.http import JsonResponse

from haunt.api.exceptions import error_body

NULL_CHARACTER_MESSAGE = "Null characters are not allowed."


class RefuseNullCharactersInQuery:
    """A NUL character in a query parameter's name or value is a 400, whichever view reads it.

    PostgreSQL cannot store or compare a string holding NUL: a filter passing one to a query is a
    500 there (SQLite takes it). Serializer and filter fields refuse NUL themselves (DRF's and
    Django's ProhibitNullCharactersValidator), but a view reading `query_params` directly does not;
    refusing it here covers every view, present and future, with the same code the fields use.
    Paths need no check: the URL patterns do not match NUL.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            for name, values in request.GET.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    return JsonResponse(error_body(code="null_characters_not_allowed", message=NULL_CHARACTER_MESSAGE,
                                                   field=name), status=400)
        return self.get_response(request)
