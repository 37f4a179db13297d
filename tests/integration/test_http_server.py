"""The gateway's HttpServer (gateway/http) over real loopback sockets, through
http_test_server: routing, keep-alive, asynchronous answers, size limits, the
slow-loris deadline, the connection cap, server-sent events and authentication."""

import base64
import http.client
import os
import socket
import subprocess
import tempfile
import time

import pytest

import sanitizers
from helpers import wait_until


class Server:
    def __init__(self, *args):
        binary = os.environ.get("HTTP_TEST_SERVER")
        if not binary:
            pytest.fail("HTTP_TEST_SERVER is not set (run through ctest)")
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([binary] + [str(a) for a in args], stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        line = self.proc.stdout.readline()  # EOF if it exits
        assert line.startswith("port "), "no port line: %r" % line
        self.port = int(line.split()[1])

    def conn(self, timeout=5):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path, headers=None, method="GET", body=None):
        c = self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def stats(self):
        _, body = self.get("/stats")
        return dict(kv.split("=") for kv in body.decode().split())

    def raw(self, timeout=5):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return s

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.seek(0)
        return self.log.read()


@pytest.fixture
def make_server():
    servers = []

    def make(*args):
        s = Server(*args)
        servers.append(s)
        return s
    yield make
    for s in servers:
        log = s.stop()
        print("---- http_test_server log ----\n" + log)
    for s in servers:
        sanitizers.check(s.stop(), "http_test_server", s.proc.returncode)


def recv_until(sock, marker):
    data = b""
    while marker not in data:
        b = sock.recv(4096)
        if not b:
            return False
        data += b
    return True


def read_all(sock):
    chunks = []
    while True:
        try:
            b = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def test_routes_keep_alive_head_and_errors(make_server):
    s = make_server()
    c = s.conn()
    # Several requests on one connection: keep-alive works.
    for name in ("a", "%E9%A3%9F"):
        c.request("GET", "/hello?name=" + name)
        r = c.getresponse()
        assert r.status == 200
        assert r.read().decode() in ("hello a\n", "hello 食\n")
    c.request("HEAD", "/hello")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Length") == "12"
    assert r.read() == b""
    c.request("GET", "/nowhere")
    r = c.getresponse()
    assert r.status == 404
    r.read()
    c.request("DELETE", "/hello")
    r = c.getresponse()
    assert r.status == 405 and r.getheader("Allow") == "GET"
    r.read()
    c.close()
    assert s.stats()["accepted"] == "2"  # the five requests above used one; /stats the other

    r, body = s.get("/prefix/exact")
    assert body == b"exact\n"
    r, body = s.get("/prefix/a/b?c")
    assert body == b"prefix /prefix/a/b?c\n"


def test_async_answers_and_handler_failures(make_server):
    s = make_server()
    r, body = s.get("/echo", method="POST", body=b"x" * 1000)
    assert r.status == 200 and body == b"x" * 1000
    r, body = s.get("/drop")
    assert r.status == 500
    r, body = s.get("/throw")
    assert r.status == 500
    # The server survived both.
    r, body = s.get("/hello")
    assert r.status == 200
    assert s.stats()["handler_errors"] == "1"


def test_size_limits(make_server):
    s = make_server("--max-body", 1024, "--max-header", 2048)
    r, _ = s.get("/echo", method="POST", body=b"y" * 1024)
    assert r.status == 200
    r, _ = s.get("/echo", method="POST", body=b"y" * 1025)
    assert r.status == 413
    r, _ = s.get("/hello", headers={"X-Big": "z" * 4096})
    assert r.status == 431
    assert s.stats()["too_large"] == "2"
    # Garbage gets a 400, and the connection is closed.
    sock = s.raw()
    sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    assert read_all(sock).startswith(b"HTTP/1.1 400")


