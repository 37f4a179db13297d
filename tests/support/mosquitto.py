"""A real mosquitto broker on an ephemeral loopback port, for integration tests.

Each test starts its own broker with a generated conf in its tmp dir, waits until the
port accepts TCP connections (polling with a deadline, never a fixed sleep), and stops
it in a finalizer. restart() comes back on the same port, which is what a gateway that
keeps its broker URI needs. The broker log is kept in a file and printed on failure.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess

from helpers import free_port, wait_until


def find_mosquitto():
    """Path of the mosquitto binary, or None. Debian installs it in /usr/sbin, which is
    often not on a normal user's PATH."""
    path = shutil.which("mosquitto")
    if path:
        return path
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def find_mosquitto_passwd():
    path = shutil.which("mosquitto_passwd")
    if path:
        return path
    for candidate in ("/usr/bin/mosquitto_passwd", "/usr/sbin/mosquitto_passwd"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class Mosquitto:
    """One broker. persistence=True keeps sessions and queued QoS 1 messages across
    stop()/restart() (for tests where a persistent-session subscriber must not miss what
    a publisher sends before the subscriber has reconnected)."""

    def __init__(self, workdir, name="mosquitto", persistence=False, username=None, password=None, tls=None,
                 bind=("127.0.0.1",), host="127.0.0.1", prefix=(), extra_conf=()):
        self.binary = find_mosquitto()
        if self.binary is None:
            raise RuntimeError("mosquitto not found")
        self.dir = os.path.join(str(workdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.persistence = persistence
        self.username = username
        self.password = password
        self.port = None
        # tls: {"cafile", "certfile", "keyfile", "require_certificate"} adds a TLS listener
        # on tls_port beside the plain one (which the test's subscriber uses).
        self.tls = tls
        self.tls_port = None
        # In a test network (netlab.py) the broker listens on its namespace's addresses,
        # runs under `ip netns exec` (prefix) and the test reaches it at `host`.
        self.bind = list(bind)
        self.host = host
        self.prefix = list(prefix)
        # Further mosquitto.conf lines (the host benchmark's max_inflight_messages).
        self.extra_conf = list(extra_conf)
        self.proc = None
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        self.starts = 0

    # -- configuration ---------------------------------------------------------------
    def _write_conf(self):
        lines = ["listener %d %s" % (self.port, addr) for addr in self.bind] + [
            # Unlimited queue: the default of 1000 silently drops QoS 1 messages queued for
            # a slow subscriber, which the tests would misread as gateway losses.
            "max_queued_messages 0",
            "log_dest file %s" % self.log_path,
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_timestamp true",
            "log_timestamp_format %H:%M:%S",
            "connection_messages true",
            # Started as root, mosquitto would switch to the "mosquitto" user and could
            # no longer write its log in the test's tmp dir; as anyone else this is a no-op.
            "user %s" % pwd.getpwuid(os.getuid()).pw_name,
        ]
        if self.persistence:
            lines += ["persistence true", "persistence_location %s/" % self.dir,
                      "autosave_interval 0"]
        else:
            lines += ["persistence false"]
        if self.username is not None:
            pwfile = os.path.join(self.dir, "passwd")
            tool = find_mosquitto_passwd()
            if tool is None:
                raise RuntimeError("mosquitto_passwd not found")
            if os.path.exists(pwfile):
                os.unlink(pwfile)
            subprocess.run([tool, "-c", "-b", pwfile, self.username, self.password], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lines += ["allow_anonymous false", "password_file %s" % pwfile]
        else:
            lines += ["allow_anonymous true"]
        if self.tls:
            if self.tls_port is None:
                self.tls_port = free_port()
            lines += ["listener %d 127.0.0.1" % self.tls_port,
                      "cafile %s" % self.tls["cafile"],
                      "certfile %s" % self.tls["certfile"],
                      "keyfile %s" % self.tls["keyfile"],
                      "require_certificate %s" % ("true" if self.tls.get("require_certificate") else "false")]
        lines += self.extra_conf
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def uri(self):
        return "tcp://%s:%d" % (self.host, self.port)

    def uri_at(self, addr):
        return "tcp://%s:%d" % (addr, self.port)

    @property
    def tls_uri(self):
        return "ssl://127.0.0.1:%d" % self.tls_port

    def reserve_port(self):
        """Picks the port without starting, so a gateway can be pointed at a broker that
        is not up yet."""
        if self.port is None:
            self.port = free_port()
        return self.port

    # -- life cycle ------------------------------------------------------------------
    def start(self, timeout=10.0):
        fixed = self.port is not None
        for attempt in range(5):
            if self.port is None:
                self.port = free_port()
            self._write_conf()
            self._launch()
            if self._wait_ready(timeout):
                self.starts += 1
                return self
            self._reap()
            if fixed:
                # The same port is wanted (restart, or reserved): it may still be held
                # briefly; try again on it.
                continue
            self.port = None
        raise RuntimeError("mosquitto did not start; log:\n" + self.log_text())

    def _launch(self):
        with open(self.log_path, "a") as f:
            f.write("==== test harness: starting mosquitto on port %d ====\n" % self.port)
        out = open(os.path.join(self.dir, "stdout.log"), "a")
        self.proc = subprocess.Popen(self.prefix + [self.binary, "-c", self.conf_path], stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()

    def _wait_ready(self, timeout):
        def ready():
            if self.proc.poll() is not None:
                return "exited"
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return "up"
            except OSError:
                return None
        state = wait_until(ready, timeout, interval=0.02)
        return state == "up"

    def _reap(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def restart(self, timeout=10.0):
        self.stop()
        return self.start(timeout)

    def log_text(self):
        parts = []
        for fname in ("mosquitto.log", "stdout.log"):
            p = os.path.join(self.dir, fname)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    parts.append(f.read())
        return "\n".join(parts)

    def print_log(self, tail_lines=200):
        lines = self.log_text().splitlines()
        print("---- %s log (last %d of %d lines, %s) ----" % (self.name, min(tail_lines, len(lines)),
                                                             len(lines), self.log_path))
        for line in lines[-tail_lines:]:
            print(line)
