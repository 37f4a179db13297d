#!/usr/bin/env bash
# Installs a test peer's npm packages into DIR/node_modules exactly as DIR's lock file
# pins them (npm ci), unless PACKAGE is already there at the locked version: offline-safe
# once installed. Shared by tests/browser/setup.sh and tests/ocpp/setup.sh.
#
#   tests/support/npm-ci-locked.sh DIR PACKAGE
set -euo pipefail
cd "$1"
package="$2"
if [ -f "node_modules/$package/package.json" ] &&
   [ "$(node -p "require('./node_modules/$package/package.json').version")" = \
     "$(node -p "require('./package-lock.json').packages['node_modules/$package'].version")" ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
