#!/usr/bin/env bash
# Installs the Sparkplug B decoder Node-RED runs (Eclipse Tahu's npm sparkplug-payload,
# exactly as the lock file pins it) into tests/sparkplug_js/node_modules. Offline-safe
# once installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../support/npm-ci-locked.sh" "$here" sparkplug-payload
