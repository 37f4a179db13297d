#!/usr/bin/env bash
# Installs what building, running and testing the gateway need, from Debian 12
# packages only (--demo: only what the demo builds and runs). Installs nothing that is
# already there; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config            # toolchain
  libpaho-mqttpp-dev libpaho-mqtt-dev         # MQTT client (uplink)
  libboost-dev                                # Asio event loop
  libssl-dev                                  # OCPP driver: wss:// (Beast over OpenSSL), idTag HMAC
  libsqlite3-dev                              # durable buffer
  libprotobuf-dev protobuf-compiler           # Sparkplug B payloads
  libyaml-cpp-dev                             # config files
  libspdlog-dev                               # logs
  libcli11-dev                                # command line
  nlohmann-json3-dev                          # JSON (state, STATE messages)
  libhowardhinnant-date-dev tzdata            # time zones (local days, opening hours)
  catch2                                      # unit tests
  mosquitto mosquitto-clients                 # broker for the demo and the tests
  python3 python3-paho-mqtt python3-protobuf python3-pytest  # integration tests
  python3-cryptography                        # tests: certificates for the TLS tests
  iproute2 nftables                           # tests: network namespaces and faults
  libfaketime                                 # tests: the wall clock stepped backwards and forwards
  libmodbus-dev                               # Modbus TCP/RTU driver
  python3-pymodbus python3-serial python3-serial-asyncio socat curl  # driver test peers
  clang libclang-rt-dev                       # libFuzzer targets (optional)
  libpq-dev                                   # the town host's PostgreSQL client (community-host)
  postgresql-15                               # the town host's store; tests and the demo run their own cluster
  libsystemd-dev                              # sd_notify (Type=notify, watchdog), journal logging
  chromium fonts-wqy-microhei fonts-wqy-zenhei  # status page and report tests (system Chromium, CJK fonts)
  poppler-utils                               # report test: pdftotext on the printed PDF
  python3-pil                                 # board test: the screenshots read pixel by pixel
  python3-prometheus-client                   # /metrics parsed by the reference parser
  python3-jsonschema python3-websocket        # OCPP tests: schema oracle, raw WebSocket frames
  dpkg-dev fakeroot lintian file strace       # the .deb (CPack) and its checks (strace: the unit's syscall filter)
)
# --demo: only what scripts/demo.sh builds and runs (community-gateway, community-host,
# mosquitto, PostgreSQL), without the tests' peers, browser and tools.
if [ "${1:-}" = "--demo" ]; then
  packages=(
    build-essential cmake pkg-config libpaho-mqttpp-dev libpaho-mqtt-dev libboost-dev libssl-dev
    libsqlite3-dev libprotobuf-dev protobuf-compiler libyaml-cpp-dev libspdlog-dev libcli11-dev
    nlohmann-json3-dev libhowardhinnant-date-dev tzdata libmodbus-dev libpq-dev libsystemd-dev
    mosquitto postgresql-15 python3
  )
else
# The browser test's driver (playwright-core) and the OCPP peers (ocpp-rpc) come from npm,
# pinned by their lock files.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
