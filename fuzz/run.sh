#!/usr/bin/env bash
# Build the fuzz targets, replay the regression inputs, then fuzz each target for a while.
#
#   fuzz/run.sh [-t SECONDS] [--ci] [--replay-only] [--sanitizer address|none] [--no-build]
#               [TARGET...]
#
#   -t SECONDS     fuzzing time per target (default: $FUZZ_SECONDS, else 60); 0 = replay only
#   --sanitizer    address (default: AddressSanitizer, what CI runs) or none (the same release
#                  build with debug assertions and coverage, without ASan: several times faster,
#                  for long campaigns; its own target directory, fuzz/target/noasan/)
#   --no-build     use the targets as last built (fuzz/campaign.sh: one build for all its runs,
#                  so that others' half-finished edits of the core cannot break a run)
#   --ci           install cargo-fuzz if it is missing, use a scratch corpus (the seeds only,
#                  nothing kept), and print one summary line per target
#   TARGET         Rust targets (cbor_reader cbor_value eventstream sse_split sse_extract mitmlog)
#                  and/or Python targets (py_har py_jsonl py_mitm); default: every Rust target,
#                  and (without --ci) the Python ones when atheris is installed in .venv
#
# Regression inputs (fuzz/regressions/<target>/, `*.gz` gzip-compressed) must pass; those listed in
# fuzz/regressions/known-open.txt are the open findings: they are replayed with
# FASTCAP_FUZZ_STRICT=1 and expected to fail until fixed (one that passes is reported, so that it
# can move off the list and guard the fix). The exit status is non-zero when a regression input
# fails or fuzzing finds a crash (saved under fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
SANITIZER=${FUZZ_SANITIZER:-address}
BUILD=1
CI=0
RUST_ALL=(cbor_reader cbor_value eventstream sse_split sse_extract mitmlog)
PY_ALL=(py_har py_jsonl py_mitm)
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        -t) SECONDS_PER_TARGET=$2; shift 2 ;;
        --ci) CI=1; shift ;;
        --replay-only) SECONDS_PER_TARGET=0; shift ;;
        --sanitizer) SANITIZER=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
PY=$ROOT/.venv/bin/python
have_atheris() { [ -x "$PY" ] && "$PY" -c 'import atheris' 2>/dev/null; }
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${RUST_ALL[@]}")
    if [ $CI = 0 ] && have_atheris; then targets+=("${PY_ALL[@]}"); fi
fi

# Per-target libFuzzer options. Inputs are kept small (a few KiB): the invariants are about
# structure, and short inputs run ten times faster; the large known-defect inputs (bombs, deep
# nesting, quadratic resync) are regression files instead. The memory limits make an allocation
# over 2 GiB, or a peak RSS over 2 GiB, a crash (decompression bombs, exponential rendering).
max_len() {
    case "$1" in
        cbor_reader) echo 16384 ;;
        mitmlog) echo 8192 ;;
        *) echo 4096 ;;
    esac
}
COMMON=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1)
# libdeflate (C, in the CBOR reader) defines a table in two objects: a known ODR false positive.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}

is_rust() { [[ " ${RUST_ALL[*]} " == *" $1 "* ]]; }
rust_targets=()
for t in "${targets[@]}"; do if is_rust "$t"; then rust_targets+=("$t"); fi; done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ${#rust_targets[@]} -gt 0 ]; then
    if ! cargo fuzz --version >/dev/null 2>&1; then
        if [ $CI = 1 ]; then
            cargo install cargo-fuzz --locked --quiet
        else
            echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
            exit 2
        fi
    fi
    t0=$(date +%s)
    build=(cargo +nightly fuzz build -O)
    case "$SANITIZER" in
        address) BIN=$ROOT/fuzz/target/x86_64-unknown-linux-gnu/release ;;
        none)
            build+=(-a --sanitizer none --target-dir "$ROOT/fuzz/target/noasan")
            BIN=$ROOT/fuzz/target/noasan/x86_64-unknown-linux-gnu/release
            ;;
        *) echo "fuzz/run.sh: --sanitizer is address or none, not $SANITIZER" >&2; exit 2 ;;
    esac
    if [ $BUILD = 0 ]; then
        for t in "${rust_targets[@]}"; do
            if [ ! -x "$BIN/$t" ]; then
                echo "fuzz/run.sh: --no-build, but $BIN/$t is not built" >&2
                exit 2
            fi
        done
    elif ! "${build[@]}" >"$WORK/build.log" 2>&1; then
        cat "$WORK/build.log" >&2
        exit 2
    else
        echo "fuzz: built the Rust targets ($SANITIZER sanitizer) in $(( $(date +%s) - t0 )) s"
    fi
fi
if [ $CI = 1 ]; then
    CORPUS_BASE=$WORK/corpus
