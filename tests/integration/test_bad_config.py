"""check-config and run on good and broken configuration files.

The repository's example configs must pass. Broken ones must fail with a non-zero exit
and one `file:line: message` line per problem on stderr, naming the key, all problems
of a file at once; `run` with a broken config must exit without starting anything.
"""

import os
import re

import pytest

from gateway import run_cli
from helpers import free_port, source_dir

GOOD = """\
gateway:
  group_id: huacao
  edge_node_id: gw-cfg
  data_dir: {data_dir}
uplink:
  brokers: ["tcp://127.0.0.1:{port}"]
  qos: 1
simulator:
  enabled: true
  speed: 60
  interval_s: 60
  max_samples: 10
facilities:
  - id: canteen-1
    type: canteen
    name: Canteen
    capacity: 40
    opening_hours:
      - days: daily
        open: "10:30"
        close: "19:00"
    sensors:
      - id: door-1
        kind: door_counter
  - id: charge-1
    type: charging_station
    name: Piles
    capacity: 2
    sensors:
      - id: cp-1
        kind: charge_point
        connectors: 2
        max_power_kw: 7
"""


def line_of(text, needle, nth=1):
    """1-based line number of the nth line containing needle."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def problem_lines(stderr, path):
    """The `file:line: message` lines about path, as (line, message)."""
    out = []
    pat = re.compile(r"^(?:%s|%s):(\d+): (.*)$" % (re.escape(path), re.escape(os.path.basename(path))))
    for line in stderr.splitlines():
        m = pat.match(line.strip())
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


def good_text(tmp_path):
    return GOOD.format(data_dir=tmp_path / "data", port=free_port())


@pytest.mark.parametrize("name", ["example.yaml", "demo.yaml", "installed.yaml"])
def test_repo_configs_pass(name):
    path = os.path.join(source_dir(), "config", name)
    assert os.path.exists(path), "%s is missing from the repository" % path
    rc, out, err = run_cli(["check-config", "--config", path])
    print("check-config %s: rc %d\n%s%s" % (name, rc, out, err))
    assert rc == 0, "check-config %s failed:\n%s" % (name, err)
    errors = [p for p in problem_lines(err, path) if not p[1].endswith("(warning)")]
    assert not errors, errors


def test_good_config_passes(tmp_path):
    path = write(tmp_path, "good.yaml", good_text(tmp_path))
    rc, out, err = run_cli(["check-config", "--config", path])
    assert rc == 0, err


def _broken(tmp_path, name, text):
    path = write(tmp_path, name, text)
    rc, out, err = run_cli(["check-config", "--config", path])
    print("check-config %s: rc %d\n%s" % (name, rc, err))
    assert rc != 0, "check-config accepted %s" % name
    problems = problem_lines(err, path)
    assert problems, "no `file:line: message` lines on stderr:\n%s" % err
    return text, problems


def _has(problems, line, *words):
    """Some problem at `line` (None: any line) mentions every word."""
    return any((line is None or ln == line) and all(w in msg for w in words) for ln, msg in problems)


def test_yaml_syntax_error(tmp_path):
    text = good_text(tmp_path).replace("    capacity: 40\n", "    capacity: [40\n", 1)
    _, problems = _broken(tmp_path, "syntax.yaml", text)
    assert all(ln >= 1 for ln, _ in problems), problems


def test_unknown_key(tmp_path):
    text = good_text(tmp_path).replace("  qos: 1\n", "  qos: 1\n  brokerz: []\n", 1)
    text, problems = _broken(tmp_path, "unknown.yaml", text)
    assert _has(problems, line_of(text, "brokerz"), "brokerz"), problems


def test_bad_qos(tmp_path):
    text = good_text(tmp_path).replace("  qos: 1\n", "  qos: 7\n", 1)
    text, problems = _broken(tmp_path, "qos.yaml", text)
    assert _has(problems, line_of(text, "qos: 7"), "qos"), problems


def test_missing_facilities(tmp_path):
    """No facilities is a gateway not set up yet (like the installed config): accepted,
    with a warning, and check-config says what is missing."""
    text = good_text(tmp_path)
    text = text[:text.index("facilities:")]
    path = write(tmp_path, "nofacilities.yaml", text)
    rc, out, err = run_cli(["check-config", "--config", path])
    assert rc == 0, err
    assert _has(problem_lines(err, path), 1, "facilities: none", "(warning)"), err
    assert path + ": not set up yet: facilities: none configured, nothing is measured" in out, out
    assert "uplink.brokers" not in out, out


def test_duplicate_facility_id(tmp_path):
    text = good_text(tmp_path).replace("  - id: charge-1\n", "  - id: canteen-1\n", 1)
    text, problems = _broken(tmp_path, "duplicate.yaml", text)
    assert _has(problems, line_of(text, "- id: canteen-1", 2), "canteen-1"), problems


def test_several_problems_at_once(tmp_path):
    text = good_text(tmp_path)
    text = text.replace("  qos: 1\n", "  qos: 7\n  brokerz: []\n", 1)
    text = text.replace("  - id: charge-1\n", "  - id: canteen-1\n", 1)
    text = text.replace("        kind: door_counter\n", "        kind: door_counter\n        colour: red\n", 1)
    text, problems = _broken(tmp_path, "several.yaml", text)
    assert len(problems) >= 4, problems
    assert _has(problems, line_of(text, "qos: 7"), "qos"), problems
    assert _has(problems, line_of(text, "brokerz"), "brokerz"), problems
    assert _has(problems, line_of(text, "colour"), "colour"), problems
    assert _has(problems, line_of(text, "- id: canteen-1", 2), "canteen-1"), problems


def test_run_refuses_bad_config(tmp_path):
    text = good_text(tmp_path).replace("  qos: 1\n", "  qos: 7\n", 1)
    path = write(tmp_path, "run-bad.yaml", text)
    rc, out, err = run_cli(["run", "--config", path], timeout=20)
    print("run: rc %d\n%s" % (rc, err))
    assert rc != 0
    assert _has(problem_lines(err, path), line_of(text, "qos: 7"), "qos"), err
    assert not os.path.exists(tmp_path / "data"), "run created its data_dir with a bad config"


def test_version_and_help():
    rc, out, err = run_cli(["--version"])
    assert rc == 0 and re.search(r"\d+\.\d+", out + err), (rc, out, err)
    rc, out, err = run_cli(["--help"])
    assert rc == 0 and "check-config" in out and "run" in out, (rc, out, err)
