"""The town report (`community-host report`) against real gateways, a real mosquitto and
a real PostgreSQL.

Three gateways, one per facility as deployed (canteen, charging station, fitness
point), simulate the local days 2026-03-02..04 quickly (reports.py's fast simulator)
and publish each day's reports/daily to the town host. The fitness point's gateway
was off on the first day (it starts at the second day's midnight): the town report
lists that day as missing, never as zeros.

What is checked, each against something computed in the test:
- every reported day of every facility equals that gateway's own `community-gateway
  report` figure by figure (the same keys, the same rounding, the same applicability:
  visits only with door counters, meals only for canteens, ...), the peak time as the
  same local minute;
- the day the fitness gateway was off is missing for it, and only that day;
- the totals by type and for the town are the sums of the per-facility rows, and the
  capacity-weighted utilisation and completeness follow docs/town-host.md from them;
- --type keeps one type; CSV (BOM, a "no" row for the missing day) and HTML (the
  missing section names the facility) say the same; a reversed range is refused.
"""

import os
import re
import subprocess

from helpers import base_config, wait_until
import town_reports
from reports import FACILITIES, INTERVAL_S, SAMPLES_PER_DAY, SPEED, readings_per_day
from town_reports import differences

GROUP = "huacao"
HOST_ID = "town-host"
DATES = ["2026-03-02", "2026-03-03", "2026-03-04"]
# The canteen and the fitness point have a feedback terminal (the default four buttons);
# the fitness point's minimum is out of reach, so its index is never significant, nor a
# total that sums it (docs/town-host.md: a sum is judged against its largest minimum).
SMILEY = {"id": "smiley-1", "kind": "feedback_terminal"}
BUTTON_SCORES = {"very_unhappy": 1, "unhappy": 2, "happy": 3, "very_happy": 4}  # report-format.md defaults
MIN_RESPONSES = {"canteen-1": 20, "fitness-1": 1000000}
BY_ID = {f["id"]: dict(f) for f in FACILITIES}
for _fac, _min in MIN_RESPONSES.items():
    BY_ID[_fac]["sensors"] = BY_ID[_fac]["sensors"] + [SMILEY]
    BY_ID[_fac]["feedback_min_responses"] = _min
# (edge node, facility, first simulated day): the fitness point's gateway was off on 03-02.
DEPLOYED = [("gw-canteen", "canteen-1", "2026-03-02"), ("gw-charging", "charging-1", "2026-03-02"),
            ("gw-fitness", "fitness-1", "2026-03-03")]
def gateway_config(tmp_path, edge, facility, first_day):
    days = len([d for d in DATES if d >= first_day])
    cfg = base_config(GROUP, edge, tmp_path / ("data-" + edge), [BY_ID[facility]], start=first_day + "T00:00",
                      interval_s=INTERVAL_S, speed=SPEED, max_samples=days * SAMPLES_PER_DAY, seed=2026,
                      buffer={"commit_interval_ms": 2, "synchronous": "normal"},
                      uplink={"primary_host_id": HOST_ID})
    cfg["history"] = {"daily_report_delay_s": 1200}
    return cfg


def gateway_report(gw, workdir):
    return town_reports.gateway_report(gw, workdir, DATES[0], DATES[-1])


def host_report(host, workdir, fmt="json", *extra):
    return town_reports.host_report(host, workdir, DATES[0], DATES[-1], fmt, *extra, generated_at="2026-03-05T08:00Z")


def history_complete(data, facility):
    """Every sample of every simulated day is in the gateway's history."""
    fac = data["facilities"][0]
    for day in fac["days"]:
        if not day["has_data"]:
            continue
        for s, sc in zip(day["sensors"], facility["sensors"]):
            if s["readings"] < readings_per_day(sc):
                return False
    return True


