#!/bin/sh
# Reproduces the performance table: builds in release mode, generates the
# corpus in a temporary directory and prints the ratios (benches/ratios.rs).
# OBSERVER_BENCH_EVENTS (default 1000000), OBSERVER_BENCH_SHAPE (calm, busy or
# both, the default), OBSERVER_BENCH_REPEATS (default 3),
# OBSERVER_BENCH_SEED (default 2026) and OBSERVER_BENCH_NOTIFICATIONS (default
# 10000) pass through from the environment; OBSERVER_BENCH_BIN=PATH measures
# another observer build with the same table (rows it cannot run are skipped).
set -eu
cd "$(dirname "$0")/.."
exec cargo bench --bench ratios --locked "$@"
