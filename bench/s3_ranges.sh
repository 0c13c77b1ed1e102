#!/usr/bin/env bash
# Can one blob come out of the S3 gateway faster than through one GET? Reads one object of
# MIB MiB, in rotating order each round, as: one GET ("one"); sequential ranged GETs of 4 MiB
# ("c4p1"); ranged GETs of 4 or 8 MiB with 2 or 3 in flight (curl --parallel: what a
# driver's read-ahead with a few MiB of memory would do); two parallel GETs of one half each
# ("half2": needs the second half buffered, an upper bound). Prints MB/s per round and
# medians. Talks to a Ceph RGW it starts (tests/scaleout/ceph.sh). Not part of the test suite.
#
# usage: bench/s3_ranges.sh [ROUNDS] [MIB]   (default 6 rounds, 256 MiB)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
ROUNDS=${1:-6} MIB=${2:-256}
W=$(mktemp -d "${BENCH_TMP:-/var/tmp}/berth-s3-ranges.XXXXXX")
cleanup() {
	"$REPO/tests/scaleout/ceph.sh" stop "$W/ceph" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT
"$REPO/tests/scaleout/ceph.sh" start "$W/ceph" >"$W/ceph.env" 2>"$W/ceph.err" || { tail -n 20 "$W/ceph.err" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$W/ceph.env"
set +a
SIZE=$((MIB << 20))
head -c "$SIZE" /dev/urandom >"$W/obj"
python3 "$REPO/tests/scaleout/s3req.py" PUT "/$S3_BUCKET/ranges/obj" "$W/obj" >/dev/null
rm -f "$W/obj"
URL=$S3_ENDPOINT/$S3_BUCKET/ranges/obj
SIGN=(-sf --aws-sigv4 "aws:amz:$S3_REGION:s3" -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
	-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -o /dev/null)
# rate CMD...: runs CMD, prints MB/s for SIZE bytes.
rate() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v s="$SIZE" 'BEGIN {printf "%.0f", s / (b - a) / 1e6}'
}
# chunks MIB PAR: ranged GETs of MIB MiB, PAR in flight.
chunks() {
	local c=$(($1 << 20)) a args=(-Z --parallel-max "$2")
	for ((a = 0; a < SIZE; a += c)); do
		args+=("${SIGN[@]}" -r "$a-$((a + c - 1))" "$URL" --next)
	done
	unset 'args[${#args[@]}-1]'
	curl "${args[@]}"
}
halves() {
	local h=$((SIZE / 2))
	curl "${SIGN[@]}" -r "0-$((h - 1))" "$URL" &
	curl "${SIGN[@]}" -r "$h-$((SIZE - 1))" "$URL" &
	wait -n && wait -n
}
declare -A CMD=([one]="curl ${SIGN[*]@Q} ${URL@Q}" [c4p1]="chunks 4 1" [c4p2]="chunks 4 2" [c8p2]="chunks 8 2"
	[c4p3]="chunks 4 3" [half2]="halves")
CASES=(one c4p1 c4p2 c8p2 c4p3 half2)
for ((r = 1; r <= ROUNDS; r++)); do
	k=$((r % ${#CASES[@]}))
	line="round $r:"
	for c in "${CASES[@]:k}" "${CASES[@]:0:k}"; do line="$line $c=$(eval "rate ${CMD[$c]}")"; done
	echo "$line | load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$W/rounds"
done
python3 - "$W/rounds" <<'PY'
import re, statistics, sys
rounds = [{k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", l.split("|")[0])} for l in open(sys.argv[1])]
for c in rounds[0]:
    xs = [r[c] for r in rounds]
    q = [r[c] / r["one"] for r in rounds]
    print("%-6s median %4d MB/s, range %d-%d; against one GET per round: median %.2fx" % (
        c, statistics.median(xs), min(xs), max(xs), statistics.median(q)))
PY
