"""The town host (community-host) against a real mosquitto and a real PostgreSQL.

test_host_protocol plays one Sparkplug edge node from Python (paho), so that every
case is exact: STATE online retained with its will, births with aliases and data by
alias alone, a redelivered message absorbed by the natural key, a skipped seq asked
to be reborn only after the reorder timeout, historical samples stored but never
live, an NDEATH with a stale bdSeq ignored and the right one taking the facilities
offline, reports/daily keeping its latest revision, and PostgreSQL stopped: STATE
offline, nothing acknowledged and so nothing lost, then online again.

test_gateways_exactly_once runs three real gateways (canteen, elderly station, fitness
point) fed through HTTP ingest: one restarted, one cut from the broker for a while, the
host killed -9 and restarted meanwhile; every reading the test posted is in PostgreSQL
exactly once, with its value, computed from what the test posted; and the host's town
report of the day those readings were taken equals each gateway's own report, facility
by facility.
"""

import datetime
import json
import time

import pytest

import town_reports
from helpers import base_config, free_port, wait_until
from sparkplug_b_pb2 import Payload
from sparkplug_edge import BOOLEAN, DATASET, STRING, UINT32, UINT64, Edge
from town_reports import ZONE

GROUP = "huacao"
HOST_ID = "town-host"


@pytest.fixture
def pg(make_postgres):
    return make_postgres()


def state_of(sub):
    msgs = [m for m in sub.snapshot() if m.topic == "spBv1.0/STATE/" + HOST_ID]
    return json.loads(msgs[-1].raw) if msgs else None


def report(date, revision=None, visits=0):
    cols, types = ["date", "period", "visits"], [STRING, STRING, UINT64]
    row = [date, "day", visits]
    if revision is not None:
        cols.append("revision")
        types.append(UINT64)
        row.append(revision)
    return cols, types, [row]


