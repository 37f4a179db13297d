#!/usr/bin/env bash
# Installs the OCPP test peers (ocpp-rpc and its dependencies, exactly as the lock file
# pins them) into tests/ocpp/node_modules. Offline-safe once installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../support/npm-ci-locked.sh" "$here" ocpp-rpc
