"""Runs the real community-gateway binary for integration tests.

The config is written into the test's tmp dir (data_dir inside it, so a restart reuses
the same buffer), the process logs to a file that survives restarts (one header per
start), and wait_log() polls that file for a line matching a regex with a deadline.
In a sanitizer build, check_sanitizers() fails the test on any report in that log (the
make_gateway fixture calls it after every test) and run_cli() on any in its output.
"""

import os
import re
import signal
import subprocess

import sanitizers
from helpers import to_yaml, wait_until


def gateway_binary():
    path = os.environ.get("GATEWAY_BIN")
    if not path:
        raise RuntimeError("GATEWAY_BIN is not set (ctest sets it; for a manual run export "
                           "GATEWAY_BIN=<build>/gateway/community-gateway)")
    if not os.access(path, os.X_OK):
        raise RuntimeError("GATEWAY_BIN=%s is not an executable" % path)
    return path


class Gateway:
    def __init__(self, workdir, config, broker_uris=(), name="gateway", extra_args=(), prefix=()):
        """config: a dict (written as YAML) or YAML text. broker_uris are passed as
        --broker options, overriding uplink.brokers."""
        self.binary = gateway_binary()
        self.dir = os.path.join(str(workdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.config_path = os.path.join(self.dir, "config.yaml")
        self.log_path = os.path.join(self.dir, "gateway.log")
        text = config if isinstance(config, str) else to_yaml(config) + "\n"
        with open(self.config_path, "w") as f:
            f.write(text)
        self.config = config
        self.broker_uris = list(broker_uris)
        self.extra_args = list(extra_args)
        self.prefix = list(prefix)  # e.g. ["ip", "netns", "exec", ns]: it execs, so pid stays the gateway's
        self.env = {}  # added to the environment of the next start (e.g. LD_PRELOAD of a fault seam)
        self.proc = None
        self.starts = 0
        self.run_offset = 0  # where the current run's log begins
        self.exit_codes = []

    def command(self):
        cmd = self.prefix + [self.binary, "run", "--config", self.config_path]
        for uri in self.broker_uris:
            cmd += ["--broker", uri]
        return cmd + self.extra_args

    def start(self):
        assert not self.running(), "gateway already running"
        with open(self.log_path, "a") as f:
            f.write("==== test harness: start #%d: %s ====\n" % (self.starts + 1, " ".join(self.command())))
            f.flush()
            self.run_offset = f.tell()
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir, env={**os.environ, **self.env})
        log.close()
        self.starts += 1
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def terminate(self, timeout=30.0, sig=signal.SIGTERM):
        """Graceful stop; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.exit_codes.append(("timeout-killed", self.proc.returncode))
                self.proc = None
                return None
        rc = self.proc.returncode
        self.exit_codes.append(rc)
        self.proc = None
        return rc

    def kill(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        rc = self.proc.returncode
        self.exit_codes.append(rc)
        self.proc = None
        return rc

    def wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exit_codes.append(rc)
        self.proc = None
        return rc

    def log_text(self, whole=False):
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            if not whole:
                f.seek(self.run_offset)
            return f.read()

    def log_count(self, regex, whole=False):
        """How many times regex matches the current run's log (or every run's)."""
        return len(re.findall(regex, self.log_text(whole)))

    def wait_log(self, regex, timeout, whole=False):
        """Waits for a log line of the current run (or of any run) matching regex;
        returns the match. Fails early when the process has exited."""
        pattern = re.compile(regex)

        def found():
            m = pattern.search(self.log_text(whole))
            if m:
                return m
            if self.proc is not None and self.proc.poll() is not None:
                m = pattern.search(self.log_text(whole))
                return m or "exited"
            return None
        m = wait_until(found, timeout, interval=0.05)
        if m == "exited":
            raise AssertionError("gateway exited (rc %s) before logging /%s/" % (self.proc.returncode, regex))
        if not m:
            raise AssertionError("gateway did not log /%s/ within %.0f s" % (regex, timeout))
        return m

    def check_sanitizers(self):
        """Raises AssertionError if any run of this gateway printed a sanitizer report
        or exited with the sanitizers' exit code."""
        text = self.log_text(whole=True)
        for rc in self.exit_codes:
            sanitizers.check(text, self.name, rc if isinstance(rc, int) else None)
        sanitizers.check(text, self.name)

    def print_log(self, tail_lines=300):
        lines = self.log_text(whole=True).splitlines()
        print("---- %s log (last %d of %d lines, %s) ----" % (self.name, min(tail_lines, len(lines)),
                                                             len(lines), self.log_path))
        for line in lines[-tail_lines:]:
            print(line)


def preload_env(lib, **env):
    """Environment for a gateway run with `lib` preloaded (a fault seam, libfaketime),
    plus env. In a sanitizer build the preloaded library comes before the sanitizer's
    runtime, which ASan refuses unless told that this is intended."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": lib, "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0",
            **{k: str(v) for k, v in env.items()}}


def run_cli(args, timeout=30.0):
    """Runs the binary with args; returns (rc, stdout, stderr)."""
    p = subprocess.run([gateway_binary()] + list(args), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    sanitizers.check(p.stdout + p.stderr, "community-gateway " + " ".join(str(a) for a in args[:1]), p.returncode)
    return p.returncode, p.stdout, p.stderr
