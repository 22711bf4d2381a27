from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.filters import AlertFilter
from notifications.models import Alert, WebhookDelivery, WebhookEndpoint
from notifications.selectors import (
    alert_list_for_user,
    alert_preferences_for_user,
    delivery_list_for_webhook,
    webhook_get_for_user,
    webhook_list_for_user,
)
from notifications.serializers import (
    AlertOut,
    AlertPreferenceOut,
    AlertPreferencesIn,
    AlertsMarkedOut,
    AlertsMarkReadIn,
    WebhookCreatedOut,
    WebhookCreateIn,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookSecretOut,
    WebhookUpdateIn,
)
from notifications.services import (
    alert_preferences_set,
    alerts_mark_read,
    webhook_create,
    webhook_delete,
    webhook_delivery_replay,
    webhook_ping,
    webhook_rotate_secret,
    webhook_update,
)

UUID_PATTERN = r"[0-9a-fA-F-]{32,36}"


@extend_schema_view(
    list=extend_schema(summary="List your webhook endpoints (newest first)"),
    retrieve=extend_schema(summary="One webhook endpoint (its secret is never shown again)"),
)
@extend_schema(tags=["webhooks"])
class WebhookViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = WebhookOut
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return WebhookEndpoint.objects.none()
        return webhook_list_for_user(user=self.request.user)

    def get_object(self):
        return webhook_get_for_user(user=self.request.user, webhook_id=self.kwargs["pk"])

    @extend_schema(
        request=WebhookCreateIn, responses={201: WebhookCreatedOut},
        summary="Add an endpoint; the answer holds its signing secret, shown this once",
        examples=[OpenApiExample("create", request_only=True, value={
            "url": "https://example.com/haunt-webhook", "event_types": ["order_filled", "stop_loss_hit"]})],
    )
    def create(self, request):
        payload = WebhookCreateIn(data=request.data)
        payload.is_valid(raise_exception=True)
        endpoint = webhook_create(user=request.user, **payload.validated_data)
        return Response(WebhookCreatedOut(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookUpdateIn, responses=WebhookOut,
                   summary="Change an endpoint (only the fields sent change; is_active true turns it back on)")
    def update(self, request, pk=None):
        payload = WebhookUpdateIn(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(WebhookOut(webhook_update(user=request.user, webhook_id=pk, **payload.validated_data)).data)

    @extend_schema(request=WebhookUpdateIn, responses=WebhookOut, summary="Same as PUT")
    def partial_update(self, request, pk=None):
        return self.update(request, pk)

    @extend_schema(request=None, responses={204: None}, summary="Delete an endpoint and its delivery log")
    def destroy(self, request, pk=None):
        webhook_delete(user=request.user, webhook_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=WebhookSecretOut,
                   summary="A new signing secret; the old one keeps signing beside it for 24 hours")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = webhook_rotate_secret(user=request.user, webhook_id=pk)
        return Response(WebhookSecretOut({"secret": endpoint.secret,
                                          "previous_secret_expires_at": endpoint.previous_secret_expires_at}).data)

    @extend_schema(request=None, responses={202: WebhookDeliveryOut},
                   summary="Send a ping event to the endpoint (its delivery shows in the log)")
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        delivery = webhook_ping(user=request.user, webhook_id=pk)
        return Response(WebhookDeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["webhooks"], summary="The endpoint's deliveries, newest first, each with every attempt")
class WebhookDeliveriesView(ListAPIView):
    serializer_class = WebhookDeliveryOut

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return delivery_list_for_webhook(user=self.request.user, webhook_id=self.kwargs["pk"])


@extend_schema(tags=["webhooks"])
class WebhookDeliveryReplayView(APIView):
    @extend_schema(request=None, responses={202: WebhookDeliveryOut},
                   summary="Send a finished delivery's event again (same event id and sequence number)")
    def post(self, request, pk, delivery):
        replay = webhook_delivery_replay(user=request.user, webhook_id=pk, delivery_id=delivery)
        return Response(WebhookDeliveryOut(replay).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["alerts"], summary="Your alerts, newest first (filter by type and read or unread)")
class AlertHistoryView(ListAPIView):
    serializer_class = AlertOut
    filterset_class = AlertFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Alert.objects.none()
        return alert_list_for_user(user=self.request.user)


@extend_schema(tags=["alerts"])
class AlertsMarkReadView(APIView):
    @extend_schema(request=AlertsMarkReadIn, responses=AlertsMarkedOut,
                   summary="Mark alerts read (the ids given, or every unread one)")
    def post(self, request):
        payload = AlertsMarkReadIn(data=request.data)
        payload.is_valid(raise_exception=True)
        marked = alerts_mark_read(user=request.user, alert_ids=payload.validated_data.get("ids"))
        return Response(AlertsMarkedOut({"marked": marked}).data)


@extend_schema(tags=["alerts"])
class AlertPreferencesView(APIView):
    @extend_schema(responses=AlertPreferenceOut(many=True),
                   summary="Which channels (WebSocket, webhook) each alert type goes to")
    def get(self, request):
        return Response(AlertPreferenceOut(alert_preferences_for_user(user=request.user), many=True).data)

    @extend_schema(request=AlertPreferencesIn, responses=AlertPreferenceOut(many=True),
                   summary="Choose the channels of some alert types (the others keep theirs)",
                   examples=[OpenApiExample("mute webhooks for cancellations", request_only=True, value={
                       "preferences": [{"alert_type": "order_cancelled", "webhook": False}]})])
    def put(self, request):
        payload = AlertPreferencesIn(data=request.data)
        payload.is_valid(raise_exception=True)
        alert_preferences_set(user=request.user, preferences=payload.validated_data["preferences"])
        return Response(AlertPreferenceOut(alert_preferences_for_user(user=request.user), many=True).data)
