#!/usr/bin/env bash
# API conformance: schemathesis (PyPI) generates requests from /api/openapi.json and checks every
# answer against it (status codes, bodies, content types, 405 for undeclared methods, no 500s,
# schema-valid requests accepted, invalid ones rejected). Runs twice against a fresh csms on a
# temporary SQLite file: once with an operator token, once with a customer token.
#
#   scripts/schemathesis.sh [path/to/csms]      (default: target/debug/csms)
#
# Environment:
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default 25)
#   SCHEMATHESIS_TIMEOUT       limit per run in seconds (default 110; two runs stay under 4 minutes)
#   SCHEMATHESIS_SEED          random seed (default: a fixed one, so runs are reproducible)
#   SCHEMATHESIS_KEEP_LOG=1    print the server log even when the runs pass
# Reports (JUnit) go to target/schemathesis/. Exit status: 0 when both runs pass.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BIN="${1:-target/debug/csms}"
if [[ ! -x "$BIN" ]]; then
    echo "schemathesis: server binary not found or not executable: $BIN (cargo build --bin csms)" >&2
    exit 2
fi
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
RUN_TIMEOUT="${SCHEMATHESIS_TIMEOUT:-110}"
SEED="${SCHEMATHESIS_SEED:-20261127}"
VERSION="4.32.5"

# schemathesis in a venv under target/ (pip's cache makes a re-install cheap).
OUT="$ROOT/target/schemathesis"
VENV="$OUT/venv"
mkdir -p "$OUT"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
if [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null || true)" != *"$VERSION"* ]]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$VERSION"
fi
PY="$VENV/bin/python"

WORK="$(mktemp -d /tmp/csms-schemathesis.XXXXXX)"
SERVER_PID=""
cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 || "${SCHEMATHESIS_KEEP_LOG:-}" == "1" ]] && [[ -f "$WORK/server.log" ]]; then
        echo "---- server log (last 40 lines) ----" >&2
        tail -n 40 "$WORK/server.log" >&2 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two distinct free loopback ports.
read -r HTTP_PORT OCPP_PORT < <("$PY" - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
EOF
)

export DATABASE_URL="sqlite://$WORK/csms.db"
export CSMS_HTTP_ADDR="127.0.0.1:$HTTP_PORT"
export CSMS_OCPP_ADDR="127.0.0.1:$OCPP_PORT"
export CSMS_ADMIN_EMAIL="admin@example.com"
export CSMS_ADMIN_PASSWORD="admin-password"
export CSMS_BCRYPT_COST=4
# Every request comes from 127.0.0.1: keep registrations fuzzable past the per-address budget.
export CSMS_REGISTER_ADDR_MAX=100000
export RUST_LOG="${RUST_LOG:-warn}"
# Remote commands to a charger that is not connected answer at once; keep any wait short.
export CSMS_OCPP_CALL_TIMEOUT_SECS=2
export CSMS_REMOTE_START_TIMEOUT_SECS=2

echo "schemathesis: starting $BIN (HTTP $CSMS_HTTP_ADDR)"
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
BASE="http://$CSMS_HTTP_ADDR"

ready=""
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "schemathesis: server exited during start-up" >&2
        exit 2
    fi
    if "$PY" -c 'import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=2).status != 200)' "$BASE/healthz" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.2
done
if [[ -z "$ready" ]]; then
    echo "schemathesis: /healthz did not answer 200 within 30 s" >&2
    exit 2
fi

# A token from a JSON POST (login or registration).
token() {
    "$PY" - "$BASE$1" "$2" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=10) as r:
    print(json.load(r)["token"])
EOF
}
OPERATOR_TOKEN="$(token /api/admin/login "{\"email\": \"$CSMS_ADMIN_EMAIL\", \"password\": \"$CSMS_ADMIN_PASSWORD\"}")"
CUSTOMER_TOKEN="$(token /api/customer/register '{"name": "Schemathesis", "email": "schemathesis@example.com", "password": "schemathesis"}')"

# GET /api/user/events is a Server-Sent Events stream that never ends: not something to fuzz.
run() {
    local who="$1" bearer="$2"
    echo
    echo "==> schemathesis as $who (--checks all --max-examples $MAX_EXAMPLES)"
    # From target/schemathesis/, where schemathesis keeps its example database.
    (cd "$OUT" && timeout --kill-after=10 "$RUN_TIMEOUT" "$VENV/bin/schemathesis" --no-color run "$BASE/api/openapi.json" \
        --checks all \
        --max-examples "$MAX_EXAMPLES" \
        --seed "$SEED" \
        --header "Authorization: Bearer $bearer" \
        --exclude-path /api/user/events \
        --request-timeout 10 \
        --report junit --report-junit-path "$OUT/$who.xml")
}

status=0
run operator "$OPERATOR_TOKEN" || status=1
run customer "$CUSTOMER_TOKEN" || status=1
if ((status != 0)); then
    echo "schemathesis: FAILED (details above; JUnit reports in target/schemathesis/)" >&2
fi
exit "$status"
