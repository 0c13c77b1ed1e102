#!/usr/bin/env bash
# berthd maps libcurl only when a feature speaking HTTP outwards needs it (common/curl_lazy.c):
# not on disk storage with no mirror, webhook or replication rule, even across a push and a
# pull; at start-up with --mirror or with a webhook stored; at the first delivery of a
# webhook added while running. With libcurl.so.4 made unreadable (a private mount namespace
# binds /dev/null over it), berthd on disk storage still serves, and each feature needing it
# stops berthd (or berth) with one clear line naming the library and the feature.
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/cli/test_curl_lazy.sh  (tests/run sets both)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}
BERTH_BIN=$BERTH_TOP/berth
unset BERTH_TEST_ARGS # this is about disk storage and the options given here

rut_require
berth_test_init curl-lazy || { echo "Bail out! cannot create a scratch directory"; exit 1; }
for c in curl python3; do
	command -v $c >/dev/null || { echo "not ok 1 - $c is not installed (scripts/deps.sh test)"; exit 1; }
done

# maps_has PID PATTERN: a file whose name matches PATTERN is mapped into process PID.
maps_has() {
	awk '{print $6}' "/proc/$1/maps" | grep -q -- "$2"
}
# no_curl PID: PID maps libcurl nowhere (checking it also maps libsqlite3, so the maps were read).
no_curl() {
	maps_has "$1" libsqlite3 || { echo "libsqlite3 not in /proc/$1/maps: the maps were not read"; return 1; }
	! maps_has "$1" 'libcurl' || { grep curl "/proc/$1/maps"; return 1; }
}
has_curl() {
	maps_has "$1" 'libcurl\.so\.4' || { echo "libcurl.so.4 not in /proc/$1/maps"; return 1; }
}

# push_image ADDR REPO TAG: an image (config, one layer) through the v2 API, monolithic
# uploads; prints the manifest digest.
push_image() {
	python3 - "$@" <<'PY'
import hashlib, json, sys, urllib.request
addr, repo, tag = sys.argv[1:4]
def req(method, path, data=None, ctype=None):
    r = urllib.request.Request("http://%s%s" % (addr, path), data=data, method=method)
    if ctype:
        r.add_header("Content-Type", ctype)
    with urllib.request.urlopen(r, timeout=30) as resp:
        return resp.status, resp.headers
def blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    st, _ = req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), data, "application/octet-stream")
    assert st == 201, st
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": len(data)}
config = blob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode())
config["mediaType"] = "application/vnd.oci.image.config.v1+json"
layer = blob(b"curl-lazy layer %s\n" % tag.encode() * 1000)
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config, "layers": [layer]}).encode()
st, h = req("PUT", "/v2/%s/manifests/%s" % (repo, tag), m, "application/vnd.oci.image.manifest.v1+json")
assert st == 201, st
print(h["Docker-Content-Digest"])
PY
}
# pull_digest ADDR REPO TAG: the digest a GET of the manifest answers with.
pull_digest() {
	curl -sf -m 30 -o /dev/null -D - -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$1/v2/$2/manifests/$3" | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}'
}

# ---------------------------------------------------------------- disk storage, nothing outward

tap_check "berthd starts on disk storage" berthd_start "$TEST_DIR/plain" || { echo "Bail out! berthd did not start"; exit 1; }
PLAIN=$BERTHD_ADDR PLAIN_PID=$BERTHD_PID
tap_check "berthd on disk storage does not map libcurl at start-up" no_curl "$PLAIN_PID"
DIGEST=$(push_image "$PLAIN" library/app v1)
tap_check "a push to it works ($DIGEST)" test -n "$DIGEST"
tap_check "a pull from it answers the pushed digest" test "$(pull_digest "$PLAIN" library/app v1)" = "$DIGEST"
tap_check "after the push and the pull berthd still maps no libcurl" no_curl "$PLAIN_PID"

# ---------------------------------------------------------------- a pull-through cache

tap_check "berthd --mirror (upstream: the first berthd) starts" \
	berthd_start "$TEST_DIR/mirror" --mirror "http://$PLAIN" || { echo "Bail out! the mirror did not start"; exit 1; }
MIRROR=$BERTHD_ADDR MIRROR_PID=$BERTHD_PID
tap_check "berthd --mirror maps libcurl at start-up" has_curl "$MIRROR_PID"
tap_check "a pull through the mirror answers the upstream's digest" \
	test "$(pull_digest "$MIRROR" library/app v1)" = "$DIGEST"
