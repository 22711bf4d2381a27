from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from haunt.accounts.api import MeView, RegisterView, TokenView
from haunt.health import HealthView

api_patterns = [
    path("auth/register", RegisterView.as_view(), name="auth-register"),
    path("auth/token", TokenView.as_view(), name="auth-token"),
    path("auth/me", MeView.as_view(), name="auth-me"),
    path("health", HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("haunt.market.urls")),
    path("", include("portfolios.urls")),
    path("", include("orders.urls")),
    path("", include("derivatives.urls")),
    path("", include("options_trading.urls")),
    path("", include("reporting.urls")),
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
