"""The published schema documents each operation's errors, and the suite's clients hold every
response to the schema (tests/openapi_contract.py)."""
import re
from decimal import Decimal

import httpx
import orjson
import pytest
from django.http import HttpResponse, JsonResponse

from portfolios.services import portfolio_create
from tests.openapi_contract import (
    ContractViolation,
    api_schema,
    check_accepted_query,
    check_accepted_request,
    check_httpx_response,
    check_response,
)

pytestmark = pytest.mark.django_db


def responses_of(method: str, template: str) -> dict:
    return api_schema()["paths"][template][method]["responses"]


def error_reference(response: dict) -> str:
    return response["content"]["application/json"]["schema"]["$ref"]


def test_an_order_placement_documents_every_refusal_it_can_answer_with():
    responses = responses_of("post", "/api/orders")

    assert sorted(responses) == ["200", "201", "400", "401", "404", "409", "413", "415", "429"]
    for status in ("400", "401", "404", "409", "413", "415", "429"):
        assert error_reference(responses[status]) == "#/components/schemas/ErrorOut"


def test_error_statuses_follow_what_the_operation_takes():
    # A detail read takes no body or query: no 400, no 409; its path names a resource: 404.
    assert sorted(responses_of("get", "/api/market/instruments/{symbol}")) == ["200", "401", "404", "429"]
    # A list with filters can be refused (400) and its portfolio filter can name another user's (404).
    assert sorted(responses_of("get", "/api/orders")) == ["200", "400", "401", "404", "429"]
    # Registration needs no token, so no 401; a taken username is a 409.
    assert sorted(responses_of("post", "/api/auth/register")) == ["201", "400", "409", "413", "415", "429"]
    # Login answers a wrong password with 401 and cannot conflict.
    login = responses_of("post", "/api/auth/token")
    assert sorted(login) == ["200", "400", "401", "413", "415", "429"]
    assert login["401"]["description"] == "Wrong username or password."
    # Cancelling answers the cancelled order, not an empty 204.
    assert "OrderOut" in responses_of("delete", "/api/orders/{id}")["200"]["content"]["application/json"]["schema"]["$ref"]


