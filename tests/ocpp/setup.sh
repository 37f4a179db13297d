#!/usr/bin/env bash
# Installs the OCPP test peers (ocpp-rpc and its dependencies, exactly as the lock file
# pins them) into tests/ocpp/node_modules. Offline-safe once installed.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/ocpp-rpc/package.json ] &&
   [ "$(node -p 'require("./node_modules/ocpp-rpc/package.json").version')" = \
     "$(node -p 'require("./package-lock.json").packages["node_modules/ocpp-rpc"].version')" ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
