#!/usr/bin/env bash
# Runs each fuzz target for a bounded time; not part of CI (see README.md).
#
#   fuzz/run.sh                      # every target, 60 s each
#   FUZZ_SECONDS=1800 fuzz/run.sh    # longer
#   fuzz/run.sh fold                 # one target
#   FUZZ_SANITIZER=address fuzz/run.sh
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a C++ compiler
# (libFuzzer is built from source). cargo-fuzz passes nightly-only flags;
# RUSTC_BOOTSTRAP=1 lets a stable toolchain accept them. Exits non-zero if a
# target found a failing input, after running the others.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${FUZZ_SECONDS:-60}"
# observer forbids unsafe code, so AddressSanitizer finds little that a
# panic would not, and it makes the fold target about six times slower.
sanitizer="${FUZZ_SANITIZER:-none}"
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=(event_boundary fold); fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

failed=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/seeds/$target"
    log="fuzz/$target.log"
    printf '\n==> %s for %s s (log: %s)\n' "$target" "$seconds" "$log"
    # The first corpus directory collects what libFuzzer finds; the seeds
    # (checked in) are only read.
    if RUSTC_BOOTSTRAP=1 cargo fuzz run --release --sanitizer "$sanitizer" "$target" \
        "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
        >"$log" 2>&1; then
        grep -E '^Done [0-9]+ runs' "$log" || tail -n 3 "$log"
    else
        failed+=("$target")
        grep -E 'panicked at|^thread|Test unit written to' -A 3 "$log" | head -n 20
        echo "$target FAILED: minimize with \`RUSTC_BOOTSTRAP=1 cargo fuzz tmin -s $sanitizer $target <artifact>\`," \
            "then copy the input to fuzz/regressions/$target/<what it shows> so that cargo test replays it"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "failing targets: ${failed[*]}" >&2
    exit 1
fi
echo "no failing input found"
