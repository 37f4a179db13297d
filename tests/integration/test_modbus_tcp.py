"""Modbus TCP driver against real pymodbus servers (two devices, each its own process).

Proves at the platform side (Sparkplug subscriber): every register type decodes with
its byte/word order, scale and offset; a 32-bit and a 16-bit counter that wrap are
counted right in visits/entries and meals/served; malformed replies are logged, counted
and survived; a device that hangs (SIGSTOP) and one that dies (SIGKILL) go offline
(sensors/{id}/online = false) while the other device keeps reporting on time, and come
back online with their data when they return. And, against a device behind an RS-485
gateway: a reply that carries another unit id is refused (never published), logged and
counted; a scaled float32 register is Double on the wire.
"""

import json
import os
import re
import signal
import struct
import time

from helpers import UINT64, BOOLEAN, FLOAT, DOUBLE, UINT32, base_config, free_port
from modbus_peer import ModbusPeer, f32_words, i16_word, u32_words
from sparkplug import latest, readings, value_is
from web import get, web_port, web_section

GROUP, EDGE = "huacao", "gw-modbus"


def config(tmp_path, port_a, port_b):
    facilities = [
        {"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 80,
         "sensors": [{"id": "door-1", "kind": "door_counter", "driver": "modbus"},
                     {"id": "seat-1", "kind": "seat", "driver": "modbus"},
                     {"id": "meal-1", "kind": "meal_terminal", "driver": "modbus"}]},
        {"id": "fit-1", "type": "fitness_point", "name": "Fitness", "capacity": 30,
         "sensors": [{"id": "gate-1", "kind": "door_counter", "driver": "modbus"}]},
    ]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    common = {"poll_interval_ms": 200, "timeout_ms": 300, "retries": 2, "backoff_max_ms": 800}
    cfg["drivers"] = {"modbus": {"devices": [
        dict({"id": "plc-a", "facility": "canteen-1", "sensor": "door-1", "transport": "tcp",
              "host": "127.0.0.1", "port": port_a, "unit_id": 1,
              "registers": [
                  {"point": "entries_total", "table": "holding", "address": 0, "type": "uint32"},
                  {"point": "exits_total", "table": "holding", "address": 2, "type": "uint32",
                   "word_order": "little"},
                  {"point": "temperature", "table": "holding", "address": 20, "type": "int16",
                   "scale": 0.1},
                  {"point": "power_w", "table": "input", "address": 10, "type": "float32"},
                  {"point": "supply_v", "table": "input", "address": 12, "type": "uint16",
                   "byte_order": "little", "scale": 0.5, "offset": 1},
                  {"sensor": "seat-1", "point": "occupied", "table": "coil", "address": 0},
                  {"sensor": "meal-1", "point": "meals_total", "table": "holding", "address": 30,
                   "type": "uint16"},
              ]}, **common),
        dict({"id": "plc-b", "facility": "fit-1", "sensor": "gate-1", "host": "127.0.0.1",
              "port": port_b, "registers": [
                  {"point": "entries_total", "address": 0},
                  {"point": "exits_total", "address": 1}]}, **common),
    ]}}
    return cfg


