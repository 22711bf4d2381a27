"""The root URLconf: the platform's routes, then every app's, under /api/; the admin; this guide."""
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve

from haunt.urls import api_patterns as platform_api_patterns

api_patterns = [
    *platform_api_patterns,
    path("", include("portfolios.urls")),
    path("", include("notifications.urls")),
    path("", include("orders.urls")),
    path("", include("derivatives.urls")),
    path("", include("options_trading.urls")),
    path("", include("reporting.urls")),
    path("", include("strategies.urls")),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
    # The Docsify site in docs/ (index.html loads the Markdown pages beside it).
    path("docs", RedirectView.as_view(url="/docs/")),
    path("docs/", serve, {"path": "index.html", "document_root": settings.DOCS_DIR}),
    re_path(r"^docs/(?P<path>.+)$", serve, {"document_root": settings.DOCS_DIR}),
    path("", RedirectView.as_view(url="/docs/")),
]

handler400 = "haunt.api.views.bad_request"
handler404 = "haunt.api.views.not_found"
handler500 = "haunt.api.views.server_error"