def expected_totals(facilities):
    """Totals by type and for the town from the per-facility rows (docs/town-host.md)."""
    out = {}
    for f in facilities:
        for key in (f["type"], None):
            t = out.setdefault(key, {"facilities": 0, "days_reported": 0, "days_missing": 0, "visits": 0,
                                     "meals_served": 0, "checkins": 0, "charging_sessions": 0, "energy_kwh": 0.0,
                                     "equipment_sessions": 0, "occ_h": 0.0, "cap_h": 0.0, "complete_h": 0.0,
                                     "open_h": 0.0})
            t["facilities"] += 1
            t["days_missing"] += len(f["missing_days"])
            for d in f["days"]:
                t["days_reported"] += 1
                t["visits"] += d["visits"] or 0
                t["meals_served"] += d.get("meals_served", 0)
                t["checkins"] += d.get("checkins", 0)
                t["charging_sessions"] += d["charging"]["sessions"] if "charging" in d else 0
                t["energy_kwh"] += d["charging"]["energy_kwh"] if "charging" in d else 0
                t["equipment_sessions"] += d["fitness"]["equipment_sessions"] if "fitness" in d else 0
                complete = (d["completeness"] or 0) * d["opening_hours"]
                t["complete_h"] += complete
                t["open_h"] += d["opening_hours"]
                if d["utilisation"] is not None:
                    t["occ_h"] += d["mean_occupancy"] * complete
                    t["cap_h"] += d["capacity"] * complete
    return out


def expected_satisfaction(facilities):
    """Satisfaction sums by type and for the town, from the per-button counts of the
    reported days and the configured scores (report-format.md: index = 100 (mean - s_min)
    / (s_max - s_min) of the summed counts; not significant below the minimum)."""
    lo, hi = min(BUTTON_SCORES.values()), max(BUTTON_SCORES.values())
    out = {}
    for f in facilities:
        days = [d["satisfaction"] for d in f["days"] if "satisfaction" in d]
        if not days:
            continue
        for key in (f["type"], None, ("facility", f["id"])):
            t = out.setdefault(key, {"facilities": 0, "responses": 0, "score_sum": 0, "buttons": {},
                                     "visits": 0, "min": 0})
            t["facilities"] += 1
            t["min"] = max(t["min"], MIN_RESPONSES[f["id"]])
            for d, day in zip(days, [d for d in f["days"] if "satisfaction" in d]):
                for b in d["buttons"]:
                    t["buttons"][b["name"]] = t["buttons"].get(b["name"], 0) + b["responses"]
                    t["responses"] += b["responses"]
                    t["score_sum"] += b["responses"] * BUTTON_SCORES[b["name"]]
                t["visits"] += day["visits"] or 0
    for t in out.values():
        n = t["responses"]
        t["index"] = 100.0 * (t["score_sum"] / n - lo) / (hi - lo) if n else None
        t["significant"] = n >= max(1, t["min"])
        t["answer_rate"] = n / t["visits"] if t["visits"] else None
    return out


def check_satisfaction_sum(got, want, what):
    assert got["responses"] == want["responses"], (what, got, want)
    assert {b["name"]: b["responses"] for b in got["buttons"]} == want["buttons"], (what, got, want)
    assert got["significant"] == want["significant"], (what, got, want)
    assert got["min_responses"] == want["min"], (what, got, want)
    if want["significant"]:
        assert abs(got["index"] - want["index"]) <= 0.005 + 1e-9, (what, got, want)
    else:
        assert got["index"] is None, (what, got)
    if want["answer_rate"] is None:
        assert got["answer_rate"] is None, (what, got)
    else:
        assert abs(got["answer_rate"] - want["answer_rate"]) <= 0.00005 + 1e-9, (what, got, want)


