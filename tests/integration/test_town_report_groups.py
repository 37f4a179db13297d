"""`community-host report --group G` against a real mosquitto and a real PostgreSQL: three
towns (groups) in one database, one host serving them all.

Python edge nodes publish what a gateway does (docs/wire-format.md): a DBIRTH per
facility stating facility/type and facility/name and declaring its sensors, then a
reports/daily DataSet per local day (the day row first, then hour rows), stamped at the
midnight that ended the day. Two towns have a facility with the same id (canteen-1),
with other figures; one facility has no report on the first day.

Checked, each against what the test published (docs/town-host.md, "The town report"):
- `--group A` lists A's facilities only, each with A's figures and missing days, and
  its totals by type and for the town are the sums of A's reports alone;
- `--group A --group B` lists both and not the third town;
- without --group the config's host.groups are reported: all three for the serving
  host's config, one town for a config that names only it;
- a group nobody published in gives an empty report; the CSV of one group has only its
  facilities' rows.
"""

import datetime

import town_reports
from helpers import wait_until
from sparkplug_edge import BOOLEAN, DATASET, DOUBLE, INT64, STRING, UINT32, UINT64, Edge
from town_host import TownHost
from town_reports import ZONE

A, B, C = "huacao", "qingshan", "lishui"
# group -> [(edge node, facility, type, name, capacity, sensor metrics the birth declares)]
TOWNS = {
    A: [("gw-a", "canteen-1", "canteen", "Huacao canteen", 80,
         ["sensors/door-1/entries_total", "sensors/meal-1/meals_total"]),
        ("gw-a", "station-1", "elderly_station", "Huacao elderly station", 40,
         ["sensors/door-2/entries_total", "sensors/checkin-1/checkins_total"])],
    B: [("gw-b", "canteen-1", "canteen", "Qingshan canteen", 48,
         ["sensors/door-1/entries_total", "sensors/meal-1/meals_total"]),
        ("gw-b", "fitness-1", "fitness_point", "Qingshan fitness point", 32,
         ["sensors/door-3/entries_total", "sensors/bench-1/in_use"])],
    C: [("gw-c", "station-9", "elderly_station", "Lishui elderly station", 64,
         ["sensors/door-9/entries_total", "sensors/checkin-9/checkins_total"])],
}
# The local days reported: the two before today (within the host's retention). Qingshan's
# fitness point has no report of the first (its gateway was off).
TODAY = datetime.datetime.now(ZONE).date()
DATES = [(TODAY - datetime.timedelta(days=k)).isoformat() for k in (2, 1)]
NOT_REPORTED = {(B, "fitness-1", DATES[0])}

COLUMNS = [("date", STRING), ("period", STRING), ("capacity", UINT32), ("opening_hours", DOUBLE),
           ("visits", UINT64), ("peak_occupancy", INT64), ("peak_time", UINT64), ("mean_occupancy", DOUBLE),
           ("utilisation", DOUBLE), ("hours_crowded", DOUBLE), ("hours_full", DOUBLE), ("completeness", DOUBLE),
           ("meals", UINT64), ("checkins", UINT64), ("charging_sessions", UINT64), ("mean_session_min", DOUBLE),
           ("energy_kwh", DOUBLE), ("connector_utilisation", DOUBLE), ("availability", DOUBLE),
           ("equipment_sessions", UINT64), ("equipment_active_min", DOUBLE), ("revision", UINT64),
           ("late_readings", UINT64), ("feedback_responses", UINT64), ("satisfaction_index", DOUBLE),
           ("answer_rate", DOUBLE), ("alarms", UINT64), ("alarm_test_presses", UINT64),
           ("alarm_presses_folded", UINT64), ("alarms_acknowledged", UINT64), ("alarm_ack_median_s", DOUBLE),
           ("alarm_ack_worst_s", DOUBLE), ("alarms_open", UINT64)]


def midnight_after(date):
    d = datetime.date.fromisoformat(date) + datetime.timedelta(days=1)
    return int(datetime.datetime.combine(d, datetime.time(0, 0), ZONE).timestamp() * 1000)


def figures(fi, di, ftype, capacity, date):
    """The day's figures of the fi-th facility (over all towns) on the di-th date: distinct
    per facility and day, ratios exact in binary and within the report's 4 decimals."""
    utilisation = 0.25 + 0.0625 * (fi + di)
    day_start = midnight_after(date) - 86400000
    return {"capacity": capacity, "opening_hours": 10.5 + di, "visits": 100 * (fi + 1) + 7 * di + 1,
            "peak_occupancy": int(utilisation * capacity) + 5, "peak_time": day_start + 11 * 3600000,
            "mean_occupancy": utilisation * capacity, "utilisation": utilisation,
            "completeness": 1.0 - 0.0625 * di - 0.125 * (fi % 2),
            "meals": 50 * (fi + 1) + 3 * di if ftype == "canteen" else 0,
            "checkins": 30 * (fi + 1) + 2 * di if ftype == "elderly_station" else 0,
            "equipment_sessions": 20 + fi + di if ftype == "fitness_point" else 0,
            "equipment_active_min": 90.5 + di if ftype == "fitness_point" else 0.0}


