"""The trade journal API: entries on portfolios, orders, trades and positions; search and filters;
screenshot attachments checked by size, declared type and magic bytes; ownership (404)."""
from datetime import UTC, datetime

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order, Trade
from orders.services import OrderRequest, order_place
from orders.tests.books import (
    D,
    NOW,
    books_balance,  # noqa: F401 (autouse fixture)
    instruments,  # noqa: F401 (fixture)
    make_portfolio,
    publish,
    publish_eth,
)
from portfolios.models import Position
from portfolios.services import portfolio_archive
from reporting.models import JournalAttachment, JournalEntry

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.JOURNAL_ATTACHMENT_MAX_BYTES = 1024
    return settings.MEDIA_ROOT


@pytest.fixture
def clock(monkeypatch):
    moments = {"now": NOW}
    monkeypatch.setattr(timezone, "now", lambda: moments["now"])
    return moments


@pytest.fixture
def traded(user, instruments, clock):
    """A portfolio that bought 1 ETH and 2 AAPL: an order, a trade and an open position each."""
    publish_eth()
    publish("AAPL", bids=[("278.40", "500")], asks=[("278.50", "500")])
    portfolio = make_portfolio(user)
    for symbol, quantity in (("ETH-USD", "1"), ("AAPL", "2")):
        order_place(user=user, portfolio_id=portfolio.pk, request=OrderRequest(
            symbol=symbol, side="buy", order_type="market", quantity=D(quantity)))
    return portfolio


def write(client, **body):
    response = client.post("/api/journal", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_entry_on_a_trade_takes_its_portfolio_and_symbol(auth_client, traded):
    trade = Trade.objects.get(instrument__symbol="ETH-USD")
    entry = write(auth_client, trade=str(trade.pk), title="Breakout", note="Bought the retest.",
                  tags=["momentum", " Momentum ", "Crypto"])
    assert entry == {
        "id": entry["id"], "portfolio": str(traded.pk), "order": None, "trade": str(trade.pk), "position": None,
        "symbol": "ETH-USD", "title": "Breakout", "note": "Bought the retest.", "tags": ["momentum", "Crypto"],
        "attachments": [], "created_at": "2026-11-24T15:00:02Z", "updated_at": "2026-11-24T15:00:02Z",
    }


def test_entries_on_orders_positions_and_the_portfolio(auth_client, traded):
    order = Order.objects.get(instrument__symbol="AAPL")
    position = Position.objects.get(instrument__symbol="AAPL")
    assert write(auth_client, order=str(order.pk), note="x")["symbol"] == "AAPL"
    assert write(auth_client, position=str(position.pk), note="x")["position"] == str(position.pk)
    assert write(auth_client, portfolio=str(traded.pk), note="Weekly review")["symbol"] is None


@pytest.mark.parametrize(("body", "status", "field", "code"), [
    ({"note": "no subject"}, 400, "portfolio", "required"),
    ({"note": "x", "colour": "red"}, 400, "colour", "unknown_field"),
    ({"note": "x", "tags": ["a|b"]}, 400, "tags.0", "invalid"),
])
def test_refused_entries_change_nothing(auth_client, traded, body, status, field, code):
    response = auth_client.post("/api/journal", body, format="json")
    assert response.status_code == status
    assert (response.json()["error"]["field"], response.json()["error"]["code"]) == (field, code)
    assert JournalEntry.objects.count() == 0


def test_one_subject_and_it_must_be_in_the_named_portfolio(auth_client, user, traded):
    order = Order.objects.get(instrument__symbol="AAPL")
    trade = Trade.objects.get(instrument__symbol="AAPL")
    response = auth_client.post("/api/journal", {"order": str(order.pk), "trade": str(trade.pk)}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "one_subject")
    other = make_portfolio(user, profile="realistic")
    response = auth_client.post("/api/journal", {"portfolio": str(other.pk), "trade": str(trade.pk)}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "subject_not_in_portfolio")
    assert JournalEntry.objects.count() == 0


def test_search_by_note_tag_symbol_and_date(auth_client, traded, clock):
    eth = Trade.objects.get(instrument__symbol="ETH-USD")
    aapl = Trade.objects.get(instrument__symbol="AAPL")
    first = write(auth_client, trade=str(eth.pk), note="Faded the Überraschung spike", tags=["Scalp"])
    clock["now"] = datetime(2026, 11, 25, 9, tzinfo=UTC)
    second = write(auth_client, trade=str(aapl.pk), title="Earnings", note="Held through earnings", tags=["swing"])

    def found(**params):
        response = auth_client.get("/api/journal", params)
        assert response.status_code == 200
        return [entry["id"] for entry in response.json()["results"]]

    assert found() == [second["id"], first["id"]]
    assert found(q="überraschung") == [first["id"]]           # note text, any case, non-ASCII
    assert found(q="held earnings") == [second["id"]]          # every word must match
    assert found(q="eth-usd") == [first["id"]]                 # the symbol is searchable text too
    assert found(tag="scalp") == [first["id"]]
    assert found(tag="scal") == []                              # a tag matches whole
    assert found(symbol="aapl") == [second["id"]]
    assert found(date="2026-11-24") == [first["id"]]
    assert found(created_after="2026-11-25T00:00:00Z") == [second["id"]]
    assert found(trade=str(eth.pk)) == [first["id"]]


def test_update_reindexes_and_delete_removes(auth_client, traded):
    entry = write(auth_client, portfolio=str(traded.pk), note="old words", tags=["a"])
    response = auth_client.patch(f"/api/journal/{entry['id']}", {"note": "fresh words", "tags": ["b"]}, format="json")
    assert response.status_code == 200
    assert (response.json()["note"], response.json()["tags"]) == ("fresh words", ["b"])
    assert auth_client.get("/api/journal", {"q": "old"}).json()["results"] == []
    assert len(auth_client.get("/api/journal", {"tag": "b"}).json()["results"]) == 1
    response = auth_client.patch(f"/api/journal/{entry['id']}", {"portfolio": str(traded.pk)}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "read_only_field")
    assert auth_client.delete(f"/api/journal/{entry['id']}").status_code == 204
    assert JournalEntry.objects.count() == 0


def upload(client, entry_id, name, content, content_type):
    return client.post(f"/api/journal/{entry_id}/attachments",
                       {"file": SimpleUploadedFile(name, content, content_type=content_type)}, format="multipart")


@pytest.mark.parametrize(("name", "content", "content_type"), [
    ("chart.png", PNG, "image/png"), ("chart.jpg", JPEG, "image/jpeg"), ("chart.webp", WEBP, "image/webp")])
def test_screenshot_is_stored_downloaded_and_deleted(auth_client, traded, media_root, name, content, content_type,
                                                     django_capture_on_commit_callbacks):
    entry = write(auth_client, portfolio=str(traded.pk), note="with a chart")
    response = upload(auth_client, entry["id"], name, content, content_type)
    assert response.status_code == 201, response.content
    attachment = response.json()
    assert (attachment["content_type"], attachment["size"], attachment["original_name"]) == (
        content_type, len(content), name)
    stored = JournalAttachment.objects.get(pk=attachment["id"]).file.name
    assert stored == f"journal/{traded.pk}/{attachment['id']}.{name.rsplit('.', 1)[1]}"
    assert (media_root / stored).read_bytes() == content
    assert auth_client.get(f"/api/journal/{entry['id']}").json()["attachments"] == [attachment]

    download = auth_client.get(attachment["url"])
    assert download.status_code == 200
    assert download["Content-Type"] == content_type
    assert download["Content-Disposition"] == f'attachment; filename="{name}"'
    assert b"".join(download.streaming_content) == content

    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the delete commits
        assert auth_client.delete(attachment["url"]).status_code == 204
    assert not default_storage.exists(stored)
    assert auth_client.get(attachment["url"]).status_code == 404


@pytest.mark.parametrize(("name", "content", "content_type", "status", "code"), [
    ("notes.png", b"just some text, renamed", "image/png", 400, "content_type_mismatch"),   # a text file as .png
    ("notes.txt", b"just some text", "text/plain", 400, "unsupported_file_type"),
    ("photo.png", JPEG, "image/png", 400, "content_type_mismatch"),                          # a JPEG declared PNG
    ("huge.png", PNG + b"\x00" * 1024, "image/png", 413, "file_too_large"),                  # over the 1 KiB limit
])
def test_attachment_refusals_store_nothing(auth_client, traded, media_root, name, content, content_type, status, code):
    entry = write(auth_client, portfolio=str(traded.pk), note="x")
    response = upload(auth_client, entry["id"], name, content, content_type)
    assert response.status_code == status
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, "file")
    assert JournalAttachment.objects.count() == 0
    assert not (media_root / "journal").exists()