def test_town_report_equals_each_gateways_report(tmp_path, broker, make_postgres, make_host, make_gateway):
    pg = make_postgres()
    host = make_host(broker, pg, [GROUP])
    host.wait_log(r"STATE online published", 30)
    gws = {}
    for edge, fac, first in DEPLOYED:
        gws[fac] = make_gateway(gateway_config(tmp_path, edge, fac, first), [broker.uri], name=edge)

    # Every day each gateway ran, reported to the host: 3 + 3 + 2.
    # (The simulated clocks run on past the last sample: later days get their reports
    # too, outside the range.)
    in_range = "SELECT count(*) FROM daily_reports WHERE day BETWEEN '%s' AND '%s'" % (DATES[0], DATES[-1])
    assert wait_until(lambda: pg.scalar(in_range) >= 8, 180), \
        pg.psql("SELECT device, day, revision FROM daily_reports ORDER BY 1, 2") + host.log_text()[-3000:]
    own = {}
    for fac, gw in gws.items():
        own[fac] = wait_until(lambda: (lambda d: d if d and history_complete(d, BY_ID[fac]) else None)(
            gateway_report(gw, tmp_path)), 60)
        assert own[fac], "the history of %s never held every sample" % fac

    # Late readings make revisions: wait until the host holds the gateways' latest.
    def town_and_problems():
        town = host_report(host, tmp_path)
        by_id = {f["id"]: f for f in town["facilities"]}
        problems = []
        for fac in gws:
            own[fac] = gateway_report(gws[fac], tmp_path) or own[fac]
            if fac not in by_id:
                problems.append("%s not in the town report" % fac)
            else:
                problems += differences(own[fac]["facilities"][0], by_id[fac])
        return town, problems
    assert wait_until(lambda: not town_and_problems()[1], 60), "\n".join(town_and_problems()[1][:30])
    town, _ = town_and_problems()

    assert town["schema"] == "community-host/town-report/v1"
    assert sorted(f["id"] for f in town["facilities"]) == sorted(gws)
    by_id = {f["id"]: f for f in town["facilities"]}
    for fac, gw_data in own.items():
        gf = gw_data["facilities"][0]
        assert by_id[fac]["type"] == gf["type"] and by_id[fac]["name"] == gf["name"]
    # The day the fitness gateway was off: missing, and only for it.
    assert by_id["fitness-1"]["missing_days"] == ["2026-03-02"]
    assert [d["date"] for d in by_id["fitness-1"]["days"]] == DATES[1:]
    assert by_id["canteen-1"]["missing_days"] == [] and by_id["charging-1"]["missing_days"] == []
    assert town["missing"] == [{"group_id": GROUP, "edge_node_id": "gw-fitness", "id": "fitness-1",
                                "date": "2026-03-02"}]

    # Totals from the per-facility rows.
    want = expected_totals(town["facilities"])
    got = {t["type"]: t for t in town["totals"]}
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        for k in ("facilities", "days_reported", "days_missing", "visits", "meals_served", "checkins",
                  "charging_sessions", "equipment_sessions"):
            assert g[k] == w[k], (key, k, g[k], w[k])
        # The rows are rounded (energy 3, ratios 4 decimals); the totals come from the
        # unrounded figures.
        assert abs(g["energy_kwh"] - w["energy_kwh"]) <= 0.0005 * (w["days_reported"] + 1), (key, g, w)
        if w["cap_h"] > 0:
            assert abs(g["utilisation"] - w["occ_h"] / w["cap_h"]) < 1e-3, (key, g, w)
        else:
            assert g["utilisation"] is None
        assert abs(g["completeness"] - w["complete_h"] / w["open_h"]) < 1e-3, (key, g, w)
        assert abs(g["coverage"] - w["days_reported"] / (w["days_reported"] + w["days_missing"])) < 1e-4
    assert got[None]["days_missing"] == 1 and got["fitness_point"]["days_reported"] == 2

    # Satisfaction: each facility's range and the totals by type recomputed from the summed
    # per-button counts (never a mean of daily indexes), judged against the minimum.
    want_sat = expected_satisfaction(town["facilities"])
    for fac in MIN_RESPONSES:
        check_satisfaction_sum(by_id[fac]["satisfaction"], want_sat[("facility", fac)], fac)
        assert all("satisfaction" in d for d in by_id[fac]["days"]), fac
    assert "satisfaction" not in by_id["charging-1"] and all("satisfaction" not in d for d in by_id["charging-1"]["days"])
    for key in ("canteen", "fitness_point", None):
        assert got[key]["feedback_facilities"] == want_sat[key]["facilities"], key
        check_satisfaction_sum(got[key]["satisfaction"], want_sat[key], key)
    assert got["charging_station"]["satisfaction"] is None and got["charging_station"]["feedback_facilities"] == 0
    # The canteen answers enough for an index; the fitness point never does, nor the town.
    assert want_sat["canteen"]["significant"] and want_sat["canteen"]["responses"] > 0
    assert not want_sat["fitness_point"]["significant"] and want_sat["fitness_point"]["responses"] > 0
    assert not want_sat[None]["significant"]
    assert got["charging_station"]["charging_sessions"] > 0 and got["canteen"]["meals_served"] > 0

    # --type keeps one type.
    canteens = host_report(host, tmp_path, "json", "--type", "canteen")
    assert [f["id"] for f in canteens["facilities"]] == ["canteen-1"]
    assert [t["type"] for t in canteens["totals"]] == ["canteen", None]
    assert canteens["facilities"][0]["days"] == by_id["canteen-1"]["days"]

    # CSV and HTML say the same.
    csv = host_report(host, tmp_path, "csv")
    assert csv.startswith("\ufeff")
    rows = [line.split(",") for line in csv.lstrip("\ufeff").split("\r\n")]
    fitness_rows = [r for r in rows if len(r) > 6 and r[2] == "fitness-1"]
    assert [(r[5], r[6]) for r in fitness_rows] == [("2026-03-02", "no"), ("2026-03-03", "yes"),
                                                    ("2026-03-04", "yes")]
    assert all(cell == "" for cell in fitness_rows[0][7:]), fitness_rows[0]
    # The satisfaction cells: responses, index or not significant, answer rate, per button.
    canteen_rows = [r for r in rows if len(r) > 6 and r[2] == "canteen-1"]
    for r, d in zip(canteen_rows, by_id["canteen-1"]["days"]):
        sat = d["satisfaction"]
        assert r[27] == str(sat["responses"]), r
        if sat["significant"]:
            assert abs(float(r[28]) - sat["index"]) <= 0.05 + 1e-9 and len(r[28].split(".")[1]) == 1, (r, sat)
        else:
            assert r[28] == "不显著 not significant", (r, sat)
        assert r[30] == "; ".join("%s %d" % (b["name"], b["responses"]) for b in sat["buttons"]), r
    assert all(r[28] == "不显著 not significant" for r in fitness_rows[1:]), fitness_rows
    html = host_report(host, tmp_path, "html")
    missing_section = html[html.index('id="missing"'):html.index("</section>", html.index('id="missing"'))]
    assert "fitness-1" in missing_section and "2026-03-02" in missing_section
    assert "canteen-1" not in missing_section
    # Each facility with a terminal has its chart of the share per button, titled with the
    # index and its count.
    for fac in MIN_RESPONSES:
        sec = html[html.index('id="feedback-%s"' % fac):]
        sec = sec[:sec.index("</div>")]
        w = want_sat[("facility", fac)]
        assert 'class="chart feedback"' in sec and "n = %d" % w["responses"] in sec, sec[:400]
        if w["significant"]:
            m = re.search(r"Residents' satisfaction: ([0-9.]+) \(n = (\d+)\)", sec)
            assert m and int(m.group(2)) == w["responses"], sec[:400]
            assert abs(float(m.group(1)) - w["index"]) <= 0.05 + 1e-9, (m.group(0), w)
        else:
            assert "not significant (n = %d &lt; %d)" % (w["responses"], w["min"]) in sec, sec[:400]  # "<" escaped
    assert 'id="feedback-charging-1"' not in html

    # A reversed range is refused with one clear line.
    r = subprocess.run([os.environ["HOST_BIN"], "report", "--config", host.config_path, "--from", DATES[2],
                        "--to", DATES[0], "--format", "json", "--out", str(tmp_path / "x.json")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "before" in r.stderr, r
