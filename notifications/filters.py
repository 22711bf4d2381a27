import django_filters

from notifications.models import Alert, AlertType


class AlertFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(field_name="alert_type", choices=AlertType.choices,
                                       help_text="Only alerts of this type.")
    # read=true keeps alerts with a read time; read=false those without.
    read = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", exclude=True,
                                        help_text="true: only read alerts; false: only unread ones.")

    class Meta:
        model = Alert
        fields = ["type", "read"]