def test_host_protocol(tmp_path, broker, pg, make_subscriber, make_host):
    sub = make_subscriber(broker)
    host = make_host(broker, pg, [GROUP], reorder_timeout_ms=1500, rebirth_min_interval_ms=0)
    assert wait_until(lambda: (state_of(sub) or {}).get("online") is True, 20), host.log_text()
    st = state_of(sub)
    assert isinstance(st["timestamp"], int) and abs(st["timestamp"] - time.time() * 1000) < 60000
    # Retained: a subscriber that comes later gets it at once.
    late = make_subscriber(broker)
    assert wait_until(lambda: [m for m in late.snapshot() if m.topic == "spBv1.0/STATE/" + HOST_ID], 10)
    assert [m.retained for m in late.snapshot() if m.topic == "spBv1.0/STATE/" + HOST_ID][0]

    edge = Edge(broker, GROUP, "gw-py")
    base = int(time.time() * 1000) - 60000
    edge.publish("NBIRTH", 0, [{"name": "bdSeq", "datatype": UINT64, "value": 3},
                               {"name": "Node Control/Rebirth", "datatype": BOOLEAN, "value": False, "alias": 1}])
    edge.publish("DBIRTH", 1, [{"name": "occupancy/current", "alias": 10, "datatype": UINT32, "value": 4, "ts": base},
                               {"name": "sensors/door-1/entries_total", "alias": 11, "datatype": UINT64,
                                "value": 100, "ts": base}], device="canteen-1")
    # Data by alias alone, without a datatype (Sparkplug 3.0 lets data omit it).
    data = [{"alias": 10, "type": UINT32, "value": 5, "ts": base + 1000},
            {"alias": 11, "type": UINT64, "value": 103, "ts": base + 1000}]
    edge.publish("DDATA", 2, data, device="canteen-1")
    edge.publish("DDATA", 2, data, device="canteen-1")  # a redelivery: absorbed
    # A historical sample newer than the live one: stored, never the live value.
    edge.publish("DDATA", 3, [{"alias": 10, "type": UINT32, "value": 40, "ts": base + 5000, "historical": True}],
                 device="canteen-1")
    # Daily reports: revision 1 replaces 0; a late copy of revision 0 does not come back.
    edge.publish("DDATA", 4, [{"name": "reports/daily", "datatype": DATASET, "value": report("2026-03-02", 0, 10),
                               "ts": base + 6000}], device="canteen-1")
    edge.publish("DDATA", 5, [{"name": "reports/daily", "datatype": DATASET, "value": report("2026-03-02", 1, 12),
                               "ts": base + 7000}], device="canteen-1")
    edge.publish("DDATA", 6, [{"name": "reports/daily", "datatype": DATASET, "value": report("2026-03-02", 0, 10),
                               "ts": base + 6000}], device="canteen-1")
    # Without a revision column: revision 0.
    edge.publish("DDATA", 7, [{"name": "reports/daily", "datatype": DATASET, "value": report("2026-03-01", None, 9),
                               "ts": base + 8000}], device="canteen-1")

    q = ("SELECT metric || '@' || (ts_ms - %d) || '=' || coalesce(v_int::text, v_text, v_double::text) || "
         "CASE WHEN historical THEN 'h' ELSE '' END FROM samples WHERE edge_node = 'gw-py' AND device = 'canteen-1'"
         " AND metric <> 'reports/daily' ORDER BY 1" % base)
    want = sorted(["occupancy/current@0=4", "sensors/door-1/entries_total@0=100", "occupancy/current@1000=5",
                   "sensors/door-1/entries_total@1000=103", "occupancy/current@5000=40h"])
    assert wait_until(lambda: pg.psql(q).split("\n") == want, 20), pg.psql(q)
    assert pg.scalar("SELECT count(*) FROM samples WHERE metric = 'reports/daily'") == 3
    live = pg.psql("SELECT v_int, ts_ms - %d FROM live_values WHERE edge_node = 'gw-py' AND metric = "
                   "'occupancy/current'" % base)
    assert live == "5|1000", live
    assert wait_until(lambda: pg.psql("SELECT day, revision, report->'rows'->0->>2 FROM daily_reports ORDER BY day")
                      == "2026-03-01|0|9\n2026-03-02|1|12", 10), pg.psql("SELECT * FROM daily_reports")
    assert pg.psql("SELECT metric, alias, datatype FROM metric_catalog WHERE device = 'canteen-1' ORDER BY 1") == \
        "occupancy/current|10|7\nsensors/door-1/entries_total|11|8"
    assert pg.psql("SELECT online, bd_seq FROM edge_nodes WHERE edge_node = 'gw-py'") == "t|3"
    assert edge.ncmds == []

    # seq 8 never comes: after the reorder timeout (1.5 s) the host asks for a rebirth.
    t_gap = time.monotonic()
    edge.publish("DDATA", 9, [{"alias": 10, "type": UINT32, "value": 6, "ts": base + 9000}], device="canteen-1")
    assert wait_until(lambda: edge.ncmds, 20), host.log_text()
    t_ncmd, topic, raw = edge.ncmds[0]
    assert topic == "spBv1.0/%s/NCMD/gw-py" % GROUP
    p = Payload()
    p.ParseFromString(raw)
    assert [(m.name, m.boolean_value) for m in p.metrics] == [("Node Control/Rebirth", True)]
    assert t_ncmd - t_gap >= 1.5 - 0.05, "rebirth asked before the reorder timeout"

    # A late message filling a gap closes it: no rebirth for seq 11 arriving after 12.
    edge.ncmds.clear()
    edge.publish("DDATA", 10, [{"alias": 10, "type": UINT32, "value": 7, "ts": base + 10000}], device="canteen-1")
    edge.publish("DDATA", 12, [{"alias": 10, "type": UINT32, "value": 8, "ts": base + 12000}], device="canteen-1")
    edge.publish("DDATA", 11, [{"alias": 10, "type": UINT32, "value": 9, "ts": base + 11000}], device="canteen-1")
    assert wait_until(lambda: pg.scalar("SELECT count(*) FROM samples WHERE edge_node = 'gw-py' AND ts_ms = %d"
                                        % (base + 12000)) == 1, 10)
    host_log_before = host.log_text().count("asking for a rebirth")
    time.sleep(2.0)  # no event to await: the absence of a rebirth over the reorder timeout
    assert edge.ncmds == [] and host.log_text().count("asking for a rebirth") == host_log_before

    # NDEATH with a stale bdSeq changes nothing; the birth's own takes the node offline.
    edge.publish("NDEATH", None, [{"name": "bdSeq", "datatype": UINT64, "value": 2}])
    edge.publish("NDEATH", None, [{"name": "bdSeq", "datatype": UINT64, "value": 3}])
    assert wait_until(lambda: pg.psql("SELECT online FROM edge_nodes WHERE edge_node = 'gw-py'") == "f", 10)
    assert pg.psql("SELECT online FROM facilities WHERE edge_node = 'gw-py'") == "f"

    # PostgreSQL stopped: STATE offline, the message waits unacknowledged; back: online,
    # and the message is stored.
    pg.stop()
    edge.publish("NBIRTH", 0, [{"name": "bdSeq", "datatype": UINT64, "value": 4}])
    edge.publish("DBIRTH", 1, [{"name": "occupancy/current", "alias": 10, "datatype": UINT32, "value": 11,
                                "ts": base + 20000}], device="canteen-1")
    assert wait_until(lambda: (state_of(sub) or {}).get("online") is False, 20), host.log_text()
    offline_ts = state_of(sub)["timestamp"]
    pg.start()
    assert wait_until(lambda: (state_of(sub) or {}).get("online") is True, 30), host.log_text()
    assert state_of(sub)["timestamp"] >= offline_ts
    assert wait_until(lambda: pg.psql("SELECT v_int FROM samples WHERE edge_node = 'gw-py' AND ts_ms = %d"
                                      % (base + 20000)) == "11", 20)
    assert pg.psql("SELECT online, bd_seq FROM edge_nodes WHERE edge_node = 'gw-py'") == "t|4"
    edge.stop()

    # /metrics: the redelivered DDATA (2 samples) and the late copy of revision 0 are the
    # duplicates this test sent; the broker may add its own redeliveries around the
    # reconnection after the database outage (absorbed the same way). One rebirth for
    # the gap (the late message closed the other); the node online again.
    def metrics_settled():
        return host.metric("community_host_edge_node_online", group=GROUP, edge_node="gw-py") == 1 and \
            host.metric("community_host_database_up") == 1
    assert wait_until(metrics_settled, 10), host.metrics()
    assert host.metric("community_host_duplicates_dropped_total") >= 3
    assert host.metric("community_host_rebirths_requested_total") == 1
    assert host.metric("community_host_seq_reordered_total") == 1
    assert host.metric("community_host_stale_deaths_total") == 1
    assert host.metric("community_host_samples_stored_total") == pg.scalar("SELECT count(*) FROM samples")

    # A graceful stop publishes STATE offline.
    assert host.terminate() == 0
    assert wait_until(lambda: (state_of(sub) or {}).get("online") is False, 10)


