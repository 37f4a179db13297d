"""OCPP 1.6J peers for the OCPP driver's tests: ocpp-rpc (npm, tests/ocpp) as the charge
point (RPCClient, tests/ocpp/cp.js) and as the operator's central system (RPCServer,
tests/ocpp/csms.js), plus the official OCPP 1.6 JSON schemas shipped inside ocpp-rpc as
the validation oracle (python3-jsonschema)."""

import json
import os
import queue
import subprocess
import threading

from helpers import source_dir

OCPP_DIR = os.path.join(source_dir(), "tests", "ocpp")


def ensure_installed():
    """Runs tests/ocpp/setup.sh (npm ci from the lock file) when ocpp-rpc is missing."""
    if not os.path.exists(os.path.join(OCPP_DIR, "node_modules", "ocpp-rpc", "package.json")):
        subprocess.run([os.path.join(OCPP_DIR, "setup.sh")], check=True, timeout=300)


def schemas():
    """{"Action.req": schema, ...} from ocpp-rpc's bundled OCPP 1.6 schemas."""
    ensure_installed()
    path = os.path.join(OCPP_DIR, "node_modules", "ocpp-rpc", "lib", "schemas", "ocpp1_6.json")
    with open(path) as f:
        return {s["$id"].split(":", 1)[1]: s for s in json.load(f)}


def schema_errors(action, payload):
    """The jsonschema validation errors of a CALL payload (empty list: valid)."""
    import jsonschema
    schema = schemas()[action + ".req"]
    v = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    return list(v.iter_errors(payload))


class _NodePeer:
    def __init__(self, script, args):
        ensure_installed()
        self.proc = subprocess.Popen(["node", os.path.join(OCPP_DIR, script)] + args, cwd=OCPP_DIR,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.lines = queue.Queue()
        self.events = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "event" in msg:
                self.events.append(msg)
            else:
                self.lines.put(msg)

    def next(self, timeout=20):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s: no answer in %s s; stderr: %s" % (self, timeout, self._stderr()))

    def _stderr(self):
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - teardown
                self.proc.kill()
                self.proc.wait()


class ChargePoint(_NodePeer):
    """ocpp-rpc's RPCClient as charge point `cp_id` at ws[s]://.../ocpp/{cp_id}."""

    def __init__(self, url, cp_id, password=None, ca=None, log=None, protocol=None):
        args = ["--url", url, "--id", cp_id]
        if password:
            args += ["--password", password]
        if ca:
            args += ["--ca", ca]
        if log:
            args += ["--log", str(log)]
        if protocol:
            args += ["--protocol", protocol]
        self.cp_id = cp_id
        super().__init__("cp.js", args)

    def _cmd(self, cmd, timeout=20):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.next(timeout)

    def connect(self):
        return self._cmd({"op": "connect"})

    def call(self, action, params=None, timeout=20):
        return self._cmd({"op": "call", "action": action, "params": params or {}}, timeout)

    def ok(self, action, params=None):
        r = self.call(action, params)
        assert r.get("ok"), "%s %s failed: %r" % (self.cp_id, action, r)
        return r["result"]

    def close(self, force=False):
        return self._cmd({"op": "close", "force": force})

    def __repr__(self):
        return "ChargePoint(%s)" % self.cp_id


class CentralSystem(_NodePeer):
    """ocpp-rpc's RPCServer as the operator's central system on a loopback port."""

    def __init__(self, log, password=None, port=0, cert=None, key=None):
        args = ["--port", str(port), "--log", str(log)]
        if password:
            args += ["--password", password]
        if cert:
            args += ["--cert", cert, "--key", key]
        self.log = log
        super().__init__("csms.js", args)
        self.port = self.next(20)["port"]

    def frames(self, cp_id=None):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(l) for l in f if l.strip() and (cp_id is None or json.loads(l)["id"] == cp_id)]

    def __repr__(self):
        return "CentralSystem(%d)" % self.port
