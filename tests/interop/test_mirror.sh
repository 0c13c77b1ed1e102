#!/usr/bin/env bash
# berthd as a pull-through cache (--mirror): upstreams are a second berthd (at the root),
# Debian's docker-registry without auth (prefix dist/) and with htpasswd auth (prefix
# priv/, credentials from the config file), and tests/interop/bad_upstream.py (prefix
# bad/), which serves a corrupt blob, rate-limits, hangs, and counts its downloads.
# Pulls go through skopeo, podman and `berth pull`; the cached tag survives the upstream
# going away; a moved tag is followed after the TTL; writes to mirrored names are DENIED;
# ten parallel pulls of one uncached 200 MiB blob make one upstream download.
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/interop/test_mirror.sh  (tests/run sets both)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
. "$HERE/../lib/podman-setup.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}
BERTH_BIN=$BERTH_TOP/berth

rut_require
berth_test_init interop-mirror || { echo "Bail out! cannot create a scratch directory"; exit 1; }
for c in skopeo podman jq curl python3; do
	command -v $c >/dev/null || { echo "not ok 1 - $c is not installed (scripts/deps.sh test)"; exit 1; }
done
[ -x "$DOCKER_REGISTRY" ] || { echo "not ok 1 - $DOCKER_REGISTRY is not installed (scripts/deps.sh test)"; exit 1; }
[ -x "$BERTH_BIN" ] || { echo "Bail out! $BERTH_BIN is not built"; exit 1; }

IMG=$TEST_DIR/images
OUT=$TEST_DIR/out
mkdir -p "$IMG" "$OUT"
export BERTH_CONFIG_DIR=$TEST_DIR/berth-config
mkdir -p "$BERTH_CONFIG_DIR"
berth() { timeout 60 "$BERTH_BIN" --root "$TEST_DIR/berth-root" "$@"; }
TTL=3 # the root upstream's TTL (seconds), short so the test sees revalidation

build_fixtures() {
	"$MKIMAGE" "$IMG/app" --layers 2 --tag v1 --seed mirror-app &&
		"$MKIMAGE" "$IMG/app2" --layers 2 --tag v2 --seed mirror-app-2 &&
		"$MKIMAGE" "$IMG/multi" --layers 2 --platforms linux/amd64,linux/arm64 --tag multi --seed mirror-multi
}
tap_check "mkimage.sh builds the fixture layouts" build_fixtures || { echo "Bail out! no fixtures"; exit 1; }
APP=$(layout_top_digest "$IMG/app" v1)
APP2=$(layout_top_digest "$IMG/app2" v2)
MULTI=$(layout_top_digest "$IMG/multi" multi)

copy() { skopeo_cmd copy -q --src-tls-verify=false --dest-tls-verify=false "$@"; }

# ---------------------------------------------------------------- upstreams

start_upstreams() {
	_berthd_spawn "$TEST_DIR/upstream" || return 1
	UP_PID=$_SPAWN_PID UP=127.0.0.1:$_SPAWN_PORT
	copy "oci:$IMG/app:v1" "docker://$UP/library/app:v1" &&
		copy "oci:$IMG/app:v1" "docker://$UP/library/app:moving" &&
		copy --all "oci:$IMG/multi:multi" "docker://$UP/team/multi:multi" || return 1
	distribution_start "$TEST_DIR/dist" || return 1
	DIST=$DIST_ADDR
	copy "oci:$IMG/app:v1" "docker://$DIST/tools/app:v1" || return 1
	python3 -c 'import crypt; print("mirroruser:" + crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
		>"$TEST_DIR/htpasswd" 2>/dev/null || return 1
	distribution_start "$TEST_DIR/dist-auth" --htpasswd "$TEST_DIR/htpasswd" || return 1
	PRIV=$DIST_ADDR
	copy --dest-creds mirroruser:s3cret "oci:$IMG/app:v1" "docker://$PRIV/private/app:v1" || return 1
	python3 "$HERE/bad_upstream.py" "$TEST_DIR/bad.port" --big-mb 200 --rate-mb 150 2>"$TEST_DIR/bad.log" &
	BAD_PID=$!
	_berth_pids+=("$BAD_PID")
	for _ in $(seq 100); do [ -s "$TEST_DIR/bad.port" ] && break; sleep 0.1; done
	[ -s "$TEST_DIR/bad.port" ] || { echo "bad_upstream.py did not start"; cat "$TEST_DIR/bad.log"; return 1; }
	BAD=127.0.0.1:$(cat "$TEST_DIR/bad.port")
}
tap_check "upstreams: berthd, docker-registry, docker-registry with htpasswd, bad_upstream.py" start_upstreams ||
	{ echo "Bail out! the upstreams did not start"; exit 1; }

