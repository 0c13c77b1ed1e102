#!/usr/bin/env bash
# Scale-out benchmark (issue 10): the same workload, in the same run, alternating, against
#   cluster       three berthd nodes on PostgreSQL + Ceph RGW behind haproxy (round robin)
#   node          one of those berthd nodes, reached directly (same database and bucket)
#   distribution  Debian's docker-registry (CNCF Distribution) with its s3 driver on the
#                 same Ceph RGW (a bucket of its own), blob redirects off so that both
#                 registries stream the bytes themselves
# all on 127.0.0.1, started by tests/scaleout/cluster.sh. Cases: push of one large blob
# (POST, one PUT with the body), the same as docker/podman/skopeo send a layer (POST, one
# PATCH with the whole blob, PUT ?digest=: push_blob_patch), pull of the first, N parallel
# skopeo copies of small images, and manifest HEAD req/s at 50 connections (ab,
# keep-alive). Medians over the runs; the order of the three rotates from run to run. Not
# part of the test suite.
#
# usage: bench/scaleout.sh [--quick] [--blob-cache] [--out DIR] [--keep]
#   --quick      a smoke run: 64 MiB blob, 2 runs, 4 images, 2 s load runs
#   --blob-cache also pull with the node-local blob cache: after the blob cases of each run
#                the nodes restart with --blob-cache (a folder per node), a fresh blob is
#                pulled through the cluster (3 GETs: the first on each node, cache empty:
#                pull_blob_cold; then 3 more: pull_blob_warm) and through node 1 (cold, then
#                warm); then the nodes restart without it for the next run
#   --out DIR    results folder (default bench/results/<date>-scaleout[-quick])
#   --keep       keep the scratch folder (cluster data, logs) after the run
# Environment: BERTHD (default: the berthd built in this tree; ./configure's -g -O2),
# BENCH_TMP (scratch parent, default /var/tmp), BENCH_RUNS (3), BENCH_BLOB_MIB (256),
# BENCH_SKOPEO_IMAGES (10), BENCH_DURATION (seconds per load run, 5), BENCH_CONNS (50),
# BENCH_CACHE_SIZE (--blob-cache-size with --blob-cache, 2G).
# Output: raw.jsonl (one record per measurement), summary.txt (lines like
# "push_blob: cluster X, node Y, distribution Z, ratio cluster/distribution R").
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
QUICK=0 OUT= KEEP=0 CACHE=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1; shift ;;
	--blob-cache) CACHE=1; shift ;;
	--out) OUT=${2:?}; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) sed -n '2,29p' "$0"; exit 0 ;;
	*) echo "bench/scaleout.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ "$QUICK" = 1 ]; then
	RUNS=${BENCH_RUNS:-2} BLOB_MIB=${BENCH_BLOB_MIB:-64} IMAGES=${BENCH_SKOPEO_IMAGES:-4} DURATION=${BENCH_DURATION:-2}
else
	RUNS=${BENCH_RUNS:-3} BLOB_MIB=${BENCH_BLOB_MIB:-256} IMAGES=${BENCH_SKOPEO_IMAGES:-10} DURATION=${BENCH_DURATION:-5}
fi
CONNS=${BENCH_CONNS:-50}
CACHE_SIZE=${BENCH_CACHE_SIZE:-2G}
BERTHD=${BERTHD:-$REPO/berthd}
IMPLS=(cluster node distribution)
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json

