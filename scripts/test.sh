#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, clippy, unit and integration tests on SQLite and
# PostgreSQL (including quick variants of the benchmarks and the process-level crash tests), the API
# conformance test (schemathesis against the OpenAPI document, as operator and as customer), a
# bounded fuzzing campaign, the interoperability test against an independent OCPP charge point
# (PyPI `ocpp`), and browser tests (Playwright + Debian's Chromium).
# Installs what is missing: cargo-fuzz, the Python venv (.venv), schemathesis (target/schemathesis/venv),
# Chromium (apt) and playwright-core (npm).
#
# PostgreSQL: CSMS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres; each test
# creates and drops its own database there). Without a reachable server the PostgreSQL half is
# skipped and this script says so; under CI (CI=true) that is a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

PG_URL="${CSMS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_hostport="${PG_URL#*://}"; pg_hostport="${pg_hostport#*@}"; pg_hostport="${pg_hostport%%/*}"
pg_host="${pg_hostport%%:*}"; pg_port="${pg_hostport##*:}"; [ "$pg_port" = "$pg_host" ] && pg_port=5432
if (exec 3<>"/dev/tcp/$pg_host/$pg_port") 2>/dev/null; then
  export CSMS_TEST_POSTGRES_URL="$PG_URL"
  BACKENDS="SQLite and PostgreSQL ($pg_host:$pg_port)"
elif [ "${CI:-}" = "true" ]; then
  echo "FAIL: CI=true requires PostgreSQL at $pg_host:$pg_port (CSMS_TEST_POSTGRES_URL), and it is not reachable." >&2
  exit 1
else
  unset CSMS_TEST_POSTGRES_URL
  BACKENDS="SQLite only"
  echo "NOTE: PostgreSQL is not reachable at $pg_host:$pg_port: running the SQLite half only; the PostgreSQL tests are skipped."
fi
if [ "${CI:-}" = "true" ]; then export CSMS_REQUIRE_POSTGRES=1; fi

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "import cycles among src/ modules: none beyond scripts/import-cycles.baseline"
python3 scripts/import-cycles.py --self-test
python3 scripts/import-cycles.py

# cargo nextest (on this machine kind) runs every test in its own process, several at once
# (.config/nextest.toml); plain cargo test where it is missing. The process-level tests (kill -9,
# two processes on one database) use the csms binary cargo builds for the test run.
if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest (unit + integration + process-level: $BACKENDS)"
  cargo nextest run --all-targets
else
  step "cargo test (unit + integration + process-level: $BACKENDS; cargo-nextest not installed)"
  cargo test --all-targets
fi

step "API conformance: schemathesis against /api/openapi.json, as operator and as customer"
cargo build --bin csms
scripts/schemathesis.sh target/debug/csms

step "fuzzing: OCPP frame parser and CALL decoding (30 s per target)"
scripts/fuzz.sh 30

step "interoperability: PyPI ocpp charge point against csms"
cargo build --bin csms
scripts/interop.sh target/debug/csms

step "browser end-to-end: Playwright + Chromium against csms demo"
scripts/browser-test.sh target/debug/csms

step "all green ($BACKENDS)"
