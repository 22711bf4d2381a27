"""Numbers as clients send them: computed ones are rounded at their stated places, lenient ones refused."""
import pytest

pytestmark = pytest.mark.django_db

TERMS = {"option_type": "call", "style": "european", "spot": "100", "strike": "100", "rate": "0.05",
         "dividend_yield": "0", "volatility": "0.2"}


def test_a_computed_time_to_expiry_is_rounded_at_ten_places_not_refused(auth_client):
    computed = auth_client.get("/api/options/price", {**TERMS, "time_to_expiry": str(30 / 365)})
    rounded = auth_client.get("/api/options/price", {**TERMS, "time_to_expiry": "0.0821917808"})

    assert computed.status_code == 200, computed.json()
    assert computed.json() == rounded.json()


def test_a_computed_rate_is_rounded_at_ten_places_not_refused(auth_client):
    computed = auth_client.get("/api/options/price", {**TERMS, "time_to_expiry": "1", "volatility": str(0.2 / 3)})
    rounded = auth_client.get("/api/options/price", {**TERMS, "time_to_expiry": "1", "volatility": "0.0666666667"})

    assert computed.status_code == 200, computed.json()
    assert computed.json() == rounded.json()


def test_a_quantity_keeps_its_places_rule(auth_client, portfolio):
    response = auth_client.post("/api/orders", {"portfolio": str(portfolio.pk), "symbol": "BTC-USD", "side": "buy",
                                                "order_type": "market", "quantity": "0.00000000001"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "max_decimal_places"


@pytest.mark.parametrize("quantity", ["1_000", "１２", " 1 "])
def test_a_lenient_quantity_is_refused_by_the_api(auth_client, portfolio, quantity):
    response = auth_client.post("/api/orders", {"portfolio": str(portfolio.pk), "symbol": "BTC-USD", "side": "buy",
                                                "order_type": "market", "quantity": quantity}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == {"code": "invalid", "message": "A valid number is required.",
                                        "field": "quantity"}
