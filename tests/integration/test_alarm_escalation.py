"""Local escalation through the whole gateway, with the uplink down (no broker at all):
a call button's press through HTTP ingest raises an alarm; nobody can acknowledge it,
so after alarms.escalate_after_s the local outputs fire: the webhook POST reaches a
real HTTP server in this test, and the coil is 1 on a real Modbus device (pymodbus),
both within their bound; the alarm is on the status page (/api/status, and in Chromium:
banner pushed at once, its latency recorded, sound while escalated, silence, test presses grey).

The bound: escalate_after_s after the press, plus one escalation check of the core and
the outputs' own latency (one POST; one FC05 write, woken at once). The test computes
it from the config and asserts each output lands within it.
"""

import http.server
import json
import os
import subprocess
import threading
import time

import pytest

from helpers import base_config, free_port, wait_until
from modbus_peer import ModbusPeer
from web import get, web_port, web_section

GROUP, EDGE = "huacao", "gw-alarm"
TOKEN = "duty-phone-token-5c1e"
INGEST_TOKEN = "ingest-token-91ab"
ESCALATE_AFTER_S = 2.0
# The core checks for alarms due to escalate at least this often (gateway/alarm), and the
# outputs add one POST on loopback or one Modbus write: well under this slack.
SLACK_S = 1.5
PUSH_INTERVAL_MS = 60000

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "..", "browser")


class Receiver:
    def __init__(self):
        self.posts = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.posts.append({"t": time.time(), "path": self.path, "headers": dict(self.headers),
                                    "body": json.loads(body)})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def config(tmp_path, ingest_port, modbus_port, hook_port):
    facilities = [{"id": "station-1", "type": "elderly_station", "name": "华漕养老驿站 Huacao day care",
                   "capacity": 40, "sensors": [
                       {"id": "cord-1", "kind": "call_button", "driver": "http", "location": "Room 3, bed 2"},
                       {"id": "cord-2", "kind": "call_button", "driver": "http", "location": "Bathroom 1"},
                       {"id": "cord-3", "kind": "call_button", "driver": "http", "location": "Hall"},
                       {"id": "door-1", "kind": "door_counter", "driver": "modbus"}]}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    # Pages get their periodic refresh only every minute: an alarm that reaches an open
    # page within seconds came by the push that an alarm change makes at once.
    cfg["web"] = web_section(push_interval_ms=PUSH_INTERVAL_MS)
    cfg["drivers"] = {
        "http": {"enabled": True, "port": ingest_port, "token": INGEST_TOKEN},
        "modbus": {"devices": [{
            "id": "io-1", "facility": "station-1", "sensor": "door-1", "host": "127.0.0.1", "port": modbus_port,
            "poll_interval_ms": 500, "timeout_ms": 300, "retries": 1, "backoff_max_ms": 1000,
            "registers": [{"point": "entries_total", "table": "holding", "address": 0, "type": "uint32"},
                          {"point": "exits_total", "table": "holding", "address": 2, "type": "uint32"}]}]},
    }
    cfg["alarms"] = {"escalate_after_s": ESCALATE_AFTER_S, "reannounce_s": 30, "escalation": {
        "coil": {"device": "io-1", "address": 16},
        "webhook": {"url": "http://127.0.0.1:%d/duty/alarm" % hook_port, "token": TOKEN,
                    "timeout_ms": 2000, "retries": 2}}}
    return cfg


def press(port, sensor, action="emergency", ts_ms=None):
    body = {"facility": "station-1", "sensor": sensor,
            "readings": [dict({"point": "action", "value": action}, **({"ts": ts_ms} if ts_ms else {}))]}
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                        "http://127.0.0.1:%d/api/v1/readings" % port, "-H", "Content-Type: application/json",
                        "-H", "Authorization: Bearer " + INGEST_TOKEN, "--data-binary", json.dumps(body)],
                       capture_output=True, text=True, timeout=30)
    assert p.stdout in ("200", "202", "204"), (p.stdout, p.stderr)
    return body