berthd_stop

# ---------------------------------------------------------------- webhooks

# A receiver of webhook POSTs: appends each body's "action" (one line) to a file.
python3 - "$TEST_DIR/hook.port" "$TEST_DIR/hook.posts" <<'PY' 2>"$TEST_DIR/hook.log" &
import http.server, sys
port_file, posts = sys.argv[1:3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(posts, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
s.serve_forever()
PY
HOOK_PID=$!
_berth_pids+=("$HOOK_PID")
berth_on_exit kill "$HOOK_PID"
for _ in $(seq 100); do [ -s "$TEST_DIR/hook.port" ] && break; sleep 0.1; done
HOOK_URL=http://127.0.0.1:$(cat "$TEST_DIR/hook.port" 2>/dev/null)/hook

# wait_posts N: the receiver got at least N POSTs within 20 s.
wait_posts() {
	for _ in $(seq 200); do
		[ "$(wc -l <"$TEST_DIR/hook.posts" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "the receiver got $(wc -l <"$TEST_DIR/hook.posts" 2>/dev/null || echo 0) POSTs, not $1"
	return 1
}
tap_check "a webhook added to the running berthd (berthd webhook add)" \
	"$BERTHD" webhook add --repository library/app --url "$HOOK_URL" --data "$TEST_DIR/plain"
tap_check "berthd maps no libcurl before the webhook's first delivery" no_curl "$PLAIN_PID"
push_image "$PLAIN" library/app v2 >/dev/null
tap_check "a push is delivered to the webhook (libcurl loaded at the first delivery)" wait_posts 1
tap_check "berthd maps libcurl once it delivered" has_curl "$PLAIN_PID"
berthd_stop 2>/dev/null
_berth_kill "$PLAIN_PID"
tap_check "berthd restarted on the data with a webhook" berthd_start "$TEST_DIR/plain"
PLAIN=$BERTHD_ADDR PLAIN_PID=$BERTHD_PID
tap_check "with a webhook stored, berthd maps libcurl at start-up" has_curl "$PLAIN_PID"
push_image "$PLAIN" library/app v3 >/dev/null
tap_check "a push after the restart is delivered" wait_posts 2

_berth_kill "$PLAIN_PID" # its data (with the webhook) is started again below, without libcurl
# A data folder with a replication rule (berthd mirror add needs the database berthd creates).
tap_check "berthd starts on a data folder for replication" berthd_start "$TEST_DIR/repl"
berthd_stop
tap_check "a replication rule is stored (berthd mirror add)" \
	"$BERTHD" mirror add rule1 --source "http://$PLAIN" --repositories library/app --interval 0 \
	--data "$TEST_DIR/repl"

# ---------------------------------------------------------------- libcurl.so.4 missing

LIBCURL=$(ldconfig -p | awk '$1 == "libcurl.so.4" && /x86-64|64bit/ {print $NF; exit}')
[ -n "$LIBCURL" ] || LIBCURL=$(ldconfig -p | awk '$1 == "libcurl.so.4" {print $NF; exit}')
LIBCURL=$(readlink -f "$LIBCURL" 2>/dev/null)
# nocurl CMD ARGS...: CMD in a private mount namespace where libcurl.so.4 reads as empty.
nocurl() {
	unshare -m sh -c 'mount --bind /dev/null "$0" && exec "$@"' "$LIBCURL" "$@"
}
if [ -z "$LIBCURL" ] || ! nocurl true 2>/dev/null; then
	tap_skip "berthd without libcurl.so.4" "cannot hide $LIBCURL here (unshare -m and mount need root)"
	tap_done
fi
tap_check "the hiding works: python's ctypes cannot load libcurl.so.4 there" \
	nocurl python3 -c 'import ctypes, sys
try:
    ctypes.CDLL("libcurl.so.4")
except OSError:
    sys.exit(0)
sys.exit(1)'

# refused WHAT WANT CMD ARGS...: CMD exits non-zero within 20 s with one line on stderr
# naming libcurl.so.4, the Debian package, and WANT.
refused() {
	local want=$1 out rc
	shift
	out=$(nocurl timeout 20 "$@" 2>&1 >/dev/null </dev/null)
	rc=$?
	echo "exit $rc, stderr: $out"
	[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(wc -l <<<"$out")" -eq 1 ] &&
		grep -q 'libcurl\.so\.4 could not be loaded' <<<"$out" && grep -q 'libcurl4' <<<"$out" &&
		grep -qF -- "$want" <<<"$out"
}
port=$(berth_free_port)
tap_check "without libcurl, berthd --mirror stops at start-up with one clear line" \
	refused "the pull-through cache (--mirror)" "$BERTHD" --listen "127.0.0.1:$port" --data "$TEST_DIR/m2" \
	--auth none --log-level warn --mirror "http://$PLAIN"
tap_check "without libcurl, berthd with a webhook stored stops at start-up with one clear line" \
	refused "webhooks" "$BERTHD" --listen "127.0.0.1:$port" --data "$TEST_DIR/plain" --auth none --log-level warn
tap_check "without libcurl, berthd --storage s3 stops at start-up with one clear line" \
	refused "S3 storage" "$BERTHD" --listen "127.0.0.1:$port" --data "$TEST_DIR/s3" --auth none --log-level warn \
	--storage s3 --s3-endpoint http://127.0.0.1:9 --s3-bucket berth-test --s3-access-key k --s3-secret-key s
tap_check "without libcurl, berthd with a replication rule stops at start-up with one clear line" \
	refused "replication rules" "$BERTHD" --listen "127.0.0.1:$port" --data "$TEST_DIR/repl" --auth none --log-level warn
if [ -x "$BERTH_BIN" ]; then
	tap_check "without libcurl, berth pull stops with one clear line" \
		refused "" "$BERTH_BIN" --root "$TEST_DIR/berth-root" pull "$PLAIN/library/app:v1"
	tap_check "without libcurl, berth images (no registry) still works" \
		nocurl "$BERTH_BIN" --root "$TEST_DIR/berth-root" images
fi

# berthd on disk storage runs without libcurl, and a webhook added later fails its
# deliveries with the reason instead of crashing berthd.
start_nocurl() {
	local data=$TEST_DIR/nocurl
	mkdir -p "$data"
	NC_PORT=$(berth_free_port)
	NC_LOG=$TEST_DIR/nocurl.log
	# unshare execs sh, which execs berthd: $! is berthd's pid
	unshare -m sh -c 'mount --bind /dev/null "$0" && exec "$@"' "$LIBCURL" "$BERTHD" --listen "127.0.0.1:$NC_PORT" \
		--data "$data" --auth none --log-level warn --webhook-retry-base 1 --webhook-max-attempts 1 \
		</dev/null >"$NC_LOG" 2>&1 {_BERTH_STDERR}>&- &
	NC_PID=$!
	_berth_pids+=("$NC_PID")
	_berth_wait_ready "$NC_PID" "http://127.0.0.1:$NC_PORT/v2/" "$NC_LOG" 200
}
tap_check "without libcurl, berthd on disk storage starts" start_nocurl
tap_check "it serves a push and a pull" \
	test "$(pull_digest "127.0.0.1:$NC_PORT" library/app "$(push_image "127.0.0.1:$NC_PORT" library/app v1)")" != ""
tap_check "a webhook added to it" \
	"$BERTHD" webhook add --repository library/app --url "$HOOK_URL" --data "$TEST_DIR/nocurl"
push_image "127.0.0.1:$NC_PORT" library/app v2 >/dev/null
# delivery_failed: the delivery is marked failed with the reason, and berthd still answers.
delivery_failed() {
	local out
	for _ in $(seq 150); do
		out=$("$BERTHD" webhook deliveries 1 --data "$TEST_DIR/nocurl" 2>&1)
		grep -q 'libcurl\.so\.4 could not be loaded' <<<"$out" && grep -qw failed <<<"$out" && break
		sleep 0.1
	done
	echo "$out"
	grep -q 'libcurl\.so\.4 could not be loaded' <<<"$out" && grep -qw failed <<<"$out" &&
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NC_PORT/v2/")" = 200 ]
}
tap_check "its delivery fails, naming libcurl.so.4; berthd keeps serving" delivery_failed
tap_check "its log says why once, as an error" \
	test "$(grep -c ' error .*libcurl\.so\.4 could not be loaded' "$NC_LOG")" -eq 1
_berth_kill "$NC_PID"
tap_done