# A berthd with accounts, as Docker Hub: anonymous Bearer tokens for public repositories,
# credentialed ones for private repositories.
start_token_upstream() {
	local data=$TEST_DIR/upstream-token
	BERTH_TEST_AUTH=token _berthd_spawn "$data" || return 1
	UPT=127.0.0.1:$_SPAWN_PORT
	printf 'alice-pw-1\n' | "$BERTHD" user add alice --password-stdin --data "$data" >/dev/null || return 1
	copy --dest-creds alice:alice-pw-1 "oci:$IMG/app:v1" "docker://$UPT/alice/pub:v1" &&
		copy --dest-creds alice:alice-pw-1 "oci:$IMG/app2:v2" "docker://$UPT/alice/priv:v2" &&
		"$BERTHD" repo visibility alice/pub public --data "$data" >/dev/null
}
tap_check "upstream berthd with --auth token: alice/pub public, alice/priv private" start_token_upstream

# ---------------------------------------------------------------- the mirror

start_mirror() {
	echo s3cret >"$TEST_DIR/priv.password"
	# Upstreams with credentials belong in the config file (a --mirror flag would replace
	# the file's whole list).
	cat >"$TEST_DIR/berthd.conf" <<-EOF
		mirror = http://$UP ttl=$TTL
		mirror = dist=http://$DIST
		mirror = bad=http://$BAD
		mirror = priv=http://$PRIV username=mirroruser password-file=$TEST_DIR/priv.password
		mirror = tok=http://$UPT
		mirror = tokauth=http://$UPT username=alice password=alice-pw-1 ttl=60
		mirror-timeout = 2
	EOF
	berthd_start "$TEST_DIR/mirror" --config "$TEST_DIR/berthd.conf" --log-level info --mirror-ttl 2
}
tap_check "berthd starts with six upstreams from its config file (root, dist/, bad/, priv/, tok/, tokauth/)" start_mirror ||
	{ echo "Bail out! the mirror did not start"; exit 1; }
M=$BERTHD_ADDR
MDATA=$TEST_DIR/mirror

bad_config() {
	local out
	out=$("$BERTHD" --data "$TEST_DIR/never" --mirror "a=ftp://x" 2>&1) && return 1
	grep -q "http:// or https://" <<<"$out" || { echo "$out"; return 1; }
	out=$("$BERTHD" --data "$TEST_DIR/never" --mirror "http://a" --mirror "http://b" 2>&1) && return 1
	grep -q "two upstreams" <<<"$out" || { echo "$out"; return 1; }
	out=$("$BERTHD" --data "$TEST_DIR/never" --mirror "Bad/x=http://a" 2>&1) && return 1
	grep -q "prefix" <<<"$out" || { echo "$out"; return 1; }
	# A prefix of several segments would share its first one with an account's namespace,
	# which the cache's owners (the admins) and that account would then both manage.
	out=$("$BERTHD" --data "$TEST_DIR/never" --mirror "a/b=http://a" 2>&1) && return 1
	grep -q "the prefix 'a/b' must be one lowercase path component" <<<"$out" || { echo "$out"; return 1; }
	out=$("$BERTHD" --data "$TEST_DIR/never" --mirror "http://a colour=red" 2>&1) && return 1
	grep -q "unknown setting" <<<"$out" || { echo "$out"; return 1; }
	out=$("$BERTHD" --data "$TEST_DIR/never" --mirror "http://a username=u" 2>&1) && return 1
	grep -q "username and password go together" <<<"$out" || { echo "$out"; return 1; }
	out=$(BERTH_MIRROR="http://a, http://b" "$BERTHD" --data "$TEST_DIR/never" 2>&1) && return 1
	grep -q "two upstreams" <<<"$out" || { echo "$out"; return 1; }
	[ ! -e "$TEST_DIR/never/berth.db" ] || { echo "a refused configuration left a database"; return 1; }
}
tap_check "bad --mirror entries are refused with a clear message" bad_config

