"""The wall clock stepped backwards and forwards under a running gateway, as NTP does on a
board without a battery-backed clock (it boots in 1970 or at the last shutdown, then
jumps) or an operator with `date -s` does.

libfaketime (Debian's libfaketime, preloaded) moves CLOCK_REALTIME by an offset read from
a file once a second; CLOCK_MONOTONIC is left alone, as a real step leaves it. The
gateway stamps the readings of an HTTP sensor that sends no time of its own; after each
step the test waits until the wire timestamps follow the new clock, then checks that
every acknowledged reading arrived, in the order it was accepted, that the MQTT session
survived (timers run on the monotonic clock: one NBIRTH), and that the gateway still
answers.
"""

import glob
import http.client
import json
import time

from gateway import preload_env
from helpers import base_config, free_port, print_summary
from sparkplug import by_type, check_seq, readings

GROUP, EDGE = "huacao", "gw-clock"
TOKEN = "clock-step-token"
HOUR_S = 3600
# Offsets of the wall clock from the real one, in order: back 3 h, forward past the next
# local midnight, back 40 days (a board booting with a stale clock), and back to true.
STEPS = [("-3h", -3 * HOUR_S), ("+27h", 27 * HOUR_S), ("-40d", -40 * 24 * HOUR_S), ("+0", 0)]
PROBES_PER_STEP = 15
KEY = ("station-1", "sensors/probe-1/probe")


def faketime_lib():
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    assert found, "libfaketime is not installed (scripts/install-deps.sh installs it)"
    return found[0]


def post(port, value):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1/readings",
                     json.dumps({"facility": "station-1", "sensor": "probe-1",
                                 "readings": [{"point": "probe", "value": value}]}),
                     {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_clock_step(tmp_path, broker, make_subscriber, make_gateway):
    port = free_port()
    offset_file = tmp_path / "faketime"
    offset_file.write_text("+0\n")
    facilities = [{"id": "station-1", "type": "elderly_station", "name": "Station", "capacity": 30,
                   "sensors": [{"id": "probe-1", "kind": "occupancy", "driver": "http"},
                               {"id": "room-1", "kind": "occupancy", "driver": "http"}]}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    cfg["drivers"] = {"http": {"enabled": True, "port": port, "token": TOKEN}}
    sub = make_subscriber(broker)
    gw = make_gateway(cfg, [broker.uri], start=False)
    gw.env = preload_env(faketime_lib(), FAKETIME_TIMESTAMP_FILE=offset_file, FAKETIME_CACHE_DURATION=1,
                         DONT_FAKE_MONOTONIC=1)
    gw.start()
    gw.wait_log(r"http ingest: POST /api/v1/readings", 15)
    sub.wait_for(lambda msgs: by_type(msgs, "NBIRTH"), 15, "NBIRTH")

    acked = []
    value = 0
    log = []

    def send(n):
        nonlocal value
        for _ in range(n):
            code, body = post(port, value)
            assert code == 202, "probe %d: %s %r" % (value, code, body)
            acked.append(value)
            value += 1

    def wire_ts(v):
        def pred(msgs):
            for m in readings(msgs).get(KEY, []):
                if int(m["value"]) == v:
                    return m["timestamp"]
            return None
        return pred

    send(PROBES_PER_STEP)
    for label, offset_s in STEPS:
        offset_file.write_text(label + "\n")
        # The gateway sees the step within libfaketime's 1 s cache: probe until a reading's
        # wire timestamp is on the new clock (within 60 s of real time plus the offset).
        deadline = time.monotonic() + 20
        while True:
            v = value
            send(1)
            ts = sub.wait_for(wire_ts(v), 15, "probe %d on the wire" % v)
            want = (time.time() + offset_s) * 1000
            if abs(ts - want) < 60000:
                break
            assert time.monotonic() < deadline, "the gateway's clock did not follow the step %s" % label
        log.append((label, v, ts))
        send(PROBES_PER_STEP)
        assert gw.running(), "gateway exited after the step %s" % label

    last = acked[-1]
    sub.wait_for(wire_ts(last), 20, "the last probe")
    rc = gw.terminate(timeout=30)
    assert rc == 0, "graceful exit code %s" % rc
    sub.barrier()
    msgs = sub.snapshot()

    arrivals = [int(m["value"]) for m in readings(msgs).get(KEY, [])]
    first_seen = []
    seen = set()
    for v in arrivals:
        if v not in seen:
            seen.add(v)
            first_seen.append(v)
    nbirths = len(by_type(msgs, "NBIRTH"))
    print("clock_step: steps (offset, first probe on the new clock, its wire ts): %s" % log)
    print_summary("clock_step", clock_steps=len(STEPS), raw_expected=len(acked),
                  raw_received=len(seen & set(acked)), raw_duplicates=len(arrivals) - len(seen), nbirths=nbirths)
    assert set(acked) <= seen, "accepted readings lost: %s" % sorted(set(acked) - seen)[:20]
    assert first_seen == sorted(first_seen), "readings arrived out of the order they were accepted"
    assert nbirths == 1, "the MQTT session did not survive the clock steps: %d NBIRTHs" % nbirths
    assert not check_seq(msgs), check_seq(msgs)
