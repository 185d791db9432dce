#!/usr/bin/env bash
# Builds the fuzz target with clang and libFuzzer and runs it for a bounded
# time: fuzz/run.sh [SECONDS] (default 60). Exits non-zero on any crash,
# leak, timeout or violated invariant.
#
# The build goes to build-fuzz (configured on first use). The fuzzer works
# on fuzz/corpus-run, a scratch copy of the seed corpus that is kept
# between runs, so a longer campaign can be run in several sittings; the
# committed fuzz/corpus never grows. Delete fuzz/corpus-run to start afresh.
# Crashing inputs are written to build-fuzz/artifacts/; minimize one with
#   build-fuzz/fuzz/api_sequence -minimize_crash=1 -runs=100000 FILE
# and keep it under fuzz/crashes/ as a regression test.
#
# Environment: FUZZ_JOBS=N fuzzes in N processes at once (libFuzzer's fork
# mode; default 1); FUZZ_BUILD and FUZZ_CORPUS choose another build
# directory and working corpus. Extra libFuzzer flags can follow SECONDS.
set -euo pipefail

seconds=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

build=${FUZZ_BUILD:-build-fuzz}
corpus=${FUZZ_CORPUS:-fuzz/corpus-run}

if [[ ! -f $build/build.ninja ]]; then
    CC=clang meson setup "$build" -Dfuzz=true -Dtests=disabled \
        -Dexamples=false -Dbench=false
fi
ninja -C "$build" fuzz/api_sequence

mkdir -p "$corpus" "$build/artifacts"
for seed in fuzz/corpus/* fuzz/crashes/*; do
    [[ -e $corpus/${seed##*/} ]] || cp "$seed" "$corpus/"
done

jobs=${FUZZ_JOBS:-1}
flags=(
    -max_total_time="$seconds"
    -timeout=10
    -rss_limit_mb=2048
    -max_len=1024
    -print_final_stats=1
    -artifact_prefix="$build/artifacts/"
)
if ((jobs > 1)); then
    flags+=(-fork="$jobs")
fi

# libFuzzer exits non-zero when it finds anything; so does this script.
exec "$build/fuzz/api_sequence" "${flags[@]}" "$@" "$corpus"
