#!/usr/bin/env bash
# The web UI's speed on a large registry (issue 6): 10,000 repositories and one repository
# with 10,000 tags, then every API call the pages make, and the page files, timed as an
# anonymous visitor and as a signed-in user (session cookie, as the browser sends). The
# target is 100 ms per call; bench/web_timing.py prints median, p95 and max of each.
# Standalone: bench/run does not call it. Results go to bench/results/<date>-web/.
#
# usage: bench/web.sh [--berthd PATH] [--out DIR] [--requests N] [--keep]
#   --berthd PATH  the berthd to measure (default: ./berthd of this tree, built)
#   --out DIR      results folder (default bench/results/<UTC date>-web)
#   --requests N   timed requests per case (default 50)
#   --keep         keep the scratch folder (BENCH_TMP, default /var/tmp)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BERTHD=$REPO/berthd OUT= N=50 KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--berthd) BERTHD=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	--requests) N=${2:?}; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "bench/web.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -x "$BERTHD" ] || { echo "bench/web.sh: $BERTHD is not built (./run build, or --berthd PATH)" >&2; exit 1; }
OUT=${OUT:-$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ)-web}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${BENCH_TMP:-/var/tmp}/berth-bench-web.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; fi
	[ "$KEEP" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[bench-web %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$port
start() { # start ARGS...: berthd on $port with $WORK/data, waits until it answers
	"$BERTHD" --listen "127.0.0.1:$port" --data "$WORK/data" --log-level warn "$@" >>"$WORK/berthd.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		case $(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/") in 200 | 401) return 0 ;; esac
		sleep 0.1
	done
	echo "berthd did not start; see $WORK/berthd.log" >&2
	exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

# Populate without accounts (the /v2/ API, 16 connections), repositories public.
start --auth none --default-visibility public
t0=$(date +%s)
log "pushing 10,000 repositories and 10,000 tags"
python3 "$HERE/populate.py" "$URL" base >/dev/null
python3 "$HERE/populate.py" "$URL" repos 0 10000 repos/r
python3 "$HERE/populate.py" "$URL" tags repos/many 0 10000
log "populated in $(($(date +%s) - t0)) s"
stop

# Then with accounts: "repos" owns the namespace, "viewer" sees only public repositories.
start --auth token
printf 'bench-password-1\n' | "$BERTHD" user add repos --password-stdin --data "$WORK/data" >/dev/null
printf 'bench-password-1\n' | "$BERTHD" user add viewer --password-stdin --data "$WORK/data" >/dev/null
curl -sf -u repos:bench-password-1 -X PATCH -H 'Content-Type: application/json' \
	--data '{"description":"the repository with 10,000 tags","full_description":"# Many tags\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"}' \
	"$URL/api/v1/repositories/repos/many" >/dev/null
log "timing $N requests per case"
python3 "$HERE/web_timing.py" "$URL" "$N" | tee "$OUT/results.md"
{
	echo
	echo "berthd: $("$BERTHD" --version 2>/dev/null || echo "$BERTHD")"
	echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >>"$OUT/results.md"
log "results in $OUT/results.md"