def test_slow_client_is_cut_off(make_server):
    s = make_server("--request-timeout-ms", 400)
    sock = s.raw(timeout=10)
    start = time.monotonic()
    sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")  # never finishes the header
    # Trickle a byte now and then: the deadline covers the whole request, not each read.
    for _ in range(3):
        time.sleep(0.1)
        try:
            sock.sendall(b"X")
        except OSError:
            break
    assert read_all(sock) == b""
    elapsed = time.monotonic() - start
    assert elapsed < 5, "connection held for %.1f s" % elapsed
    assert wait_until(lambda: s.stats()["timeouts"] == "1", 5)
    # An idle keep-alive connection is closed too, without counting as a timeout.
    c = s.conn(timeout=10)
    c.request("GET", "/hello")
    r = c.getresponse()
    r.read()
    assert r.getheader("Connection", "").lower() != "close", "the response did not keep the connection"
    # The server's close is awaited (EOF on the socket), not guessed with a sleep: a
    # loaded machine may take longer than the 400 ms to get to it.
    assert c.sock.recv(1) == b"", "the idle keep-alive connection was not closed"
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        c.request("GET", "/hello")
        c.getresponse()
    assert s.stats()["timeouts"] == "1"


def test_connection_cap(make_server):
    s = make_server("--max-connections", 3)
    streams = []
    for _ in range(2):
        sock = s.raw()
        sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        assert recv_until(sock, b": open")
        streams.append(sock)
    # The /stats connection is the third; a fourth is refused while it is open.
    c = s.conn()
    c.request("GET", "/stats")
    c.getresponse().read()
    extra = s.raw()
    extra.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_all(extra).startswith(b"HTTP/1.1 503")
    c.close()
    # A client that goes away frees its place, and its stream's on_close runs.
    streams.pop().close()
    assert wait_until(lambda: s.stats()["streams"] == "1", 5)
    assert s.stats()["refused"] == "1"


def test_server_sent_events(make_server):
    s = make_server()
    sock = s.raw()
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    data = read_all(sock).decode()
    head, _, body = data.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200")
    assert "Content-Type: text/event-stream" in head
    events = [e for e in body.split("\n\n") if e]
    assert events == ["event: tick\ndata: n=%d\ndata: second line" % i for i in range(5)]


def test_stream_client_that_stops_reading_is_dropped(make_server):
    s = make_server()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", s.port))
    sock.sendall(b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
    assert recv_until(sock, b"event: flood")
    # Then it reads nothing: the kernel buffers fill, the server's queue passes its
    # bound, and the server closes the stream instead of buffering without end.
    assert wait_until(lambda: s.stats()["streams"] == "0", 20), s.stats()
    assert s.proc.poll() is None
    sock.close()
    assert "event stream client is not reading; closing it" in s.stop()


def test_basic_auth(make_server):
    s = make_server("--user", "operator", "--password", "s3cret:密")
    r, _ = s.get("/hello")
    assert r.status == 401
    assert r.getheader("WWW-Authenticate").startswith("Basic realm=")
    good = base64.b64encode("operator:s3cret:密".encode()).decode()
    bad = base64.b64encode(b"operator:s3cret").decode()
    r, body = s.get("/hello", headers={"Authorization": "Basic " + good})
    assert r.status == 200 and body == b"hello world\n"
    r, _ = s.get("/hello", headers={"Authorization": "Basic " + bad})
    assert r.status == 401
    r, _ = s.get("/healthz")  # public route
    assert r.status == 200
    assert s.stats()["unauthorized"] == "2"


def test_bearer_token(make_server):
    s = make_server("--token", "tok-123")
    assert s.get("/hello")[0].status == 401
    assert s.get("/hello", headers={"Authorization": "Bearer tok-123"})[0].status == 200
    assert s.get("/hello", headers={"Authorization": "Bearer tok-124"})[0].status == 401


def test_stop_closes_open_streams(make_server):
    s = make_server()
    sock = s.raw()
    sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
    assert recv_until(sock, b": open")
    s.proc.terminate()
    assert s.proc.wait(5) == 0
    assert read_all(sock) == b""