def dataset(date, fig):
    """reports/daily: the day row, then 24 hour rows (the day's visits in hour 09, none
    elsewhere: a host that summed or took an hour row would be seen)."""
    defaults = {"hours_crowded": 0.0, "hours_full": 0.0, "charging_sessions": 0, "mean_session_min": -1.0,
                "energy_kwh": 0.0, "connector_utilisation": -1.0, "availability": -1.0, "revision": 0,
                "late_readings": 0, "feedback_responses": 0, "satisfaction_index": -1.0, "answer_rate": 0.0,
                "alarms": 0, "alarm_test_presses": 0, "alarm_presses_folded": 0, "alarms_acknowledged": 0,
                "alarm_ack_median_s": -1.0, "alarm_ack_worst_s": -1.0, "alarms_open": 0}
    day = dict(defaults, date=date, period="day", **fig)
    rows = [day]
    for h in range(24):
        hour = dict(day, period="%02d" % h, opening_hours=1.0 if 8 <= h < 18 else 0.0)
        for k in ("visits", "meals", "checkins", "equipment_sessions"):
            hour[k] = day[k] if h == 9 else 0
        rows.append(hour)
    return ([c for c, _ in COLUMNS], [t for _, t in COLUMNS], [[r[c] for c, _ in COLUMNS] for r in rows])


def publish_towns(broker):
    """Births and daily reports of every facility; returns {(group, edge, facility):
    {"type", "name", "days": {date: figures}}}, what the test published."""
    published = {}
    fi = 0
    edges = {}
    for group, facilities in TOWNS.items():
        for edge_id, fac, ftype, name, cap, sensors in facilities:
            if edge_id not in edges:
                e = Edge(broker, group, edge_id)
                e.publish("NBIRTH", 0, [{"name": "bdSeq", "datatype": UINT64, "value": 0},
                                        {"name": "Node Control/Rebirth", "datatype": BOOLEAN, "value": False}])
                edges[edge_id] = [e, 1]
            e, seq = edges[edge_id]
            birth = [{"name": "facility/type", "datatype": STRING, "value": ftype},
                     {"name": "facility/name", "datatype": STRING, "value": name},
                     {"name": "occupancy/capacity", "datatype": UINT32, "value": cap}]
            for s in sensors:
                if s.endswith("/in_use"):
                    birth.append({"name": s, "datatype": BOOLEAN, "value": False})
                else:
                    birth.append({"name": s, "datatype": UINT64, "value": 0})
            e.publish("DBIRTH", seq, birth, device=fac)
            seq += 1
            entry = published[(group, edge_id, fac)] = {"type": ftype, "name": name, "days": {}}
            for di, date in enumerate(DATES):
                if (group, fac, date) in NOT_REPORTED:
                    continue
                fig = figures(fi, di, ftype, cap, date)
                entry["days"][date] = fig
                e.publish("DDATA", seq, [{"name": "reports/daily", "datatype": DATASET, "value": dataset(date, fig),
                                          "ts": midnight_after(date)}], device=fac)
                seq += 1
            edges[edge_id][1] = seq
            fi += 1
    for e, _ in edges.values():
        e.stop()
    return published


def expected_totals(facilities):
    """Totals by type and for the town (None) over the reported days (docs/town-host.md)."""
    out = {}
    for f in facilities.values():
        for key in (f["type"], None):
            t = out.setdefault(key, {"facilities": 0, "days_reported": 0, "days_missing": 0, "visits": 0,
                                     "meals_served": 0, "checkins": 0, "equipment_sessions": 0, "occ_h": 0.0,
                                     "cap_h": 0.0, "complete_h": 0.0, "open_h": 0.0})
            t["facilities"] += 1
            t["days_missing"] += len(DATES) - len(f["days"])
            for d in f["days"].values():
                t["days_reported"] += 1
                t["visits"] += d["visits"]
                t["meals_served"] += d["meals"]
                t["checkins"] += d["checkins"]
                t["equipment_sessions"] += d["equipment_sessions"]
                complete = d["completeness"] * d["opening_hours"]
                t["complete_h"] += complete
                t["open_h"] += d["opening_hours"]
                t["occ_h"] += d["mean_occupancy"] * complete
                t["cap_h"] += d["capacity"] * complete
    return out


