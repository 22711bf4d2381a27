"""Content negotiation for file downloads whose `format` query parameter names the file format."""
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer


class JsonErrorsOnly(BaseContentNegotiation):
    """Ignores DRF's `?format=` renderer override (it would 404 on `format=csv`): the view returns
    its file itself, and anything DRF renders for it, an error, is JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = JSONRenderer()
        return renderer, renderer.media_type
