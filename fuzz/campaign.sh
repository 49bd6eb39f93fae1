#!/usr/bin/env bash
# A long fuzzing campaign: fuzz/run.sh on one target at a time, in rotation, until a given time.
#
#   fuzz/campaign.sh --until HH:MM [-t SLICE_SECONDS] [--sanitizer none|address] TARGET...
#
#   --until HH:MM  stop then (UTC, today); the last slice is cut short to end on time
#   -t SECONDS     time per target per turn (default 1200)
#   --sanitizer    passed to fuzz/run.sh (default none: the fast build, see docs/fuzzing.md)
#   TARGET         the rotation (default: cbor_reader sse_split eventstream mitmlog cbor_value
#                  sse_extract)
#
# The targets are built once, at the start (and their regression inputs replayed), and every run
# uses that build: the campaign tests one tree, and others' half-finished edits of the core cannot
# break it halfway. One fuzzer at a time (libFuzzer's default -jobs=1 -workers=1), at the lowest
# CPU priority (nice 19), so that it only takes what nobody else uses. Each run's summary line goes, with its
# start time and sanitizer, to fuzz/artifacts/campaign.log (the figures of docs/fuzzing.md's
# Results). A crash does not stop the campaign: it is reported there, its input is in
# fuzz/artifacts/<target>/, and the rotation goes on.
set -euo pipefail
cd "$(dirname "$0")/.."

until_hm=""
slice=1200
sanitizer=none
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --until) until_hm=$2; shift 2 ;;
        -t) slice=$2; shift 2 ;;
        --sanitizer) sanitizer=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ -z "$until_hm" ]; then
    echo "fuzz/campaign.sh: --until HH:MM is required" >&2
    exit 2
fi
if ! end=$(date -u -d "$until_hm" +%s 2>/dev/null); then
    echo "fuzz/campaign.sh: --until takes HH:MM (UTC), not $until_hm" >&2
    exit 2
fi
if [ ${#targets[@]} -eq 0 ]; then
    targets=(cbor_reader sse_split eventstream mitmlog cbor_value sse_extract)
fi
mkdir -p fuzz/artifacts
log=fuzz/artifacts/campaign.log

if ! nice -n 19 fuzz/run.sh --sanitizer "$sanitizer" --replay-only "${targets[@]}" >"fuzz/artifacts/campaign-run.log" 2>&1; then
    echo "fuzz/campaign.sh: the build or a regression input failed (fuzz/artifacts/campaign-run.log):" >&2
    tail -20 fuzz/artifacts/campaign-run.log >&2
    exit 2
fi

i=0
while :; do
    left=$(( end - $(date -u +%s) ))
    # Under two minutes left: a run would be mostly build, replay and corpus loading.
    [ "$left" -ge 120 ] || break
    t=${targets[$(( i % ${#targets[@]} ))]}
    i=$((i + 1))
    n=$(( left < slice ? left - 60 : slice ))
    start=$(date -u +%H:%M)
    status=ok
    nice -n 19 fuzz/run.sh --sanitizer "$sanitizer" --no-build -t "$n" "$t" >"fuzz/artifacts/campaign-run.log" 2>&1 || status=FAILED
    line=$(grep -E "^fuzz: $t " fuzz/artifacts/campaign-run.log | tail -1 || true)
    echo "$(date -u +%F) $start $sanitizer $status ${line#fuzz: }" | tee -a "$log"
    if [ "$status" != ok ]; then
        grep -vE '^fuzz: (built|summary)' fuzz/artifacts/campaign-run.log | head -20 | tee -a "$log" >&2
    fi
done
