"""An emergency call end to end (issue 15): press -> gateway -> broker -> town host ->
PostgreSQL -> board -> an operator's acknowledge -> DCMD -> gateway -> broker -> host.

All real: a zigbee2mqtt-style publisher (`{"action":"emergency"}` on the board's local
mosquitto, as test_alarms.py), the community-gateway with a call_button on its MQTT
driver, the uplink mosquitto, the community-host on a PostgreSQL of its own (initdb), its
board's HTTP API with an operator made by `community-host hash-password`. The gateway
follows the host as its primary host (uplink.primary_host_id), as deployed.

What must hold (docs/wire-format.md "Alarms", docs/town-host.md "Login and
acknowledging", "Acknowledge resends"): the press becomes one alarm row in PostgreSQL
with the button's sensor, location and the id's own raise time; the operator's
acknowledge (login, CSRF token) becomes the DCMD alarms/acknowledge +
alarms/acknowledged_by; the gateway closes the alarm once (its SQLite row, its
alarms/{sensor}/active false, the acknowledged row on the wire); the host's row is
acknowledged by that operator at the gateway's acknowledged time and the alarm leaves
/api/board. With the gateway's uplink down when the operator acknowledges, the host
keeps the request (no DCMD to a dead node) and sends it when the gateway is born again;
with the host killed -9 while it holds the request, the restarted host sends it from the
stored row. Each time the gateway closes the alarm exactly once.

The gateway's uplink goes through a FaultProxy (tests/support/fault_proxy.py), so that
cutting it leaves the host and the south broker untouched; the broker publishes the
gateway's NDEATH will when the proxy closes the connection. No sleeps, no timed
assertions: every step waits on its condition (figures go to bench/alarm_latency.py).
"""

import http.cookies
import json
import os
import re
import sqlite3

from fault_proxy import FaultProxy
from helpers import base_config, wait_until
from sparkplug import alarm_rows
from test_mqtt_subscriber import mosquitto_pub
from test_town_alarms import Board, hash_line

GROUP, EDGE, FACILITY, SENSOR = "huacao", "gw-roundtrip", "station-1", "sos-1"
LOCATION = "101 室 Room 101"
OPERATOR, PASSWORD = "zhang.wei", "Night-duty-2026!"
HOST_ID = "town-host"  # TownHost's default id, the gateway's primary host


def gateway_config(tmp_path, local):
    sensors = [{"id": SENSOR, "kind": "call_button", "driver": "mqtt", "location": LOCATION}]
    facilities = [{"id": FACILITY, "type": "elderly_station", "name": "华漕养老驿站 Huacao day care",
                   "capacity": 30, "sensors": sensors}]
    cfg = base_config(GROUP, EDGE, tmp_path / "data", facilities,
                      uplink={"primary_host_id": HOST_ID, "reconnect": {"min_ms": 100, "max_ms": 500}})
    cfg["simulator"] = {"enabled": False}
    # Long enough that neither re-announcement nor escalation happens in a test: the
    # host's DCMDs must come from the request, the birth or the restart alone.
    cfg["alarms"] = {"repeat_window_s": 60, "reannounce_s": 3600, "escalate_after_s": 3600}
    cfg["drivers"] = {"mqtt": {"broker": local.uri, "client_id": "gw-roundtrip-south",
                               "reconnect": {"min_ms": 100, "max_ms": 1000},
                               "subscriptions": [{"topic": "zigbee2mqtt/+", "facility": FACILITY, "sensor_level": 1,
                                                  "points": [{"point": "action", "pointer": "/action"}]}]}}
    return cfg


