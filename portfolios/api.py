from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from haunt.api.pagination import SequenceCursorPagination
from portfolios.filters import LedgerFilter
from portfolios.models import LedgerEntry, Portfolio
from portfolios.selectors import ledger_list_for_user, portfolio_get_for_user, portfolio_list_for_user
from portfolios.serializers import (
    CloneIn,
    LedgerEntryOut,
    PortfolioCreateIn,
    PortfolioOut,
    PortfolioUpdateIn,
    TopupIn,
)
from portfolios.services import (
    portfolio_archive,
    portfolio_clone,
    portfolio_create,
    portfolio_topup,
    portfolio_update,
)

UUID_PATTERN = r"[0-9a-fA-F-]{32,36}"


def _service_arguments(validated: dict) -> dict:
    arguments = dict(validated)
    if "default_leverage" in arguments:
        arguments["default_leverage_by_class"] = arguments.pop("default_leverage")
    return arguments


@extend_schema_view(
    list=extend_schema(
        summary="List your portfolios (newest first)",
        parameters=[OpenApiParameter("archived", OpenApiTypes.BOOL, description="Include archived portfolios.")],
    ),
    retrieve=extend_schema(summary="One portfolio with balances, P&L and settings"),
)
@extend_schema(tags=["portfolios"])
class PortfolioViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = PortfolioOut
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Portfolio.objects.none()
        include_archived = self.request.query_params.get("archived", "").lower() in ("1", "true", "yes")
        if self.action != "list":
            include_archived = True
        return portfolio_list_for_user(user=self.request.user, include_archived=include_archived)

    def get_object(self):
        return portfolio_get_for_user(user=self.request.user, portfolio_id=self.kwargs["pk"])

    @extend_schema(
        request=PortfolioCreateIn, responses={201: PortfolioOut}, summary="Create a portfolio",
        examples=[OpenApiExample("create", request_only=True, value={
            "name": "Momentum", "base_currency": "USD", "cost_basis_method": "fifo",
            "risk_settings": {"max_position_size_pct": "20", "modes": {"max_position_size_pct": "warn"}},
        })],
    )
    def create(self, request):
        payload = PortfolioCreateIn(data=request.data)
        payload.is_valid(raise_exception=True)
        portfolio = portfolio_create(user=request.user, **_service_arguments(payload.validated_data))
        return Response(PortfolioOut(portfolio).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PortfolioUpdateIn, responses=PortfolioOut,
                   summary="Change settings (only the fields sent change; risk settings merge key by key)")
    def update(self, request, pk=None):
        payload = PortfolioUpdateIn(data=request.data)
        payload.is_valid(raise_exception=True)
        portfolio = portfolio_update(user=request.user, portfolio_id=pk, **_service_arguments(payload.validated_data))
        return Response(PortfolioOut(portfolio).data)

    @extend_schema(request=PortfolioUpdateIn, responses=PortfolioOut, summary="Same as PUT")
    def partial_update(self, request, pk=None):
        return self.update(request, pk)

    @extend_schema(request=None, responses={204: None}, summary="Archive (soft delete: history is kept)")
    def destroy(self, request, pk=None):
        portfolio_archive(user=request.user, portfolio_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=TopupIn, responses=PortfolioOut, summary="Add virtual funds (never counted as return)",
                   examples=[OpenApiExample("topup", request_only=True, value={"amount": "250000"})])
    @action(detail=True, methods=["post"])
    def topup(self, request, pk=None):
        payload = TopupIn(data=request.data)
        payload.is_valid(raise_exception=True)
        portfolio = portfolio_topup(user=request.user, portfolio_id=pk, amount=payload.validated_data["amount"])
        return Response(PortfolioOut(portfolio).data)

    @extend_schema(request=CloneIn, responses={201: PortfolioOut},
                   summary="Copy settings into a new portfolio with a fresh starting balance")
    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        payload = CloneIn(data=request.data)
        payload.is_valid(raise_exception=True)
        portfolio = portfolio_clone(user=request.user, portfolio_id=pk, **payload.validated_data)
        return Response(PortfolioOut(portfolio).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["portfolios"], summary="The portfolio's cash ledger, newest first")
class LedgerView(ListAPIView):
    serializer_class = LedgerEntryOut
    filterset_class = LedgerFilter
    pagination_class = SequenceCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LedgerEntry.objects.none()
        return ledger_list_for_user(user=self.request.user, portfolio_id=self.kwargs["pk"])