log() { printf '[scaleout %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -x "$BERTHD" ] || die "$BERTHD is not built (./run test or make, or set BERTHD)"
for b in haproxy ab skopeo jq curl /usr/bin/docker-registry /usr/lib/postgresql/15/bin/initdb radosgw; do
	command -v "$b" >/dev/null || die "$b not found (scripts/deps.sh test installs what the scale-out tests need; ab is apache2-utils)"
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
[ -n "$OUT" ] || OUT=$HERE/results/$STAMP-scaleout$([ "$QUICK" = 1 ] && echo -quick || true)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RAW=$OUT/raw.jsonl
: >"$RAW"
W=$(mktemp -d "${BENCH_TMP:-/var/tmp}/berth-scaleout.XXXXXX")
D_PID=
# cleanup: runs under set -e from the EXIT trap, so no step may fail it before the cluster
# is stopped.
cleanup() {
	if [ -n "$D_PID" ]; then
		kill "$D_PID" 2>/dev/null || true
		wait "$D_PID" 2>/dev/null || true
	fi
	"$REPO/tests/scaleout/cluster.sh" stop "$W/cluster" >/dev/null 2>&1 || true
	if [ "$KEEP" = 1 ]; then log "scratch kept in $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rec() { printf '%s\n' "$1" >>"$RAW"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---------------------------------------------------------------- the registries
log "starting PostgreSQL, Ceph, three berthd nodes and haproxy in $W/cluster"
# Room for every blob the runs push (nothing is collected during the run), twice (a staged
# upload and its blob exist together until the commit's copy is done), sparse: two blobs per
# registry a run, and with --blob-cache two more a run. A full OSD blocks writes, it does not
# fail them: too small a file hangs the run.
export CEPH_OSD_SIZE=${CEPH_OSD_SIZE:-$(((BLOB_MIB * RUNS * (6 + 2 * CACHE) * 2 / 1024) + 4))G}
CLUSTER_AUTH=none CLUSTER_BERTHD_ARGS="--log-level off --max-connections-per-address 0" \
	"$REPO/tests/scaleout/cluster.sh" start "$W/cluster" >"$W/cluster.env" 2>"$W/cluster.err" ||
	{ tail -n 30 "$W/cluster.err" >&2; die "the cluster did not start"; }
set -a
# shellcheck disable=SC1091
. "$W/cluster.env"
set +a

log "starting docker-registry with its s3 driver on the same Ceph (bucket distribution)"
python3 "$REPO/tests/scaleout/s3req.py" PUT /distribution >/dev/null || die "cannot create the bucket distribution"
D_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/distribution.yml" <<-EOF
	version: 0.1
	log:
	  level: error
	  accesslog:
	    disabled: true
	storage:
	  s3:
	    accesskey: $AWS_ACCESS_KEY_ID
	    secretkey: $AWS_SECRET_ACCESS_KEY
	    region: $S3_REGION
	    regionendpoint: $S3_ENDPOINT
	    bucket: distribution
	    secure: false
	    v4auth: true
	    rootdirectory: /registry
	  redirect:
	    disable: true
	  delete:
	    enabled: true
	  maintenance:
	    uploadpurging:
	      enabled: false
	  cache:
	    blobdescriptor: inmemory
	http:
	  addr: 127.0.0.1:$D_PORT
	  secret: berth-scaleout-$STAMP
EOF
chmod 0600 "$W/distribution.yml"
# REGISTRY_* variables would override the file; the AWS SDK's AWS_CA_BUNDLE (set on some
# hosts) makes Distribution 2.8 panic at start ("HTTPClient's transport unsupported type").
env $(env | sed -n 's/^\(REGISTRY_[A-Za-z0-9_]*\)=.*/-u \1/p') -u AWS_CA_BUNDLE \
	/usr/bin/docker-registry serve "$W/distribution.yml" </dev/null >"$W/distribution.log" 2>&1 &
D_PID=$!
for ((i = 0; i < 200; i++)); do
	curl -sf -o /dev/null "http://127.0.0.1:$D_PORT/v2/" && break
	kill -0 "$D_PID" 2>/dev/null || { tail -n 20 "$W/distribution.log" >&2; die "docker-registry exited"; }
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$D_PORT/v2/" || die "docker-registry did not answer"

url_of() {
	case $1 in
	cluster) echo "$LB_URL" ;;
	node) echo "$NODE1_URL" ;;
	distribution) echo "http://127.0.0.1:$D_PORT" ;;
	esac
}
# order RUN: the three implementations, rotated by one each run.
order() {
	local k=$(($1 % 3))
	echo "${IMPLS[@]:k}" "${IMPLS[@]:0:k}"
}

