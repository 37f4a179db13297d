"""A small network made for one test, out of Linux network namespaces (iproute2) and
nftables, so that faults can be put on the path between the gateway and its broker
without touching the machine's own network:

    [gateway ns] gw0 10.R.S.1 ---- 10.R.S.2 brg [broker ns] brs 10.R.T.2 ---- 10.R.T.1 sub0 [test ns]

The gateway runs in its namespace, mosquitto in the broker's; the test's subscriber
stays in the test's own namespace and reaches the broker over the second link, which
no fault touches. Faults are nftables rules in the gateway's and the broker's
namespaces on the gateway link only: drop everything (a partition; TCP sees no FIN, so
the connection is half-open until keep-alive notices), drop a random share (loss), and
toggles of those (flapping). This kernel has no netem; latency is added by a proxy
(delay_proxy.py) instead.

Needs root (CAP_NET_ADMIN) and the ip and nft commands; available() says whether they
are there, and the tests skip with the reason when not.
"""

import os
import random
import shutil
import subprocess


def _run(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def available():
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            return "%s is not installed (iproute2, nftables)" % tool
    probe = "gwprobe%d" % os.getpid()
    r = _run("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return "cannot create a network namespace: " + r.stderr.strip()
    _run("ip", "netns", "del", probe, check=False)
    return None


class NetLab:
    def __init__(self):
        tag = "%x%x" % (os.getpid() & 0xfff, random.randrange(1 << 12))
        self.gw_ns, self.br_ns = "gw" + tag, "br" + tag
        self.links = ("g" + tag, "b" + tag, "s" + tag, "t" + tag)
        a, b = random.randrange(16, 250), random.randrange(0, 250)
        self.gw_addr, self.br_gw_addr = "10.%d.%d.1" % (a, b), "10.%d.%d.2" % (a, b)
        self.sub_addr, self.br_sub_addr = "10.%d.%d.5" % (a, b), "10.%d.%d.6" % (a, b)
        self.fault = "none"
        self._made = False

    def __enter__(self):
        self.create()
        return self

    def __exit__(self, *exc):
        self.destroy()

    def create(self):
        gw_if, brg_if, sub_if, brs_if = self.links
        try:
            for ns in (self.gw_ns, self.br_ns):
                _run("ip", "netns", "add", ns)
                _run("ip", "-n", ns, "link", "set", "lo", "up")
            self._made = True
            _run("ip", "link", "add", gw_if, "type", "veth", "peer", "name", brg_if)
            _run("ip", "link", "set", gw_if, "netns", self.gw_ns)
            _run("ip", "link", "set", brg_if, "netns", self.br_ns)
            _run("ip", "-n", self.gw_ns, "addr", "add", self.gw_addr + "/30", "dev", gw_if)
            _run("ip", "-n", self.br_ns, "addr", "add", self.br_gw_addr + "/30", "dev", brg_if)
            _run("ip", "-n", self.gw_ns, "link", "set", gw_if, "up")
            _run("ip", "-n", self.br_ns, "link", "set", brg_if, "up")
            _run("ip", "link", "add", sub_if, "type", "veth", "peer", "name", brs_if)
            _run("ip", "link", "set", brs_if, "netns", self.br_ns)
            _run("ip", "addr", "add", self.sub_addr + "/30", "dev", sub_if)
            _run("ip", "-n", self.br_ns, "addr", "add", self.br_sub_addr + "/30", "dev", brs_if)
            _run("ip", "link", "set", sub_if, "up")
            _run("ip", "-n", self.br_ns, "link", "set", brs_if, "up")
            for ns in (self.gw_ns, self.br_ns):
                self._nft(ns, "add table inet fault")
                # The fault chain filters only the gateway link (by address), in both
                # namespaces so that both directions are hit.
                self._nft(ns, "add chain inet fault out { type filter hook output priority 0 ; }")
        except subprocess.CalledProcessError as e:
            self.destroy()
            raise RuntimeError("making the test network failed: %s: %s" % (" ".join(e.cmd), e.stderr))

    def destroy(self):
        if not self._made:
            return
        _run("ip", "link", "del", self.links[2], check=False)  # the root-side veth
        for ns in (self.gw_ns, self.br_ns):
            _run("ip", "netns", "del", ns, check=False)
        self._made = False

    def _nft(self, ns, rule):
        _run("ip", "netns", "exec", ns, "nft", *rule.split())

    def in_gateway_ns(self, cmd):
        return ["ip", "netns", "exec", self.gw_ns] + list(cmd)

    def in_broker_ns(self, cmd):
        return ["ip", "netns", "exec", self.br_ns] + list(cmd)

    # -- faults on the gateway <-> broker link -----------------------------------------
    def _set(self, verdict):
        """verdict: an nft statement applied to packets on the gateway link, or None."""
        for ns, peer in ((self.gw_ns, self.br_gw_addr), (self.br_ns, self.gw_addr)):
            self._nft(ns, "flush chain inet fault out")
            if verdict:
                self._nft(ns, "add rule inet fault out ip daddr %s %s" % (peer, verdict))

    def partition(self):
        self.fault = "partition"
        self._set("drop")

    def loss(self, percent):
        self.fault = "loss %d%%" % percent
        self._set("numgen random mod 100 < %d drop" % percent)

    def heal(self):
        self.fault = "none"
        self._set(None)