def test_a_strict_body_says_it_takes_no_other_fields(auth_client):
    schemas = api_schema()["components"]["schemas"]
    assert schemas["OrderPlaceInRequest"]["additionalProperties"] is False
    assert schemas["TopupInRequest"]["additionalProperties"] is False

    response = auth_client.post("/api/orders", {"symbol": "BTC-USD", "colour": "blue"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_field"


def test_components_carry_their_own_docstring_only():
    schemas = api_schema()["components"]["schemas"]

    assert "description" not in schemas["OrderPlaceInRequest"]  # StrictInput's docstring is not its own
    assert "description" not in schemas["OrderOut"]  # nor FastOutput's
    assert schemas["OrderHistoryOut"]["description"].startswith("An order with its modification history")


# Words that describe how a view is built, which a reader of /api/redoc/ has no use for.
IMPLEMENTATION_WORDS = re.compile(r"\b(selectors?|serializers?|querysets?|parse the query|payload|json-ready|docstring)\b",
                                  re.IGNORECASE)


def test_operation_descriptions_speak_to_the_api_user_not_of_the_code():
    leaks = {f"{method.upper()} {path}": operation["description"]
             for path, operations in api_schema()["paths"].items()
             for method, operation in operations.items()
             if IMPLEMENTATION_WORDS.search(operation.get("description", ""))}

    assert not leaks


def test_the_error_body_is_the_envelope_every_error_has():
    schemas = api_schema()["components"]["schemas"]

    assert schemas["ErrorOut"]["required"] == ["error"]
    detail = schemas["ErrorDetailOut"]
    assert sorted(detail["required"]) == ["code", "field", "message"]
    assert detail["properties"]["field"]["nullable"] is True


def test_a_real_error_passes_the_check(auth_client):
    response = auth_client.get("/api/orders/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404  # checked by the client on the way: documented, envelope valid
    check_response("GET", "/api/orders/00000000-0000-0000-0000-000000000000", response)


def test_an_undocumented_status_is_a_violation():
    with pytest.raises(ContractViolation, match="answered 418, which the schema does not document"):
        check_response("GET", "/api/orders", HttpResponse(status=418))


def test_a_body_that_breaks_the_schema_is_a_violation():
    missing_message = JsonResponse({"error": {"code": "not_found", "field": None}}, status=404)

    with pytest.raises(ContractViolation, match="'message' is a required property"):
        check_response("GET", "/api/orders/00000000-0000-0000-0000-000000000000", missing_message)


def test_null_where_the_schema_does_not_allow_it_is_a_violation():
    null_code = JsonResponse({"error": {"code": None, "message": "x", "field": None}}, status=404)

    with pytest.raises(ContractViolation, match="None for not nullable"):
        check_response("GET", "/api/orders/00000000-0000-0000-0000-000000000000", null_code)


def test_a_nullable_nested_object_may_be_null_but_not_anything_else(auth_client, user):
    # period_returns is {"allOf": [{"$ref": …}], "nullable": true}: null until a portfolio has returns.
    portfolio = portfolio_create(user=user, name="Fresh", starting_balance=Decimal("5000000"))
    path = "/api/analytics/performance"
    performance = auth_client.get(path, {"portfolio": str(portfolio.pk)}).json()
    assert performance["period_returns"] is None  # and the client's check let it through

    with pytest.raises(ContractViolation, match="at period_returns: 'soon' is not valid under any of the given schemas"):
        check_response("GET", path, JsonResponse({**performance, "period_returns": "soon"}))


def test_an_httpx_response_is_judged_by_the_same_rules():
    request = httpx.Request("GET", "http://127.0.0.1:8000/api/orders/00000000-0000-0000-0000-000000000000")
    envelope = {"error": {"code": "not_found", "message": "Not found.", "field": None}}

    check_httpx_response(httpx.Response(404, json=envelope, request=request))
    with pytest.raises(ContractViolation, match="'message' is a required property"):
        check_httpx_response(httpx.Response(404, json={"error": {"code": "not_found", "field": None}}, request=request))
    with pytest.raises(ContractViolation, match="answered 418"):
        check_httpx_response(httpx.Response(418, request=request))


ORDER = {"portfolio": "6c03011e-2db1-4438-9593-1622db0ac427", "symbol": "BTC-USD", "side": "buy",
         "order_type": "market", "quantity": "0.5"}


def test_an_accepted_body_must_be_one_the_schema_allows():
    accepted = {"content_type": "application/json", "status_code": 201}

    check_accepted_request("POST", "/api/orders", body=orjson.dumps(ORDER), **accepted)
    with pytest.raises(ContractViolation, match="accepted \\(201\\) a body the schema does not allow"):
        check_accepted_request("POST", "/api/orders", body=orjson.dumps({**ORDER, "colour": "blue"}), **accepted)
    with pytest.raises(ContractViolation, match="at quantity"):
        check_accepted_request("POST", "/api/orders", body=orjson.dumps({**ORDER, "quantity": 0.5}), **accepted)
    with pytest.raises(ContractViolation, match="the schema documents none"):
        check_accepted_request("GET", "/api/orders", body=b"{}", **accepted)


def test_a_refused_body_is_not_judged_by_the_request_check():
    # Tests send bodies the API must refuse; only what it accepts has to be in the schema.
    check_accepted_request("POST", "/api/orders", body=orjson.dumps({"colour": "blue"}),
                           content_type="application/json", status_code=400)


def test_an_accepted_query_uses_only_documented_parameters():
    check_accepted_query("GET", "/api/orders", "status=filled&symbol=BTC-USD&page_size=10", status_code=200)
    with pytest.raises(ContractViolation, match="does not document: \\['colour'\\]"):
        check_accepted_query("GET", "/api/orders", "status=filled&colour=blue", status_code=200)
    check_accepted_query("GET", "/api/orders", "colour=blue", status_code=400)  # refused: not judged


def test_a_path_outside_the_schema_is_not_judged():
    check_response("GET", "/api/no-such-operation", HttpResponse(status=418))
