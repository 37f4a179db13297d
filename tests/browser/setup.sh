#!/usr/bin/env bash
# Installs the browser test's npm packages (playwright-core only, exactly as the lock
# file pins it). The browser is Debian's chromium; nothing is downloaded besides the
# npm package.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 exec "$here/../support/npm-ci-locked.sh" "$here" playwright-core
