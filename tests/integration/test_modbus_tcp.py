"""Modbus TCP driver against real pymodbus servers (two devices, each its own process).

Proves at the platform side (Sparkplug subscriber): every register type decodes with
its byte/word order, scale and offset; a 32-bit and a 16-bit counter that wrap are
counted right in visits/entries and meals/served; malformed replies are logged, counted
and survived; a device that hangs (SIGSTOP) and one that dies (SIGKILL) go offline
(sensors/{id}/online = false) while the other device keeps reporting on time, and come
back online with their data when they return.
"""

import os
import signal
import time

from helpers import UINT64, BOOLEAN, FLOAT, DOUBLE, UINT32, base_config, free_port
from modbus_peer import ModbusPeer, f32_words, i16_word, u32_words
from sparkplug import latest, value_is

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
