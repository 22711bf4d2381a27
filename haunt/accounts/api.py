from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from haunt.accounts.serializers import RegisterIn, RegisterOut, TokenIn, TokenOut, UserOut, WebSocketTicketOut
from haunt.accounts.services import token_obtain, user_register
from haunt.accounts.websocket_tickets import WS_TICKET_SECONDS, ws_ticket_issue
from haunt.api.schema import error_response
from haunt.api.throttles import AuthThrottle


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AuthThrottle]

    @extend_schema(
        tags=["auth"], request=RegisterIn, responses={201: RegisterOut}, auth=[],
        summary="Create an account and its API token",
        examples=[OpenApiExample("register", request_only=True,
                                 value={"username": "alice", "password": "correct-horse-battery", "email": "alice@example.com"})],
    )
    def post(self, request):
        payload = RegisterIn(data=request.data)
        payload.is_valid(raise_exception=True)
        user, token = user_register(**payload.validated_data)
        return Response(RegisterOut({"user": user, "token": token.key}).data, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AuthThrottle]
    may_conflict = False  # answers with the token (made on first use); nothing it does can conflict

    @extend_schema(
        tags=["auth"], request=TokenIn, auth=[],
        responses={200: TokenOut, 401: error_response("401", "Wrong username or password.")},
        summary="Exchange username and password for the API token (send it as `Authorization: Token <token>`)",
        examples=[OpenApiExample("token", request_only=True, value={"username": "alice", "password": "correct-horse-battery"}),
                  OpenApiExample("answer", response_only=True, value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"})],
    )
    def post(self, request):
        payload = TokenIn(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(TokenOut({"token": token_obtain(**payload.validated_data).key}).data)


class MeView(APIView):
    @extend_schema(tags=["auth"], responses=UserOut, summary="The authenticated user")
    def get(self, request):
        return Response(UserOut(request.user).data)


class WebSocketTicketView(APIView):
    may_conflict = False  # issues a ticket; nothing it does can conflict

    @extend_schema(
        tags=["auth"], request=None, responses={201: WebSocketTicketOut},
        summary="A single-use ticket to open the WebSocket (ws://host/ws/?ticket=<ticket>), valid for 30 seconds",
        examples=[OpenApiExample("answer", response_only=True, status_codes=["201"],
                                 value={"ticket": "Jx3W0cOqk0m2dT9q1Hc5vI8yQn4rP7sL2aB6eF0gK1w", "expires_in": 30})],
    )
    def post(self, request):
        ticket = ws_ticket_issue(user_id=request.user.pk)
        return Response(WebSocketTicketOut({"ticket": ticket, "expires_in": WS_TICKET_SECONDS}).data,
                        status=status.HTTP_201_CREATED)
