from rest_framework import serializers

from haunt.accounts.models import User
from haunt.api.serializers import StrictInput


class RegisterIn(StrictInput):
    username = serializers.RegexField(r"^[\w.@+-]{3,150}$", max_length=150,
                                      error_messages={"invalid": "3-150 letters, digits and @/./+/-/_ only."})
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    email = serializers.EmailField(max_length=254)


class TokenIn(StrictInput):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenOut(serializers.Serializer):
    token = serializers.CharField()


class WebSocketTicketOut(serializers.Serializer):
    ticket = serializers.CharField(help_text="Open the socket with ws(s)://<host>/ws/?ticket=<ticket>.")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid; it opens one socket.")


class UserOut(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "date_joined"]
        read_only_fields = fields


class RegisterOut(serializers.Serializer):
    user = UserOut()
    token = serializers.CharField()
