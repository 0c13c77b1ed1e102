#!/usr/bin/env bash
# berth's client speed against podman and skopeo (issue 4, "Speed"), side by side in one run:
#   1. `berth run --rm IMAGE true` vs `podman run --rm IMAGE true`, image already local
#      (podman with runc, cgroupfs and lowered ulimits, set up as tests/lib/podman-setup.sh does);
#   2. pulling a ~50 MB image (busybox plus a layer of Debian's own files from this machine:
#      python3.11, perl modules, gcc) from a local berthd: `berth pull` vs `skopeo copy` to an OCI
#      layout plus unpacking the layers with tar, vs `podman pull`.
# Not a test: nothing runs it automatically. Needs root, a built tree (./run test or make),
# hyperfine, skopeo, podman, runc. Writes bench/results/<UTC date>-client/results.md.
#
# usage: bench/client.sh [--runs N] [--out DIR] [--keep]
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
RUNS=20
PULL_RUNS=5
OUT=$TOP/bench/results/$(date -u +%Y-%m-%dT%H%M%SZ)-client
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=${2:?}; PULL_RUNS=$(( ${2:?} / 4 > 2 ? ${2:?} / 4 : 2 )); shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/client.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/client.sh: needs root" >&2; exit 1; }
for b in "$TOP/berth" "$TOP/berthd"; do
	[ -x "$b" ] || { echo "bench/client.sh: $b is not built (./run test, or make)" >&2; exit 1; }
done
for c in hyperfine skopeo podman runc jq python3; do
	command -v $c >/dev/null || { echo "bench/client.sh: $c is missing (apt-get install $c)" >&2; exit 1; }
done

export BERTHD=$TOP/berthd BERTH_TEST_TMP=${BENCH_TMP:-/var/tmp}
. "$TOP/tests/lib/berthd.sh"
. "$TOP/tests/lib/podman-setup.sh"
berth_test_init berth-client-bench
[ "$KEEP" = 1 ] && export BERTH_KEEP_TMP=1
W=$TEST_DIR
mkdir -p "$OUT"
BERTH="$TOP/berth --root $W/berth-root"
echo "# scratch: $W; results: $OUT" >&2

# ---------------------------------------------------------------- images and registry
"$TOP/tests/fixtures/mkimage.sh" "$W/small" --tag v1 --seed bench-small >/dev/null
"$TOP/tests/fixtures/mkimage.sh" "$W/big" --tag v1 --seed bench-big >/dev/null
# A second layer of real Debian files, so unpacking meets thousands of small files.
python3 - "$W/big" <<'PY'
import gzip, hashlib, json, os, subprocess, sys
out = sys.argv[1]
def blob(d): return f"{out}/blobs/sha256/{d.split(':')[1]}"
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
# ~15 MB of small files (python, perl) and ~38 MB of big ones (gcc's cc1, cc1plus, lto1).
gcc = "usr/lib/gcc/x86_64-linux-gnu/12/"
dirs = [d for d in ("usr/lib/python3.11", "usr/share/perl", "usr/share/perl5", gcc + "cc1", gcc + "cc1plus",
                    gcc + "lto1") if os.path.exists("/" + d)]
raw = subprocess.run(["tar", "-C", "/", "--sort=name", "--mtime=@1704067200", "--owner=0", "--group=0",
                      "--numeric-owner", "--exclude=__pycache__", "-cf", "-"] + dirs,
                     check=True, stdout=subprocess.PIPE).stdout
