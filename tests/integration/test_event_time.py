"""Event time on the wire, with the real gateway, mosquitto and a real subscriber.

1. reports/daily revisions: the gateway's clock (libfaketime) runs just before a local
   midnight; a canteen's door counter posts through HTTP ingest with its own
   timestamps. The day's report (revision 0) is made after the watermark; then a
   reading of that day arrives late: it is counted in its day, and the report comes
   again as revision 1, stamped when it was made. The subscriber decodes both, and the
   gateway's own `report` equals the last revision.
2. A restart never re-stamps: a charge point's energy register and a door counter are
   posted, the gateway restarts, more is posted; every metric on the wire, ordered by
   timestamp, never goes back, no value is stamped later than the reading it came from,
   and no timestamp carries two different values.
3. The two counters on /metrics: `gateway_late_readings_total{facility}` counts the
   readings that came after their day was reported (HTTP ingest), and
   `gateway_readings_refused_total{reason="too_old"}` the readings of the local MQTT
   driver stamped further back than history.late_days: refused, counted, logged,
   acknowledged to the device's broker (not redelivered after a restart) and never on
   the wire.
"""

import datetime
import glob
import http.client
import json
import shutil
import subprocess
import time
import zoneinfo

from prometheus_client.parser import text_string_to_metric_families

from gateway import preload_env, run_cli
from helpers import base_config, free_port
from sparkplug import by_type, value_is
from web import get, web_port, web_section

GROUP = "huacao"
TOKEN = "event-time-token"
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")


def faketime_lib():
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    assert found, "libfaketime is not installed (scripts/install-deps.sh installs it)"
    return found[0]


