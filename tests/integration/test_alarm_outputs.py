"""The local outputs of alarm escalation (gateway/alarm), each against a real peer:
the webhook POSTs to a real HTTP(S) server in this process (http.server, ssl), the
coil is written by the real Modbus driver to a real pymodbus device (modbus_peer.py).

The outputs run in alarm_outputs_probe (tests/support), which tells them of alarm
changes as the core's AlarmBook does; test_alarm_escalation.py drives the same outputs
through the whole gateway.

Proves: one POST per escalation and one per acknowledgement of an escalated alarm, with
the documented body and the bearer token (which never reaches the log); raised alarms,
folded presses, test presses and repeated acknowledgements post nothing; retries at
1 s then 2 s after a 503, none after a 401; a receiver that hangs costs the caller
nothing (the queue is bounded and its overflow counted); https with verification (a
certificate of another CA is refused); the coil is ON while an alarm is escalated and
OFF once acknowledged; a dead device blocks nothing and gets the latest wanted state
when it is back.
"""

import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from certs import Ca
from helpers import free_port, wait_until
from modbus_peer import ModbusPeer

TOKEN = "duty-phone-s3cret-7f3a"


class Receiver:
    """A webhook receiver: records each POST; answers with the next status of `script`
    (then 200)."""

    def __init__(self, tls_cert=None):
        self.posts = []
        self.script = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    status = outer.script.pop(0) if outer.script else 200
                    outer.posts.append({"t": time.monotonic(), "path": self.path, "status": status,
                                        "headers": dict(self.headers), "body": body})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls_cert)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self):
        with self.lock:
            return [json.loads(p["body"]) for p in self.posts]

    def wait_posts(self, n, timeout=10):
        ok = wait_until(lambda: len(self.posts) >= n, timeout)
        assert ok, "expected %d POSTs, got %d: %r" % (n, len(self.posts), self.bodies())
        return self.bodies()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Probe:
    def __init__(self, tmp_path, env=None, **args):
        self.log_path = tmp_path / ("probe-%d.log" % free_port())
        self.log = open(self.log_path, "w")
        cmd = [os.environ["ALARM_OUTPUTS_PROBE"]] + ["%s=%s" % kv for kv in args.items()]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, bufsize=1, env=dict(os.environ, **(env or {})))
        assert self.proc.stdout.readline().strip() == "ready", self.logtext()

    def _ask(self, cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def alarm(self, **fields):
        """Tells the outputs of an alarm change; returns how long the call took (s)."""
        t0 = time.monotonic()
        assert self._ask({"op": "alarm", "alarm": fields}) == "ok"
        return time.monotonic() - t0

    def stats(self):
        return json.loads(self._ask({"op": "stats"}))

    def close(self, timeout=15):
        self.proc.stdin.close()
        self.proc.wait(timeout)
        self.log.close()
        return self.proc.returncode

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()


def escalated(aid, **kw):
    return dict(dict(id=aid, sensor="cord-1", location="Room 3, bed 2", kind="call", state="escalated",
                     raised_ms=1700000000000, presses=1, escalated_ms=1700000060000), **kw)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_webhook_posts_escalation_and_acknowledgement(tmp_path, receiver):
    probe = Probe(tmp_path, webhook_url="http://127.0.0.1:%d/duty/alarm?key=abc" % receiver.port,
                  webhook_token=TOKEN, webhook_timeout_ms=2000, webhook_retries=2)
    try:
        # Raised, then escalated: only the escalation posts (the queue keeps order, so a
        # POST of the raise would arrive first).
        probe.alarm(**escalated("cord-1-1700000000000", state="raised", escalated_ms=-1))
        probe.alarm(**escalated("cord-1-1700000000000"))
        [first] = receiver.wait_posts(1)
        assert first == {"event": "escalated", "alarm": {
            "id": "cord-1-1700000000000", "facility": "station-1", "facility_name": "Huacao day-care station",
            "sensor": "cord-1", "location": "Room 3, bed 2", "kind": "call", "test": False,
            "raised_ms": 1700000000000, "presses": 1, "escalated_ms": 1700000060000, "acknowledged_ms": -1,
            "acknowledged_by": ""}}
        post = receiver.posts[0]
        assert post["path"] == "/duty/alarm?key=abc"
        assert post["headers"]["Authorization"] == "Bearer " + TOKEN
        assert post["headers"]["Content-Type"] == "application/json"
        # A press folded in while escalated, and a test press (which never escalates, but
        # an output must not trust that): nothing.
        probe.alarm(**escalated("cord-1-1700000000000", presses=3))
        probe.alarm(**escalated("cord-9-1700000005000", sensor="cord-9", test=True))
        probe.alarm(**escalated("cord-1-1700000000000", state="acknowledged", presses=3,
                                acknowledged_ms=1700000090000, acknowledged_by="Wang Fang"))
        bodies = receiver.wait_posts(2)
        assert bodies[1]["event"] == "acknowledged"
        assert bodies[1]["alarm"]["acknowledged_by"] == "Wang Fang"
        assert bodies[1]["alarm"]["presses"] == 3
        assert bodies[1]["alarm"]["acknowledged_ms"] == 1700000090000
        # The host retries its acknowledgement; an alarm acknowledged before it escalated:
        # nothing. The next escalation is the next POST.
        probe.alarm(**escalated("cord-1-1700000000000", state="acknowledged", presses=3,
                                acknowledged_ms=1700000090000, acknowledged_by="Wang Fang"))
        probe.alarm(**escalated("cord-2-1700000001000", sensor="cord-2", state="acknowledged", escalated_ms=-1,
                                acknowledged_ms=1700000002000))
        probe.alarm(**escalated("cord-3-1700000003000", sensor="cord-3"))
        bodies = receiver.wait_posts(3)
        assert [(b["event"], b["alarm"]["id"]) for b in bodies] == [
            ("escalated", "cord-1-1700000000000"), ("acknowledged", "cord-1-1700000000000"),
            ("escalated", "cord-3-1700000003000")]
        assert wait_until(lambda: probe.stats()["sent"] == 3, 5)
        s = probe.stats()
        assert (s["sent"], s["failed"], s["attempts"], s["dropped"]) == (3, 0, 3, 0)
    finally:
        assert probe.close() == 0
    log = probe.logtext()
    assert TOKEN not in log
    assert "key=abc" not in log  # the query may carry a key: never logged
    assert "delivered to http://127.0.0.1:%d/duty/alarm" % receiver.port in log


def test_webhook_retries_with_backoff_and_gives_up_on_refusal(tmp_path, receiver):
    probe = Probe(tmp_path, webhook_url="http://127.0.0.1:%d/hook" % receiver.port, webhook_timeout_ms=2000,
                  webhook_retries=3)
    try:
        receiver.script = [503, 503]
        probe.alarm(**escalated("a-1"))
        receiver.wait_posts(3)
        t = [p["t"] for p in receiver.posts]
        gaps = [t[1] - t[0], t[2] - t[1]]
        print("retry gaps: %.3f s, %.3f s (documented: 1 s, then 2 s)" % tuple(gaps))
        assert 0.95 <= gaps[0] < 1.5 and 1.95 <= gaps[1] < 2.6, gaps
        assert wait_until(lambda: probe.stats()["sent"] == 1, 5)
        # A refusal of the request itself (a wrong token): not asked again.
        receiver.script = [401]
        probe.alarm(**escalated("a-2"))
        assert wait_until(lambda: probe.stats()["failed"] == 1, 5)
        s = probe.stats()
        assert (s["sent"], s["failed"], s["attempts"]) == (1, 1, 4)
        assert len(receiver.posts) == 4
    finally:
        assert probe.close() == 0


def test_webhook_hanging_receiver_blocks_nothing(tmp_path):
    # Accepts connections (the kernel's backlog) and never answers.
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(512)
    n = 300
    probe = Probe(tmp_path, webhook_url="http://127.0.0.1:%d/" % hang.getsockname()[1], webhook_timeout_ms=300,
                  webhook_retries=1)
    try:
        took = [probe.alarm(**escalated("h-%d" % i)) for i in range(n)]
        took.sort()
        print("OnAlarmChanged with a hanging receiver: median %.2f ms, max %.2f ms (n=%d)"
              % (took[n // 2] * 1e3, took[-1] * 1e3, n))
        assert took[-1] < 0.25  # one stdin round trip; a POST would take 300 ms
        s = probe.stats()
        # One event in flight at most, kMaxQueued (256) waiting, the rest dropped.
        assert n - 257 <= s["dropped"] <= n - 256, s
        assert s["dropped"] + s["queued"] + s["failed"] + s["sent"] in (n - 1, n), s
        # The first one: timed out (300 ms), retried 1 s later, timed out again.
        assert wait_until(lambda: probe.stats()["failed"] >= 1, 5)
        assert probe.stats()["sent"] == 0
        t0 = time.monotonic()
    finally:
        rc = probe.close(timeout=10)
    stop_s = time.monotonic() - t0
    print("stop with %d queued: %.2f s" % (s["queued"], stop_s))
    assert rc == 0 and stop_s < 2.0
    assert "events not sent at shutdown" in probe.logtext()
    hang.close()


def test_webhook_https_verifies_the_receiver(tmp_path):
    ca = Ca(str(tmp_path), "test")
    good = Receiver(tls_cert=ca.issue("hook", server=True))
    other = Ca(str(tmp_path), "other")
    rogue = Receiver(tls_cert=other.issue("rogue", server=True))
    env = {"SSL_CERT_FILE": ca.cert_path}
    try:
        probe = Probe(tmp_path, env=env, webhook_url="https://127.0.0.1:%d/hook" % good.port,
                      webhook_token=TOKEN, webhook_timeout_ms=2000, webhook_retries=0)
        probe.alarm(**escalated("s-1"))
        [body] = good.wait_posts(1)
        assert body["alarm"]["id"] == "s-1"
        assert good.posts[0]["headers"]["Authorization"] == "Bearer " + TOKEN
        assert wait_until(lambda: probe.stats()["sent"] == 1, 5)
        assert probe.close() == 0

        probe = Probe(tmp_path, env=env, webhook_url="https://127.0.0.1:%d/hook" % rogue.port,
                      webhook_token=TOKEN, webhook_timeout_ms=2000, webhook_retries=0)
        probe.alarm(**escalated("s-2"))
        assert wait_until(lambda: probe.stats()["failed"] == 1, 5)
        assert rogue.posts == []  # the token never went to a server we could not verify
        assert probe.close() == 0
        assert "certificate verify failed" in probe.logtext()
    finally:
        good.close()
        rogue.close()


def test_webhook_url_is_checked(tmp_path):
    for url, why in [("ftp://x/", "must start with http:// or https://"),
                     ("http://user:pw@127.0.0.1/", "must not carry a user or password"),
                     ("http://127.0.0.1:99999/", "port must be 1..65535")]:
        proc = subprocess.run([os.environ["ALARM_OUTPUTS_PROBE"], "webhook_url=" + url], capture_output=True,
                              text=True, input="", timeout=10)
        assert proc.returncode == 1
        assert why in proc.stderr
        assert "pw" not in proc.stderr.replace(why, "")


def test_coil_follows_escalation_and_a_dead_device_gets_the_latest_state(tmp_path):
    port = free_port()
    peer = ModbusPeer("tcp", port, log_path=str(tmp_path / "peer.log"))
    peer.start()
    probe = Probe(tmp_path, modbus_port=port, coil_address=5)
    try:
        # At start the coil is switched OFF (none escalated): set it ON first to see it.
        assert wait_until(lambda: probe.stats()["coil_writes"] == 1, 5)
        assert peer.get("co", 5) == [0]
        t0 = time.monotonic()
        probe.alarm(**escalated("c-1"))
        assert wait_until(lambda: peer.get("co", 5) == [1], 5)
        on_s = time.monotonic() - t0
        print("coil ON after the escalation: %.0f ms (poll interval 200 ms)" % (on_s * 1e3))
        assert on_s < 0.5  # a queued write wakes the worker; it does not wait for a poll
        # A second escalated alarm, then the first acknowledged: still ON.
        probe.alarm(**escalated("c-2", sensor="cord-2"))
        probe.alarm(**escalated("c-1", state="acknowledged", acknowledged_ms=1700000070000))
        assert probe.stats()["coil_on"] is True
        probe.alarm(**escalated("c-2", sensor="cord-2", state="acknowledged", acknowledged_ms=1700000071000))
        assert wait_until(lambda: peer.get("co", 5) == [0], 5)
        s = probe.stats()
        assert (s["coil_writes"], s["coil_switches"], s["pending_coil_writes"]) == (3, 2, 0)
        assert s["coil_write_errors"] == 0

        # The device dies; an alarm escalates and is acknowledged meanwhile (ON, then OFF).
        peer.kill()
        t_dead = time.monotonic()
        took = [probe.alarm(**escalated("c-3", sensor="cord-3"))]
        assert wait_until(lambda: probe.stats()["coil_write_errors"] >= 1, 5)
        took.append(probe.alarm(**escalated("c-3", sensor="cord-3", state="acknowledged",
                                             acknowledged_ms=1700000080000)))
        assert max(took) < 0.25
        # Retried before each poll, with the dead device's backoff.
        assert wait_until(lambda: probe.stats()["coil_write_errors"] >= 3, 10)
        s = probe.stats()
        assert s["pending_coil_writes"] == 1  # the OFF replaced the ON: one write waits
        assert s["coil_writes"] == 3
        peer.values[("co", 5)] = [1]  # the device comes back with the light ON
        peer.start()
        assert wait_until(lambda: probe.stats()["pending_coil_writes"] == 0, 10)
        back_s = time.monotonic() - t_dead
        assert peer.get("co", 5) == [0]
        s = probe.stats()
        # Exactly one more write: the latest wanted state (OFF), never the ON it replaced.
        assert s["coil_writes"] == 4, s
        print("dead device: %d failed write attempts, latest state written %.1f s after it died"
              % (s["coil_write_errors"], back_s))
    finally:
        assert probe.close() == 0
        peer.kill()
