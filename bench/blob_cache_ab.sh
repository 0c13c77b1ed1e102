#!/usr/bin/env bash
# A/B of blob pulls with the node-local blob cache (docs/storage.md#blob-cache), on one Ceph
# RGW started for the run: berthd without the cache ("plain"), this berthd with --blob-cache
# ("new") and, with BERTHD_OLD, another build with --blob-cache ("old"), all three on one
# shared SQLite folder and one bucket prefix. Each round pushes a fresh blob, GETs it once
# from each (cache empty: cold; the order rotates every round; after each cold GET it waits
# until that berthd's cache file is complete, so a fill does not compete with the next GET),
# then once more from the ones with a cache (warm). Prints one line per round, then medians
# and per-round ratios against plain. Not part of the test suite.
#
# usage: bench/blob_cache_ab.sh [ROUNDS] [MIB]     (default 10 rounds of a 256 MiB blob)
# Environment: BERTHD (default the one built in this tree), BERTHD_OLD (optional),
# BENCH_TMP (scratch parent, default /var/tmp).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
ROUNDS=${1:-10} MIB=${2:-256}
NEW=${BERTHD:-$REPO/berthd} OLD=${BERTHD_OLD:-}
[ -x "$NEW" ] || { echo "blob_cache_ab.sh: $NEW is not built" >&2; exit 1; }
[ -z "$OLD" ] || [ -x "$OLD" ] || { echo "blob_cache_ab.sh: BERTHD_OLD=$OLD is not executable" >&2; exit 1; }
W=$(mktemp -d "${BENCH_TMP:-/var/tmp}/berth-cache-ab.XXXXXX")
declare -A PORT PID
cleanup() {
	local p
	for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
	"$REPO/tests/scaleout/ceph.sh" stop "$W/ceph" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT
CEPH_OSD_SIZE=$(((MIB * ROUNDS / 1024) + 6))G "$REPO/tests/scaleout/ceph.sh" start "$W/ceph" >"$W/ceph.env" 2>"$W/ceph.err" ||
	{ tail -n 20 "$W/ceph.err" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$W/ceph.env"
set +a
S3=(--storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket "$S3_BUCKET" --s3-region "$S3_REGION" --s3-prefix ab/)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# start NAME BINARY [OPTION...]: a berthd on a free port, up within 10 s.
start() {
	local name=$1 bin=$2 i
	shift 2
	PORT[$name]=$(free_port)
	"$bin" --listen "127.0.0.1:${PORT[$name]}" --data "$W/data" --auth none --log-level warn "${S3[@]}" "$@" \
		>"$W/$name.log" 2>&1 &
	PID[$name]=$!
	for ((i = 0; i < 100; i++)); do
		curl -sf -m 2 -o /dev/null "http://127.0.0.1:${PORT[$name]}/v2/" && return 0
		sleep 0.1
	done
	echo "blob_cache_ab.sh: $name did not start: $(tail -n 5 "$W/$name.log")" >&2
	exit 1
}
start plain "$NEW"
NAMES=(plain)
CACHED=(new)
start new "$NEW" --blob-cache "$W/cache-new" --blob-cache-size $((MIB * 8))M
NAMES+=(new)
if [ -n "$OLD" ]; then
	start old "$OLD" --blob-cache "$W/cache-old" --blob-cache-size $((MIB * 8))M
	NAMES+=(old)
	CACHED+=(old)
fi
# get NAME DIGEST: one GET; prints MB/s.
get() {
	curl -sf -m 120 -o /dev/null -w '%{speed_download}' "http://127.0.0.1:${PORT[$1]}/v2/ab/blob/blobs/$2" |
		awk '{printf "%.0f", $1 / 1e6}'
}
# filled NAME DIGEST: waits up to 20 s for NAME's cache file; prints after how long.
filled() {
	local h=${2#sha256:} i
	for ((i = 1; i <= 400; i++)); do
		[ "$(stat -c %s "$W/cache-$1/sha256/${h:0:2}/$h" 2>/dev/null)" = $((MIB << 20)) ] && { echo "$((i * 50))ms"; return; }
		sleep 0.05
	done
	echo never
}
for ((r = 1; r <= ROUNDS; r++)); do
	head -c $((MIB << 20)) /dev/urandom >"$W/blob"
	d=sha256:$(sha256sum "$W/blob" | cut -d' ' -f1)
	python3 "$HERE/blobclient.py" push-mono "http://127.0.0.1:${PORT[plain]}" ab/blob "$W/blob" "$d" >/dev/null
	k=$((r % ${#NAMES[@]}))
	line="round $r cold:"
	after=
	for n in "${NAMES[@]:k}" "${NAMES[@]:0:k}"; do
		line="$line $n=$(get "$n" "$d")"
		[ "$n" = plain ] || after="$after $n=$(filled "$n" "$d")"
	done
	line="$line | filled after:$after | warm:"
	for n in "${CACHED[@]}"; do line="$line $n=$(get "$n" "$d")"; done
	echo "$line | load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$W/rounds"
done
python3 - "$W/rounds" <<'PY'
import re, statistics, sys
rounds = []
for l in open(sys.argv[1]):
    cold, _, warm, _ = l.split("|")
    rounds.append(({k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", cold)},
                   {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", warm)}))
for phase, i in (("cold", 0), ("warm", 1)):
    for n in sorted(rounds[0][i]):
        xs = [r[i][n] for r in rounds]
        line = "%s %s: median %d MB/s, range %d-%d" % (phase, n, statistics.median(xs), min(xs), max(xs))
        if "plain" in rounds[0][0] and n != "plain":
            q = [r[i][n] / r[0]["plain"] for r in rounds]
            line += "; against plain's cold GET per round: median %.2fx, range %.2f-%.2f" % (
                statistics.median(q), min(q), max(q))
        print(line)
PY
for n in "${CACHED[@]}"; do
	m=$(curl -sf "http://127.0.0.1:${PORT[$n]}/metrics" | grep '^berth_blob_cache' | tr '\n' ' ' || true)
	echo "$n /metrics: ${m:-(no berth_blob_cache_* series: a build before they existed)}"
done
