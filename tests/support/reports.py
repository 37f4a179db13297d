"""Shared by the report integration tests: the demo's four facilities, a fast simulator
config spanning a few local days, running `community-gateway report`, and waiting until
the history holds every sample of the days asked for.
"""

import json
import os

from gateway import run_cli
from helpers import base_config, raw_points, wait_until

GROUP = "huacao"
START = "2026-03-02T00:00"       # a Monday, Asia/Shanghai
INTERVAL_S, SPEED = 600, 18000   # a sample per 10 simulated minutes, 30 samples/s: a day in 5 s
DAYS = 3
SAMPLES_PER_DAY = 24 * 3600 // INTERVAL_S
DATES = ["2026-03-02", "2026-03-03", "2026-03-04"]

FACILITIES = [
    {"id": "canteen-1", "type": "canteen", "name": "华漕长者食堂 Huacao Elderly Canteen", "capacity": 60,
     "opening_hours": [{"days": "daily", "open": "10:30", "close": "13:30"},
                       {"days": "daily", "open": "16:30", "close": "19:00"}],
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "meal-1", "kind": "meal_terminal"}]},
    {"id": "daycare-1", "type": "elderly_station", "name": "华漕日间照料中心 Huacao Day-Care Centre",
     "capacity": 40, "opening_hours": [{"days": "mon-sat", "open": "08:00", "close": "17:30"}],
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "checkin-1", "kind": "checkin_terminal"}]},
    {"id": "charging-1", "type": "charging_station", "name": "华漕公共充电站 Huacao Public Charging Station",
     "sensors": [{"id": "cp-1", "kind": "charge_point", "connectors": 2, "max_power_kw": 7},
                 {"id": "cp-2", "kind": "charge_point", "connectors": 2, "max_power_kw": 60}]},
    {"id": "fitness-1", "type": "fitness_point", "name": "华漕益智健身苑点 Huacao Smart Fitness Point",
     "capacity": 30, "opening_hours": [{"days": "daily", "open": "06:00", "close": "21:00"}],
     "sensors": [{"id": "gate-1", "kind": "door_counter"}, {"id": "bike-1", "kind": "equipment"},
                 {"id": "elliptical-1", "kind": "equipment"}, {"id": "rower-1", "kind": "equipment"}]},
]


def config(edge, data_dir, max_samples=DAYS * SAMPLES_PER_DAY):
    cfg = base_config(GROUP, edge, data_dir, FACILITIES, start=START, interval_s=INTERVAL_S, speed=SPEED,
                      max_samples=max_samples, seed=2026,
                      # Short group commits: the simulator waits for each sample's commit.
                      buffer={"commit_interval_ms": 2, "synchronous": "normal"})
    # The day's late readings: 20 simulated minutes (two samples) after midnight.
    cfg["history"] = {"daily_report_delay_s": 1200}
    return cfg


def report(config_path, fmt, out, *extra):
    """Runs the report command; returns (rc, stderr)."""
    rc, _, err = run_cli(["report", "--config", str(config_path), "--from", DATES[0], "--to", DATES[-1],
                          "--format", fmt, "--out", str(out), "--generated-at", "2026-03-05T00:00:00Z"]
                         + list(extra), timeout=60)
    return rc, err


def readings_per_day(sensor):
    return SAMPLES_PER_DAY * len(raw_points(sensor))


def history_complete(config_path, workdir, timeout):
    """Waits until the report shows every sample of every day for every sensor; returns
    the report JSON (or None on timeout)."""
    out = os.path.join(str(workdir), "poll.json")

    def complete():
        rc, _ = report(config_path, "json", out)
        if rc != 0:
            return None
        with open(out, encoding="utf-8") as f:
            data = json.load(f)
        for fac, cfg in zip(data["facilities"], FACILITIES):
            for day in fac["days"]:
                for s, sc in zip(day["sensors"], cfg["sensors"]):
                    if s["readings"] < readings_per_day(sc):
                        return None
        return data
    return wait_until(complete, timeout, interval=0.5)
