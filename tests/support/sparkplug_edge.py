"""A Sparkplug edge node played by a test (paho), for the town host's tests: it numbers
seq itself, so that a test can skip or repeat one, and sets every metric field itself."""

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
        self.client.on_message = lambda c, u, m: self.ncmds.append((time.monotonic(), m.topic, m.payload))
        r, _ = self.client.subscribe("spBv1.0/%s/NCMD/%s" % (group, edge_id), qos=1)
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
                        elif t in (UINT64, INT64):
                            e.long_value = cell
                        else:
                            e.int_value = cell
        topic = "spBv1.0/%s/%s/%s" % (self.group, kind, self.edge) + ("/" + device if device else "")
        info = self.client.publish(topic, p.SerializeToString(), qos=1)
        info.wait_for_publish()
        return p.timestamp

    def stop(self):
        self.client.loop_stop()
        self.client.disconnect()