rec "$(jq -cn --arg stamp "$STAMP" --arg commit "$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)" \
	--arg dist "$(dpkg-query -W -f='${Version}' docker-registry)" --arg ceph "$(dpkg-query -W -f='${Version}' radosgw)" \
	--arg pg "$(dpkg-query -W -f='${Version}' postgresql-15)" --arg haproxy "$(dpkg-query -W -f='${Version}' haproxy)" \
	--argjson quick "$QUICK" --argjson runs "$RUNS" --argjson blob_mib "$BLOB_MIB" --argjson images "$IMAGES" \
	--argjson duration "$DURATION" --argjson conns "$CONNS" --argjson cores "$(nproc)" --argjson cache "$CACHE" \
	--arg cpu "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" \
	'{kind:"meta", date:$stamp, commit:$commit, distribution:$dist, ceph:$ceph, postgresql:$pg,
	  haproxy:$haproxy, quick:$quick, runs:$runs, blob_mib:$blob_mib, skopeo_images:$images,
	  duration_s:$duration, conns:$conns, cores:$cores, cpu:$cpu, blob_cache:$cache}')"

# ---------------------------------------------------------------- data
# Every push of every run gets images of its own (a seed each), so that no registry finds
# the blobs already stored by an earlier push.
log "building $((IMAGES * RUNS * 3)) small images"
for ((r = 1; r <= RUNS; r++)); do
	for impl in "${IMPLS[@]}"; do
		for ((i = 1; i <= IMAGES; i++)); do
			"$REPO/tests/fixtures/mkimage.sh" "$W/images/$impl-$r-img$i" --seed "scaleout-$impl-$r-$i" >/dev/null
		done
	done
done

# ---------------------------------------------------------------- blob push and pull
# Each push sends a blob never stored before (fresh random bytes), so no registry can skip
# the write; the pull reads that blob back.

# restart_nodes [BERTHD_OPTION...]: every berthd node again with these extra options.
restart_nodes() {
	"$REPO/tests/scaleout/cluster.sh" restart "$W/cluster" "$@" >"$W/cluster.env" 2>>"$W/cluster.err" ||
		{ tail -n 30 "$W/cluster.err" >&2; die "the nodes did not restart"; }
	set -a
	# shellcheck disable=SC1091
	. "$W/cluster.env"
	set +a
}
# cached_on DIGEST: how many nodes have the blob's cache file, whole.
cached_on() {
	local n c=0 hex=${1#sha256:}
	for ((n = 1; n <= NODES; n++)); do
		[ "$(stat -c %s "$W/cluster/cache-$n/sha256/${hex:0:2}/$hex" 2>/dev/null)" = $((BLOB_MIB << 20)) ] && c=$((c + 1))
	done
	echo "$c"
}
# wait_cached DIGEST N: up to 20 s for N nodes to hold the blob's cache file; prints how many do.
wait_cached() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(cached_on "$1")" -ge "$2" ] && break
		sleep 0.1
	done
	cached_on "$1"
}
# timed_pull URL REPO DIGEST: one GET timed by bench/blobclient.py pull, which splices the body
# to /dev/null (the client copies no byte, so the time is the server's, as in bench/run);
# prints its JSON.
timed_pull() {
	python3 "$HERE/blobclient.py" pull "$1" "$2" "$3"
}
# check_pull IMPL URL REPO DIGEST: an untimed GET whose bytes must hash to DIGEST.
check_pull() {
	[ "sha256:$(curl -sf "$2/v2/$3/blobs/$4" | sha256sum | cut -d' ' -f1)" = "$4" ] ||
		die "$1 served other bytes for $4"
}
# pull_once IMPL CASE RUN URL DIGEST [FILLED]: one timed GET of the blob, recorded, then (but
# for a cold read, where a second GET would disturb the fill) an untimed one checked.
pull_once() {
	local out
	out=$(timed_pull "$4" "bench-$1/blob" "$5") || die "pull from $1 failed"
	case $2 in *cold) ;; *) check_pull "$1" "$4" "bench-$1/blob" "$5" ;; esac
	rec "$(jq -c --arg i "$1" --arg c "$2" --argjson r "$3" --argjson f "${6:-null}" \
		'{kind:"blob", case:$c, impl:$i, run:$r, cached_nodes:$f} + .' <<<"$out")"
	log "$2 $1 run $3: $(jq -r '"\(.bytes / .seconds / 1e6 | floor) MB/s"' <<<"$out")"
}
# cache_cases RUN: with every node on its own --blob-cache, a fresh blob pulled cold and warm
# through the cluster and through node 1; the nodes then run without the cache again.
cache_cases() {
	local r=$1 impl f d url i filled
	restart_nodes --blob-cache "$W/cluster/cache-{node}" --blob-cache-size "$CACHE_SIZE"
	for impl in cluster node; do
		f=$W/blob
		head -c $((BLOB_MIB << 20)) /dev/urandom >"$f"
		d=sha256:$(sha256sum "$f" | cut -d' ' -f1)
		url=$(url_of "$impl")
		python3 "$HERE/blobclient.py" push-mono "$url" "bench-$impl/blob" "$f" "$d" >/dev/null
		rm -f "$f"
		if [ "$impl" = cluster ]; then
			# Round robin: the first GET on each node finds its cache empty.
			for ((i = 1; i <= NODES; i++)); do pull_once cluster pull_blob_cold "$r" "$url" "$d" "$(cached_on "$d")"; done
			filled=$(wait_cached "$d" "$NODES")
			[ "$filled" = "$NODES" ] || log "warning: only $filled of $NODES nodes cached the blob"
			for ((i = 1; i <= NODES; i++)); do pull_once cluster pull_blob_warm "$r" "$url" "$d" "$filled"; done
		else
			pull_once node pull_blob_cold "$r" "$url" "$d" "$(cached_on "$d")"
			filled=$(wait_cached "$d" 1)
			[ "$filled" -ge 1 ] || log "warning: node 1 did not cache the blob"
			pull_once node pull_blob_warm "$r" "$url" "$d" "$filled"
		fi
	done
	for ((i = 1; i <= NODES; i++)); do
		url=NODE${i}_URL
		rec "$(curl -sf "${!url}/metrics" | awk -v n="$i" -v r="$r" '
			/^berth_blob_cache_[a-z_]+(\{[^}]*\})? / {gsub(/"/, "", $1); m = m sep "\"" $1 "\":" $2; sep = ","}
			END {print "{\"kind\":\"cache_metrics\",\"node\":" n ",\"run\":" r "," m "}"}')"
	done
	restart_nodes
}

