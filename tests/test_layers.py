"""Foreign keys point down the layer order, as imports do (docs/architecture.md, style guide §3.15).

The order is written once, in pyproject.toml's import-linter `layers` contract, which `make test`
runs over the imports; this test reads the same list and holds the model graph to it, since a
foreign key names its target by a string that no import checker sees.
"""
import tomllib
from pathlib import Path

import pytest
from django.apps import apps

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

# Relations that must point up, each with its reason. Keep this list short: a new entry needs the
# same justification in docs/architecture.md.
ALLOWED_UPWARD_RELATIONS: dict[str, str] = {
    "portfolios.PositionLot.trade": (
        "A lot is the open remainder of exactly one opening fill and keeps it for tax lots; the "
        "reverse link would cost a second write on every fill, and nothing reads through it (PROTECT)."
    ),
    "portfolios.LotDisposal.trade": (
        "A disposal is one lot closed by exactly one closing fill; reversing it needs a link table "
        "owned by orders. Nothing reads through it (PROTECT)."
    ),
}


def layer_contract() -> tuple[list[str], list[list[str]]]:
    """The root packages and the layers, top first, each layer a list of its packages."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    layers = [[name.strip() for name in layer.replace(":", "|").split("|")] for layer in contract["layers"]]
    return config["root_packages"], layers


def upward_relations(edges, *, layers: list[list[str]]) -> list[str]:
    """Which (source package, field label, target package) edges break the layer order.

    A package may point at itself or at any package in a lower layer; a package outside the layers
    (Django's own apps, DRF's token) counts as the bottom. Siblings in one layer are independent,
    so a relation between them breaks the order too.
    """
    depth = {package: index for index, layer in enumerate(layers) for package in layer}
    bottom = len(layers)
    broken = []
    for source, field_label, target in edges:
        if source == target:
            continue
        if depth.get(source, bottom) >= depth.get(target, bottom):
            broken.append(f"{field_label} -> {target}")
    return broken


def model_relations(root_packages: list[str]):
    """Every forward relation (foreign key, one-to-one, many-to-many) of the project's models."""
    for model in apps.get_models():
        source = model.__module__.split(".")[0]
        if source not in root_packages:
            continue
        for field in model._meta.get_fields():
            if (field.is_relation and field.concrete) or (field.many_to_many and not field.auto_created):
                target = field.related_model.__module__.split(".")[0]
                yield source, f"{model._meta.label}.{field.name}", target


def test_foreign_keys_point_down_the_layers():
    root_packages, layers = layer_contract()
    broken = [
        edge for edge in upward_relations(model_relations(root_packages), layers=layers)
        if edge.split(" -> ")[0] not in ALLOWED_UPWARD_RELATIONS
    ]
    assert broken == []


def test_allowed_upward_relations_still_exist():
    """An allow-list entry whose relation is gone (or now points down) must be removed."""
    root_packages, layers = layer_contract()
    upward = {edge.split(" -> ")[0] for edge in upward_relations(model_relations(root_packages), layers=layers)}
    assert set(ALLOWED_UPWARD_RELATIONS) <= upward


@pytest.mark.parametrize(
    ("edge", "is_broken"),
    [
        (("portfolios", "portfolios.Portfolio.competition", "competitions"), True),
        (("orders", "orders.Trade.order", "orders"), False),
        (("orders", "orders.Order.portfolio", "portfolios"), False),
        (("derivatives", "derivatives.X.contract", "options_trading"), True),
        (("portfolios", "portfolios.Portfolio.owner", "django"), False),
    ],
)
def test_a_planted_upward_relation_is_caught(edge, is_broken):
    layers = [["competitions"], ["derivatives", "options_trading"], ["orders"], ["portfolios"], ["haunt"]]
    assert bool(upward_relations([edge], layers=layers)) is is_broken
