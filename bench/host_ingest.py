#!/usr/bin/env python3
"""Town host ingest benchmark: many Sparkplug edge nodes (tests/support/sparkplug_load.cc:
births with aliases, DDATA by alias, a mix of UInt64, UInt32, Float, Double, Boolean and
String metrics) into the real community-host, mosquitto and PostgreSQL, all started here
on free loopback ports.

  bench/host_ingest.py BUILD [--seconds 20] [--nodes 1000] [--rss-nodes 10000] [--lag-rate 50000]
                       [--inflight 1000] [--max-batch 500]

Figures:
- sustained: samples committed per second by one host at the generator's full speed,
  from the host's own community_host_samples_stored_total between two instants of the
  steady part of the run (the first 3 s left out);
- lag at --lag-rate metrics/s: p50/p99/max of received_ms - ts_ms over the rows of the
  run: ts_ms is the wall clock when the generator published, received_ms the host's
  clock when it began the transaction that committed the row (so the commit's own
  duration, reported beside as commits per second, is not in it);
- RSS per edge node: the host's VmRSS with --rss-nodes nodes born and tracked, minus its
  VmRSS before any birth, divided by the nodes;
- two instances: two groups, one host each (split by group, README "From one host to
  several"), one generator each, over one PostgreSQL: the sum and each instance.

mosquitto's max_inflight_messages (20 by default) caps the QoS 1 messages the broker
sends the host before its PUBACKs, and so the host's batch: --inflight sets it.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from helpers import wait_until  # noqa: E402
from mosquitto import Mosquitto  # noqa: E402
from postgres import Postgres  # noqa: E402
from town_host import TownHost  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.load_bin = os.path.join(args.build, "tests", "sparkplug_load")
        os.environ["HOST_BIN"] = os.path.join(args.build, "host", "community-host")
        self.broker = Mosquitto(work, name="mosquitto", extra_conf=["max_inflight_messages %d" % args.inflight])
        self.broker.start()
        self.pg = Postgres(work, name="pg")
        self.pg.start()
        self.hosts = []

    def host(self, name, groups):
        h = TownHost(self.work, self.broker, self.pg, groups, name=name, host_id=name,
                     database_keys={"max_batch_messages": self.args.max_batch})
        h.start()
        assert wait_until(lambda: self._metric(h, "community_host_database_up") == 1, 30), h.log_text()
        self.hosts.append(h)
        return h

    @staticmethod
    def _metric(h, name):
        try:
            return h.metric(name)
        except OSError:
            return None

    def load(self, group, prefix, **kw):
        args = [self.load_bin, "--port", str(self.broker.port), "--group", group, "--prefix", prefix]
        for k, v in kw.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def stored(self, h):
        return self._metric(h, "community_host_samples_stored_total") or 0

    def commits(self, h):
        return self._metric(h, "community_host_commits_total") or 0

    def sustained(self, pairs, seconds, warm=3.0):
        """pairs: [(host, group, prefix)]: full-speed generators; samples/s per host."""
        procs = [self.load(g, p, nodes=self.args.nodes, devices=2, metrics=20, messages=0, duration=seconds,
                           connections=4, window=500, rate=self.args.rate) for _, g, p in pairs]
        time.sleep(warm)  # the warm-up is a span of time by definition: nothing to await
        t1 = time.monotonic()
        s1 = [(self.stored(h), self.commits(h)) for h, _, _ in pairs]
        cpu1 = [self.cpu(h) for h, _, _ in pairs]
        o1 = self.others_cpu(procs)
        time.sleep(seconds - warm - 2)
        t2 = time.monotonic()
        s2 = [(self.stored(h), self.commits(h)) for h, _, _ in pairs]
        cpu2 = [self.cpu(h) for h, _, _ in pairs]
        o2 = self.others_cpu(procs)
        outs = [json.loads(p.communicate(timeout=600)[0] or "{}") for p in procs]
        dt = t2 - t1
        # What the broker still holds is drained before the next phase measures anything.
        for (_, _, prefix), o in zip(pairs, outs):
            assert wait_until(lambda: self.pg.scalar("SELECT count(*) FROM samples WHERE edge_node LIKE '%s%%' AND"
                                                     " device <> ''" % prefix) >= o.get("acked_metrics", 0), 300)
        self.last_cpu = {k: round((o2[k] - o1[k]) / dt, 3) for k in o1}  # cores busy, on average
        return [{"samples_per_s": (b[0] - a[0]) / dt, "commits_per_s": (b[1] - a[1]) / dt,
                 "host_cpu": (c2 - c1) / dt, "generator_acked_per_s": o.get("metrics_per_s")}
                for a, b, c1, c2, o in zip(s1, s2, cpu1, cpu2, outs)]

    def others_cpu(self, procs):
        """CPU seconds so far of the bench's PostgreSQL (postmaster and its children),
        mosquitto and the generators: where the machine's time goes."""
        with open(os.path.join(self.pg.data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        out = {"postgres": 0.0, "mosquitto": proc_cpu(self.broker.proc.pid),
               "generators": sum(proc_cpu(p.pid) for p in procs)}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    parts = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(d) == postmaster or int(parts[1]) == postmaster:
                out["postgres"] += (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
        return out

    @staticmethod
    def cpu(h):
        with open("/proc/%d/stat" % h.proc.pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

    def lag(self, h, group, prefix, rate, seconds):
        t_start = int(time.time() * 1000)
        p = self.load(group, prefix, nodes=self.args.nodes, devices=2, metrics=20, messages=0, duration=seconds,
                      rate=rate, connections=4, window=500)
        out = json.loads(p.communicate(timeout=600)[0])
        total = out["acked_metrics"]
        assert wait_until(lambda: self.pg.scalar("SELECT count(*) FROM samples WHERE edge_node LIKE '%s%%' AND"
                                                 " ts_ms >= %d AND device <> ''" % (prefix, t_start)) >= total, 120)
        q = ("SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY received_ms - ts_ms), max(received_ms"
             " - ts_ms), count(*) FROM samples WHERE edge_node LIKE '%s%%' AND device <> '' AND ts_ms >= %d"
             % (prefix, t_start + 2000))
        pct, mx, n = self.pg.psql(q).split("|")
        p50, p99 = [float(x) for x in pct.strip("{}").split(",")]
        return {"rate": rate, "acked_metrics_per_s": out["metrics_per_s"], "p50_ms": p50, "p99_ms": p99,
                "max_ms": int(mx), "rows": int(n)}

    def rss(self, h, group, n):
        before = rss_kib(h.proc.pid)
        p = self.load(group, "rss-", nodes=n, devices=2, metrics=20, messages=1, connections=20, window=500)
        out = json.loads(p.communicate(timeout=900)[0])
        assert out["complete"], out
        assert wait_until(lambda: self.pg.scalar("SELECT count(*) FROM edge_nodes WHERE edge_node LIKE 'rss-%'"
                                                 " AND online") == n, 300)
        def tracked_now():
            return sum(1 for (name, labels), v in h.metrics().items()
                       if name == "community_host_edge_node_online" and dict(labels)["edge_node"].startswith("rss-")
                       and v == 1)
        tracked = wait_until(lambda: tracked_now() == n, 30) and n or tracked_now()
        after = rss_kib(h.proc.pid)
        return {"nodes": n, "tracked": tracked, "rss_before_kib": before, "rss_after_kib": after,
                "kib_per_node": (after - before) / n}

    def stop(self):
        for h in self.hosts:
            h.terminate()
        self.broker.stop()
        self.pg.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--rss-nodes", type=int, default=10000)
    ap.add_argument("--lag-rate", type=float, default=50000)
    ap.add_argument("--rate", type=float, default=0,
                    help="offered metrics/s per generator in the sustained phases; 0: as fast as the broker takes them")
    ap.add_argument("--inflight", type=int, default=1000)
    ap.add_argument("--max-batch", type=int, default=500)
    ap.add_argument("--skip", default="", help="comma-separated phases to skip: rss,one,lag,two")
    a = ap.parse_args()
    skip = set(a.skip.split(",")) - {""}
    work = tempfile.mkdtemp(prefix="host-ingest-")
    b = Bench(a, work)
    res = {"load_before": loadavg(), "inflight": a.inflight, "max_batch": a.max_batch, "nodes": a.nodes, "offered_rate": a.rate}
    try:
        h1 = b.host("host-a", ["g1"])
        if "one" not in skip:
            res["one_instance"] = b.sustained([(h1, "g1", "s1-")], a.seconds)[0]
            res["one_instance"]["cpu_others"] = b.last_cpu
            print(json.dumps({"one_instance": res["one_instance"]}), flush=True)
        if "lag" not in skip:
            res["lag"] = b.lag(h1, "g1", "l1-", a.lag_rate, a.seconds)
            print(json.dumps({"lag": res["lag"]}), flush=True)
        if "rss" not in skip:
            res["rss"] = b.rss(h1, "g1", a.rss_nodes)
            print(json.dumps({"rss": res["rss"]}), flush=True)
        if "two" not in skip:
            h2 = b.host("host-b", ["g2"])
            two = b.sustained([(h1, "g1", "t1-"), (h2, "g2", "t2-")], a.seconds)
            res["two_instances"] = {"each": two, "sum_samples_per_s": sum(x["samples_per_s"] for x in two),
                                    "cpu_others": b.last_cpu}
            print(json.dumps({"two_instances": res["two_instances"]}), flush=True)
    finally:
        res["load_after"] = loadavg()
        b.stop()
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