def test_modbus_tcp(tmp_path, broker, make_subscriber, make_gateway):
    port_a, port_b = free_port(), free_port()
    a = ModbusPeer("tcp", port_a, log_path=str(tmp_path / "peer-a.log"))
    b = ModbusPeer("tcp", port_b, log_path=str(tmp_path / "peer-b.log"))
    try:
        a.start()
        b.start()
        a.set("hr", 0, u32_words(100) + u32_words(40, "little"))
        a.set("hr", 20, [i16_word(-35)])
        a.set("hr", 30, [65530])
        a.set("ir", 10, f32_words(1234.5) + [0x0200])  # supply: bytes swapped -> 2 -> 2*0.5+1
        a.set("co", 0, [1])
        b.set("hr", 0, [7, 3])
        sub = make_subscriber(broker)
        gw = make_gateway(config(tmp_path, port_a, port_b), [broker.uri])

        # Decoding, types.
        sub.wait_for(value_is("canteen-1", "sensors/door-1/entries_total", 100), 30, "entries 100")
        sub.wait_for(value_is("fit-1", "sensors/gate-1/entries_total", 7), 10, "gate entries 7")
        msgs = sub.snapshot()
        want = {"sensors/door-1/entries_total": (100, UINT64), "sensors/door-1/exits_total": (40, UINT64),
                "sensors/door-1/temperature": (-3.5, DOUBLE), "sensors/door-1/power_w": (1234.5, FLOAT),
                "sensors/door-1/supply_v": (2.0, DOUBLE), "sensors/seat-1/occupied": (True, BOOLEAN),
                "sensors/meal-1/meals_total": (65530, UINT64), "sensors/door-1/online": (True, BOOLEAN)}
        for name, (value, dt) in want.items():
            m = latest(msgs, "canteen-1", name)
            assert m is not None, "no %s" % name
            assert m["datatype"] == dt, "%s: datatype %s, want %s" % (name, m["datatype"], dt)
            assert abs(m["value"] - value) < 1e-6 if isinstance(value, float) else m["value"] == value, \
                "%s = %r, want %r" % (name, m["value"], value)
        assert latest(msgs, "canteen-1", "occupancy/current")["datatype"] == UINT32

        # Counter wrap: 32-bit (a big jump first is a new baseline, then the wrap counts 11)
        # and 16-bit (65530 -> 4 counts 10).
        a.set("hr", 0, u32_words(4294967290))
        sub.wait_for(value_is("canteen-1", "sensors/door-1/entries_total", 4294967290), 10, "entries near top")
        a.set("hr", 0, u32_words(5))
        a.set("hr", 2, u32_words(45, "little"))
        a.set("hr", 30, [4])
        sub.wait_for(value_is("canteen-1", "visits/entries", 11), 10, "visits 11 after the 32-bit wrap")
        sub.wait_for(value_is("canteen-1", "meals/served", 10), 10, "meals 10 after the 16-bit wrap")
        sub.wait_for(value_is("canteen-1", "occupancy/current", 6), 10, "occupancy 11 - 5")

        # Malformed replies: two corrupted answers in a row are retried within one poll.
        a.garble(2)
        gw.wait_log(r"malformed reply", 10)
        a.set("hr", 0, u32_words(8))
        sub.wait_for(value_is("canteen-1", "visits/entries", 14), 10, "visits 14 after malformed replies")
        assert gw.running()

        # A device that hangs: requests time out, its sensors go offline, the other
        # device keeps reporting on time.
        os.kill(a.proc.pid, signal.SIGSTOP)
        sub.wait_for(value_is("canteen-1", "sensors/door-1/online", False), 10, "door-1 offline")
        sub.wait_for(value_is("canteen-1", "sensors/seat-1/online", False), 5, "seat-1 offline")
        t0 = time.monotonic()
        b.set("hr", 0, [9])
        sub.wait_for(value_is("fit-1", "sensors/gate-1/entries_total", 9), 5, "gate-1 while plc-a hangs")
        assert time.monotonic() - t0 < 3, "plc-b was delayed by the hung plc-a"
        os.kill(a.proc.pid, signal.SIGCONT)
        sub.wait_for(value_is("canteen-1", "sensors/door-1/online", True), 10, "door-1 back after SIGCONT")

        # A device that dies and comes back on the same port.
        a.kill()
        sub.wait_for(value_is("canteen-1", "sensors/door-1/online", False), 10, "door-1 offline after kill")
        b.set("hr", 0, [12])
        sub.wait_for(value_is("fit-1", "sensors/gate-1/entries_total", 12), 5, "gate-1 while plc-a is dead")
        a.start()
        a.set("hr", 0, u32_words(10))
        sub.wait_for(value_is("canteen-1", "sensors/door-1/online", True), 15, "door-1 online again")
        sub.wait_for(value_is("canteen-1", "visits/entries", 16), 10, "visits 16 after the restart")
        sub.wait_for(value_is("fit-1", "visits/entries", 5), 5, "gate-1 visits 12 - 7")

        rc = gw.terminate(timeout=30)
        assert rc == 0
        log = gw.log_text()
        assert "malformed replies" in log and "modbus:" in log
    finally:
        a.kill()
        b.kill()


def driver_errors(port, driver="modbus"):
    status, _, body = get(port, "/metrics")
    assert status == 200, body
    m = re.search(r'^gateway_driver_errors_total\{driver="%s"\} (\S+)$' % driver, body, re.M)
    assert m, "no gateway_driver_errors_total for %s in /metrics" % driver
    return float(m.group(1))