def post(port, facility, sensor, readings):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1/readings", json.dumps({"facility": facility, "sensor": sensor,
                                                             "readings": readings}),
                     {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def config(tmp_path, edge, port, facilities, **history):
    cfg = base_config(GROUP, edge, tmp_path / ("data-" + edge), facilities)
    cfg["simulator"] = {"enabled": False}
    cfg["drivers"] = {"http": {"enabled": True, "port": port, "token": TOKEN}}
    if history:
        cfg["history"] = history
    return cfg


def daily_reports(msgs):
    """(date, revision) -> (metric, row 'day') of every reports/daily in DDATA."""
    out = {}
    for m in msgs:
        if m.type != "DDATA":
            continue
        for x in m.metrics:
            if x["name"] == "reports/daily":
                day = x["value"][0]
                out[(day["date"], day["revision"])] = (x, day)
    return out


def test_daily_report_revision_after_a_late_reading(tmp_path, broker, make_subscriber, make_gateway):
    port = free_port()
    facilities = [{"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 20,
                   "sensors": [{"id": "door-1", "kind": "door_counter", "driver": "http"}]}]
    cfg = config(tmp_path, "gw-revision", port, facilities, daily_report_delay_s=5)
    # The gateway's clock: 25 s before the next local midnight of the real clock's day.
    real = time.time()
    local = datetime.datetime.fromtimestamp(real, ZONE)
    midnight = datetime.datetime(local.year, local.month, local.day, tzinfo=ZONE) + datetime.timedelta(days=1)
    midnight_ms = int(midnight.timestamp() * 1000)
    offset_s = int(midnight.timestamp() - 25 - real)
    day = (midnight - datetime.timedelta(days=1)).date().isoformat()
    offset_file = tmp_path / "faketime"
    offset_file.write_text("%+d\n" % offset_s)

    sub = make_subscriber(broker)
    gw = make_gateway(cfg, [broker.uri], start=False)
    gw.env = preload_env(faketime_lib(), FAKETIME_TIMESTAMP_FILE=offset_file, FAKETIME_CACHE_DURATION=1,
                         DONT_FAKE_MONOTONIC=1)
    gw.start()
    gw.wait_log(r"http ingest: POST /api/v1/readings", 15)

    def door(entries, exits, ts):
        return [{"point": "entries_total", "value": entries, "ts": ts},
                {"point": "exits_total", "value": exits, "ts": ts}]

    # Before midnight: a baseline, then 7 in and 1 out (the counter's own times).
    t0 = midnight_ms - 20000
    assert post(port, "canteen-1", "door-1", door(100, 100, t0) + door(107, 101, t0 + 2000))[0] == 202
    # The day's report: after midnight plus the delay, on the gateway's clock.
    sub.wait_for(lambda msgs: (day, 0) in daily_reports(msgs), 60, "reports/daily revision 0 of " + day)
    # A reading of that day arrives late (the counter buffered its last sample): 3 more in.
    late_ts = midnight_ms - 5000
    assert post(port, "canteen-1", "door-1", door(110, 101, late_ts))[0] == 202
    sub.wait_for(lambda msgs: (day, 1) in daily_reports(msgs), 60, "reports/daily revision 1 of " + day)
    gw.wait_log(r"daily report of canteen-1 for %s queued again \(revision 1" % day, 10)
    assert gw.terminate(timeout=30) == 0
    sub.barrier()
    reports = daily_reports(sub.snapshot())

    first_metric, first = reports[(day, 0)]
    last_metric, last = reports[(day, 1)]
    assert first_metric["timestamp"] == midnight_ms           # revision 0: at the midnight
    assert first["visits"] == 7 and first["late_readings"] == 0
    # The late 3 are counted in their day; the sample's two points are its late readings.
    assert last["visits"] == 10 and last["late_readings"] == 2
    # A revision is stamped when it was made: after the late reading's arrival, never
    # at the midnight again (one timestamp, one value).
    assert last_metric["timestamp"] > midnight_ms + 5000
    assert (day, 2) not in reports

    out = tmp_path / "report.json"
    rc, _, err = run_cli(["report", "--config", str(gw.config_path), "--from", day, "--to", day,
                          "--format", "json", "--out", str(out)])
    assert rc == 0, err
    rep = json.loads(out.read_text(encoding="utf-8"))["facilities"][0]["days"][0]
    assert rep["visits"] == last["visits"]
    assert rep["late_readings"] == last["late_readings"]
    assert abs(rep["opening_hours"] - last["opening_hours"]) < 1e-9
    assert rep["peak_occupancy"] == last["peak_occupancy"]
    assert abs(rep["mean_occupancy"] - last["mean_occupancy"]) < 0.01  # the JSON rounds it
    assert abs(rep["completeness"] - last["completeness"]) < 1e-4


def test_a_restart_never_re_stamps(tmp_path, broker, make_subscriber, make_gateway):
    port = free_port()
    facilities = [{"id": "ev-1", "type": "charging_station", "name": "EV",
                   "sensors": [{"id": "cp-1", "kind": "charge_point", "driver": "http", "connectors": 2}]},
                  {"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 20,
                   "sensors": [{"id": "door-1", "kind": "door_counter", "driver": "http"}]}]
    cfg = config(tmp_path, "gw-restart", port, facilities)
    sub = make_subscriber(broker)
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"http ingest: POST /api/v1/readings", 15)
    now = int(time.time() * 1000)
    taken = {}  # (device, metric) -> set of timestamps readings were taken at

    def send(facility, sensor, readings):
        assert post(port, facility, sensor, readings)[0] == 202
        for r in readings:
            taken.setdefault(facility, set()).add(r["ts"])

    send("ev-1", "cp-1", [{"point": "connector/1/status", "value": "Charging", "ts": now - 60000},
                          {"point": "connector/1/energy_kwh", "value": 12.1, "ts": now - 60000},
                          {"point": "connector/1/energy_kwh", "value": 12.9, "ts": now - 30000}])
    send("canteen-1", "door-1", [{"point": "entries_total", "value": 50, "ts": now - 40000},
                                 {"point": "exits_total", "value": 50, "ts": now - 40000},
                                 {"point": "entries_total", "value": 55, "ts": now - 20000},
                                 {"point": "exits_total", "value": 51, "ts": now - 20000}])
    sub.wait_for(lambda msgs: any(x["name"] == "occupancy/current" and x["value"] == 4
                                  for m in by_type(msgs, "DDATA") if m.device == "canteen-1" for x in m.metrics),
                 30, "the canteen's occupancy")
    assert gw.terminate(timeout=30) == 0
    restart_ms = int(time.time() * 1000)
    gw.start()
    gw.wait_log(r"http ingest: POST /api/v1/readings", 15)
    send("ev-1", "cp-1", [{"point": "connector/1/energy_kwh", "value": 13.6, "ts": restart_ms + 1000}])
    send("canteen-1", "door-1", [{"point": "entries_total", "value": 58, "ts": restart_ms + 2000},
                                 {"point": "exits_total", "value": 51, "ts": restart_ms + 2000}])
    sub.wait_for(lambda msgs: any(x["name"] == "occupancy/current" and x["value"] == 7
                                  for m in by_type(msgs, "DDATA") if m.device == "canteen-1" for x in m.metrics),
                 30, "the canteen's occupancy after the restart")
    assert gw.terminate(timeout=30) == 0
    sub.barrier()
    msgs = sub.snapshot()
    assert len(by_type(msgs, "NBIRTH")) == 2

    # Every metric of both runs, births included, by device and name.
    series = {}
    for m in by_type(msgs, "DBIRTH", "DDATA"):
        for x in m.metrics:
            series.setdefault((m.device, x["name"]), set()).add((x["timestamp"], json.dumps(x["value"])))
    # Facts of the start-up moment (capacity, type, name, opening hours) are the only ones
    # taken by the gateway itself; everything else was taken at a reading's time.
    own = {"occupancy/capacity", "status/open", "facility/type", "facility/name"}
    problems = []
    for (device, name), points in sorted(series.items()):
        by_ts = {}
        for ts, v in points:
            by_ts.setdefault(ts, set()).add(v)
        for ts, vs in by_ts.items():
            if len(vs) > 1:
                problems.append("%s %s: two values at %d: %s" % (device, name, ts, sorted(vs)))
        if name not in own and not name.startswith("reports/"):
            # A local midnight is the one instant the gateway stamps a daily count (its 0)
            # without a reading at it.
            extra = {ts for ts in set(by_ts) - taken[device]
                     if datetime.datetime.fromtimestamp(ts / 1000, ZONE).time() != datetime.time(0, 0)}
            if extra:
                problems.append("%s %s stamped %s, when no reading was taken" % (device, name, sorted(extra)))
        # Cumulative values never go back when ordered by time.
        if name.endswith("energy_kwh") or name.endswith("_total") or name == "visits/entries":
            ordered = [json.loads(next(iter(by_ts[ts]))) for ts in sorted(by_ts)]
            if ordered != sorted(ordered):
                problems.append("%s %s goes back: %s" % (device, name, ordered))
    assert not problems, "\n".join(problems)
    energy = sorted(series[("ev-1", "connectors/1/energy_kwh")])
    assert [json.loads(v) for _, v in energy] == [12.1, 12.9, 13.6]
    # sensors/{id}/online = true only when the sensor spoke: once per run at most, at a reading.
    online = sorted(series[("ev-1", "sensors/cp-1/online")])
    assert all(ts in taken["ev-1"] for ts, v in online if v == "true")
    # No placeholder status for connector 2, which never reported.
    assert ("ev-1", "connectors/2/status") not in series


