#!/usr/bin/env bash
# Bounded fuzzing campaign over the OCPP-J frame parser and the decoding of charge-point CALLs
# (fuzz/, README "Fuzzing"): builds every target of fuzz/ and runs each for a fixed time.
#
#   scripts/fuzz.sh [seconds-per-target]          # default 30
#
# Environment:
#   FUZZ_TARGETS   the targets to run, space-separated (default: all, from `cargo fuzz list`)
#   FUZZ_JOBS      parallel libFuzzer processes per target (default 1)
#
# Installs cargo-fuzz when missing (`cargo install cargo-fuzz --locked`). Runs on the stable
# toolchain: `--sanitizer none`, since AddressSanitizer needs nightly's -Zsanitizer (the code under
# test is safe Rust; libFuzzer's coverage instrumentation does not need nightly).
#
# Each target starts from the committed seed corpus fuzz/corpus/<target>/ (read only) and writes
# the inputs it discovers to a scratch directory, so a run leaves the repository unchanged. A crash
# stops that target; the others still run; the script exits 1 and prints, for each crash, the
# input's path (a copy lands in test-artifacts/fuzz/) and the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-30}"
case "$secs" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [seconds-per-target]" >&2; exit 2 ;; esac
jobs="${FUZZ_JOBS:-1}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

# Same flags for build and run, or `cargo fuzz run` rebuilds. 16 codegen units: a much faster
# instrumented build (the dependencies are regex & co.) for a small loss of fuzzing speed.
flags=(--sanitizer none --codegen-units 16)

echo "==> cargo fuzz build ($(cargo fuzz --version))"
start=$SECONDS
cargo fuzz build "${flags[@]}"
echo "    built in $((SECONDS - start)) s"

read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"
scratch="$(mktemp -d /tmp/csms-fuzz.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p test-artifacts/fuzz

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "fuzz/corpus/$t"
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  # Text targets: the actions, property names and enum values of the schemas help the mutator.
  case "$t" in frame | decode_call) args+=(-dict=fuzz/ocpp.dict) ;; esac
  if [ "$jobs" -gt 1 ]; then args+=(-fork="$jobs"); fi
  echo "==> fuzz $t for ${secs} s (seeds: $(find "fuzz/corpus/$t" -type f | wc -l) in fuzz/corpus/$t)"
  log="$scratch/$t.log"
  if cargo fuzz run "${flags[@]}" "$t" "$scratch/$t" "fuzz/corpus/$t" -- "${args[@]}" >"$log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed 's/^/    /' || true
    grep -E '#[0-9]+.*(cov|ft):' "$log" | tail -n 1 | sed 's/^/    /' || true
  else
    # The panic and its message (libFuzzer's own summary follows it), else the end of the log.
    if grep -q 'panicked at' "$log"; then
      sed -n '/panicked at/,/stack backtrace/p' "$log" | head -n 20
    else
      tail -n 40 "$log"
    fi
    artifact="$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | sed 's/^Test unit written to //' || true)"
    if [ -n "$artifact" ] && [ -f "$artifact" ]; then
      cp "$artifact" test-artifacts/fuzz/
      echo "FAIL: fuzz target $t crashed; input: $artifact (copy: test-artifacts/fuzz/$(basename "$artifact"))"
      echo "      replay: cargo fuzz run ${flags[*]} $t $artifact"
      echo "      show:   cargo fuzz fmt ${flags[*]} $t $artifact"
    else
      echo "FAIL: fuzz target $t failed without a crash input (see the log above)"
    fi
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAIL: ${#failed[@]} fuzz target(s) crashed: ${failed[*]}" >&2
  exit 1
fi
echo "==> fuzzing: ${#targets[@]} targets, ${secs} s each, no crash"
