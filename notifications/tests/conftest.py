"""A real HTTP receiver on loopback for webhook deliveries, answering with a script of statuses."""
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    url: str
    server: ThreadingHTTPServer
    # Statuses to answer with, in turn; once used up, 200.
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    extra_headers: dict = field(default_factory=dict)
    response_body: bytes = b"ok"


@pytest.fixture
def receiver():
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            receiver = state["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.received.append(Received(self.path, dict(self.headers), body))
            status = receiver.script.pop(0) if receiver.script else 200
            self.send_response(status)
            for name, value in receiver.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(receiver.response_body)))
            self.end_headers()
            self.wfile.write(receiver.response_body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_port}/hook", server=server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def private_targets_allowed(settings):
    settings.HAUNT_WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