def test_another_users_entries_and_attachments_are_404(auth_client, other_client, traded):
    entry = write(auth_client, portfolio=str(traded.pk), note="mine", tags=["private"])
    attachment = upload(auth_client, entry["id"], "chart.png", PNG, "image/png").json()
    assert other_client.get("/api/journal").json()["results"] == []
    assert other_client.get(f"/api/journal/{entry['id']}").status_code == 404
    assert other_client.patch(f"/api/journal/{entry['id']}", {"note": "theirs"}, format="json").status_code == 404
    assert other_client.delete(f"/api/journal/{entry['id']}").status_code == 404
    assert other_client.get(attachment["url"]).status_code == 404
    assert other_client.delete(attachment["url"]).status_code == 404
    assert upload(other_client, entry["id"], "x.png", PNG, "image/png").status_code == 404
    response = other_client.post("/api/journal", {"portfolio": str(traded.pk), "note": "x"}, format="json")
    assert response.status_code == 404
    trade = Trade.objects.first()
    response = other_client.post("/api/journal", {"trade": str(trade.pk), "note": "x"}, format="json")
    assert (response.status_code, response.json()["error"]["field"]) == (404, "trade")
    assert JournalEntry.objects.get().note == "mine"


def test_an_archived_portfolio_keeps_its_entries_but_takes_no_attachment(auth_client, user, traded, media_root):
    entry = write(auth_client, portfolio=str(traded.pk), note="kept")
    portfolio_archive(user=user, portfolio_id=traded.pk)
    response = upload(auth_client, entry["id"], "chart.png", PNG, "image/png")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "portfolio_archived")
    assert JournalAttachment.objects.count() == 0
    assert list((media_root / "journal").rglob("*.png")) == []  # the file written first is gone again
    assert auth_client.get(f"/api/journal/{entry['id']}").json()["note"] == "kept"


def test_listing_costs_the_same_queries_for_more_entries(auth_client, traded):
    def list_queries():
        with CaptureQueriesContext(connection) as queries:
            assert auth_client.get("/api/journal").status_code == 200
        return len(queries)

    entry = write(auth_client, trade=str(Trade.objects.first().pk), note="one")
    upload(auth_client, entry["id"], "chart.png", PNG, "image/png")
    one = list_queries()
    for number in range(3):
        entry = write(auth_client, position=str(Position.objects.first().pk), note=f"more {number}")
        upload(auth_client, entry["id"], "chart.png", PNG, "image/png")
    assert list_queries() == one
