#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (Tests/Fuzz; README "Fuzzing").
#
#   Fixtures/tools/fuzz.sh build [TARGET...]     build fuzz targets (default: all) into .build-fuzz/release
#   Fixtures/tools/fuzz.sh run SECONDS [TARGET...] build, then fuzz each target (default: all) for SECONDS
#   FUZZ_SET=smoke narrows the default to the targets of `make fuzz-smoke`.
#
# New corpus entries go to .build-fuzz/corpus/<target> (git-ignored); the committed seeds in
# Fixtures/fuzz/<target>/seeds are only read. A crash, leak, timeout or violated invariant leaves its
# input in .build-fuzz/artifacts/<target>/ and fails the run (after the remaining targets ran).
#
# Why the flags: SwiftPM links every executable with `--defsym main=<module>_main`, which collides
# with the `main` that `-sanitize=fuzzer` links in, so the targets are instrumented with
# `-sanitize=address` plus the coverage `-sanitize=fuzzer` would add, link libFuzzer's no-main
# runtime, and start it from their own main (Tests/Fuzz/CFuzzDriver).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

SWIFT=${SWIFT:-swift}
SCRATCH=${FUZZ_SCRATCH:-.build-fuzz}
# SMOKE_TARGETS run in `make fuzz-smoke` (a stage of `make test`); `make fuzz` runs ALL_TARGETS, which
# adds the targets too costly for the test budget (http2-session: its own module to build).
SMOKE_TARGETS=(http-request chunked cgi-response scgi uwsgi fastcgi-record fastcgi-params websocket-frame config
               http-response websocket-server)
ALL_TARGETS=("${SMOKE_TARGETS[@]}" http2-session)
DEFAULT_TARGETS=("${ALL_TARGETS[@]}")
if [[ ${FUZZ_SET:-all} == smoke ]]; then DEFAULT_TARGETS=("${SMOKE_TARGETS[@]}"); fi

runtime_dir=$(echo "$(dirname "$(readlink -f "$(command -v "$SWIFT")")")"/../lib/clang/*/lib/linux)
fuzzer_runtime=$runtime_dir/libclang_rt.fuzzer_no_main-x86_64.a
if [[ ! -f $fuzzer_runtime ]]; then
    echo "fuzz.sh: libFuzzer runtime not found at $fuzzer_runtime (needs a swift.org toolchain)" >&2
    exit 1
fi

build() {
    local start=$SECONDS
    local targets=("$@")
    [[ ${#targets[@]} -gt 0 ]] || targets=("${DEFAULT_TARGETS[@]}")
    for t in "${targets[@]}"; do
        # ld.gold warns about every ASan helper symbol it cannot export; those lines are noise.
        SWITCHYARD_FUZZ=1 "$SWIFT" build -c release --scratch-path "$SCRATCH" --product "fuzz-$t" \
            -Xswiftc -sanitize=address \
            -Xswiftc -sanitize-coverage=edge,indirect-calls,trace-cmp,inline-8bit-counters,pc-table \
            -Xlinker "$fuzzer_runtime" -Xlinker -lstdc++ 2>&1 \
            | { grep -v -e "Cannot export local symbol" -e "^\[" -e "^Building for" -e "complete! (" || true; }
    done
    echo "fuzz targets built in $((SECONDS - start)) s"
}

run() {
    local seconds=$1; shift
    local targets=("$@")
    [[ ${#targets[@]} -gt 0 ]] || targets=("${DEFAULT_TARGETS[@]}")
    local failed=()
    for t in "${targets[@]}"; do
        local corpus=$SCRATCH/corpus/$t artifacts=$SCRATCH/artifacts/$t log=$SCRATCH/logs/$t.log
        mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
        # SWIFT_BACKTRACE=enable=no: Swift's crash handler would race ASan's report after an abort.
        if SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
            "$SCRATCH/release/fuzz-$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -dict="Fixtures/fuzz/$t/dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
            "$corpus" "Fixtures/fuzz/$t/seeds" >"$log" 2>&1; then
            local runs cov
            runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
            cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
            printf 'fuzz-%-16s ok  %4ss  %9s execs  %s  corpus %s files\n' "$t" "$seconds" "${runs:-?}" "${cov:-cov: ?}" \
                "$(find "$corpus" -type f | wc -l)"
        else
            echo "fuzz-$t FAILED; last lines of $log:"
            grep -v -e "^#[0-9]" "$log" | tail -40
            failed+=("$t")
        fi
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "fuzz: failures in ${failed[*]} (inputs in $SCRATCH/artifacts/<target>/;" \
             "replay with $SCRATCH/release/fuzz-<target> <file>)" >&2
        return 1
    fi
}

case "${1:-}" in
    build) shift; build "$@" ;;
    run) [[ $# -ge 2 ]] || { echo "usage: $0 run SECONDS [TARGET...]" >&2; exit 2; }
         seconds=$2; shift 2; build "$@"; run "$seconds" "$@" ;;
    *) echo "usage: $0 build | run SECONDS [TARGET...]" >&2; exit 2 ;;
esac