class Town:
    """The whole chain of one test, started in the order a site starts."""

    def __init__(self, tmp_path, make_broker, make_postgres, make_host, make_gateway, make_subscriber):
        self.tmp_path = tmp_path
        self.broker = make_broker(name="uplink")
        self.local = make_broker(name="local")
        self.sub = make_subscriber(self.broker)  # the wire, as a platform sees it (DCMDs too)
        users = tmp_path / "operators"
        users.write_text(hash_line(OPERATOR, PASSWORD) + "\n")
        self.pg = make_postgres()
        self.host = make_host(self.broker, self.pg, [GROUP], board_keys={"users_file": str(users)})
        self.host.wait_log(r"STATE online published", 30)
        self.board = Board(self.host.board_port)
        self.proxy = FaultProxy((self.broker.host, self.broker.port))
        self.gw = make_gateway(gateway_config(tmp_path, self.local), [self.proxy.uri])
        self.gw.wait_log(r"uplink: NBIRTH", 30)
        self.gw.wait_log(r"mqtt: subscribed to 1 of 1 filters", 15)
        self.wait_node_online(True)

    def stop(self):
        self.proxy.stop()

    # -- the steps ------------------------------------------------------------------
    def press(self):
        """A Heiman-style button reports an emergency; returns the alarm id the host stored."""
        before = set(self.alarm_ids())
        mosquitto_pub(self.local, "zigbee2mqtt/%s" % SENSOR, '{"action":"emergency","battery":87,"linkquality":90}')
        assert wait_until(lambda: set(self.alarm_ids()) - before, 20), "the press never reached PostgreSQL"
        (alarm_id,) = set(self.alarm_ids()) - before
        return alarm_id

    def alarm_ids(self):
        out = self.pg.psql("SELECT alarm_id FROM alarms WHERE facility = '%s'" % FACILITY).split()
        return [x for x in out if x]

    def host_row(self, alarm_id):
        return self.pg.psql("SELECT edge_node, sensor, location, kind, test, state, presses,"
                            " (extract(epoch FROM raised_at) * 1000)::bigint,"
                            " coalesce((extract(epoch FROM acknowledged_at) * 1000)::bigint, -1),"
                            " coalesce(acknowledged_by, '') FROM alarms WHERE alarm_id = '%s'" % alarm_id).strip()

    def login(self):
        st, headers, text = self.board.call("POST", "/login", {"user": OPERATOR, "password": PASSWORD})
        assert st == 200, text
        self.board.cookie = "board_session=" + http.cookies.SimpleCookie(headers["Set-Cookie"])["board_session"].value
        return json.loads(text)["csrf"]

    def acknowledge(self, alarm_id, csrf):
        target = {"group": GROUP, "edge_node": EDGE, "facility": FACILITY, "alarm_id": alarm_id}
        st, _, text = self.board.call("POST", "/api/alarms/acknowledge", target, headers={"X-CSRF-Token": csrf})
        assert st == 202, (st, text)
        assert json.loads(text)["requested"] is True

    def dcmds(self, alarm_id):
        return [m for m in self.sub.snapshot() if m.type == "DCMD" and m.device == FACILITY
                and (m.metric("alarms/acknowledge") or {}).get("value") == alarm_id]

    def wait_node_online(self, online):
        want = 1 if online else 0
        assert wait_until(lambda: self.host.metric("community_host_edge_node_online", group=GROUP,
                                                   edge_node=EDGE) == want, 30), \
            "the host never saw %s %s" % (EDGE, "online" if online else "dead")

    def gateway_row(self, alarm_id):
        """The gateway's own record (gateway/store/alarm_store.h), read-only beside it."""
        path = os.path.join(str(self.tmp_path / "data"), "buffer.db")
        con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
        try:
            return con.execute("SELECT sensor, location, state, raised_ms, acknowledged_ms, acknowledged_by"
                               " FROM alarm WHERE facility = ? AND id = ?", (FACILITY, alarm_id)).fetchone()
        finally:
            con.close()

    def wire_rows(self, alarm_id):
        return [r for r in alarm_rows(self.sub.snapshot(), FACILITY) if r["id"] == alarm_id]

    def closed(self, alarm_id):
        """Waits for the whole close: gateway, wire, host, board; returns the gateway's
        acknowledged row as published."""
        def acked_on_wire():
            return [r for r in self.wire_rows(alarm_id) if r["state"] == "acknowledged"]
        assert wait_until(acked_on_wire, 30), "the gateway never published the acknowledged row"
        row = acked_on_wire()[0]
        assert row["acknowledged_by"] == OPERATOR, row
        # The message that carried it says the button is no longer active.
        msg = next(m for m in self.sub.snapshot() if m.type == "DDATA" and m.device == FACILITY and any(
            x["name"] == "alarms/events" and any(r["id"] == alarm_id and r["state"] == "acknowledged"
                                                 for r in x["value"]) for x in m.metrics))
        assert msg.metric("alarms/%s/active" % SENSOR)["value"] is False
        assert msg.metric("alarms/%s/alarm_id" % SENSOR)["value"] == alarm_id
        # The gateway's SQLite row: closed, by the operator, at the time it published.
        assert self.gateway_row(alarm_id) == (SENSOR, LOCATION, 2, int(alarm_id.rsplit("-", 1)[1]),
                                              row["acknowledged_ms"], OPERATOR)
        # The host: the row acknowledged by the operator at the gateway's time, the
        # request completed, the board without it.
        want = "%s|%s|%s|call|f|acknowledged|1|%d|%d|%s" % (EDGE, SENSOR, LOCATION, row["raised_ms"],
                                                             row["acknowledged_ms"], OPERATOR)
        assert wait_until(lambda: self.host_row(alarm_id) == want, 20), (self.host_row(alarm_id), want)
        assert wait_until(lambda: self.pg.scalar("SELECT count(*) FROM alarm_ack_requests WHERE alarm_id = '%s'"
                                                 " AND completed_at IS NULL" % alarm_id) == 0, 20)
        assert self.pg.scalar("SELECT count(*) FROM alarm_ack_requests WHERE alarm_id = '%s'" % alarm_id) >= 1
        assert wait_until(lambda: self.board.open_alarm(alarm_id) is None, 20), "the alarm stayed on the board"
        assert wait_until(lambda: self.host.metric("community_host_alarm_acknowledges_pending") == 0, 20)
        return row

    def closed_once(self, alarm_id):
        """The gateway acknowledged the alarm exactly once, whatever DCMDs it got: one
        log line, one acknowledged time and operator on every acknowledged row."""
        text = self.gw.log_text(whole=True)
        lines = re.findall(r"alarms: %s of %s/%s acknowledged by %s" % (re.escape(alarm_id), FACILITY, SENSOR,
                                                                         re.escape(OPERATOR)), text)
        assert len(lines) == 1, lines
        acked = [r for r in self.wire_rows(alarm_id) if r["state"] == "acknowledged"]
        assert len({(r["acknowledged_ms"], r["acknowledged_by"]) for r in acked}) == 1, acked


