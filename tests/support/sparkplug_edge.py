"""A Sparkplug edge node played by a test (paho), for the town host's tests: it numbers
seq itself, so that a test can skip or repeat one, and sets every metric field itself.
It also keeps the commands a host sends it: NCMD (ncmds) and DCMD of its devices (dcmds),
and builds the alarms/events DataSet of docs/wire-format.md (alarm_events)."""

import time

import paho.mqtt.client as mqtt

from sparkplug_b_pb2 import Payload

UINT32, UINT64, FLOAT, DOUBLE, BOOLEAN, DATASET, STRING, INT64 = 7, 8, 9, 10, 11, 16, 12, 4


class Edge:
    """A Sparkplug edge node played by the test: it numbers seq itself so a test can
    skip or repeat one."""

    def __init__(self, broker, group, edge_id):
        self.group = group
        self.edge = edge_id
        self.client = mqtt.Client(client_id="edge-" + edge_id, clean_session=True)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.ncmds = []
        self.dcmds = []  # (time.time(), topic, payload bytes)

        def on_message(c, u, m):
            if "/DCMD/" in m.topic:
                self.dcmds.append((time.time(), m.topic, m.payload))
            else:
                self.ncmds.append((time.monotonic(), m.topic, m.payload))
        self.client.on_message = on_message
        r, _ = self.client.subscribe([("spBv1.0/%s/NCMD/%s" % (group, edge_id), 1),
                                      ("spBv1.0/%s/DCMD/%s/+" % (group, edge_id), 1)])
        assert r == 0

    def publish(self, kind, seq, metrics, device=None, ts=None):
        p = Payload()
        p.timestamp = ts or int(time.time() * 1000)
        if seq is not None:
            p.seq = seq
        for m in metrics:
            pm = p.metrics.add()
            if m.get("name"):
                pm.name = m["name"]
            if "alias" in m:
                pm.alias = m["alias"]
            pm.timestamp = m.get("ts", p.timestamp)
            if m.get("datatype"):
                pm.datatype = m["datatype"]
            if m.get("historical"):
                pm.is_historical = True
            v = m["value"]
            dt = m.get("type", m.get("datatype"))
            if dt == BOOLEAN:
                pm.boolean_value = v
            elif dt in (UINT32,):
                pm.int_value = v
            elif dt in (UINT64, INT64):
                pm.long_value = v
            elif dt == FLOAT:
                pm.float_value = v
            elif dt == DOUBLE:
                pm.double_value = v
            elif dt == STRING:
                pm.string_value = v
            elif dt == DATASET:
                cols, types, rows = v
                pm.dataset_value.num_of_columns = len(cols)
                pm.dataset_value.columns.extend(cols)
                pm.dataset_value.types.extend(types)
                for row in rows:
                    r = pm.dataset_value.rows.add()
                    for cell, t in zip(row, types):
                        e = r.elements.add()
                        if t == STRING:
                            e.string_value = cell
                        elif t == BOOLEAN:
                            e.boolean_value = cell
                        elif t in (UINT64, INT64):
                            e.long_value = cell & 0xFFFFFFFFFFFFFFFF  # Int64 as two's complement
                        elif t == DOUBLE:
                            e.double_value = cell
                        elif t == FLOAT:
                            e.float_value = cell
                        else:
                            e.int_value = cell
        topic = "spBv1.0/%s/%s/%s" % (self.group, kind, self.edge) + ("/" + device if device else "")
        info = self.client.publish(topic, p.SerializeToString(), qos=1)
        info.wait_for_publish()
        return p.timestamp

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()


# alarms/events columns and types, in the documented order (docs/wire-format.md).
ALARM_COLUMNS = ["id", "sensor", "location", "kind", "test", "state", "raised_ms", "presses", "escalated_ms",
                 "acknowledged_ms", "acknowledged_by"]
ALARM_TYPES = [STRING, STRING, STRING, STRING, BOOLEAN, STRING, INT64, UINT32, INT64, INT64, STRING]


def alarm_events(rows):
    """The alarms/events DataSet value of rows (dicts with the column names; defaults for
    the rest), for Edge.publish with datatype DATASET."""
    defaults = {"location": "", "kind": "call", "test": False, "state": "raised", "presses": 1,
                "escalated_ms": -1, "acknowledged_ms": -1, "acknowledged_by": ""}
    return (ALARM_COLUMNS, ALARM_TYPES, [[dict(defaults, **r)[c] for c in ALARM_COLUMNS] for r in rows])


def alarm_metrics(row, ts):
    """The four metrics of a sensor's alarm change (the priority lane's DDATA)."""
    return [{"name": "alarms/%s/active" % row["sensor"], "datatype": BOOLEAN,
             "value": row.get("state", "raised") != "acknowledged", "ts": ts},
            {"name": "alarms/%s/alarm_id" % row["sensor"], "datatype": STRING, "value": row["id"], "ts": ts},
            {"name": "alarms/events", "datatype": DATASET, "value": alarm_events([row]), "ts": ts}]
