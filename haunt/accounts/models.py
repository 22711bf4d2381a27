from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A platform user. Its own model from the start, so fields can be added without a swap."""

    class Meta:
        db_table = "accounts_user"