# ---------------------------------------------------------------- pulls through the mirror

tap_check "skopeo pulls library/app:v1 through the mirror (root upstream): identical image" \
	pull_back "docker://$M/library/app:v1" "$OUT/app" v1 "$IMG/app" v1

tap_check "skopeo pulls a two-platform index (--all) through the mirror: identical" \
	pull_back "docker://$M/team/multi:multi" "$OUT/multi" multi "$IMG/multi" multi --all

tap_check "prefix dist/ maps to docker-registry: same digest" expect_ref_digest "docker://$M/dist/tools/app:v1" "$APP"

tap_check "prefix priv/ pulls from docker-registry with htpasswd, credentials from the config file" \
	pull_back "docker://$M/priv/private/app:v1" "$OUT/priv" v1 "$IMG/app" v1

bearer_flow() {
	local code
	expect_ref_digest "docker://$M/tok/alice/pub:v1" "$APP" || return 1
	code=$(curl -s -o "$OUT/priv.json" -w '%{http_code}' "http://$M/v2/tok/alice/priv/manifests/v2")
	expect_eq "anonymous mirror of a private upstream repository" "$code" 404 &&
		expect_eq "code" "$(jq -r '.errors[0].code' "$OUT/priv.json")" MANIFEST_UNKNOWN &&
		grep -q "refused" "$OUT/priv.json" &&
		pull_back "docker://$M/tokauth/alice/priv:v2" "$OUT/tokpriv" v2 "$IMG/app2" v2
}
tap_check "Bearer token upstream: anonymous tokens for a public repository, credentialed for a private one" bearer_flow

