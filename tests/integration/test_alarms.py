"""Emergency calls (docs/wire-format.md, "Alarms") through the real binary: a
zigbee2mqtt-style button on a local broker, a Modbus discrete input on a real pymodbus
server, and an HTTP terminal; repeats folded; the acknowledgement by DCMD; re-announcing;
escalation; kill -9 between commit and publish and between publish and acknowledgement
(nothing lost, nothing raised twice); the primary host offline.

The platform side is a Sparkplug subscriber on the uplink's broker, which also plays the
host that acknowledges (the town host's own path, board to DCMD, is
test_town_alarms.py's).
"""

import csv
import datetime
import io
import json
import time
import zoneinfo

import pytest

from gateway import run_cli
from helpers import base_config, free_port, local_ms
from modbus_peer import ModbusPeer
from sparkplug import alarm_rows, readings
from test_http_ingest import curl
from test_mqtt_subscriber import mosquitto_pub

GROUP, EDGE = "huacao", "gw-alarms"
TOKEN = "s3cret-token-for-tests"


def config(tmp_path, local=None, modbus_port=None, http_port=None, **alarms):
    sensors = [{"id": "sos-1", "kind": "call_button", "driver": "mqtt", "location": "room 101"},
               {"id": "cord-1", "kind": "call_button", "driver": "modbus", "location": "bathroom 2"},
               {"id": "term-1", "kind": "call_button", "driver": "http", "location": "front desk"},
               {"id": "door-1", "kind": "door_counter", "driver": "http"}]
    facilities = [{"id": "station-1", "type": "elderly_station", "name": "Station", "capacity": 30,
                   "sensors": sensors}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities)
    cfg["simulator"] = {"enabled": False}
    # Group commits of 2 s: an alarm must not wait for them.
    cfg["buffer"] = {"commit_interval_ms": 2000, "low_rate_commit_delay_ms": 0}
    cfg["alarms"] = dict({"repeat_window_s": 60, "reannounce_s": 600, "escalate_after_s": 3600}, **alarms)
    drivers = {}
    if local is not None:
        drivers["mqtt"] = {"broker": local.uri, "client_id": "gw-alarms-south",
                           "reconnect": {"min_ms": 100, "max_ms": 1000},
                           "subscriptions": [{"topic": "zigbee2mqtt/+", "facility": "station-1", "sensor_level": 1,
                                              "points": [{"point": "action", "pointer": "/action"},
                                                         {"point": "battery", "pointer": "/battery"}]}]}
    if modbus_port is not None:
        drivers["modbus"] = {"devices": [{"id": "io-1", "facility": "station-1", "sensor": "cord-1",
                                          "host": "127.0.0.1", "port": modbus_port, "poll_interval_ms": 100,
                                          "timeout_ms": 300, "retries": 1,
                                          "registers": [{"point": "pressed", "table": "discrete_input",
                                                         "address": 4}]}]}
    http_port = http_port or free_port()
    drivers["http"] = {"enabled": True, "port": http_port, "token": TOKEN}
    cfg["drivers"] = drivers
    return cfg, http_port


def press(http_port, action="emergency", ts=None, sensor="term-1"):
    r = {"sensor": sensor, "point": "action", "value": action}
    if ts is not None:
        r["ts"] = ts
    code, body = curl(http_port, json.dumps({"facility": "station-1", "readings": [r]}), token=TOKEN)
    assert code == 202, body
    return ts


def rows_of(sub, alarm_id):
    return [r for r in alarm_rows(sub.snapshot(), "station-1") if r["id"] == alarm_id]


def wait_row(sub, alarm_id, timeout, what, **want):
    def ok(msgs):
        return any(r["id"] == alarm_id and all(r.get(k) == v for k, v in want.items())
                   for r in alarm_rows(msgs, "station-1"))
    sub.wait_for(ok, timeout, what)
    return [r for r in rows_of(sub, alarm_id) if all(r.get(k) == v for k, v in want.items())][-1]