def check_raised(town, alarm_id):
    raised_ms = int(alarm_id.rsplit("-", 1)[1])  # the documented id: "{sensor}-{raised_ms}"
    assert alarm_id.startswith(SENSOR + "-")
    assert town.host_row(alarm_id) == "%s|%s|%s|call|f|raised|1|%d|-1|" % (EDGE, SENSOR, LOCATION, raised_ms)
    assert wait_until(lambda: town.board.open_alarm(alarm_id), 20), "the alarm is not on the board"
    shown = town.board.open_alarm(alarm_id)
    assert (shown["group_id"], shown["edge_node_id"], shown["sensor"], shown["location"]) == (
        GROUP, EDGE, SENSOR, LOCATION), shown
    assert town.gateway_row(alarm_id)[2] == 0  # raised, on the gateway's disk


def test_press_to_acknowledgement_through_the_town_host(tmp_path, make_broker, make_postgres, make_host,
                                                        make_gateway, make_subscriber):
    town = Town(tmp_path, make_broker, make_postgres, make_host, make_gateway, make_subscriber)
    try:
        alarm_id = town.press()
        check_raised(town, alarm_id)
        assert not town.dcmds(alarm_id)
        csrf = town.login()
        town.acknowledge(alarm_id, csrf)
        assert wait_until(lambda: town.dcmds(alarm_id), 20), "no DCMD after the operator's acknowledge"
        d = town.dcmds(alarm_id)[0]
        assert d.topic == "spBv1.0/%s/DCMD/%s/%s" % (GROUP, EDGE, FACILITY)
        assert d.metric("alarms/acknowledged_by")["value"] == OPERATOR
        row = town.closed(alarm_id)
        assert row["acknowledged_ms"] >= int(alarm_id.rsplit("-", 1)[1])
        town.closed_once(alarm_id)
        # Acknowledging again is answered from the database, and sends nothing.
        st, _, text = town.board.call("POST", "/api/alarms/acknowledge",
                                      {"group": GROUP, "edge_node": EDGE, "facility": FACILITY, "alarm_id": alarm_id},
                                      headers={"X-CSRF-Token": csrf})
        assert st == 200 and json.loads(text) == {"state": "acknowledged", "requested": False}
        # The next press is a new call, on the board again.
        second = town.press()
        assert second != alarm_id
        check_raised(town, second)
    finally:
        town.stop()