def chromium():
    import shutil
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def setup(tmp_path, make_gateway):
    ingest_port, modbus_port = free_port(), free_port()
    peer = ModbusPeer("tcp", modbus_port, log_path=str(tmp_path / "peer.log"))
    peer.start()
    hook = Receiver()
    gw = make_gateway(config(tmp_path, ingest_port, modbus_port, hook.port), [])
    gw.wait_log(r"http ingest: POST /api/v1/readings on 127\.0\.0\.1:%d" % ingest_port, 15)
    yield gw, ingest_port, peer, hook
    hook.close()
    peer.kill()


def test_uplink_down_escalates_locally(setup):
    gw, ingest_port, peer, hook = setup
    port = web_port(gw)
    # The coil is switched off at start (nothing escalated), before any press.
    assert wait_until(lambda: "coil 16 is OFF" in gw.log_text(), 10)
    assert peer.get("co", 16) == [0]

    t_press = time.time()
    press(ingest_port, "cord-1")
    # On the status page's data at once, raised.
    def open_alarms():
        return json.loads(get(port, "/api/status")[2]).get("alarms", [])
    assert wait_until(lambda: [a for a in open_alarms() if a["sensor"] == "cord-1"], 5)
    [a] = [a for a in open_alarms() if a["sensor"] == "cord-1"]
    assert a["state"] == "raised" and a["location"] == "Room 3, bed 2" and not a["test"]
    assert hook.posts == []  # nothing before the escalation
    assert peer.get("co", 16) == [0]

    bound = ESCALATE_AFTER_S + SLACK_S
    assert wait_until(lambda: hook.posts, bound + 5), "no webhook POST"
    post = hook.posts[0]
    hook_s = post["t"] - t_press
    assert wait_until(lambda: peer.get("co", 16) == [1], bound + 5), "coil not ON"
    coil_s = time.time() - t_press
    print("press -> webhook POST %.2f s, press -> coil ON %.2f s (escalate_after_s %.1f, bound %.1f s)"
          % (hook_s, coil_s, ESCALATE_AFTER_S, bound))
    assert ESCALATE_AFTER_S - 0.2 <= hook_s <= bound
    assert coil_s <= bound + 0.2  # + one stdin round trip to the peer per check
    assert post["path"] == "/duty/alarm"
    assert post["headers"]["Authorization"] == "Bearer " + TOKEN
    body = post["body"]
    assert body["event"] == "escalated"
    al = body["alarm"]
    assert (al["facility"], al["facility_name"], al["sensor"], al["location"], al["kind"], al["test"]) == (
        "station-1", "华漕养老驿站 Huacao day care", "cord-1", "Room 3, bed 2", "call", False)
    assert al["id"] == "cord-1-%d" % al["raised_ms"]
    assert abs(al["raised_ms"] / 1000 - t_press) < 2
    assert al["escalated_ms"] - al["raised_ms"] >= ESCALATE_AFTER_S * 1000
    assert al["acknowledged_ms"] == -1
    [a] = [a for a in open_alarms() if a["sensor"] == "cord-1"]
    assert a["state"] == "escalated"

    _, _, metrics = get(port, "/metrics")
    assert 'gateway_alarms_open{facility="station-1",state="escalated",test="false"} 1' in metrics
    assert "gateway_alarm_webhook_sent_total 1" in metrics
    assert "gateway_alarm_coil_on 1" in metrics
    assert TOKEN not in gw.log_text()
    assert gw.terminate() == 0