def test_presses_from_three_drivers_fold_and_acknowledge(tmp_path, broker, make_broker, make_subscriber, make_gateway):
    local = make_broker(name="local")
    port = free_port()
    peer = ModbusPeer("tcp", port, log_path=str(tmp_path / "peer.log"))
    peer.start()
    try:
        peer.set("di", 4, [0])
        sub = make_subscriber(broker)
        cfg, http_port = config(tmp_path, local, port)
        gw = make_gateway(cfg, [broker.uri])
        gw.wait_log(r"uplink: NBIRTH", 15)
        gw.wait_log(r"mqtt: subscribed to 1 of 1 filters", 15)
        births = [m for m in sub.snapshot() if m.type == "DBIRTH" and m.device == "station-1"]
        assert births, "no DBIRTH"
        names = {x["name"] for x in births[-1].metrics}
        for s in ("sos-1", "cord-1", "term-1"):
            assert "alarms/%s/active" % s in names and "alarms/%s/alarm_id" % s in names
        assert "alarms/door-1/active" not in names  # not a call button, no alarm yet
        assert births[-1].metric("alarms/open")["value"] == 0

        # zigbee2mqtt: the button repeats its press three times (Heiman HS1EB, TS0215A).
        t_press = time.monotonic()
        for _ in range(3):
            mosquitto_pub(local, "zigbee2mqtt/sos-1", '{"action":"emergency","battery":90,"linkquality":80}')
        sub.wait_for(lambda msgs: any(r["sensor"] == "sos-1" for r in alarm_rows(msgs)), 10, "sos-1 alarm")
        first = [r for r in alarm_rows(sub.snapshot()) if r["sensor"] == "sos-1"][0]
        # Well within the 2 s group commit: the press was committed at once.
        assert first["_arrived"] - t_press < 1.5, first["_arrived"] - t_press
        sos_id = first["id"]
        assert sos_id.startswith("sos-1-")
        assert first["state"] == "raised" and first["location"] == "room 101" and first["kind"] == "call"
        assert first["test"] is False and first["_historical"] is False
        assert first["raised_ms"] == int(sos_id.split("-")[-1])
        row = wait_row(sub, sos_id, 10, "three presses folded", presses=3)
        assert len({r["raised_ms"] for r in rows_of(sub, sos_id)}) == 1
        assert len({r["id"] for r in alarm_rows(sub.snapshot()) if r["sensor"] == "sos-1"}) == 1
        # Each message carries the sensor's own metrics and the facility's open count.
        last = [m for m in sub.snapshot() if m.type == "DDATA" and m.metric("alarms/events")][-1]
        assert last.metric("alarms/sos-1/active")["value"] is True
        assert last.metric("alarms/sos-1/alarm_id")["value"] == sos_id
        assert last.metric("alarms/open")["value"] == 1
        # A remote's arm key is not a call.
        mosquitto_pub(local, "zigbee2mqtt/sos-1", '{"action":"arm_all_zones"}')

        # Modbus: the cord's input held for many polls is one alarm.
        peer.set("di", 4, [1])
        sub.wait_for(lambda msgs: any(r["sensor"] == "cord-1" for r in alarm_rows(msgs)), 10, "cord-1 alarm")
        # The poller offers its next reading once the last one is committed, so a held
        # cord gives one reading per 2 s group commit: ten take 20 s and more on a loaded
        # machine (CI ran them in 23 s).
        sub.wait_for(lambda msgs: sum(1 for m in msgs if m.type == "DDATA" for x in m.metrics
                                      if x["name"] == "sensors/cord-1/pressed" and x["value"] is True) >= 10,
                     60, "ten polls of the held cord")
        cord_ids = {r["id"] for r in alarm_rows(sub.snapshot()) if r["sensor"] == "cord-1"}
        assert len(cord_ids) == 1, cord_ids
        cord_id = cord_ids.pop()

        # HTTP: the front desk's terminal.
        now = int(time.time() * 1000)
        press(http_port, ts=now)
        term_id = "term-1-%d" % now
        wait_row(sub, term_id, 10, "term-1 alarm", state="raised")
        # The same press posted again (a client retrying: a new reading, moved 1 ms by the
        # unique stamps) folds into the alarm, counted.
        press(http_port, ts=now)
        press(http_port, action="test", ts=now + 10)  # the terminal's own test key
        test_row = wait_row(sub, "term-1-%d" % (now + 10), 10, "test press", test=True)
        assert test_row["presses"] == 1
        assert [r["presses"] for r in rows_of(sub, term_id) if r["_type"] == "DDATA"] == [1, 2]

        # The host acknowledges: the DDATA says so, with who and when.
        before = int(time.time() * 1000)
        sub.publish_alarm_ack(GROUP, EDGE, "station-1", sos_id, "王阿姨")
        row = wait_row(sub, sos_id, 10, "sos-1 acknowledged", state="acknowledged")
        assert row["acknowledged_by"] == "王阿姨" and row["acknowledged_ms"] >= before
        assert row["_ts"] == row["acknowledged_ms"]
        ack_msg = [m for m in sub.snapshot() if m.type == "DDATA" and m.metric("alarms/sos-1/active")][-1]
        assert ack_msg.metric("alarms/sos-1/active")["value"] is False
        assert ack_msg.metric("alarms/open")["value"] == 3  # cord-1, term-1 and the test press
        # A repeated acknowledgement changes nothing; unknown ids and garbage are refused.
        sub.publish_alarm_ack(GROUP, EDGE, "station-1", sos_id, "someone else")
        sub.publish_alarm_ack(GROUP, EDGE, "station-1", "no-such-alarm")
        sub.client.publish("spBv1.0/%s/DCMD/%s/station-1" % (GROUP, EDGE), b"\x00garbage", qos=1).wait_for_publish()
        gw.wait_log(r"ignoring DCMD of station-1", 10)
        gw.wait_log(r"acknowledgement of unknown alarm 'no-such-alarm'", 10)
        sub.wait_for(lambda msgs: sum(1 for r in alarm_rows(msgs) if r["id"] == sos_id and
                                      r["state"] == "acknowledged") >= 2, 10, "repeated ack answered")
        assert all(r["acknowledged_by"] == "王阿姨" for r in rows_of(sub, sos_id) if r["state"] == "acknowledged")
        # A press after the acknowledgement is a new call.
        mosquitto_pub(local, "zigbee2mqtt/sos-1", '{"action":"sos"}')
        sub.wait_for(lambda msgs: len({r["id"] for r in alarm_rows(msgs) if r["sensor"] == "sos-1"}) == 2, 10,
                     "a new sos-1 alarm")
        for alarm_id in (cord_id, term_id):
            sub.publish_alarm_ack(GROUP, EDGE, "station-1", alarm_id, "duty")
            wait_row(sub, alarm_id, 10, "%s acknowledged" % alarm_id, state="acknowledged")
        assert gw.running()
    finally:
        peer.stop()


