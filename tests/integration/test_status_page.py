"""The status page end to end: the gateway runs the simulator against a real mosquitto,
the page is opened in headless Chromium (Debian's chromium, driven by playwright-core
from tests/browser), and occupancy on the page must change as the simulator changes it,
without a reload. A screenshot is kept in <build>/test-artifacts/."""

import json
import os
import shutil
import subprocess

import pytest

from helpers import base_config
from web import get, web_port, web_section

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "..", "browser")

FACILITIES = [
    {"id": "canteen-1", "type": "canteen", "name": "华漕长者食堂 Huacao canteen", "capacity": 60,
     "sensors": [{"id": "door-1", "kind": "door_counter"}, {"id": "meal-1", "kind": "meal_terminal"}]},
    {"id": "charge-1", "type": "charging_station", "name": "充电站 Car park P3", "capacity": 4,
     "sensors": [{"id": "cp-1", "kind": "charge_point", "connectors": 4, "max_power_kw": 7}]},
    {"id": "fit-1", "type": "fitness_point", "name": "健身点 Riverside", "capacity": 30,
     "sensors": [{"id": "gate-1", "kind": "door_counter"}, {"id": "bike-1", "kind": "equipment"},
                 {"id": "rower-1", "kind": "equipment"}]},
]


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_status_page_updates_live(tmp_path, broker, make_gateway):
    if chromium() is None:
        pytest.fail("Debian's chromium is not installed (scripts/install-deps.sh installs it)")
    if not os.path.exists(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        subprocess.run([os.path.join(BROWSER_DIR, "setup.sh")], check=True, timeout=300)

    # Lunch time on a Monday: the canteen fills and empties; 10 samples per second.
    cfg = base_config("huacao", "gw-web", tmp_path / "data", FACILITIES, start="2024-03-04T11:00",
                      interval_s=60, speed=600, max_samples=5000)
    cfg["web"] = web_section()
    gw = make_gateway(cfg, [broker.uri])
    port = web_port(gw)
    status, headers, body = get(port, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "社区网关" in body

    artifacts = os.path.join(os.environ.get("GATEWAY_BINARY_DIR", str(tmp_path)), "test-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    shot = os.path.join(artifacts, "status_page.png")
    if os.path.exists(shot):
        os.remove(shot)
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "status_page.js"), "http://127.0.0.1:%d/" % port, shot,
                        chromium()], capture_output=True, text=True, timeout=120, cwd=BROWSER_DIR)
    assert p.returncode == 0, "browser script failed:\n%s\n%s" % (p.stdout, p.stderr)
    seen = json.loads(p.stdout.strip().splitlines()[-1])
    print("status page:", seen)

    assert seen["title"].startswith("社区网关")
    assert set(seen["initial"]) == {"canteen-1", "charge-1", "fit-1"}
    assert seen["changed"] != seen["initial"], "occupancy did not change on the page"
    assert seen["updates"] >= 1
    assert seen["mark"] == "still-here" and seen["navigations"] == 1, "the page was reloaded"
    assert any("华漕长者食堂" in label for label in seen["labels"])
    assert len(seen["connectors"]) == 4
    assert all(s in {"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing",
                     "Reserved", "Unavailable", "Faulted"} for s in seen["connectors"])
    assert seen["equipment"] == 2
    assert "online" in seen["uplink"]
    assert seen["scroll_width"] <= 390, "the page scrolls sideways on a phone"
    assert not seen["errors"], "errors in the page: %s" % seen["errors"]
    assert os.path.getsize(shot) > 10000

    # What the page showed is what the gateway reports.
    _, _, api = get(port, "/api/status")
    api = json.loads(api)
    assert {f["id"]: f["capacity"] for f in api["facilities"]} == {"canteen-1": 60, "charge-1": 4, "fit-1": 30}
    assert gw.terminate() == 0


def test_status_page_says_what_is_not_set_up(tmp_path, make_gateway):
    """The installed config (no facilities, no broker): the page lists what is missing,
    first, in both languages, as the log and /readyz say it."""
    if chromium() is None:
        pytest.fail("Debian's chromium is not installed (scripts/install-deps.sh installs it)")
    if not os.path.exists(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        subprocess.run([os.path.join(BROWSER_DIR, "setup.sh")], check=True, timeout=300)
    with open(os.path.join(HERE, "..", "..", "config", "installed.yaml")) as f:
        installed = f.read()
    assert "  port: 8080\n" in installed
    gw = make_gateway(installed.replace("  port: 8080\n", "  port: 0\n"),
                      extra_args=["--data-dir", str(tmp_path / "data")])
    port = web_port(gw)
    status, _, body = get(port, "/readyz")
    assert status == 503 and body.startswith("not ready: not set up yet: facilities"), body
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "not_set_up.js"), "http://127.0.0.1:%d/" % port,
                        chromium()], capture_output=True, text=True, timeout=120, cwd=BROWSER_DIR)
    assert p.returncode == 0, "browser script failed:\n%s\n%s" % (p.stdout, p.stderr)
    seen = json.loads(p.stdout.strip().splitlines()[-1])
    print("status page:", seen)
    assert seen["items"][:2] == ["未配置 not set up yet: facilities: none configured, nothing is measured",
                                 "未配置 not set up yet: uplink.brokers: none configured, nothing is forwarded"], seen
    assert seen["facilities"] == 0
    assert not seen["errors"], seen["errors"]
    assert gw.terminate() == 0
