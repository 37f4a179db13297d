"""Numbered probe readings posted to the HTTP ingest, remembering which were answered
202: the readings the gateway has promised to deliver. A refused probe (429, 503) is
not retried under its number: it was not accepted, and what the tests check is that
every accepted one arrives."""

import http.client
import json
import threading


class Poster(threading.Thread):
    """Posts probes i = 0, 1, 2, ... (`batch` per request, value = probe number; the
    readings of one request share its arrival time, so a batch above 1 gives several
    values one timestamp) to
    facility/sensor, point "probe"; records the 202s in `acked` and the answers by
    status in `codes` (with the Retry-After header seen for each)."""

    def __init__(self, port, token, facility="station-2", sensor="probe-1", batch=1, pause=0.05):
        super().__init__(daemon=True)
        self.port, self.token, self.facility, self.sensor = port, token, facility, sensor
        self.batch, self.pause = batch, pause
        self.error = None
        self.acked, self.sent = set(), 0
        self.codes = {}
        self.retry_after = {}
        self.stop = threading.Event()

    def run(self):
        try:
            self._run()
        except AssertionError as e:
            self.error = e

    def _run(self):
        i = 0
        conn = None
        while not self.stop.is_set():
            numbers = list(range(i, i + self.batch))
            body = json.dumps({"facility": self.facility, "sensor": self.sensor,
                               "readings": [{"point": "probe", "value": n} for n in numbers]})
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", "/api/v1/readings", body, {"Content-Type": "application/json",
                                                                "Authorization": "Bearer " + self.token})
                resp = conn.getresponse()
                answer = resp.read()
                if resp.status == 400:
                    raise AssertionError("probe %d refused as malformed: %r" % (i, answer))
                self.sent += len(numbers)
                self.codes[resp.status] = self.codes.get(resp.status, 0) + 1
                if resp.getheader("Retry-After"):
                    self.retry_after[resp.status] = resp.getheader("Retry-After")
                if resp.status == 202:
                    self.acked.update(numbers)
            except (OSError, http.client.HTTPException):
                # The gateway is down (cut) or not up yet: the probes count as not accepted.
                if conn is not None:
                    conn.close()
                conn = None
            i += self.batch
            self.stop.wait(self.pause)

    def finish(self):
        self.stop.set()
        self.join(10)
        assert self.error is None, self.error
        return set(self.acked)
