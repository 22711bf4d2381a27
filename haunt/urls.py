"""The platform's own API routes (accounts, health, the schema and its viewers, market data); the
project root (config.urls) mounts them under /api/ beside the apps' routes."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from haunt.accounts.api import MeView, RegisterView, TokenView, WebSocketTicketView
from haunt.health import HealthView

api_patterns = [
    path("auth/register", RegisterView.as_view(), name="auth-register"),
    path("auth/token", TokenView.as_view(), name="auth-token"),
    path("auth/me", MeView.as_view(), name="auth-me"),
    path("auth/ws-ticket", WebSocketTicketView.as_view(), name="auth-ws-ticket"),
    path("health", HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("haunt.market.urls")),
]
