"""Rollups survive SIGKILL without double counting: the same deterministic three days
of simulated facilities are run twice, once without interruption and once killed with
SIGKILL at random moments and restarted on the same data_dir. The history is updated
in the transaction that commits each batch, and the simulator resumes after the last
accepted sample, so both reports must give the same figures, to the last visit.
"""

import json
import os
import random
import time

from reports import DATES, config, history_complete, report

LAST_DAY_REPORTED = r"daily report of fitness-1 for 2026-03-04 queued"

# Figures that must agree exactly (counts) or to rounding (time-weighted, energy).
EXACT = ["visits", "meals_served", "checkins", "peak_occupancy", "peak_time"]
CLOSE = ["opening_hours", "mean_occupancy", "utilisation", "hours_crowded", "hours_at_capacity", "completeness"]


def _flatten(report):
    out = {}
    for f in report["facilities"]:
        for d in f["days"]:
            key = (f["id"], d["date"])
            row = {k: d.get(k) for k in EXACT + CLOSE}
            if "charging" in d:
                row.update({"sessions": d["charging"]["sessions"], "energy_kwh": d["charging"]["energy_kwh"],
                            "connector_utilisation": d["charging"]["connector_utilisation"]})
            if "fitness" in d:
                row.update({"equipment_sessions": d["fitness"]["equipment_sessions"],
                            "equipment_active_minutes": d["fitness"]["equipment_active_minutes"]})
            row["readings"] = [s["readings"] for s in d["sensors"]]
            out[key] = row
    return out


def _final(gw, tmp_path):
    out = tmp_path / (gw.name + ".json")
    rc, err = report(gw.config_path, "json", out)
    assert rc == 0, err
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def test_report_after_kills_equals_uninterrupted_run(tmp_path, make_gateway):
    seed = int(os.environ.get("IT_SEED", time.time_ns() % 1000000))
    rnd = random.Random(seed)
    print("report_kill: random seed %d (set IT_SEED to replay)" % seed)

    clean = make_gateway(config("gw-clean", tmp_path / "clean"), name="clean")
    assert history_complete(clean.config_path, tmp_path, 60), "the uninterrupted run did not record three full days"
    # After the last day's midnight its time is integrated to the end (daily report).
    assert clean.wait_log(LAST_DAY_REPORTED, 30, whole=True)
    assert clean.terminate(timeout=30) == 0
    clean_report = _final(clean, tmp_path)

    killed = make_gateway(config("gw-killed", tmp_path / "killed"), name="killed", start=False)
    delays = []
    for _ in range(4):
        killed.start()
        delay = rnd.uniform(0.3, 3.0)
        time.sleep(delay)  # the moment of the power cut, chosen at random: not a wait
        assert killed.running(), "gateway exited by itself"
        killed.kill()
        delays.append(round(delay, 2))
    killed.start()
    print("report_kill: SIGKILL after %s s of each run" % delays)
    assert history_complete(killed.config_path, tmp_path, 60), "the killed run did not record three full days"
    assert killed.wait_log(LAST_DAY_REPORTED, 30, whole=True)
    assert killed.terminate(timeout=30) == 0
    killed_report = _final(killed, tmp_path)

    a, b = _flatten(clean_report), _flatten(killed_report)
    assert set(a) == set(b)
    assert {d for _, d in a} == set(DATES)
    problems = []
    for key in sorted(a):
        for k, va in a[key].items():
            vb = b[key].get(k)
            if isinstance(va, float) and isinstance(vb, float):
                if abs(va - vb) > 1e-3 * max(1.0, abs(va)):
                    problems.append("%s %s: %s vs %s" % (key, k, va, vb))
            elif va != vb:
                problems.append("%s %s: %s vs %s" % (key, k, va, vb))
    total_visits = sum(r["visits"] or 0 for r in a.values())
    print("report_kill: %d facility-days compared, %d visits" % (len(a), total_visits))
    assert total_visits > 500
    assert not problems, "\n".join(problems[:30])
