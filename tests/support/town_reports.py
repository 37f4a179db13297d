"""The gateway's own report and the town host's report of the same facilities, and
where they differ: the comparison behind "the host's town report equals each gateway's
own report, facility by facility" (test_town_report, test_town_host)."""

import datetime
import json
import os
import subprocess
import zoneinfo

from gateway import run_cli

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
FIGURES = ["opening_hours", "visits", "peak_occupancy", "mean_occupancy", "utilisation", "hours_crowded",
           "hours_at_capacity", "completeness", "meals_served", "checkins", "late_readings"]
CHARGING = ["sessions", "mean_session_min", "energy_kwh", "connector_utilisation", "availability"]
FITNESS = ["equipment_sessions", "equipment_active_minutes"]


def gateway_report(gw, workdir, day_from, day_to):
    """`community-gateway report` as JSON, or None while it cannot be made."""
    out = os.path.join(str(workdir), gw.name + "-report.json")
    rc, _, err = run_cli(["report", "--config", gw.config_path, "--from", day_from, "--to", day_to,
                          "--format", "json", "--out", out], timeout=60)
    if rc != 0:
        return None
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def host_report(host, workdir, day_from, day_to, fmt="json", *extra, generated_at=None):
    out = os.path.join(str(workdir), "town." + fmt)
    args = [os.environ["HOST_BIN"], "report", "--config", host.config_path, "--from", day_from, "--to", day_to,
            "--format", fmt, "--out", out]
    if generated_at:
        args += ["--generated-at", generated_at]
    r = subprocess.run(args + list(extra), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with open(out, encoding="utf-8", newline="") as f:  # CSV's CRLF as written
        return json.load(f) if fmt == "json" else f.read()


def local_minute(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, ZONE).strftime("%Y-%m-%d %H:%M")


def differences(gw_fac, town_fac):
    """Where the town report's rows of one facility differ from its gateway's report."""
    problems = []
    days = {d["date"]: d for d in town_fac["days"]}
    for g in gw_fac["days"]:
        date = g["date"]
        if not g["has_data"]:
            # The gateway recorded nothing that day: no report, so missing, not zeros.
            if date in days or date not in town_fac["missing_days"]:
                problems.append("%s %s: gateway off, not listed missing" % (gw_fac["id"], date))
            continue
        t = days.get(date)
        if t is None:
            problems.append("%s %s: no row in the town report" % (gw_fac["id"], date))
            continue
        for k in FIGURES:
            if (k in g) != (k in t) or g.get(k) != t.get(k):
                problems.append("%s %s %s: gateway %r, town %r" % (gw_fac["id"], date, k, g.get(k), t.get(k)))
        for group, keys in (("charging", CHARGING), ("fitness", FITNESS)):
            if (group in g) != (group in t):
                problems.append("%s %s: %s in one report only" % (gw_fac["id"], date, group))
            elif group in g:
                for k in keys:
                    if g[group][k] != t[group][k]:
                        problems.append("%s %s %s.%s: gateway %r, town %r"
                                        % (gw_fac["id"], date, group, k, g[group][k], t[group][k]))
        # Residents' satisfaction: the day's figures as the gateway's own report has them.
        if g.get("satisfaction") != t.get("satisfaction"):
            problems.append("%s %s satisfaction: gateway %r, town %r"
                            % (gw_fac["id"], date, g.get("satisfaction"), t.get("satisfaction")))
        want_peak = g["peak_time"]
        got_peak = local_minute(t["peak_time_ms"]) if t["peak_time_ms"] is not None else None
        if want_peak != got_peak:
            problems.append("%s %s peak_time: gateway %r, town %r" % (gw_fac["id"], date, want_peak, got_peak))
        if t["capacity"] != gw_fac["capacity"]:
            problems.append("%s %s capacity %r != %r" % (gw_fac["id"], date, t["capacity"], gw_fac["capacity"]))
    return problems