log "blob cases: $BLOB_MIB MiB, $RUNS runs$([ "$CACHE" = 1 ] && echo ", with and without --blob-cache $CACHE_SIZE" || true)"
for ((r = 1; r <= RUNS; r++)); do
	for impl in $(order "$r"); do
		f=$W/blob
		head -c $((BLOB_MIB << 20)) /dev/urandom >"$f"
		d=sha256:$(sha256sum "$f" | cut -d' ' -f1)
		url=$(url_of "$impl")
		out=$(python3 "$HERE/blobclient.py" push-mono "$url" "bench-$impl/blob" "$f" "$d")
		rec "$(jq -c --arg i "$impl" --argjson r "$r" '{kind:"blob", case:"push_blob", impl:$i, run:$r} + .' <<<"$out")"
		log "push_blob $impl run $r: $(jq -r '"\(.bytes / .seconds / 1e6 | floor) MB/s"' <<<"$out")"
		out=$(timed_pull "$url" "bench-$impl/blob" "$d") || die "pull from $impl failed"
		check_pull "$impl" "$url" "bench-$impl/blob" "$d"
		rec "$(jq -c --arg i "$impl" --argjson r "$r" '{kind:"blob", case:"pull_blob", impl:$i, run:$r} + .' <<<"$out")"
		log "pull_blob $impl run $r: $(jq -r '"\(.bytes / .seconds / 1e6 | floor) MB/s"' <<<"$out")"
		# As docker, podman and skopeo push a layer: the digest comes only with the final
		# PUT, so the registry must stage the bytes first (one PATCH with the whole blob).
		head -c $((BLOB_MIB << 20)) /dev/urandom >"$f"
		d=sha256:$(sha256sum "$f" | cut -d' ' -f1)
		out=$(python3 "$HERE/blobclient.py" push-chunked "$url" "bench-$impl/blob" "$f" "$d" $((BLOB_MIB << 20)))
		rec "$(jq -c --arg i "$impl" --argjson r "$r" '{kind:"blob", case:"push_blob_patch", impl:$i, run:$r} + .' <<<"$out")"
		log "push_blob_patch $impl run $r: $(jq -r '"\(.bytes / .seconds / 1e6 | floor) MB/s"' <<<"$out")"
		rm -f "$f"
	done
	if [ "$CACHE" = 1 ]; then cache_cases "$r"; fi
