"""Modbus RTU driver over a serial line: a socat pty pair, the gateway on one end and a
real pymodbus RTU server on the other.

Proves at the platform side: registers decode over RTU framing; replies with a bad CRC
are logged, counted and retried; replies from another slave address are refused (not
published), logged and counted; when the device and its line go away the sensor goes
offline, and when they come back (a new pty behind the same path, as a USB adapter
re-plugged) the port is reopened and the readings resume.
"""

import os
import re
import shutil
import subprocess

import pytest

from helpers import UINT64, base_config, wait_until
from modbus_peer import ModbusPeer, u32_words
from sparkplug import latest, readings, value_is

GROUP, EDGE = "huacao", "gw-rtu"


class PtyPair:
    def __init__(self, workdir):
        self.a = os.path.join(str(workdir), "ttyGW")
        self.b = os.path.join(str(workdir), "ttyDEV")
        self.proc = None

    def start(self):
        exe = shutil.which("socat")
        for p in (self.a, self.b):
            if os.path.lexists(p):
                os.unlink(p)
        self.proc = subprocess.Popen([exe, "pty,raw,echo=0,link=%s" % self.a, "pty,raw,echo=0,link=%s" % self.b],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(lambda: os.path.exists(self.a) and os.path.exists(self.b), 10), "socat ptys"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_modbus_rtu(tmp_path, broker, make_subscriber, make_gateway):
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed")
    line = PtyPair(tmp_path)
    line.start()
    dev = ModbusPeer("rtu", line.b, baud=19200, log_path=str(tmp_path / "peer.log"))
    try:
        dev.start()
        dev.set("ir", 0, u32_words(500, "little"))
        dev.set("di", 3, [1])
        facilities = [{"id": "fit-1", "type": "fitness_point", "name": "Fitness", "capacity": 30,
                       "sensors": [{"id": "gate-1", "kind": "door_counter", "driver": "modbus"},
                                   {"id": "bike-1", "kind": "equipment", "driver": "modbus"}]}]
        cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
        cfg["simulator"] = {"enabled": False}
        cfg["drivers"] = {"modbus": {"devices": [{
            "id": "rs485-1", "facility": "fit-1", "sensor": "gate-1", "transport": "rtu",
            "serial": {"port": line.a, "baud": 19200, "parity": "none", "data_bits": 8, "stop_bits": 1},
            "unit_id": 3, "poll_interval_ms": 200, "timeout_ms": 300, "retries": 2, "backoff_max_ms": 800,
            "registers": [
                {"point": "entries_total", "table": "input", "address": 0, "type": "uint32", "word_order": "little"},
                {"sensor": "bike-1", "point": "in_use", "table": "discrete_input", "address": 3}]}]}}
        sub = make_subscriber(broker)
        gw = make_gateway(cfg, [broker.uri])
        sub.wait_for(value_is("fit-1", "sensors/gate-1/entries_total", 500), 30, "entries 500 over RTU")
        m = latest(sub.snapshot(), "fit-1", "sensors/gate-1/entries_total")
        assert m["datatype"] == UINT64
        sub.wait_for(value_is("fit-1", "equipment/bike-1/in_use", True), 10, "bike in use")

        dev.garble(2)
        gw.wait_log(r"malformed reply", 10)
        dev.set("ir", 0, u32_words(507, "little"))
        sub.wait_for(value_is("fit-1", "visits/entries", 7), 10, "visits 7 after bad CRCs")

        # Another slave address answers (valid CRC): libmodbus refuses it on RTU, the
        # driver logs and counts it like a TCP reply from another unit id.
        dev.answer_as(9)
        dev.set("ir", 0, u32_words(508, "little"))
        gw.wait_log(r"modbus rs485-1: reply to a read of \d+ at \d+ came from another unit, not unit 3: refused", 10)
        sub.wait_for(value_is("fit-1", "sensors/gate-1/online", False), 10, "gate-1 offline: only slave 9 answers")
        got = readings(sub.snapshot()).get(("fit-1", "sensors/gate-1/entries_total"), [])
        assert 508 not in [m["value"] for m in got], "a reply from slave 9 was published"
        dev.answer_as(None)
        sub.wait_for(value_is("fit-1", "sensors/gate-1/online", True), 10, "gate-1 online: slave 3 answers again")
        sub.wait_for(value_is("fit-1", "visits/entries", 8), 10, "visits 8 from slave 3's reply")

        # The device and its line go away, then come back behind the same path.
        dev.kill()
        line.stop()
        sub.wait_for(value_is("fit-1", "sensors/gate-1/online", False), 15, "gate-1 offline")
        line.start()
        dev.start()
        dev.set("ir", 0, u32_words(510, "little"))
        sub.wait_for(value_is("fit-1", "sensors/gate-1/online", True), 20, "gate-1 online again")
        sub.wait_for(value_is("fit-1", "visits/entries", 10), 10, "visits 10 after the line came back")
        assert gw.terminate(timeout=30) == 0
        assert re.search(r"[1-9]\d* replies from another unit", gw.log_text()), "refusals not counted"
    finally:
        dev.kill()
        line.stop()