def test_kill_between_commit_publish_and_acknowledgement(tmp_path, make_broker, make_subscriber, make_gateway):
    """A press accepted while the uplink is down is on disk only; kill -9; the next start
    publishes it. Killed again while it is published and not acknowledged: the births
    carry it and it is acknowledged once; killed after the acknowledgement: it stays
    closed. No alarm is lost, none is raised twice."""
    broker = make_broker(start=False)
    broker.port = free_port()  # known before it runs: the gateway is pointed at it
    cfg, http_port = config(tmp_path)
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"http ingest: POST /api/v1/readings", 15)
    now = int(time.time() * 1000)
    press(http_port, ts=now)  # 202: committed with its alarm; not published (no broker)
    alarm_id = "term-1-%d" % now
    gw.wait_log(r"ALARM %s raised" % alarm_id, 5)
    gw.kill()

    broker.start()
    sub = make_subscriber(broker)
    gw.start()
    row = wait_row(sub, alarm_id, 20, "the alarm published after the restart", state="raised", _type="DDATA")
    assert row["_historical"] is False and row["_ts"] == now
    gw.kill()  # published, not acknowledged

    def births(msgs):
        return [m for m in msgs if m.type == "DBIRTH" and m.device == "station-1"]
    n = len(births(sub.snapshot()))
    gw.start()
    gw.wait_log(r"1 open alarms resumed", 15)
    sub.wait_for(lambda msgs: len(births(msgs)) > n, 20, "a DBIRTH after the restart")
    b = births(sub.snapshot())[-1]
    assert b.metric("alarms/open")["value"] == 1
    assert [r["id"] for r in b.metric("alarms/events")["value"]] == [alarm_id]
    assert b.metric("alarms/term-1/active")["value"] is True
    sub.publish_alarm_ack(GROUP, EDGE, "station-1", alarm_id, "duty")
    wait_row(sub, alarm_id, 10, "acknowledged", state="acknowledged")
    gw.kill()

    n = len(births(sub.snapshot()))
    gw.start()
    sub.wait_for(lambda msgs: len(births(msgs)) > n, 20, "a DBIRTH after the third restart")
    b = births(sub.snapshot())[-1]
    assert b.metric("alarms/open")["value"] == 0
    assert b.metric("alarms/term-1/active")["value"] is False
    assert b.metric("alarms/term-1/alarm_id")["value"] == alarm_id
    assert {r["id"] for r in alarm_rows(sub.snapshot())} == {alarm_id}
    assert "raised" not in gw.log_text()  # this run raised nothing: the alarm was not made again