done

# ---------------------------------------------------------------- parallel skopeo copies
mkdir -p "$W/containers/registries.d"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$W/containers/policy.json"
# skopeo_all SRC_FMT DST_FMT DIR: IMAGES copies in parallel (%d: the image number); prints
# {"seconds":..,"failures":..}.
skopeo_all() {
	local src=$1 dst=$2 dir=$3 i t0 t1 fails=0 pids=()
	mkdir -p "$dir/home" "$dir/tmp"
	t0=$(date +%s.%N)
	for ((i = 1; i <= IMAGES; i++)); do
		# shellcheck disable=SC2059 # the formats are ours
		_CONTAINERS_ROOTLESS_UID=4242 HOME=$dir/home XDG_DATA_HOME=$dir/home TMPDIR=$dir/tmp \
			skopeo --policy "$W/containers/policy.json" --registries.d "$W/containers/registries.d" \
			--tmpdir "$dir/tmp" --command-timeout 300s copy -q --src-tls-verify=false --dest-tls-verify=false \
			"$(printf "$src" "$i")" "$(printf "$dst" "$i")" >>"$W/skopeo.log" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || fails=$((fails + 1)); done
	t1=$(date +%s.%N)
	echo "{\"seconds\":$(elapsed "$t0" "$t1"),\"failures\":$fails}"
}
log "skopeo: $IMAGES parallel pushes, then $IMAGES parallel pulls, $RUNS runs"
for ((r = 1; r <= RUNS; r++)); do
	for impl in $(order "$r"); do
		a=$(url_of "$impl")
		a=${a#http://}
		out=$(skopeo_all "oci:$W/images/$impl-$r-img%d:latest" "docker://$a/skopeo-$impl-$r/img%d:latest" "$W/sk-$impl-$r")
		rec "$(jq -c --arg i "$impl" --argjson r "$r" --argjson n "$IMAGES" '{kind:"skopeo", case:"skopeo_push", impl:$i, run:$r, images:$n} + .' <<<"$out")"
		log "skopeo_push $impl run $r: $out"
		rm -rf "$W/pulled-images"
		mkdir -p "$W/pulled-images"
		out=$(skopeo_all "docker://$a/skopeo-$impl-$r/img%d:latest" "oci:$W/pulled-images/img%d:latest" "$W/sk-$impl-$r-pull")
		rec "$(jq -c --arg i "$impl" --argjson r "$r" --argjson n "$IMAGES" '{kind:"skopeo", case:"skopeo_pull", impl:$i, run:$r, images:$n} + .' <<<"$out")"
		log "skopeo_pull $impl run $r: $out"
	done
done

# ---------------------------------------------------------------- manifest HEAD
log "manifest HEAD: $CONNS connections, ${DURATION}s, $RUNS runs"
for impl in "${IMPLS[@]}"; do
	curl -sf -o /dev/null -I -H "Accept: $MT_MANIFEST" "$(url_of "$impl")/v2/skopeo-$impl-1/img1/manifests/latest" ||
		die "no manifest to HEAD on $impl"
done
for ((r = 1; r <= RUNS; r++)); do
	for impl in $(order "$r"); do
		ab -q -i -k -r -s 30 -c "$CONNS" -t "$DURATION" -n 100000000 -e "$W/ab.csv" -H "Accept: $MT_MANIFEST" \
			"$(url_of "$impl")/v2/skopeo-$impl-1/img1/manifests/latest" >"$W/ab.out" 2>&1 || true
		out=$(python3 "$HERE/report.py" parse-ab "$W/ab.out" "$W/ab.csv")
		rec "$(jq -c --arg i "$impl" --argjson r "$r" --argjson n "$CONNS" '{kind:"req", case:"manifest_head", impl:$i, run:$r, conns:$n} + .' <<<"$out")"
		log "manifest_head $impl run $r: $(jq -r '"\(.rps | floor) req/s p50 \(.p50_ms) ms p99 \(.p99_ms) ms errors \(.errors)"' <<<"$out")"
	done
done

# ---------------------------------------------------------------- summary
python3 - "$RAW" "$OUT/summary.txt" <<'PY'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
meta = next(r for r in recs if r["kind"] == "meta")
impls = ["cluster", "node", "distribution"]
lines = ["scale-out benchmark %s (commit %s): %d runs, %d MiB blob, %d skopeo images, %d connections, %d cores" % (
    meta["date"], meta["commit"][:12], meta["runs"], meta["blob_mib"], meta["skopeo_images"], meta["conns"], meta["cores"]),
    "cluster = 3 berthd nodes behind haproxy, node = 1 of them directly, both on PostgreSQL %s + Ceph RGW %s;"
    " distribution = docker-registry %s, s3 driver, same RGW" % (meta["postgresql"], meta["ceph"], meta["distribution"]), ""]

def med(case, f, kind):
    out = {}
    for i in impls:
        xs = [f(r) for r in recs if r["kind"] == kind and r["case"] == case and r["impl"] == i]
        out[i] = statistics.median(xs) if xs else float("nan")
    return out

def line(case, m, unit, higher_better=True):
    """Three lines: berthd's three nodes and one node against Distribution, like bench/run's,
    and what the two extra nodes bring."""
    ratio = lambda a, b: (a / b if higher_better else b / a) if a and b else float("nan")
    return "\n".join([
        "%s (3 nodes + haproxy): berthd %s, distribution %s, ratio %.2fx" % (
            case, unit(m["cluster"]), unit(m["distribution"]), ratio(m["cluster"], m["distribution"])),
        "%s (1 node): berthd %s, distribution %s, ratio %.2fx" % (
            case, unit(m["node"]), unit(m["distribution"]), ratio(m["node"], m["distribution"])),
        "%s: 3 nodes / 1 node %.2fx" % (case, ratio(m["cluster"], m["node"]))])

mbs = lambda v: "%.0f MB/s" % (v / 1e6)
for case in ("push_blob", "push_blob_patch", "pull_blob"):
    lines.append(line(case, med(case, lambda r: r["bytes"] / r["seconds"], "blob"), mbs))
if meta.get("blob_cache"):
    # Against Distribution's pull_blob and berthd's own without the cache, in the same runs.
    rate = lambda r: r["bytes"] / r["seconds"]
    plain = med("pull_blob", rate, "blob")
    for case in ("pull_blob_cold", "pull_blob_warm"):
        m = med(case, rate, "blob")
        for i, what in (("cluster", "3 nodes + haproxy"), ("node", "1 node")):
            rs = [r for r in recs if r["kind"] == "blob" and r["case"] == case and r["impl"] == i]
            xs = [rate(r) for r in rs]
            # Warm GETs count as such only if every node (node 1 alone) held the file before.
            full = 3 if i == "cluster" else 1
            note = "" if case.endswith("cold") else ", %d of them after the fill completed" % sum(
                1 for r in rs if (r.get("cached_nodes") or 0) >= full)
            lines.append("%s (%s, --blob-cache): berthd %s (range %s-%s, %d GETs%s), distribution %s, ratio %.2fx;"
                         " berthd without the cache %s, ratio %.2fx" % (
                             case, what, mbs(m[i]), mbs(min(xs)) if xs else "-", mbs(max(xs)) if xs else "-", len(xs),
                             note, mbs(plain["distribution"]), m[i] / plain["distribution"], mbs(plain[i]),
                             m[i] / plain[i]))
secs = lambda v: "%.2f s" % v
for case in ("skopeo_push", "skopeo_pull"):
    m = med(case, lambda r: r["seconds"], "skopeo")
    fails = sum(r["failures"] for r in recs if r["kind"] == "skopeo" and r["case"] == case)
    lines.append(line(case, m, secs, higher_better=False) + ("; %d copies FAILED" % fails if fails else ""))
m = med("manifest_head", lambda r: r["rps"], "req")
errs = sum(max(r["errors"], 0) for r in recs if r["kind"] == "req")
lines.append(line("manifest_head", m, lambda v: "%.0f req/s" % v) + ("; %d errors" % errs if errs else ""))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
cp "$W/cluster/haproxy.cfg" "$OUT/haproxy.cfg"
sed '/secretkey\|accesskey/d' "$W/distribution.yml" >"$OUT/distribution.yml"
cat "$OUT/summary.txt"
log "done: $OUT"
