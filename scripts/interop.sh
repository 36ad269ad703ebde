#!/usr/bin/env bash
# Interoperability test: independent charge points (PyPI `ocpp` + `websockets`) against a freshly
# started csms server that serves both versions: first an OCPP 1.6J charge point
# (tests/interop/ocpp_interop.py), then an OCPP 2.0.1 station (`ocpp.v201`,
# tests/interop/ocpp201_interop.py).
#
#   scripts/interop.sh [path/to/csms]      (default: target/debug/csms)
#
# Environment:
#   INTEROP_DATABASE_URL  database to use instead of a temporary SQLite file
#   INTEROP_TIMEOUT       limit for each Python scenario (1.6, then 2.0.1) in seconds (default 60)
#   INTEROP_KEEP_LOG=1    print the server log even when the test passes
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BIN="${1:-target/debug/csms}"
if [[ ! -x "$BIN" ]]; then
    echo "interop: server binary not found or not executable: $BIN" >&2
    exit 2
fi

# Python environment: a venv in the repo root with ocpp (its v16 and v201 charge points) + websockets.
VENV="$ROOT/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" -c 'import ocpp.v16, ocpp.v201, websockets, cryptography' >/dev/null 2>&1; then
    "$PY" -m pip install -q --disable-pip-version-check "ocpp>=2.1,<3" "websockets>=13" "cryptography>=42"
fi

WORK="$(mktemp -d /tmp/csms-interop.XXXXXX)"
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
    if [[ $rc -ne 0 || "${INTEROP_KEEP_LOG:-}" == "1" ]] && [[ -f "$WORK/server.log" ]]; then
        echo "---- server log (last 60 lines) ----" >&2
        tail -n 60 "$WORK/server.log" >&2 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Three distinct free loopback ports.
read -r HTTP_PORT OCPP_PORT TLS_PORT < <("$PY" - <<'EOF'
import socket
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
EOF
)

export DATABASE_URL="${INTEROP_DATABASE_URL:-sqlite://$WORK/csms.db}"
export CSMS_HTTP_ADDR="127.0.0.1:$HTTP_PORT"
export CSMS_OCPP_ADDR="127.0.0.1:$OCPP_PORT"
export CSMS_ADMIN_EMAIL="admin@example.com"
export CSMS_ADMIN_PASSWORD="admin-password"
export CSMS_BCRYPT_COST=4
export CSMS_OCPP_VERSIONS="ocpp1.6,ocpp2.0.1"
export RUST_LOG="${RUST_LOG:-info}"
# TLS (security profiles 2 and 3) with certificates made by Python's `cryptography` for this run.
"$PY" "$ROOT/tests/interop/pki.py" "$WORK/pki"
export INTEROP_PKI="$WORK/pki"
export CSMS_OCPP_TLS_ADDR="127.0.0.1:$TLS_PORT"
export CSMS_OCPP_TLS_CERT="$WORK/pki/server.pem"
export CSMS_OCPP_TLS_KEY="$WORK/pki/server.key"
export CSMS_OCPP_TLS_CLIENT_CA="$WORK/pki/ca.pem"

echo "interop: starting $BIN (HTTP $CSMS_HTTP_ADDR, OCPP $CSMS_OCPP_ADDR)"
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

export CSMS_HTTP="http://$CSMS_HTTP_ADDR"
export CSMS_OCPP="ws://$CSMS_OCPP_ADDR/ocpp"
export CSMS_WSS="wss://localhost:$TLS_PORT/ocpp"

ready=""
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "interop: server exited during start-up" >&2
        exit 2
    fi
    if "$PY" - "$CSMS_HTTP/healthz" <<'EOF' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
    then
        ready=1
        break
    fi
    sleep 0.2
done
if [[ -z "$ready" ]]; then
    echo "interop: /healthz did not answer 200 within 30 s" >&2
    exit 2
fi

# Both scenarios run (a failing 1.6 one does not hide the 2.0.1 result); the worst status wins.
set +e
"$PY" "$ROOT/tests/interop/ocpp_interop.py"
status16=$?
echo "interop: OCPP 2.0.1 station (ocpp.v201)"
"$PY" "$ROOT/tests/interop/ocpp201_interop.py"
status201=$?
set -e
echo "interop: OCPP 1.6 exit $status16, OCPP 2.0.1 exit $status201"
exit $((status16 > status201 ? status16 : status201))