def test_kill_before_and_after_escalation(setup):
    """kill -9 while an alarm waits for its escalation, and again once it escalated with
    the station's IO module reset too (a power cut): the alarm is resumed from disk
    each time, escalates once when due, and after the second start the coil is switched
    on again and the duty phone is told again (the POST may have been lost with the
    power). One alarm throughout: never raised twice, never escalated anew."""
    gw, ingest_port, peer, hook = setup
    assert wait_until(lambda: "coil 16 is OFF" in gw.log_text(), 10)
    t_press = time.time()
    press(ingest_port, "cord-2")
    m = gw.wait_log(r"ALARM (cord-2-\d+) raised", 5)
    alarm_id = m.group(1)
    gw.kill()  # raised and committed; not yet escalated
    assert hook.posts == [] and peer.get("co", 16) == [0]

    gw.start()
    gw.wait_log(r"1 open alarms resumed", 15)
    assert wait_until(lambda: hook.posts, ESCALATE_AFTER_S + SLACK_S + 15), "not escalated after the restart"
    first = hook.posts[0]["body"]
    assert first["event"] == "escalated" and first["alarm"]["id"] == alarm_id
    assert first["alarm"]["escalated_ms"] - first["alarm"]["raised_ms"] >= ESCALATE_AFTER_S * 1000
    assert abs(first["alarm"]["raised_ms"] / 1000 - t_press) < 2  # the press's own time, kept
    assert wait_until(lambda: peer.get("co", 16) == [1], 10), "coil not ON"
    gw.kill()  # escalated and committed (the outputs hear only of committed changes)
    peer.set("co", 16, [0])  # the IO module lost its power too

    gw.start()
    gw.wait_log(r"1 open alarms resumed", 15)
    assert wait_until(lambda: len(hook.posts) >= 2, 15), "the escalated alarm was not announced again"
    again = hook.posts[1]["body"]
    assert again == first, "announced again as it was, not escalated anew"
    assert wait_until(lambda: peer.get("co", 16) == [1], 10), "coil not switched on again at start"
    gw.wait_log(r"alarm webhook: 1 escalated alarms resumed, announced again", 5)
    port = web_port(gw)
    open_alarms = json.loads(get(port, "/api/status")[2]).get("alarms", [])
    assert [(a["id"], a["state"]) for a in open_alarms] == [(alarm_id, "escalated")]
    assert len(hook.posts) == 2
    assert "raised" not in gw.log_text()  # this run raised nothing
    assert gw.terminate() == 0


def test_status_page_shows_alarms_in_chromium(setup, tmp_path):
    gw, ingest_port, peer, hook = setup
    if chromium() is None:
        pytest.fail("Debian's chromium is not installed (scripts/install-deps.sh installs it)")
    if not os.path.exists(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        subprocess.run([os.path.join(BROWSER_DIR, "setup.sh")], check=True, timeout=300)
    port = web_port(gw)
    artifacts = os.path.join(os.environ.get("GATEWAY_BINARY_DIR", str(tmp_path)), "test-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    shot = os.path.join(artifacts, "alarm_banner.png")
    presses = {
        "call": {"facility": "station-1", "sensor": "cord-1", "readings": [{"point": "action", "value": "emergency"}]},
        "test": {"facility": "station-1", "sensor": "cord-3", "readings": [{"point": "action", "value": "test"}]},
        "second": {"facility": "station-1", "sensor": "cord-2", "readings": [{"point": "action", "value": "sos"}]},
    }
    ingest = "http://127.0.0.1:%d/api/v1/readings" % ingest_port
    env = dict(os.environ, INGEST_TOKEN=INGEST_TOKEN)
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "alarm_banner.js"), "http://127.0.0.1:%d/" % port,
                        ingest, json.dumps(presses), shot, chromium()],
                       capture_output=True, text=True, timeout=180, cwd=BROWSER_DIR, env=env)
    seen = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    print("alarm banner:", seen)
    assert p.returncode == 0, "browser script failed:\n%s\n%s" % (p.stdout, p.stderr)
    assert seen["banner_hidden_before"] is True
    # Pushed at once, not at the next periodic refresh (a minute away): the latency
    # itself, against the aim of 1 s, is a benchmark figure (bench/RESULTS.md), kept
    # here as an artifact rather than asserted.
    with open(os.path.join(artifacts, "alarm_banner_latency.json"), "w") as f:
        json.dump({k: seen[k] for k in ("appear_ms", "second_appear_ms", "test_appear_ms")}, f)
    for k in ("appear_ms", "second_appear_ms", "test_appear_ms"):
        assert seen[k] < PUSH_INTERVAL_MS / 12, (k, seen[k])
    # Right under the header, above everything else.
    assert abs(seen["banner"]["top"] - seen["banner"]["header_bottom"]) < 2
    assert seen["banner"]["main_top"] > seen["banner"]["top"]
    assert seen["first"]["state"] == "raised"
    assert "Room 3, bed 2" in seen["first"]["text"] and "cord-1" in seen["first"]["text"]
    assert "华漕养老驿站" in seen["first"]["text"]
    assert seen["first"]["background"] == "rgb(198, 40, 40)"  # --bad
    assert seen["sound_escalated"]["sound"] == "on" and seen["sound_escalated"]["audio"] == "running"
    assert seen["silenced"]["sound"] == "silenced" and seen["silenced"]["beeps_since"] == 0
    assert seen["silenced"]["button_hidden"] is True
    assert seen["test_item"]["test"] == "true" and seen["test_item"]["mark"] == "测试 test"
    assert seen["test_item"]["background"] == "rgb(107, 114, 128)"
    assert seen["rearmed"] == "on"
    # Escalated calls first, newest first; the test press last.
    assert [i.rsplit("-", 1)[0] for i in seen["order"]] == ["cord-2", "cord-1", "cord-3"]
    assert seen["scroll_width"] <= 390
    assert not seen["errors"], seen["errors"]
    assert gw.terminate() == 0


