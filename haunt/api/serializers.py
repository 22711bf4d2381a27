"""Serializer bases shared by every app: strict input, fast read-only output."""
import re

from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject


# The one grammar of a number sent as a string: ASCII digits, an optional sign, an optional fraction
# with digits on both sides of the point, an optional exponent (what Python writes for a small
# float, 1e-05). Python's Decimal and int also read "1_000", full-width or Arabic-Indic digits and
# padded spaces; DRF's number fields pass such strings to them.
NUMBER_GRAMMAR = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
NUMBER_FIELDS = (serializers.DecimalField, serializers.IntegerField, serializers.FloatField)


def number_grammar_errors(field: serializers.Field, value):
    """The error detail for a number in `value` (a string, or one inside a list or dict that `field`
    reads) outside NUMBER_GRAMMAR, shaped as the field's own errors are; None if there is none.

    JSON numbers are numbers by JSON's grammar already. An empty string is left to the field (a
    nullable field reads it as null)."""
    if isinstance(field, NUMBER_FIELDS):
        if isinstance(value, str) and value and not NUMBER_GRAMMAR.fullmatch(value):
            return [serializers.ErrorDetail(field.error_messages["invalid"], code="invalid")]
    elif isinstance(field, serializers.ListField) and isinstance(value, list):
        for index, item in enumerate(value):
            errors = number_grammar_errors(field.child, item)
            if errors is not None:
                return {index: errors}
    elif isinstance(field, serializers.DictField) and isinstance(value, dict):
        for key, item in value.items():
            errors = number_grammar_errors(field.child, item)
            if errors is not None:
                return {key: errors}
    return None


class StrictInput(serializers.Serializer):
    """Rejects fields it does not declare, so a typo or an attempt to set a read-only field
    (cash, balances) is a 400 naming the field instead of being silently ignored; and numbers
    outside NUMBER_GRAMMAR, so "1_000" or "１２" is a 400 instead of a thousand or twelve (nested
    StrictInput serializers check their own fields).

    A top-level input serializer without context or partial validation shares one set of bound
    fields per class instead of deep-copying its declared fields on every request (DRF's default,
    about a third of a market order's validation). That is safe because validation keeps its state
    on the serializer instance (initial_data, errors, validated_data), never on the fields: a
    field's checks read only its own options, and what a field asks of its root (partial, context)
    is the same for every such serializer. Nested and partial serializers, and any given context,
    get DRF's own per-instance fields.
    """

    read_only_names: tuple[str, ...] = ()

    @property
    def fields(self):
        if self.parent is not None or self.partial or self._context:
            return self._own_fields()
        prototype = type(self).__dict__.get("_shared_fields_prototype")
        if prototype is None:
            prototype = type(self)()
            type(self)._shared_fields_prototype = prototype
        return prototype._own_fields()

    def _own_fields(self):
        fields = self.__dict__.get("_bound_fields")
        if fields is None:
            fields = self.__dict__["_bound_fields"] = serializers.Serializer.fields.func(self)
        return fields

    def to_internal_value(self, data):
        if isinstance(data, dict):
            fields = self.fields
            for name, value in data.items():
                field = fields.get(name)
                if field is None:
                    if name in self.read_only_names:
                        raise serializers.ValidationError({name: serializers.ErrorDetail(
                            "This field is read-only.", code="read_only_field")})
                    raise serializers.ValidationError({name: serializers.ErrorDetail(
                        "Unknown field.", code="unknown_field")})
                errors = number_grammar_errors(field, value)
                if errors is not None:
                    raise serializers.ValidationError({name: errors})
        return super().to_internal_value(data)


_UNREAD = object()


class FastOutput:
    """Mixin for read-only output serializers: the same representation DRF gives, without building
    the serializer's fields again for every object.

    A ModelSerializer deep-copies and binds all its fields each time one is instantiated — the
    largest cost of writing an order event or a list page. Here the fields are built once per class
    (on a prototype) and reused: plain fields convert values through the prototype's field objects
    (their to_representation depends only on their own options), and method fields call the method
    on the serializer at hand, so per-request context (cached marks, valuations) still works.
    A plain dict (a selector's rows) is read by key, as DRF reads a Mapping, without its checks.
    """

    @classmethod
    def _output_plan(cls) -> list[tuple[str, serializers.Field | None, str | None, str | None]]:
        """(name, field, method name, dict key) per output field; the key is the one-step source a
        plain dict is read by, for a field that reads its value the ordinary way."""
        plan = cls.__dict__.get("_fast_output_plan")
        if plan is None:
            plan = []
            for name, field in cls().fields.items():
                if field.write_only:
                    continue
                if isinstance(field, serializers.SerializerMethodField):
                    plan.append((name, None, field.method_name, None))
                else:
                    reads_plainly = type(field).get_attribute is serializers.Field.get_attribute
                    key = field.source_attrs[0] if reads_plainly and len(field.source_attrs) == 1 else None
                    plan.append((name, field, None, key))
            cls._fast_output_plan = plan
        return plan

    def to_representation(self, instance) -> dict:
        representation = {}
        is_dict = type(instance) is dict
        for name, field, method_name, key in self._output_plan():
            if method_name is not None:
                representation[name] = getattr(self, method_name)(instance)
                continue
            attribute = instance[key] if is_dict and key in instance else _UNREAD
            if attribute is _UNREAD or callable(attribute):  # DRF calls a callable it reads: let it
                try:
                    attribute = field.get_attribute(instance)
                except SkipField:
                    continue
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            representation[name] = None if check_for_none is None else field.to_representation(attribute)
        return representation
