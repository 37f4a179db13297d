"""The real community-host binary (HOST_BIN) for integration tests: a config written
from the test's broker and PostgreSQL, the process started and stopped, its log kept."""

import os
import re
import signal
import subprocess

from helpers import free_port, to_yaml, wait_until


class TownHost:
    def __init__(self, workdir, broker, pg, groups, name="host", host_id="town-host", database_keys=None,
                 board_keys=None, **host_keys):
        self.binary = os.environ.get("HOST_BIN")
        assert self.binary, "HOST_BIN not set (run through ctest)"
        self.dir = os.path.join(str(workdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.host_id = host_id
        self.config_path = os.path.join(self.dir, "host.yaml")
        self.log_path = os.path.join(self.dir, "host.log")
        host = {"id": host_id, "groups": list(groups)}
        host.update(host_keys)
        self.metrics_port = free_port()
        self.board_port = free_port()
        cfg = {"host": host, "mqtt": {"host": broker.host, "port": broker.port, "keep_alive_s": 10},
               "metrics": {"port": self.metrics_port},
               "board": dict({"port": self.board_port, "refresh_ms": 500}, **(board_keys or {})),
               "database": dict({"conninfo": pg.conninfo}, **(database_keys or {}))}
        with open(self.config_path, "w") as f:
            f.write(to_yaml(cfg) + "\n")
        self.proc = None
        self._log = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "--config", self.config_path], stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def terminate(self, timeout=30):
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, regex, timeout):
        assert wait_until(lambda: re.search(regex, self.log_text()), timeout), \
            "host log never matched %r:\n%s" % (regex, self.log_text()[-4000:])

    def metrics(self):
        """{(name, labels tuple): value} from /metrics, read by the reference parser."""
        import urllib.request
        from prometheus_client.parser import text_string_to_metric_families
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=10).read().decode()
        out = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def metric(self, name, **labels):
        return self.metrics().get((name, tuple(sorted(labels.items()))))

    def print_log(self):
        print("---- %s log ----" % self.dir)
        print(self.log_text()[-20000:])
