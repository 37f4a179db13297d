#!/usr/bin/env bash
# Installs the browser test's npm packages (playwright-core only, exactly as the lock
# file pins it). The browser is Debian's chromium; nothing is downloaded besides the
# npm package.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/playwright-core/package.json ] &&
   [ "$(node -p 'require("./node_modules/playwright-core/package.json").version')" = \
     "$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')" ]; then
  exit 0
fi
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