def test_reannounce_escalate_and_primary_host_offline(tmp_path, broker, make_subscriber, make_gateway):
    sub = make_subscriber(broker)
    cfg, http_port = config(tmp_path, reannounce_s=1, escalate_after_s=2)
    cfg["uplink"]["primary_host_id"] = "town-host"
    sub.publish_state("town-host", True)
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"uplink: NBIRTH", 15)
    gw.wait_log(r"http ingest: POST /api/v1/readings", 15)
    now = int(time.time() * 1000)
    press(http_port, ts=now)
    alarm_id = "term-1-%d" % now
    wait_row(sub, alarm_id, 10, "raised", state="raised")
    # Re-announced every second while open, stamped when re-announced.
    sub.wait_for(lambda msgs: sum(1 for r in alarm_rows(msgs) if r["id"] == alarm_id) >= 3, 10, "re-announced")
    stamps = [r["_ts"] for r in rows_of(sub, alarm_id)]
    assert len(set(stamps)) == len(stamps) and stamps[0] == now
    # Not acknowledged within 2 s: escalated, said on the wire.
    row = wait_row(sub, alarm_id, 10, "escalated", state="escalated")
    assert row["escalated_ms"] - now >= 2000

    # The primary host goes offline: alarms wait (no DDATA), and come with the births.
    sub.publish_state("town-host", False)
    gw.wait_log(r"primary host town-host is offline", 10)
    sub.barrier()
    count_before = len(sub.snapshot())
    now2 = int(time.time() * 1000)
    press(http_port, ts=now2, sensor="term-1")  # folds into the open alarm: presses 2
    sub.barrier()  # the 202 came after the commit; whatever the gateway published is here
    assert not [m for m in sub.snapshot()[count_before:] if m.type == "DDATA"]
    sub.publish_state("town-host", True)
    sub.wait_for(lambda msgs: any(m.type == "DBIRTH" and m.index >= count_before for m in msgs), 10, "births")
    b = [m for m in sub.snapshot() if m.type == "DBIRTH" and m.index >= count_before][-1]
    rows = b.metric("alarms/events")["value"]
    assert [r["id"] for r in rows] == [alarm_id] and rows[0]["presses"] == 2
    assert rows[0]["state"] == "escalated"
    sub.publish_alarm_ack(GROUP, EDGE, "station-1", alarm_id, "duty")
    wait_row(sub, alarm_id, 10, "acknowledged", state="acknowledged")
    # No more re-announcements once acknowledged.
    sub.barrier()
    n = len(rows_of(sub, alarm_id))
    sub.assert_none_for(lambda msgs: len([r for r in alarm_rows(msgs) if r["id"] == alarm_id]) > n, 2.5,
                        "a re-announcement of an acknowledged alarm")


