"""Utilisation reports end to end, against a real mosquitto and a real Chromium.

Three simulated days of the demo's four facilities; the report's counts equal what
the simulator says it generated, day by day. The broker is down across the
first local midnight: the day's reports/daily DataSet is buffered like any reading and
arrives later, historical, stamped at that midnight. The figures on the wire equal the
`report` command's. Then the report in all three formats: CSV with BOM, JSON, and HTML
opened in headless Chromium (the DOM it built, a PNG screenshot, a PDF through
print-to-PDF whose text has every section). Bad requests get clear errors.
"""

import json
import os
import shutil
import struct
import subprocess
import zlib

import checks
from gateway import run_cli
from helpers import local_ms
from reports import DATES, FACILITIES, config, history_complete, report
from sparkplug import by_type

EDGE = "gw-report"
IDS = [f["id"] for f in FACILITIES]


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("Chromium is not installed (scripts/install-deps.sh installs Debian's chromium)")


def _run_chromium(args, timeout=90):
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--hide-scrollbars"] + args
    return subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _png_size_and_colours(path):
    """Width, height and the number of distinct pixel values of an 8-bit RGB(A) PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8, "PNG depth %d" % depth
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    bpp = 4 if ctype == 6 else 3
    stride = width * bpp + 1
    # Distinct bytes of the (filtered) scanlines of the top part: enough to tell a
    # rendered page from a blank one without undoing the PNG filters.
    sample = raw[:stride * min(height, 600)]
    return width, height, len(set(sample))


def test_daily_report_on_the_wire_and_report_files(tmp_path, make_broker, make_subscriber, make_gateway):
    broker = make_broker(persistence=True)
    sub = make_subscriber(broker, client_id="platform-" + EDGE, clean_session=False)
    cfg = config(EDGE, tmp_path / "data")
    gw = make_gateway(cfg, [broker.uri])
    first_midnight = local_ms("2026-03-03T00:00")

    # The uplink goes down in the evening of the first day and comes back after the
    # first day's report was made.
    sub.wait_for(lambda msgs: any(m.type == "DDATA" and any(x["timestamp"] >= first_midnight - 3 * 3600 * 1000
                                                           for x in m.metrics) for m in msgs),
                 30, "DDATA from the evening of the first day")
    broker.stop()
    gw.wait_log(r"daily report of fitness-1 for 2026-03-02 queued", 30)
    broker.start()
    sub.wait_resubscribed(2, 15)

    def daily(msgs):
        out = {}
        for m in msgs:
            if m.type != "DDATA":
                continue
            for x in m.metrics:
                if x["name"] == "reports/daily":
                    out.setdefault((m.device, x["value"][0]["date"]), x)
        return out
    sub.wait_for(lambda msgs: len(daily(msgs)) >= len(IDS) * len(DATES), 60,
                 "reports/daily of every facility for every day")
    assert history_complete(gw.config_path, tmp_path, 30)
    rc = gw.terminate(timeout=30)
    assert rc == 0
    sub.barrier()
    msgs = sub.snapshot()
    problems = checks.check_types(msgs) + checks.check_births(msgs, FACILITIES)
    assert not problems, "\n".join(problems[:20])

    # -- on the wire -------------------------------------------------------------------
    reports = daily(msgs)
    for fid in IDS:
        for i, date in enumerate(DATES):
            x = reports[(fid, date)]
            assert x["datatype"] == 16, "reports/daily is a DataSet"
            rows = x["value"]
            assert len(rows) == 25 and rows[0]["period"] == "day"
            assert [r["period"] for r in rows[1:]] == ["%02d" % h for h in range(24)]
            # Stamped at the midnight that ends the day.
            assert x["timestamp"] == local_ms("2026-03-0%dT00:00" % (3 + i)), (fid, date, x["timestamp"])
    # The first day's report was made while the broker was down: sent later, historical.
    assert all(reports[(fid, DATES[0])]["is_historical"] for fid in IDS)

    # -- the report command, all three formats ------------------------------------------
    out_json, out_csv, out_html = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.html"
    for fmt, out in (("json", out_json), ("csv", out_csv), ("html", out_html)):
        rc, err = report(gw.config_path, fmt, out)
        assert rc == 0, err
    with open(out_json, encoding="utf-8") as f:
        data = json.load(f)
    assert data["schema"] == "community-gateway/report/v1"
    assert [f["id"] for f in data["facilities"]] == IDS
    # The figures on the wire are the report's figures.
    for fac in data["facilities"]:
        for day in fac["days"]:
            wire = reports[(fac["id"], day["date"])]["value"][0]
            if day["visits"] is not None:
                assert wire["visits"] == day["visits"], (fac["id"], day["date"])
            assert abs(wire["opening_hours"] - day["opening_hours"]) < 1e-3
            if day["completeness"] is not None:
                assert abs(wire["completeness"] - day["completeness"]) < 1e-3, (fac["id"], day["date"])
            if day["mean_occupancy"] is not None:
                assert abs(wire["mean_occupancy"] - day["mean_occupancy"]) < 1e-3
            if "meals_served" in day:
                assert wire["meals"] == day["meals_served"]
            if "charging" in day:
                assert wire["charging_sessions"] == day["charging"]["sessions"]
    assert data["town"]["visits"] > 300 and data["town"]["meals_served"] > 100

    # The report's counts are what the simulator generated, facility by facility and
    # day by day (its ground truth, logged at exit).
    truth = json.loads(gw.wait_log(r"simulator generated: (\{.*\})", 5, whole=True).group(1))
    compared = 0
    for fac in data["facilities"]:
        for day in fac["days"]:
            t = truth[fac["id"]][day["date"]]
            where = (fac["id"], day["date"])
            if day["visits"] is not None:
                assert day["visits"] == t["entries"], where
            assert day.get("meals_served", 0) == t["meals"], where
            assert day.get("checkins", 0) == t["checkins"], where
            assert day.get("charging", {}).get("sessions", 0) == t["charging_sessions"], where
            assert day.get("fitness", {}).get("equipment_sessions", 0) == t["equipment_sessions"], where
            compared += sum(t.values())
    print("report: %d simulated events compared with the report" % compared)
    assert compared > 500

    raw_csv = out_csv.read_bytes()
    assert raw_csv.startswith(b"\xef\xbb\xbf"), "CSV without the UTF-8 BOM"
    lines = raw_csv.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("设施编号 Facility ID,设施名称 Facility name,类型 Type,日期 Date")
    assert len(lines) == 1 + len(IDS) * (len(DATES) + 1)

    # -- Chromium: DOM, PNG, PDF ----------------------------------------------------------
    url = "file://" + str(out_html)
    dom = _run_chromium(["--dump-dom", url])
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    text = dom.stdout.decode("utf-8")
    for section in ["report-header", "town-summary", "definitions"] + ["facility-" + i for i in IDS]:
        assert 'id="%s"' % section in text, "section %s missing in the rendered DOM" % section
    assert text.count("<svg") == 2 * len(IDS)

    png = tmp_path / "report.png"
    shot = _run_chromium(["--window-size=1000,1400", "--screenshot=" + str(png), url])
    assert shot.returncode == 0 and png.exists(), shot.stderr.decode(errors="replace")[-2000:]
    width, height, colours = _png_size_and_colours(png)
    assert (width, height) == (1000, 1400)
    assert colours > 20, "the screenshot looks blank (%d distinct values)" % colours

    pdf = tmp_path / "report.pdf"
    printed = _run_chromium(["--no-pdf-header-footer", "--print-to-pdf=" + str(pdf), url])
    assert printed.returncode == 0 and pdf.exists(), printed.stderr.decode(errors="replace")[-2000:]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pdftext = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, timeout=60).stdout.decode()
    for heading in ["Community Facility Utilisation Report", "全镇汇总", "Town summary", "Hourly occupancy profile",
                    "Daily trend", "Daily figures"] + [f["name"].split(" ", 1)[0] for f in FACILITIES]:
        assert heading in pdftext, "%r not in the PDF" % heading
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, timeout=30).stdout.decode()
    n_pages = int([line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:")][0])
    assert n_pages >= 1 + len(IDS), "every facility starts a page: %d pages" % n_pages
    # Kept for a human to look at when the test runs by hand.
    print("report: %s, %s (%d pages)" % (png, pdf, n_pages))

    # -- bad requests ---------------------------------------------------------------------
    def cli(*args):
        rc, _, err = run_cli(["report", "--config", gw.config_path] + list(args), timeout=60)
        return rc, err
    rc, err = cli("--from", "2026-02-30", "--to", "2026-03-04", "--out", str(tmp_path / "x"))
    assert rc == 2 and "--from" in err and "2026-02-30" in err
    rc, err = cli("--from", "2026-03-04", "--to", "2026-03-02", "--out", str(tmp_path / "x"))
    assert rc == 2 and "before --from" in err
    rc, err = cli("--from", "2026-03-02", "--to", "2026-03-04", "--facility", "nope", "--out", str(tmp_path / "x"))
    assert rc == 2 and "unknown facility 'nope'" in err
    rc, err = cli("--from", "2025-01-01", "--to", "2025-01-31", "--out", str(tmp_path / "x"))
    assert rc == 2 and "no utilisation history" in err
    rc, err = cli("--from", "2026-03-02", "--to", "2026-03-04", "--format", "pdf", "--out", str(tmp_path / "x"))
    assert rc != 0 and "pdf" in err
    assert not os.path.exists(tmp_path / "x"), "a refused request wrote a file"
    # One facility only.
    rc, err = cli("--from", "2026-03-02", "--to", "2026-03-02", "--facility", "charging-1", "--format", "json",
                  "--out", str(tmp_path / "one.json"))
    assert rc == 0, err
    with open(tmp_path / "one.json", encoding="utf-8") as f:
        one = json.load(f)
    assert [f["id"] for f in one["facilities"]] == ["charging-1"]
    assert by_type(msgs, "NBIRTH")
