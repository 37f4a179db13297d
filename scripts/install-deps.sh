#!/usr/bin/env bash
# Installs what building, running and testing the gateway need, from Debian 12
# packages only. Installs nothing that is already there; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config            # toolchain
  libpaho-mqttpp-dev libpaho-mqtt-dev         # MQTT client (uplink)
  libboost-dev                                # Asio event loop
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
  chromium fonts-wqy-zenhei poppler-utils     # report tests: HTML -> PNG/PDF, CJK glyphs, pdftotext
)

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