def test_acknowledged_while_the_gateway_uplink_is_down(tmp_path, make_broker, make_postgres, make_host,
                                                       make_gateway, make_subscriber):
    """The host keeps the request while the node is dead (its will seen) and sends it
    once the gateway is born again; the gateway closes the alarm once."""
    town = Town(tmp_path, make_broker, make_postgres, make_host, make_gateway, make_subscriber)
    try:
        alarm_id = town.press()
        check_raised(town, alarm_id)
        csrf = town.login()
        town.proxy.cut()
        town.gw.wait_log(r"uplink: connection to \S+ lost", 20)
        town.wait_node_online(False)
        town.acknowledge(alarm_id, csrf)
        assert wait_until(lambda: town.pg.scalar("SELECT count(*) FROM alarm_ack_requests WHERE alarm_id = '%s'"
                                                 " AND completed_at IS NULL" % alarm_id) == 1, 10)
        # Held, not sent to a dead node: the host has read the request (pending) and
        # has published no DCMD for it (a barrier: the wire up to now is in).
        assert wait_until(lambda: town.host.metric("community_host_alarm_acknowledges_pending") == 1, 20)
        town.sub.barrier()
        assert not town.dcmds(alarm_id), "a DCMD was sent to a dead node"
        assert town.host.metric("community_host_alarm_acknowledge_dcmds_total") == 0
        town.proxy.heal()
        town.wait_node_online(True)  # its new NBIRTH: now the host sends
        assert wait_until(lambda: town.dcmds(alarm_id), 30), "the held request was not sent after the birth"
        town.closed(alarm_id)
        town.closed_once(alarm_id)
    finally:
        town.stop()


def test_host_killed_while_it_holds_the_request(tmp_path, make_broker, make_postgres, make_host, make_gateway,
                                                make_subscriber):
    """kill -9 of the host between the operator's request and its DCMD (held: the node
    was dead): the restarted host sends it from the stored request, once the gateway is
    back; the gateway closes the alarm once."""
    town = Town(tmp_path, make_broker, make_postgres, make_host, make_gateway, make_subscriber)
    try:
        alarm_id = town.press()
        check_raised(town, alarm_id)
        csrf = town.login()
        town.proxy.cut()
        town.gw.wait_log(r"uplink: connection to \S+ lost", 20)
        town.wait_node_online(False)
        town.acknowledge(alarm_id, csrf)
        assert wait_until(lambda: town.host.metric("community_host_alarm_acknowledges_pending") == 1, 20)
        town.sub.barrier()
        assert not town.dcmds(alarm_id)
        town.host.kill()
        # The host's will (STATE offline) is on the broker before anything else.
        town.sub.wait_for(lambda msgs: any(m.type == "STATE" and m.edge == HOST_ID and m.json
                                           and m.json.get("online") is False for m in msgs), 20, "the host's will")
        town.host.start()
        town.host.wait_log(r"STATE online published(.|\n)*STATE online published", 30)
        town.proxy.heal()
        town.wait_node_online(True)
        assert wait_until(lambda: town.dcmds(alarm_id), 40), "the stored request was not sent after the restart"
        assert town.dcmds(alarm_id)[-1].metric("alarms/acknowledged_by")["value"] == OPERATOR
        town.closed(alarm_id)
        town.closed_once(alarm_id)
        # The session died with the killed process: the board asks for a new login.
        st, _, _ = town.board.call("POST", "/api/alarms/acknowledge",
                                   {"group": GROUP, "edge_node": EDGE, "facility": FACILITY, "alarm_id": alarm_id},
                                   headers={"X-CSRF-Token": csrf})
        assert st == 401
    finally:
        town.stop()
