"""A node that answers slowly does not hang the tools: every request of the replay's hot path (FastChain) gives
up after its timeout with a message that says so. A fake JSON-RPC server sleeps before each answer."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from backstop.chain.fastchain import ChainDied, FastChain


def _server(delay: float) -> ThreadingHTTPServer:
    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(delay)
            answer = lambda q: {"jsonrpc": "2.0", "id": q["id"], "result": "0x7a69"}  # noqa: E731 - chain id 31337
            payload = json.dumps([answer(q) for q in body] if isinstance(body, list) else answer(body)).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up first
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def slow_node() -> Iterator[str]:
    server = _server(delay=1.0)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_connecting_to_a_node_slower_than_the_timeout_fails_fast_and_says_why(slow_node):
    t0 = time.monotonic()
    with pytest.raises(ChainDied, match=r"no answer within 0\.3 s"):
        FastChain.connect(slow_node, timeout=0.3)
    assert time.monotonic() - t0 < 0.9  # gave up before the node answered


def test_a_batch_to_a_node_that_became_slow_fails_with_the_timeout(slow_node):
    fast_server = _server(delay=0)
    try:
        chain = FastChain.connect(f"http://127.0.0.1:{fast_server.server_address[1]}", timeout=0.3)
    finally:
        fast_server.shutdown()
    assert chain.chain_id == 31337
    chain.uri = slow_node  # the same client, now talking to a node that takes 1 s per answer
    with pytest.raises(ChainDied, match=r"batch of 2\): no answer within 0\.3 s"):
        chain.batch([("eth_chainId", []), ("eth_chainId", [])])


def test_a_slow_node_within_the_timeout_is_waited_for():
    server = _server(delay=0.2)
    try:
        chain = FastChain.connect(f"http://127.0.0.1:{server.server_address[1]}", timeout=2)
        assert chain.chain_id == 31337
        assert chain.batch([("eth_chainId", [])]) == ["0x7a69"]
    finally:
        server.shutdown()
