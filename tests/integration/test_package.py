"""The Debian package: built by CPack from this build, it holds the binary, the config
as a conffile, the systemd unit and the sysusers entry; lintian reports no error; the
unit passes `systemd-analyze verify` (systemd does not run as PID 1 here, so the unit
is checked rather than started); the packaged binary runs and accepts the packaged
config."""

import os
import re
import shutil
import subprocess

import pytest

import sanitizers

BUILD = os.environ.get("GATEWAY_BINARY_DIR")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if not BUILD:
        pytest.fail("GATEWAY_BINARY_DIR is not set (run through ctest)")
    out = tmp_path_factory.mktemp("deb")
    p = run(["cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-G", "DEB", "-B", str(out)],
            cwd=BUILD, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    assert len(debs) == 1, debs
    return os.path.join(out, debs[0])


def test_contents_and_control(deb, tmp_path):
    p = run(["dpkg-deb", "--contents", deb])
    assert p.returncode == 0, p.stderr
    files = {line.split()[-1].lstrip(".") for line in p.stdout.splitlines()}
    for want in ("/usr/bin/community-gateway", "/etc/community-gateway/config.yaml",
                 "/lib/systemd/system/community-gateway.service", "/usr/lib/sysusers.d/community-gateway.conf",
                 "/usr/share/doc/community-gateway/copyright", "/usr/share/doc/community-gateway/changelog.Debian.gz",
                 "/usr/share/doc/community-gateway/examples/example.yaml"):
        assert want in files, "%s not in the package" % want
    for line in p.stdout.splitlines():
        assert " root/root " in line, "not owned by root: " + line

    control = run(["dpkg-deb", "--field", deb]).stdout
    assert re.search(r"^Package: community-gateway$", control, re.M)
    deps = re.search(r"^Depends: (.*)$", control, re.M).group(1)
    for lib in ("libpaho-mqttpp3", "libsqlite3", "libsystemd0", "libyaml-cpp"):
        assert lib in deps, "Depends lacks %s: %s" % (lib, deps)
    # Cross builds cannot run dpkg-shlibdeps and use the list in Packaging.cmake: it
    # must say what dpkg-shlibdeps says for the native build.
    src = os.environ.get("GATEWAY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(src, "packaging", "Packaging.cmake")) as f:
        fixed = re.search(r'set\(GATEWAY_RUNTIME_DEPENDS "([^"]*)"\)', f.read()).group(1)
    split = lambda s: sorted(x.strip() for x in s.split(","))  # noqa: E731
    found = [d for d in split(deps) if d not in ("tzdata", "adduser", "init-system-helpers (>= 1.52)")]
    if sanitizers.enabled():
        # A sanitized build (the test command's) needs the sanitizer runtimes besides;
        # every other library must be in the fixed list.
        found = [d for d in found if not re.match(r"(libasan|libubsan|libtsan|liblsan)\d", d)]
    assert split(fixed) == found, \
        "packaging/Packaging.cmake GATEWAY_RUNTIME_DEPENDS is stale; dpkg-shlibdeps says: " + deps

    ctrl = tmp_path / "control"
    assert run(["dpkg-deb", "--control", deb, str(ctrl)]).returncode == 0
    assert (ctrl / "conffiles").read_text().split() == ["/etc/community-gateway/config.yaml"]
    for script in ("postinst", "prerm", "postrm"):
        assert os.access(ctrl / script, os.X_OK), script
        assert run(["sh", "-n", str(ctrl / script)]).returncode == 0, script
    assert "systemd-sysusers" in (ctrl / "postinst").read_text()
    assert "deb-systemd-helper enable" in (ctrl / "postinst").read_text()


def test_lintian_reports_no_errors(deb):
    if shutil.which("lintian") is None:
        pytest.fail("lintian is not installed (scripts/install-deps.sh installs it)")
    p = run(["lintian", "--allow-root", deb], timeout=300)
    print(p.stdout + p.stderr)
    errors = [line for line in p.stdout.splitlines() if line.startswith("E:")]
    assert not errors, "lintian errors:\n" + "\n".join(errors)


def test_unit_verifies_and_binary_runs(deb, tmp_path):
    root = tmp_path / "root"
    assert run(["dpkg-deb", "--extract", deb, str(root)]).returncode == 0
    binary = str(root / "usr/bin/community-gateway")
    p = run([binary, "--version"])
    sanitizers.check(p.stdout + p.stderr, "packaged binary --version", p.returncode)
    assert p.returncode == 0 and p.stdout.startswith("community-gateway ")
    p = run([binary, "check-config", "--config", str(root / "etc/community-gateway/config.yaml")])
    sanitizers.check(p.stdout + p.stderr, "packaged binary check-config", p.returncode)
    assert p.returncode == 0, p.stdout + p.stderr

    unit = (root / "lib/systemd/system/community-gateway.service").read_text()
    for want in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "User=community-gateway",
                 "StateDirectory=community-gateway", "ProtectSystem=strict", "PrivateTmp=yes",
                 "NoNewPrivileges=yes"):
        assert want in unit, want
    # verify checks the binary exists and is executable: point it at the extracted one.
    check = tmp_path / "unit"
    check.mkdir()
    (check / "community-gateway.service").write_text(unit.replace("/usr/bin/community-gateway", binary))
    p = run(["systemd-analyze", "verify", str(check / "community-gateway.service")])
    assert p.returncode == 0 and p.stderr.strip() == "", p.stdout + p.stderr
    sysusers = (root / "usr/lib/sysusers.d/community-gateway.conf").read_text()
    assert re.search(r"^u community-gateway ", sysusers, re.M)


def test_notify_ready_and_watchdog(tmp_path, monkeypatch, make_gateway):
    """What systemd sees of Type=notify: READY=1 once running, WATCHDOG=1 at half of
    WATCHDOG_USEC, STOPPING=1 on SIGTERM. The test plays systemd's notify socket."""
    import socket
    import time

    from helpers import base_config

    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", sock_path)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # pings every 0.2 s
    cfg = base_config("huacao", "gw-notify", tmp_path / "data",
                      [{"id": "c", "type": "canteen", "capacity": 5, "sensors": [{"id": "d", "kind": "door_counter"}]}])
    gw = make_gateway(cfg, ["tcp://127.0.0.1:1"])
    got = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in got) < 3:
        got.append(sock.recv(4096).decode())
    assert any("READY=1" in m for m in got), got
    assert sum("WATCHDOG=1" in m for m in got) >= 3, got
    assert gw.terminate() == 0
    rest = []
    sock.settimeout(0.5)
    try:
        while True:
            rest.append(sock.recv(4096).decode())
    except socket.timeout:
        pass
    assert any("STOPPING=1" in m for m in rest), rest
    sock.close()
