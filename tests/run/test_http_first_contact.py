"""A host that never answered fails on the first connect error; one that answered keeps its retries."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from adapters.http import HttpClient, RetriesExhausted
from connector.config import HttpSettings


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: object) -> None:
        pass


def test_connect_error_to_a_host_that_never_answered_is_not_retried() -> None:
    port = closed_port()
    client = HttpClient(api_name="Test", base_url=f"http://127.0.0.1:{port}", settings=HttpSettings(max_attempts=8))
    with pytest.raises(RetriesExhausted, match=rf"^Test GET /x: gave up after 1 attempt\(s\): ConnectError: .*"
                                               rf"\(at 127.0.0.1:{port}\)$"):
        client.request_json("GET", "/x")
    assert (client.counter.requests, client.counter.retries) == (1, 0)


def test_a_host_that_answered_before_keeps_its_retries() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Ok)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = HttpClient(api_name="Test", base_url=f"http://127.0.0.1:{port}", settings=HttpSettings(max_attempts=3))
    assert client.request_json("GET", "/x") == {}
    server.shutdown()
    server.server_close()
    thread.join()
    with pytest.raises(RetriesExhausted, match=r"gave up after 3 attempt\(s\): ConnectError"):
        client.request_json("GET", "/x")
    assert client.counter.retries == 2