def test_modbus_tcp_reply_from_another_unit(tmp_path, broker, make_subscriber, make_gateway):
    """A device (unit 5) behind a TCP-to-RS-485 gateway, here a real pymodbus server told
    to put unit 7 into its replies: libmodbus alone would take them for unit 5's. They
    must be refused: no value of them published, a log line, the driver's error counter
    (/metrics, /api/status); the device is offline until its own replies come back."""
    port = free_port()
    peer = ModbusPeer("tcp", port, log_path=str(tmp_path / "peer.log"))
    try:
        peer.start()
        peer.set("hr", 0, u32_words(100))
        peer.set("ir", 14, f32_words(12345.678))
        facilities = [{"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 80,
                       "sensors": [{"id": "door-1", "kind": "door_counter", "driver": "modbus"}]}]
        cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
        cfg["simulator"] = {"enabled": False}
        cfg["web"] = web_section()
        cfg["drivers"] = {"modbus": {"devices": [
            {"id": "rs485-gw", "facility": "canteen-1", "sensor": "door-1", "transport": "tcp",
             "host": "127.0.0.1", "port": port, "unit_id": 5, "poll_interval_ms": 200, "timeout_ms": 300,
             "retries": 1, "backoff_max_ms": 400,
             "registers": [
                 {"point": "entries_total", "address": 0, "type": "uint32"},
                 # Scaled: Double, as docs/wire-format.md promises (a Float would round it).
                 {"point": "flow_m3h", "table": "input", "address": 14, "type": "float32", "scale": 0.001},
             ]}]}}
        sub = make_subscriber(broker)
        gw = make_gateway(cfg, [broker.uri])
        wport = web_port(gw)

        # The device's own replies (unit 5 echoed) are taken.
        sub.wait_for(value_is("canteen-1", "sensors/door-1/entries_total", 100), 30, "entries 100 from unit 5")
        flow = latest(sub.snapshot(), "canteen-1", "sensors/door-1/flow_m3h")
        assert flow is not None, "no flow_m3h"
        assert flow["datatype"] == DOUBLE, "scaled float32: datatype %s, want Double" % flow["datatype"]
        (f32,) = struct.unpack(">f", struct.pack(">f", 12345.678))
        assert abs(flow["value"] - f32 * 0.001) < 1e-12, flow["value"]
        errors_before = driver_errors(wport)

        # Unit 7 answers instead; the register changes meanwhile.
        peer.answer_as(7)
        peer.set("hr", 0, u32_words(150))
        refused = r"modbus rs485-gw: reply to a read of \d+ at \d+ came from unit 7, not unit 5: refused"
        gw.wait_log(refused, 10)
        sub.wait_for(value_is("canteen-1", "sensors/door-1/online", False), 10, "door-1 offline: only unit 7 answers")
        # Counted: every refused reply (logged before this scrape) is one error, and the
        # poll that failed from them another; failed polls alone would be half as many.
        n_refused = gw.log_count(refused)
        assert n_refused >= 2, "retries: 1, so at least 2 refused replies per failed poll"
        errors = driver_errors(wport) - errors_before
        assert errors >= n_refused + 1, "driver errors +%s for %s refused replies" % (errors, n_refused)
        status, _, body = get(wport, "/api/status")
        assert status == 200, body
        st = json.loads(body)
        modbus = [d for d in st["drivers"] if d["name"] == "modbus"]
        assert modbus and modbus[0]["errors"] >= n_refused + 1, st["drivers"]
        assert any("came from unit 7, not unit 5: refused" in e["text"] for e in st["errors"]), st["errors"]
        # Nothing of unit 7's replies was published.
        got = readings(sub.snapshot(), types=("DBIRTH", "DDATA")).get(("canteen-1", "sensors/door-1/entries_total"), [])
        assert all(m["value"] == 100 for m in got), [m["value"] for m in got]

        # Its own replies again: online, and the new value.
        peer.answer_as(None)
        sub.wait_for(value_is("canteen-1", "sensors/door-1/online", True), 15, "door-1 online again")
        sub.wait_for(value_is("canteen-1", "sensors/door-1/entries_total", 150), 10, "entries 150 from unit 5")

        assert gw.terminate(timeout=30) == 0
        n_refused = gw.log_count(refused)
        m = re.search(r"(\d+) replies from another unit", gw.log_text())
        assert m and int(m.group(1)) == n_refused, "summary %r, %d refusals logged" % (m and m.group(0), n_refused)
    finally:
        peer.kill()