else
    CORPUS_BASE=$ROOT/fuzz/corpus
    if [ ! -d "$CORPUS_BASE" ]; then python3 fuzz/seed.py >/dev/null; fi
fi

# One input file per regression (gzip ones decompressed into $WORK).
regression_files() {
    local t=$1 d=$ROOT/fuzz/regressions/$1 f
    [ -d "$d" ] || return 0
    for f in "$d"/*; do
        [ -f "$f" ] || continue
        case "$f" in
            *.md|*.txt) ;;
            *.gz) mkdir -p "$WORK/reg/$t"; gunzip -c "$f" > "$WORK/reg/$t/$(basename "${f%.gz}")"; echo "$WORK/reg/$t/$(basename "${f%.gz}")" ;;
            *) echo "$f" ;;
        esac
    done
}
is_known_open() { grep -qE "^$1/$2(\.gz)?([[:space:]]|$)" "$ROOT/fuzz/regressions/known-open.txt" 2>/dev/null; }

# run_input TARGET FILE [strict]: replay one input; 0 when it passes. Regression inputs get 30 s
# (the bombs and the 2 MiB resync input take a few seconds when fixed, the quadratic resync a
# minute); known-open inputs (strict) 5 s: they are expected to fail, the slow ones by timing out.
run_input() {
    local t=$1 f=$2 strict=${3:-0} timeout=30
    if [ "$strict" = 1 ]; then timeout=5; fi
    if is_rust "$t"; then
        FASTCAP_FUZZ_STRICT=$strict "$BIN/$t" -runs=0 "${COMMON[@]}" -timeout=$timeout "$f" >"$WORK/replay.log" 2>&1
    else
        FASTCAP_FUZZ_STRICT=$strict "$PY" "$ROOT/fuzz/python/$t.py" -runs=0 -rss_limit_mb=2048 -timeout=$timeout "$f" \
            >"$WORK/replay.log" 2>&1
    fi
}

status=0
summary=()
for t in "${targets[@]}"; do
    # 1. Regression inputs.
    fixed=0 open_fail=0 passed=0
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        name=$(basename "$f")
        if is_known_open "$t" "$name"; then
            if run_input "$t" "$f" 1; then
                echo "fuzz: $t: known-open input $name passes now: take it off fuzz/regressions/known-open.txt"
                fixed=$((fixed + 1))
            else
                open_fail=$((open_fail + 1))
            fi
        elif run_input "$t" "$f"; then
            passed=$((passed + 1))
        else
            echo "fuzz: $t: REGRESSION: fuzz/regressions/$t/$name fails:" >&2
            grep -E 'panicked|ERROR|SUMMARY|Error|Exception' "$WORK/replay.log" | head -5 >&2 || tail -5 "$WORK/replay.log" >&2
            status=1
        fi
    done < <(regression_files "$t")
    # 2. Fuzzing.
    execs=0 rate=0 result="replayed"
    if [ "$SECONDS_PER_TARGET" -gt 0 ]; then
        corpus=$CORPUS_BASE/$t
        mkdir -p "$corpus" "$ROOT/fuzz/artifacts/$t"
        log=$ROOT/fuzz/artifacts/$t.log
        if is_rust "$t"; then
            cmd=("$BIN/$t" "${COMMON[@]}" -max_len="$(max_len "$t")" -max_total_time="$SECONDS_PER_TARGET")
        else
            cmd=("$PY" "$ROOT/fuzz/python/$t.py" -rss_limit_mb=2048 -timeout=30 -max_len=65536 -max_total_time="$SECONDS_PER_TARGET")
        fi
        if "${cmd[@]}" -artifact_prefix="$ROOT/fuzz/artifacts/$t/" "$corpus" "$ROOT/fuzz/seeds/$t" >"$log" 2>&1; then
            result="ok"
        else
            result="CRASH"
            status=1
            echo "fuzz: $t: crash, input saved in fuzz/artifacts/$t/ (log fuzz/artifacts/$t.log):" >&2
            grep -E 'panicked|ERROR|SUMMARY|Test unit written|Error|Exception' "$log" | head -8 >&2 || true
        fi
        execs=$(grep -oE 'number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
        if [ -z "$execs" ]; then
            # atheris prints no final stats: the last status line's count.
            execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
        fi
        execs=${execs:-0}
        rate=$(( execs / SECONDS_PER_TARGET ))
    fi
    line=$(printf '%-12s regressions: %d passed, %d known-open, %d fixed | %s: %s execs in %s s (%s/s)' \
        "$t" "$passed" "$open_fail" "$fixed" "$result" "$execs" "$SECONDS_PER_TARGET" "$rate")
    echo "fuzz: $line"
    summary+=("$line")
done
echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
exit $status