def check_report(report, published, groups):
    """The report holds exactly the facilities of groups, each with its own figures."""
    want = {k: v for k, v in published.items() if k[0] in groups}
    assert want, groups
    assert report["groups"] == list(groups)
    got = {(f["group_id"], f["edge_node_id"], f["id"]): f for f in report["facilities"]}
    assert sorted(got) == sorted(want), (sorted(got), groups)
    for key, w in want.items():
        f = got[key]
        assert (f["type"], f["name"]) == (w["type"], w["name"]), (key, f)
        assert f["missing_days"] == [d for d in DATES if d not in w["days"]], (key, f["missing_days"])
        assert [d["date"] for d in f["days"]] == sorted(w["days"]), key
        for d in f["days"]:
            fig = w["days"][d["date"]]
            what = (key, d["date"])
            for k in ("capacity", "opening_hours", "visits", "peak_occupancy", "mean_occupancy", "utilisation",
                      "completeness"):
                assert d[k] == fig[k], (what, k, d[k], fig[k])
            assert d["peak_time_ms"] == fig["peak_time"] and d["revision"] == 0, what
            # Meals for canteens, check-ins for stations, equipment with in_use sensors only.
            assert d.get("meals_served") == (fig["meals"] if w["type"] == "canteen" else None), what
            assert d.get("checkins") == (fig["checkins"] if w["type"] == "elderly_station" else None), what
            if w["type"] == "fitness_point":
                assert d["fitness"] == {"equipment_sessions": fig["equipment_sessions"],
                                        "equipment_active_minutes": fig["equipment_active_min"]}, what
            else:
                assert "fitness" not in d, what
            assert "charging" not in d and "satisfaction" not in d, what
    assert sorted((m["group_id"], m["edge_node_id"], m["id"], m["date"]) for m in report["missing"]) == \
        sorted(k + (d,) for k, w in want.items() for d in DATES if d not in w["days"])

    totals = {t["type"]: t for t in report["totals"]}
    exp = expected_totals(want)
    assert set(totals) == set(exp), (sorted(map(str, totals)), groups)
    for key, e in exp.items():
        t = totals[key]
        for k in ("facilities", "days_reported", "days_missing", "visits", "meals_served", "checkins",
                  "equipment_sessions"):
            assert t[k] == e[k], (groups, key, k, t[k], e[k])
        assert t["charging_sessions"] == 0 and t["feedback_facilities"] == 0, (groups, key, t)
        assert abs(t["utilisation"] - e["occ_h"] / e["cap_h"]) <= 0.00005 + 1e-9, (groups, key, t, e)
        assert abs(t["completeness"] - e["complete_h"] / e["open_h"]) <= 0.00005 + 1e-9, (groups, key, t, e)
        coverage = e["days_reported"] / (e["days_reported"] + e["days_missing"])
        assert abs(t["coverage"] - coverage) <= 0.00005 + 1e-9, (groups, key, t)
    return want


def report_of(host, tmp_path, fmt="json", *groups):
    extra = []
    for g in groups:
        extra += ["--group", g]
    return town_reports.host_report(host, tmp_path, DATES[0], DATES[-1], fmt, *extra,
                                    generated_at="2026-03-05T08:00Z")


def test_report_by_group(tmp_path, broker, make_postgres, make_host):
    pg = make_postgres()
    host = make_host(broker, pg, [A, B, C])
    host.wait_log(r"STATE online published", 30)
    published = publish_towns(broker)
    n_reports = sum(len(f["days"]) for f in published.values())
    assert n_reports == len(published) * len(DATES) - len(NOT_REPORTED)
    stored = ("SELECT (SELECT count(*) FROM daily_reports) || '|' || (SELECT count(*) FROM facilities) || '|' ||"
              " (SELECT count(*) FROM samples WHERE metric = 'facility/type')")
    assert wait_until(lambda: pg.psql(stored) == "%d|%d|%d" % (n_reports, len(published), len(published)), 30), \
        (pg.psql(stored), host.log_text()[-3000:])

    # One town: A's two facilities with A's figures; B's canteen-1 (same id) not in it.
    only_a = check_report(report_of(host, tmp_path, "json", A), published, [A])
    assert len(only_a) == 2
    assert {t["type"] for t in report_of(host, tmp_path, "json", A)["totals"]} == {"canteen", "elderly_station", None}
    # Another town alone, whose facilities include the one missing a day.
    check_report(report_of(host, tmp_path, "json", B), published, [B])
    # Two towns: both, each facility with its own town's figures; not the third.
    both = check_report(report_of(host, tmp_path, "json", A, B), published, [A, B])
    assert len(both) == 4 and not any(k[0] == C for k in both)
    # The default: the config's host.groups: all three here; one for a config naming one.
    assert len(check_report(report_of(host, tmp_path, "json"), published, [A, B, C])) == 5
    config_b = TownHost(tmp_path, broker, pg, [B], name="report-b")  # a config only, never started
    check_report(report_of(config_b, tmp_path, "json"), published, [B])
    # A town nobody published in: nothing in its report.
    nowhere = report_of(host, tmp_path, "json", "nowhere")
    assert nowhere["facilities"] == [] and nowhere["missing"] == [] and nowhere["groups"] == ["nowhere"]
    # CSV of one town: its facilities' rows only, one per facility and date.
    csv = report_of(host, tmp_path, "csv", A).lstrip("\ufeff").split("\r\n")
    rows = [line.split(",") for line in csv[1:csv.index("")]]
    assert sorted((r[0], r[2], r[5]) for r in rows) == sorted((A, fac, d) for (_, _, fac) in only_a for d in DATES)