ns_param() {
	local code
	code=$(curl -s -o "$OUT/ns.json" -w '%{http_code}' \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$M/v2/tools/app/manifests/v1?ns=$DIST") || return 1
	expect_eq "status of ?ns=$DIST" "$code" 200 &&
		expect_eq "digest" "sha256:$(sha256sum <"$OUT/ns.json" | cut -d' ' -f1)" "$APP" &&
		curl -sf "http://$M/v2/_catalog" | jq -e '.repositories | index("dist/tools/app")' >/dev/null
}
tap_check "containerd's ?ns= picks the upstream (dist/tools/app served for /v2/tools/app?ns=...)" ns_param

podman_pull() {
	local j
	podman_setup "$TEST_DIR/podman" && podman_allow_http "$M" || return 1
	timeout 90 "${PODMAN_CMD[@]}" pull -q $(podman_policy_args) --tls-verify=false "$M/dist/tools/app:v1" || return 1
	j=$(timeout 30 "${PODMAN_CMD[@]}" image inspect "$M/dist/tools/app:v1") || return 1
	expect_eq "Digest" "$(jq -r '.[0].Digest' <<<"$j")" "$APP"
}
tap_check "podman pulls through the mirror" podman_pull

berth_pull() {
	local out
	out=$(berth pull "$M/priv/private/app:v1" 2>&1) || { echo "$out"; return 1; }
	grep -q "Digest: $APP" <<<"$out" || { echo "$out"; return 1; }
}
tap_check "berth pull through the mirror" berth_pull

listed() {
	local j
	j=$(curl -sf "http://$M/api/v1/repositories?per_page=100") || return 1
	expect_eq "upstream of library/app" \
		"$(jq -r '.repositories[] | select(.name == "library/app") | .mirror.upstream' <<<"$j")" \
		"http://$UP/library/app" &&
		jq -e '.repositories[] | select(.name == "library/app") | .mirror.last_checked > 0' <<<"$j" >/dev/null &&
		curl -sf "http://$M/v2/_catalog" | jq -e '.repositories | index("library/app") and index("priv/private/app")' \
			>/dev/null
}
tap_check "cached repositories are in the catalog and /api/v1/repositories with mirror.upstream" listed

# ---------------------------------------------------------------- read-only

push_denied() {
	local out code
	out=$(copy "oci:$IMG/app2:v2" "docker://$M/library/app:v2" 2>&1) && { echo "push succeeded"; return 1; }
	grep -q "DENIED\|denied" <<<"$out" || { echo "$out"; return 1; }
	code=$(curl -s -o "$OUT/deny.json" -w '%{http_code}' -X DELETE "http://$M/v2/library/app/manifests/$APP")
	expect_eq "DELETE status" "$code" 403 &&
		expect_eq "code" "$(jq -r '.errors[0].code' "$OUT/deny.json")" DENIED &&
		grep -q "read-only pull-through cache" "$OUT/deny.json" &&
		expect_ref_digest "docker://$M/library/app:v1" "$APP"
}
tap_check "push and delete on a mirrored name: 403 DENIED, cache unchanged" push_denied

# ---------------------------------------------------------------- tags follow the upstream

# A webhook for mirror events of library/ receives what the cache stores (the moved tag below).
RXPORT=$(berth_free_port)
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "ab") as f:
            f.write(body + b"\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$RXPORT" "$TEST_DIR/hooks.jsonl" &
berth_on_exit "kill $! 2>/dev/null"
mirror_hook() {
	"$BERTHD" webhook add --data "$MDATA" --namespace library --url "http://127.0.0.1:$RXPORT/hook" \
		--events mirror --secret 0123456789abcdef
}
tap_check "berthd webhook add --events mirror for the namespace library" mirror_hook

move_tag() {
	local code
	expect_ref_digest "docker://$M/library/app:moving" "$APP" || return 1
	copy "oci:$IMG/app2:v2" "docker://$UP/library/app:moving" || return 1
	# Within the TTL the cached tag is served without asking the upstream.
	expect_ref_digest "docker://$M/library/app:moving" "$APP" || return 1
	sleep $((TTL + 1))
	expect_ref_digest "docker://$M/library/app:moving" "$APP2" &&
		pull_back "docker://$M/library/app:moving" "$OUT/moved" v2 "$IMG/app2" v2
}
tap_check "a tag moved upstream is followed after the TTL" move_tag

mirror_event() {
	for _ in $(seq 50); do
		grep -q "\"event\":\"mirror\".*\"tag\":\"moving\"" "$TEST_DIR/hooks.jsonl" 2>/dev/null && break
		sleep 0.2
	done
	cat "$TEST_DIR/hooks.jsonl"
	grep "\"tag\":\"moving\"" "$TEST_DIR/hooks.jsonl" | grep -q "\"event\":\"mirror\"" || return 1
	grep "\"tag\":\"moving\"" "$TEST_DIR/hooks.jsonl" | grep "\"pusher\":\"mirror\"" | grep -q "\"repository\":\"library/app\""
}
tap_check "the moved tag reaches the webhook as a mirror event (repository, tag, pusher mirror)" mirror_event

# ---------------------------------------------------------------- corrupt upstream

info=$(curl -sf "http://$BAD/_info")
LAYER=$(jq -r .layer <<<"$info")
BIG=$(jq -r .big <<<"$info")
BIG_SIZE=$(jq -r .big_size <<<"$info")

not_stored() {
	local d=$1
	[ ! -e "$MDATA/blobs/sha256/${d:7:2}/${d:7}" ] || { echo "blob file stored"; return 1; }
	[ -z "$(ls "$MDATA/uploads" 2>/dev/null)" ] || { echo "staging left:"; ls "$MDATA/uploads"; return 1; }
	python3 - "$MDATA/berth.db" "$d" <<-'EOF'
		import sqlite3, sys
		n = sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM blobs WHERE digest = ?", (sys.argv[2],)).fetchone()[0]
		sys.exit(f"recorded in the database: {n}" if n else 0)
	EOF
}

corrupt_rejected() {
	local rc
	curl -sf -X POST "http://$BAD/_mode/corrupt" >/dev/null || return 1
	curl -sf -o "$OUT/corrupt" "http://$M/v2/bad/img/blobs/$LAYER"
	rc=$?
	[ $rc -ne 0 ] || { echo "curl got the corrupt blob as complete"; return 1; }
	echo "curl exit status $rc (connection aborted)"
	! copy "docker://$M/bad/img:v1" "oci:$OUT/bad:v1" || { echo "skopeo copied a corrupt image"; return 1; }
	not_stored "$LAYER" && grep -q "download failed, nothing cached" "$BERTHD_LOG"
}
tap_check "an upstream blob not matching its digest: client aborted, nothing stored" corrupt_rejected

good_after() {
	curl -sf -X POST "http://$BAD/_mode/good" >/dev/null || return 1
	curl -sf -o "$OUT/good" "http://$M/v2/bad/img/blobs/$LAYER" || return 1
	expect_eq "digest" "sha256:$(sha256sum <"$OUT/good" | cut -d' ' -f1)" "$LAYER" &&
		[ -e "$MDATA/blobs/sha256/${LAYER:7:2}/${LAYER:7}" ] &&
		copy "docker://$M/bad/img:v1" "oci:$OUT/bad:v1"
}
tap_check "a later good transfer of the same blob is stored and served" good_after

# ---------------------------------------------------------------- one download for many

parallel_big() {
	local i pids=() rc=0 sums size
	for i in $(seq 10); do
		curl -sf -o "$OUT/big.$i" "http://$M/v2/bad/big/blobs/$BIG" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	[ $rc -eq 0 ] || { echo "a download failed"; return 1; }
	sums=$(sha256sum "$OUT"/big.* | cut -d' ' -f1 | sort | uniq -c)
	size=$(stat -c %s "$OUT/big.1")
	rm -f "$OUT"/big.*
	expect_eq "sha256 of the ten downloads" "$(echo $sums)" "10 ${BIG#sha256:}" &&
		expect_eq "size" "$size" "$BIG_SIZE" &&
		expect_eq "upstream downloads" "$(curl -sf "http://$BAD/_count/$BIG")" 1
}
tap_check "ten parallel pulls of one uncached 200 MiB blob: one upstream download, ten correct copies" parallel_big

# ---------------------------------------------------------------- bad days upstream

rate_limited() {
	curl -sf -X POST "http://$BAD/_mode/ratelimit" >/dev/null || return 1
	sleep 3 # past bad/'s TTL (--mirror-ttl 2)
	expect_ref_digest "docker://$M/bad/img:v1" "$(jq -r .manifest <<<"$info")" || return 1
	grep -q "bad/img:v1: could not revalidate" "$BERTHD_LOG" || { echo "no log line"; return 1; }
	code=$(curl -s -o "$OUT/429.json" -w '%{http_code}' "http://$M/v2/bad/other/manifests/v1")
	expect_eq "uncached while rate-limited" "$code" 429
}
tap_check "upstream rate-limiting (429): the cached tag is served, an uncached one is 429" rate_limited

slow_upstream() {
	local start end warned t
	curl -sf -X POST "http://$BAD/_mode/slow" >/dev/null || return 1
	sleep 3
	warned=$(grep -c "bad/img:v1: could not revalidate" "$BERTHD_LOG")
	start=$(date +%s)
	expect_ref_digest "docker://$M/bad/img:v1" "$(jq -r .manifest <<<"$info")" || return 1
	end=$(date +%s)
	[ $((end - start)) -le 10 ] || { echo "took $((end - start)) s"; return 1; }
	# Right after a failed revalidation the upstream is left alone for a while (back-off).
	t=$(curl -sf -o /dev/null -w '%{time_total}' -I "http://$M/v2/bad/img/manifests/v1") || return 1
	curl -sf -X POST "http://$BAD/_mode/good" >/dev/null
	expect_eq "revalidation warnings" "$(grep -c "bad/img:v1: could not revalidate" "$BERTHD_LOG")" \
		$((warned + 1)) && python3 -c "import sys; sys.exit(float('$t') > 1.5)" || { echo "second pull took $t s"; return 1; }
}
tap_check "a hanging upstream: the cached tag is served after --mirror-timeout, then without asking (back-off)" \
	slow_upstream

upstream_down() {
	local code
	_berth_kill "$UP_PID"
	sleep $((TTL + 1))
	pull_back "docker://$M/library/app:v1" "$OUT/app-down" v1 "$IMG/app" v1 || return 1
	grep -q "library/app:v1: could not revalidate" "$BERTHD_LOG" || { echo "no log line"; return 1; }
	code=$(curl -s -o "$OUT/down.json" -w '%{http_code}' "http://$M/v2/library/absent/manifests/v1")
	expect_eq "uncached while the upstream is down" "$code" 503 &&
		expect_eq "code" "$(jq -r '.errors[0].code' "$OUT/down.json")" UNAVAILABLE &&
		grep -q "upstream http://$UP is unavailable" "$OUT/down.json"
}
tap_check "upstream stopped: the cached tag still pulls; an uncached one is 503 UNAVAILABLE" upstream_down

# ---------------------------------------------------------------- access rules

access_rules() {
	local code
	berthd_stop
	BERTH_TEST_AUTH=token berthd_start "$TEST_DIR/mirror-auth" --mirror "http://$DIST" --default-visibility public ||
		return 1
	expect_ref_digest "docker://$BERTHD_ADDR/tools/app:v1" "$APP" || return 1
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$BERTHD_ADDR/v2/tools/app/blobs/uploads/")
	expect_eq "anonymous upload to a mirrored name" "$code" 403 || return 1
	berthd_stop
	BERTH_TEST_AUTH=token berthd_start "$TEST_DIR/mirror-private" --mirror "http://$DIST" || return 1
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$BERTHD_ADDR/v2/tools/app/manifests/v1")
	expect_eq "anonymous pull with private default visibility" "$code" 401
}
tap_check "with --auth token: anonymous pulls follow --default-visibility" access_rules

# Only administrators manage the cache, even when an account's name is the mirror's
# prefix; tags of cached repositories cannot be deleted through /api/v1 either, while an
# administrator may change a cached repository's visibility or drop it whole.
api_v1_cache() {
	local a=$1 method=$2 path=$3 body=(${4:+-H "Content-Type: application/json" -d "$4"})
	curl -s -o "$OUT/api.json" -w '%{http_code}' -u "$a" -X "$method" "${body[@]}" "http://$BERTHD_ADDR/api/v1$path"
}
cache_admin_only() {
	local data=$TEST_DIR/mirror-owner
	berthd_stop
	BERTH_TEST_AUTH=token berthd_start "$data" --mirror "up=http://$DIST" --default-visibility public || return 1
	printf 'admin-password-1\n' | "$BERTHD" user add admin --admin --password-stdin --data "$data" >/dev/null &&
		printf 'up-password-1\n' | "$BERTHD" user add up --password-stdin --data "$data" >/dev/null &&
		printf 'ann-password-1\n' | "$BERTHD" user add ann --password-stdin --data "$data" >/dev/null || return 1
	expect_ref_digest "docker://$BERTHD_ADDR/up/tools/app:v1" "$APP" || return 1
	expect_eq "admin deletes a cached tag" "$(api_v1_cache admin:admin-password-1 DELETE /repositories/up/tools/app/tags/v1)" 403 &&
		expect_eq "code" "$(jq -r '.errors[0].code' "$OUT/api.json")" DENIED &&
		grep -q "pull-through cache" "$OUT/api.json" &&
		expect_ref_digest "docker://$BERTHD_ADDR/up/tools/app:v1" "$APP" &&
		expect_eq "permissions of user up" "$(api_v1_cache up:up-password-1 GET /repositories/up/tools/app)" 200 &&
		expect_eq "up's admin permission" "$(jq -c .permissions "$OUT/api.json")" '{"pull":true,"push":false,"admin":false}' &&
		expect_eq "up deletes the cached repository" "$(api_v1_cache up:up-password-1 DELETE /repositories/up/tools/app)" 403 &&
		expect_eq "up changes its visibility" \
			"$(api_v1_cache up:up-password-1 PATCH /repositories/up/tools/app '{"visibility":"private"}')" 403 &&
		expect_eq "up deletes its tag" "$(api_v1_cache up:up-password-1 DELETE /repositories/up/tools/app/tags/v1)" 403 &&
		expect_eq "up adds a tag rule on its namespace" "$(api_v1_cache up:up-password-1 POST /tag-rules \
			'{"kind":"immutable","namespace":"up","pattern":"*"}')" 403 &&
		expect_eq "up adds a tag rule on the cached repository" "$(api_v1_cache up:up-password-1 POST /tag-rules \
			'{"kind":"immutable","repository":"up/tools/app","pattern":"*"}')" 403 &&
		expect_eq "up adds a webhook on its namespace" "$(api_v1_cache up:up-password-1 POST /webhooks \
			'{"namespace":"up","url":"http://127.0.0.1:9/x","secret":"0123456789abcdef0123"}')" 403 &&
		expect_eq "code" "$(jq -r '.errors[0].code' "$OUT/api.json")" DENIED &&
		expect_eq "up adds a webhook on the cached repository" "$(api_v1_cache up:up-password-1 POST /webhooks \
			'{"repository":"up/tools/app","url":"http://127.0.0.1:9/x","secret":"0123456789abcdef0123"}')" 403 &&
		expect_eq "admin adds a tag rule on the cached namespace" "$(api_v1_cache admin:admin-password-1 POST \
			/tag-rules '{"kind":"immutable","namespace":"up","pattern":"release-*"}')" 201 &&
		expect_eq "up lists the rules it may manage" "$(api_v1_cache up:up-password-1 GET /tag-rules)" 200 &&
		expect_eq "up's rules (not the admin's)" "$(jq -c .rules "$OUT/api.json")" '[]' &&
		expect_eq "ann, outside the cache, adds a tag rule on her namespace" "$(api_v1_cache ann:ann-password-1 POST \
			/tag-rules '{"kind":"immutable","namespace":"ann","pattern":"*"}')" 201 &&
		expect_eq "ann adds a webhook on her repository" "$(api_v1_cache ann:ann-password-1 POST /webhooks \
			'{"repository":"ann/x","url":"http://127.0.0.1:9/x","secret":"0123456789abcdef0123"}')" 201 &&
		expect_eq "admin changes the visibility" \
			"$(api_v1_cache admin:admin-password-1 PATCH /repositories/up/tools/app '{"visibility":"public"}')" 200 &&
		expect_eq "admin drops the cached repository" "$(api_v1_cache admin:admin-password-1 DELETE /repositories/up/tools/app)" 204 &&
		expect_eq "after the drop" "$(api_v1_cache admin:admin-password-1 GET /repositories/up/tools/app)" 404
}
tap_check "cached repositories: only admins manage them (also against user 'up' = the prefix); tags cannot be deleted via /api/v1" \
	cache_admin_only

tap_done
