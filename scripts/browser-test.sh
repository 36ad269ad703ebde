#!/usr/bin/env bash
# Browser end-to-end tests of the web panels (tests/browser/e2e.test.mjs): Playwright (npm
# playwright-core) drives Debian's Chromium against a `csms demo` that the tests start themselves on
# free loopback ports with a fresh SQLite file. Builds nothing:
#
#   scripts/browser-test.sh [path/to/csms]      # default target/debug/csms
#
# Installs what a fresh Debian machine lacks: the chromium package (apt, as root) when /usr/bin/chromium
# is absent, and tests/browser/node_modules (npm ci, from package-lock.json) when missing. Needs Node.js
# 20 or newer. Screenshots and the server's log land in test-artifacts/browser/.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-target/debug/csms}"
if [ ! -x "$bin" ]; then
  echo "browser-test: csms binary not found or not executable: $bin (build it first: cargo build --bin csms)" >&2
  exit 1
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "browser-test: Node.js 20+ and npm are required" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "browser-test: Node.js 20+ is required (found $(node --version))" >&2
  exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing Chromium (apt-get install chromium)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y chromium
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "==> installing tests/browser dependencies (npm ci)"
  (cd tests/browser && npm ci --no-audit --no-fund)
fi

echo "==> browser tests: $bin with $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
CSMS_BIN="$bin" node --test --test-reporter=tap tests/browser/e2e.test.mjs