idx = json.load(open(out + "/index.json"))
top = idx["manifests"][0]
man = json.load(open(blob(top["digest"])))
cfg = json.load(open(blob(man["config"]["digest"])))
cfg["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(raw).hexdigest())
man["layers"].append(dict(mediaType="application/vnd.oci.image.layer.v1.tar+gzip",
                          **put(gzip.compress(raw, compresslevel=6, mtime=0))))
man["config"] = dict(man["config"], **put(json.dumps(cfg).encode()))
m = put(json.dumps(man).encode())
top.update(m)
json.dump(idx, open(out + "/index.json", "w"))
PY
BIG_BYTES=$(jq '[.layers[].size] | add' "$W/big/blobs/sha256/$(jq -r '.manifests[0].digest' "$W/big/index.json" | cut -d: -f2)")
berthd_start "$W/berthd"
B=$BERTHD_ADDR
skopeo_cmd copy --dest-tls-verify=false "oci:$W/small:v1" "docker://$B/bench/small:v1" >/dev/null
skopeo_cmd copy --dest-tls-verify=false "oci:$W/big:v1" "docker://$B/bench/big:v1" >/dev/null

podman_setup "$W/podman"
podman_allow_http "$B"
PODMAN=$(printf '%q ' "${PODMAN_CMD[@]}")
SKOPEO=$(printf '%q ' skopeo --policy "$PODMAN_DIR/policy.json" 2>/dev/null)
[ -f "$PODMAN_DIR/policy.json" ] || SKOPEO="skopeo --insecure-policy "
why=$(podman_can_run) || { echo "bench/client.sh: podman cannot run here: $why" >&2; exit 1; }
podman_cmd pull -q --tls-verify=false "$B/bench/small:v1" >/dev/null
$BERTH pull -q "$B/bench/small:v1" >/dev/null

# ---------------------------------------------------------------- 1. run
hyperfine --shell=bash --warmup 3 --runs "$RUNS" --export-json "$W/run.json" \
	-n "berth run --rm" "$BERTH run --rm $B/bench/small:v1 true" \
	-n "podman run --rm" "$PODMAN run --rm --cgroup-parent $PODMAN_CGROUP_PARENT $B/bench/small:v1 true" >&2

# ---------------------------------------------------------------- 2. pull
cat >"$W/skopeo-unpack.sh" <<SH
#!/bin/sh
# skopeo copy to an OCI layout, then every layer unpacked in order with tar.
set -e
$SKOPEO copy -q --src-tls-verify=false docker://$B/bench/big:v1 oci:$W/oci:big
m=\$(jq -r '.manifests[0].digest' $W/oci/index.json | cut -d: -f2)
mkdir -p $W/unpacked
for l in \$(jq -r '.layers[].digest' $W/oci/blobs/sha256/\$m | cut -d: -f2); do
	tar -xzf $W/oci/blobs/sha256/\$l -C $W/unpacked
done
SH
chmod +x "$W/skopeo-unpack.sh"
hyperfine --shell=bash --warmup 1 --runs "$PULL_RUNS" --export-json "$W/pull.json" \
	-n "berth pull" --prepare "rm -rf $W/pull-root" "$TOP/berth --root $W/pull-root pull -q $B/bench/big:v1" \
	-n "skopeo copy + tar unpack" --prepare "rm -rf $W/oci $W/unpacked" "$W/skopeo-unpack.sh" \
	-n "podman pull" --prepare "$PODMAN rmi -f $B/bench/big:v1 >/dev/null 2>&1 || true" \
	"$PODMAN pull -q --tls-verify=false $B/bench/big:v1" >&2

# ---------------------------------------------------------------- results
row() { jq -r --arg n "$2" '.results[] | select(.command == $n) | "| \($n) | \(.mean * 1000 | floor) ms | \(.stddev * 1000 | floor) ms | \(.min * 1000 | floor) ms |"' "$1"; }
mean() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .mean' "$1"; }
{
	echo "# berth client benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "$(nproc) CPUs, kernel $(uname -r), $(podman --version), $(runc --version | head -1), $(skopeo --version)."
	echo
	echo "## run --rm IMAGE true (image local, $RUNS runs)"
	echo
	echo "| command | mean | stddev | min |"
	echo "| --- | --- | --- | --- |"
	row "$W/run.json" "berth run --rm"
	row "$W/run.json" "podman run --rm"
	echo
	awk -v b="$(mean "$W/run.json" "berth run --rm")" -v p="$(mean "$W/run.json" "podman run --rm")" \
		'BEGIN { printf "berth takes %.1f%% of podman'"'"'s time (target: at most 20%%).\n", 100 * b / p }'
	echo
	echo "## pull of a $((BIG_BYTES / 1024 / 1024)) MiB image (2 layers, compressed) from a local berthd ($PULL_RUNS runs)"
	echo
	echo "| command | mean | stddev | min |"
	echo "| --- | --- | --- | --- |"
	row "$W/pull.json" "berth pull"
	row "$W/pull.json" "skopeo copy + tar unpack"
	row "$W/pull.json" "podman pull"
} >"$OUT/results.md"
cp "$W/run.json" "$W/pull.json" "$OUT/"
cat "$OUT/results.md"
# podman_teardown and the scratch folder's removal run on exit (tests/lib helpers); they
# expect a lenient shell, as the tests have.
set +euo pipefail