TOKEN = "town-host-test-token"


def post(port, body):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/api/v1/readings", body=json.dumps(body),
              headers={"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
    r = c.getresponse()
    text = r.read()
    c.close()
    return r.status, json.loads(text) if text else None


def gateway_config(tmp_path, edge, facility, ftype, capacity, sensors, port):
    facilities = [{"id": facility, "type": ftype, "name": facility, "capacity": capacity,
                   "sensors": [{"id": s, "kind": k, "driver": "http"} for s, k in sensors]}]
    cfg = base_config(GROUP, edge, tmp_path / ("data-" + edge), facilities,
                      uplink={"primary_host_id": HOST_ID})
    cfg["simulator"] = {"enabled": False}
    cfg["drivers"] = {"http": {"enabled": True, "port": port, "token": TOKEN, "max_readings": 1000}}
    return cfg


def test_gateways_exactly_once(tmp_path, broker, pg, make_gateway, make_host):
    from fault_proxy import FaultProxy
    host = make_host(broker, pg, [GROUP])
    proxy = FaultProxy(("127.0.0.1", broker.port))
    specs = [("gw-canteen", "canteen-1", "canteen", 80, [("meal-1", "meal_terminal"), ("cam-1", "occupancy")]),
             ("gw-station", "station-1", "elderly_station", 50, [("checkin-1", "checkin_terminal"),
                                                                  ("cam-2", "occupancy")]),
             ("gw-fitness", "fitness-1", "fitness_point", 30, [("door-3", "door_counter"), ("cam-3", "occupancy")])]
    gws, ports = {}, {}
    for edge, fac, ftype, cap, sensors in specs:
        ports[edge] = free_port()
        uri = proxy.uri if edge == "gw-fitness" else broker.uri
        gws[edge] = make_gateway(gateway_config(tmp_path, edge, fac, ftype, cap, sensors, ports[edge]), [uri],
                                 name=edge)
    for edge in gws:
        gws[edge].wait_log(r"http ingest: POST /api/v1/readings", 20)
    assert wait_until(lambda: pg.scalar("SELECT count(*) FROM edge_nodes WHERE online") == 3, 30), host.log_text()

    # What the test posted and the gateways accepted (202): the expected rows.
    timed = set()        # (edge, device, metric, ts, value) posted with a ts
    untimed = {}         # (edge, device, metric) -> values posted without a ts (arrival time)
    counters = {"meal-1": 0, "checkin-1": 0, "door-3": 0}
    counter_point = {"meal_terminal": "meals_total", "checkin_terminal": "checkins_total",
                     "door_counter": "entries_total"}
    occupancy_value = [0]
    # The timed readings are yesterday's (local time): a day each gateway reports as
    # soon as they arrive, so that the town report can be held against its own.
    yesterday = datetime.datetime.now(ZONE).date() - datetime.timedelta(days=1)
    t0 = int(datetime.datetime.combine(yesterday, datetime.time(10, 0), ZONE).timestamp() * 1000)

    def post_round(k):
        for edge, fac, _, _, sensors in specs:
            readings = []
            for sensor, kind in sensors:
                if kind in counter_point:
                    point = counter_point[kind]
                    for j in range(5):
                        counters[sensor] += 1
                        ts = t0 + k * 10000 + j * 1000  # whole seconds, distinct
                        readings.append({"sensor": sensor, "point": point, "value": counters[sensor], "ts": ts})
                        timed.add((edge, fac, "sensors/%s/%s" % (sensor, point), ts, str(counters[sensor])))
                else:
                    # Several readings of one sensor without ts: one arrival instant on
                    # the gateway, distinct on the wire (core/unique_stamps.h).
                    for j in range(4):
                        occupancy_value[0] += 1
                        readings.append({"sensor": sensor, "point": "occupancy", "value": occupancy_value[0]})
                        untimed.setdefault((edge, fac, "sensors/%s/occupancy" % sensor), []).append(
                            str(occupancy_value[0]))
            code, body = post(ports[edge], {"facility": fac, "readings": readings})
            assert (code, body) == (202, {"accepted": len(readings)}), (edge, code, body)

    post_round(0)
    # The station's gateway restarted; the fitness point's cut from the broker.
    assert gws["gw-station"].terminate() == 0
    gws["gw-station"].start()
    gws["gw-station"].wait_log(r"http ingest: POST /api/v1/readings", 20)
    proxy.cut()
    post_round(1)
    # The host killed -9 under way, and started again: its persistent session held
    # what it had not acknowledged.
    host.kill()
    post_round(2)
    host.start()
    post_round(3)
    proxy.heal()
    post_round(4)

    def stored():
        q = ("SELECT edge_node, device, metric, ts_ms, coalesce(v_int::text, v_text) FROM samples"
             " WHERE metric ~ '^sensors/[^/]+/(meals_total|checkins_total|entries_total|occupancy)$'")
        rows = [tuple(line.split("|")) for line in pg.psql(q).split("\n") if line]
        return [(e, d, m, int(t), v) for e, d, m, t, v in rows]

    expected_n = len(timed) + sum(len(v) for v in untimed.values())
    assert wait_until(lambda: len(stored()) >= expected_n, 90), \
        "%d of %d stored\n%s" % (len(stored()), expected_n, host.log_text()[-3000:])
    rows = stored()
    assert len(rows) == expected_n
    got_timed = {r for r in rows if (r[0], r[1], r[2]) not in untimed}
    assert got_timed == timed
    for key, values in untimed.items():
        got = sorted(r[4] for r in rows if (r[0], r[1], r[2]) == key)
        assert got == sorted(values), key
        stamps = [r[3] for r in rows if (r[0], r[1], r[2]) == key]
        assert len(set(stamps)) == len(stamps)
    # Every gateway online again in the host's view.
    assert wait_until(lambda: pg.scalar("SELECT count(*) FROM edge_nodes WHERE online") == 3, 30)

    # The host's town report equals each gateway's own report, facility by facility,
    # restart, cut and host kill included (the last revision of each day counts).
    day = yesterday.isoformat()

    def report_problems():
        town = town_reports.host_report(host, tmp_path, day, day)
        by_id = {f["id"]: f for f in town["facilities"]}
        problems = []
        for edge, fac, *_ in specs:
            own = town_reports.gateway_report(gws[edge], tmp_path, day, day)
            if own is None:
                problems.append("%s: no report of its own" % edge)
            elif fac not in by_id:
                problems.append("%s not in the town report" % fac)
            else:
                problems += town_reports.differences(own["facilities"][0], by_id[fac])
        return problems
    assert wait_until(lambda: not report_problems(), 60), "\n".join(report_problems()[:30])
    town = {f["id"]: f for f in town_reports.host_report(host, tmp_path, day, day)["facilities"]}
    assert town["canteen-1"]["days"][0]["meals_served"] > 0 and town["station-1"]["days"][0]["checkins"] > 0
    assert town["fitness-1"]["days"][0]["visits"] > 0
    assert all(f["missing_days"] == [] for f in town.values()), town
    proxy.stop()


def test_host_bad_config(tmp_path):
    """Config errors name the file, the line and the key; the host exits 2 at once."""
    import os
    import subprocess
    path = tmp_path / "bad.yaml"
    path.write_text("host:\n  id: town/host\n  groups: [huacao]\nmqtt:\n  port: 70000\n  colour: red\n"
                    "database:\n  conninfo: \"dbname=town password=x\"\n")
    r = subprocess.run([os.environ["HOST_BIN"], "--config", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    lines = r.stderr.strip().split("\n")
    want = ["%s:2: host.id: must be non-empty" % path, "%s:5: mqtt.port: must be between 1 and 65535" % path,
            "%s:6: mqtt.colour: unknown key" % path, "%s:8: database.conninfo: must not contain a password" % path]
    assert len(lines) == len(want), r.stderr
    for line, w in zip(lines, want):
        assert line.startswith(w), (line, w)
    assert "password=x" not in r.stderr  # the secret never echoed