def test_acknowledged_call_in_the_daily_report(tmp_path, broker, make_subscriber, make_gateway):
    """One real call, raised yesterday at 23:59:50 (Asia/Shanghai) with a repeat folded in
    and a test press beside it, acknowledged over MQTT: the gateway's reports/daily of
    yesterday (decoded from the wire) and its `report` files (JSON, CSV, HTML) carry the
    emergency-call figures of docs/report-format.md, computed here from the alarm rows
    the gateway published."""
    sub = make_subscriber(broker)
    cfg, http_port = config(tmp_path)
    cfg["history"] = {"daily_report_delay_s": 1}
    gw = make_gateway(cfg, [broker.uri])
    gw.wait_log(r"uplink: NBIRTH", 15)
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    today = datetime.datetime.now(tz).date()
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    raised = local_ms(yesterday + "T23:59") + 50_000
    press(http_port, ts=raised)
    press(http_port, ts=raised + 5_000)  # the button repeats: folded into the call
    press(http_port, action="test", ts=raised + 8_000)  # the terminal's test key: counted apart
    alarm_id = "term-1-%d" % raised
    wait_row(sub, alarm_id, 10, "the call with its repeat", presses=2)
    wait_row(sub, "term-1-%d" % (raised + 8_000), 10, "the test press", test=True)
    sub.publish_alarm_ack(GROUP, EDGE, "station-1", alarm_id, "duty")
    acked = wait_row(sub, alarm_id, 10, "the call acknowledged", state="acknowledged")
    ack_s = (acked["acknowledged_ms"] - acked["raised_ms"]) / 1000.0
    assert acked["raised_ms"] == raised
    # By the definitions: 1 call (the test press is none), 1 test press, presses - 1
    # folded, 1 acknowledged, median = worst = its time to acknowledge, 0 open.
    want = {"alarms": 1, "alarm_test_presses": 1, "alarm_presses_folded": acked["presses"] - 1,
            "alarms_acknowledged": 1, "alarm_ack_median_s": ack_s, "alarm_ack_worst_s": ack_s, "alarms_open": 0}

    def day_rows(msgs):
        return [r for x in readings(msgs).get(("station-1", "reports/daily"), [])
                for r in x["value"] if r["date"] == yesterday and r["period"] == "day"]

    # The report of yesterday is made as soon as the first reading started the history;
    # the acknowledgement, if it came after, revises it.
    sub.wait_for(lambda msgs: any(r["alarms_acknowledged"] == 1 for r in day_rows(msgs)), 30,
                 "yesterday's reports/daily with the call acknowledged")
    rows = day_rows(sub.snapshot())
    newest = max(rows, key=lambda r: r["revision"])
    for k, v in want.items():
        assert newest[k] == (pytest.approx(v) if isinstance(v, float) else v), (k, newest)
    # A revision made before the acknowledgement showed the call open.
    for r in rows:
        if r["alarms_acknowledged"] == 0:
            assert r["alarms_open"] == 1 and r["alarm_ack_median_s"] == -1 and r["revision"] < newest["revision"]
    hour = [r for x in readings(sub.snapshot())[("station-1", "reports/daily")] for r in x["value"]
            if r["date"] == yesterday and r["period"] == "23" and r["revision"] == newest["revision"]]
    assert hour and hour[-1]["alarms"] == 1 and hour[-1]["alarm_test_presses"] == 1

    # The report files, read while the gateway runs.
    out = {}
    for fmt in ("json", "csv", "html"):
        path = tmp_path / ("report." + fmt)
        rc, _, err = run_cli(["report", "--config", gw.config_path, "--from", yesterday, "--to", today.isoformat(),
                              "--format", fmt, "--out", str(path), "--generated-at", "test"])
        assert rc == 0, err
        out[fmt] = path.read_text(encoding="utf-8-sig")
    day = json.loads(out["json"])["facilities"][0]["days"][0]
    assert day["date"] == yesterday
    a = day["alarms"]
    assert (a["alarms"], a["test_presses"], a["presses_folded"], a["acknowledged"], a["open"]) == \
        (1, 1, acked["presses"] - 1, 1, 0)
    assert a["ack_median_s"] == pytest.approx(ack_s) and a["ack_worst_s"] == pytest.approx(ack_s)
    table = list(csv.reader(io.StringIO(out["csv"])))
    row = [r for r in table[1:] if r[0] == "station-1" and r[3] == yesterday][0]
    assert row[-7:] == ["1", "1", str(acked["presses"] - 1), "1", "%.1f" % ack_s, "%.1f" % ack_s, "0"], row[-7:]
    assert table[0][-7] == "呼叫 Calls"
    assert 'id="alarms-station-1"' in out["html"] and "<td>%.1f</td>" % ack_s in out["html"]
    assert gw.running()