def test_retained_press_is_a_phantom(tmp_path, make_broker, make_gateway):
    """zigbee2mqtt's last message is retained by the broker and replayed to every new
    subscription: the MQTT driver marks it replayed (RETAIN set), and the press it
    carries is a phantom, never an alarm; the next live press is a call."""
    import shutil
    local = make_broker(name="local")
    exe = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"

    def pub(payload, retain):
        subprocess.run([exe, "-h", "127.0.0.1", "-p", str(local.port), "-q", "1", "-t", "zigbee2mqtt/cord-z",
                        "-m", payload] + (["-r"] if retain else []), check=True, timeout=10)

    pub('{"action":"emergency","battery":80}', retain=True)  # pressed yesterday, retained since
    facilities = [{"id": "station-1", "type": "elderly_station", "name": "Huacao", "capacity": 40,
                   "sensors": [{"id": "cord-z", "kind": "call_button", "driver": "mqtt", "location": "Flat 12"}]}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    # Pages get their periodic refresh only every minute: an alarm that reaches an open
    # page within seconds came by the push that an alarm change makes at once.
    cfg["web"] = web_section(push_interval_ms=PUSH_INTERVAL_MS)
    cfg["drivers"] = {"mqtt": {"broker": local.uri, "client_id": "gw-alarm-south", "subscriptions": [
        {"topic": "zigbee2mqtt/+", "facility": "station-1", "sensor_level": 1,
         "points": [{"point": "action", "pointer": "/action"}]}]}}
    gw = make_gateway(cfg, [])
    port = web_port(gw)
    gw.wait_log(r"mqtt: subscribed to 1 of 1 filters", 15)
    gw.wait_log(r"alarms: phantom press of station-1/cord-z", 10)

    def alarms():
        return json.loads(get(port, "/api/status")[2])["alarms"]
    assert alarms() == []
    pub('{"action":"emergency","battery":80}', retain=False)
    assert wait_until(alarms, 5), "the live press raised no alarm"
    [a] = alarms()
    assert (a["sensor"], a["location"], a["state"], a["presses"]) == ("cord-z", "Flat 12", "raised", 1)
    assert gw.terminate() == 0
