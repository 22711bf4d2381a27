"""Rules that hold for every request and page, applied before any view reads the request."""
import base64
import hashlib
import re

from django.conf import settings
from django.http import JsonResponse

from haunt.api.exceptions import error_body, payload_too_large_body

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


class RefuseOversizedBodies:
    """A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) is a 413, before anything reads it.

    Django enforces that limit only where it reads a body itself (request.body, forms), and logs each
    breach as an ERROR with a traceback; DRF's parsers read the stream directly, with no limit at all.
    Multipart uploads pass: Django streams their files to disk, and the upload views set their own
    limits (journal screenshots: JOURNAL_ATTACHMENT_MAX_BYTES).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.content_type != "multipart/form-data":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return JsonResponse(payload_too_large_body(), status=413)
        return self.get_response(request)


# What the HTML pages load (docs/operations.md, "Content-Security-Policy"): the guide (docs/index.html),
# Swagger UI and ReDoc come from this server (haunt/static/vendor, drf-spectacular-sidecar), ReDoc
# with Google fonts and a blob: web worker; the admin and the browsable API load only their own
# static files. Inline styles are allowed (Swagger UI and ReDoc inject them); inline scripts only by
# the hash of each one the page holds.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; "
    "script-src 'self'{script_hashes}; "
    "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; "
    "font-src 'self' data: https://fonts.gstatic.com; "
    "img-src 'self' data: https:; "
    "connect-src 'self'; "
    "worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


class ContentSecurityPolicy:
    """Sends CONTENT_SECURITY_POLICY with every HTML page, allowing the page's own inline scripts by
    their SHA-256 (Swagger UI's and ReDoc's pages start the viewer inline, with this server's
    settings): a script injected into a page runs nowhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html") and "Content-Security-Policy" not in response:
            hashes = "" if response.streaming else "".join(
                f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
                for script in INLINE_SCRIPT.findall(response.content) if script.strip())
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(script_hashes=hashes)
        return response