def scrape(port):
    """{(sample name, frozenset of labels): value} of one /metrics scrape."""
    status, _, body = get(port, "/metrics")
    assert status == 200, body
    return {(x.name, frozenset(x.labels.items())): x.value
            for f in text_string_to_metric_families(body) for x in f.samples}


def late(samples, facility):
    return samples[("gateway_late_readings_total", frozenset({("facility", facility)}))]


def too_old(samples):
    return samples[("gateway_readings_refused_total", frozenset({("reason", "too_old")}))]


def mosquitto_pub(broker, topic, payload):
    exe = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
    subprocess.run([exe, "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", topic, "-s"],
                   input=payload.encode(), check=True, timeout=10)


def chirpstack_up(device, entries, exits, ms):
    """A ChirpStack v4 uplink event of a people counter, stamped by its own clock."""
    when = datetime.datetime.fromtimestamp(ms / 1000.0, ZONE).isoformat(timespec="milliseconds")
    return json.dumps({"time": when, "deviceInfo": {"deviceName": device, "devEui": "0101010101010101"},
                       "fPort": 2, "object": {"entries": entries, "exits": exits}})


def test_late_and_too_old_readings_on_metrics(tmp_path, broker, make_broker, make_subscriber, make_gateway):
    local = make_broker(name="local")
    port = free_port()
    facilities = [{"id": "canteen-1", "type": "canteen", "name": "Canteen", "capacity": 20,
                   "sensors": [{"id": "door-1", "kind": "door_counter", "driver": "http"}]},
                  {"id": "canteen-2", "type": "canteen", "name": "Canteen 2", "capacity": 20,
                   "sensors": [{"id": "door-2", "kind": "door_counter", "driver": "mqtt"}]}]
    cfg = config(tmp_path, "gw-counters", port, facilities)
    cfg["drivers"]["mqtt"] = {
        "broker": local.uri, "client_id": "gw-counters-south", "keep_alive_s": 5,
        "reconnect": {"min_ms": 100, "max_ms": 1000},
        "subscriptions": [{"topic": "application/+/device/+/event/up", "facility": "canteen-2",
                           "sensor_pointer": "/deviceInfo/deviceName", "timestamp_pointer": "/time",
                           "points": [{"point": "entries_total", "pointer": "/object/entries"},
                                      {"point": "exits_total", "pointer": "/object/exits"}]}]}
    cfg["web"] = web_section()
    sub = make_subscriber(broker)
    gw = make_gateway(cfg, [broker.uri])
    web = web_port(gw)
    gw.wait_log(r"http ingest: POST /api/v1/readings", 15)
    gw.wait_log(r"mqtt: subscribed to 1 of 1 filters", 15)
    m = scrape(web)
    assert late(m, "canteen-1") == 0 and late(m, "canteen-2") == 0 and too_old(m) == 0

    # Late: canteen-1's first readings are of the day before yesterday (local), a
    # reported day as soon as the gateway ticks; then more of that day come.
    now = int(time.time() * 1000)
    local_now = datetime.datetime.fromtimestamp(now / 1000, ZONE)
    today = datetime.datetime(local_now.year, local_now.month, local_now.day, tzinfo=ZONE)
    day = today - datetime.timedelta(days=2)
    noon_ms = int((day + datetime.timedelta(hours=12)).timestamp() * 1000)

    def door(entries, exits, ts):
        return [{"point": "entries_total", "value": entries, "ts": ts},
                {"point": "exits_total", "value": exits, "ts": ts}]

    assert post(port, "canteen-1", "door-1", door(10, 2, noon_ms))[0] == 202
    sub.wait_for(lambda msgs: (day.date().isoformat(), 0) in daily_reports(msgs), 30,
                 "reports/daily of " + day.date().isoformat())
    late_batch = door(14, 3, noon_ms + 3600000) + door(15, 3, noon_ms + 7200000)
    assert post(port, "canteen-1", "door-1", late_batch)[0] == 202  # 202: committed, so counted
    # Every reading of that batch is stamped in a day already reported.
    expected_late = sum(1 for r in late_batch
                        if datetime.datetime.fromtimestamp(r["ts"] / 1000, ZONE).date() <= day.date())

    # Too old, through the MQTT driver: a counter whose clock is 9 days behind (more
    # than history.late_days, 7, and its day). Then a good uplink after it.
    old_ms = now - 9 * 86400000
    mosquitto_pub(local, "application/7/device/0101010101010101/event/up", chirpstack_up("door-2", 5, 1, old_ms))
    mosquitto_pub(local, "application/7/device/0101010101010101/event/up", chirpstack_up("door-2", 6, 1, now))
    sub.wait_for(value_is("canteen-2", "sensors/door-2/entries_total", 6), 15, "the good uplink after the old one")
    expected_too_old = 2  # the old uplink's two points, entries and exits
    gw.wait_log(r"pipeline: refused %d readings stamped more than history.late_days \(7\) days ago "
                r"\(%d in all\)" % (expected_too_old, expected_too_old), 10)
    m = scrape(web)
    assert late(m, "canteen-1") == expected_late
    assert late(m, "canteen-2") == 0
    assert too_old(m) == expected_too_old

    # Refused, not retried for ever: the old uplink was acknowledged, so a restart (the
    # driver's persistent session) does not bring it again.
    assert gw.terminate(timeout=30) == 0
    gw.start()
    web = web_port(gw)
    gw.wait_log(r"mqtt: connected to .* \(session resumed\)", 15)
    mosquitto_pub(local, "application/7/device/0101010101010101/event/up", chirpstack_up("door-2", 7, 1, now + 1000))
    sub.wait_for(value_is("canteen-2", "sensors/door-2/entries_total", 7), 15, "an uplink after the restart")
    assert too_old(scrape(web)) == 0
    assert gw.terminate(timeout=30) == 0
    sub.barrier()
    # Never on the wire: no metric of canteen-2 stamped at the old uplink's time.
    stamped_old = [(m.type, x["name"]) for m in by_type(sub.snapshot(), "DBIRTH", "DDATA") if m.device == "canteen-2"
                   for x in m.metrics if x.get("timestamp") == old_ms]
    assert not stamped_old, stamped_old
