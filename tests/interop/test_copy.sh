#!/usr/bin/env bash
# berth copy between real registries: two berthd instances and Debian's docker-registry (with
# and without htpasswd auth). A two-platform index with a signature-like referrer keeps every
# digest in both directions (the Referrers API on berthd, the sha256-<hex> tag schema on
# docker-registry, which lacks the API); --all-tags; blobs skipped on a second copy; mounts
# within one registry; errors: a missing source, denied destination, a corrupt source blob.
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/interop/test_copy.sh  (tests/run sets both)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}
BERTH_BIN=$BERTH_TOP/berth

[ "${TEST_REGISTRY_IMPL:-berthd}" = berthd ] || { echo "1..0 # SKIP needs two berthd instances"; exit 0; }
rut_require
berth_test_init interop-copy || { echo "Bail out! cannot create a scratch directory"; exit 1; }
command -v skopeo >/dev/null || { echo "Bail out! skopeo is not installed (scripts/deps.sh test)"; exit 1; }
[ -x "$DOCKER_REGISTRY" ] || { echo "Bail out! $DOCKER_REGISTRY is not installed (scripts/deps.sh test)"; exit 1; }
command -v htpasswd >/dev/null || { echo "Bail out! htpasswd is not installed (scripts/deps.sh test)"; exit 1; }

exec {TAP_OUT}>&1
IMG=$TEST_DIR/images
mkdir -p "$IMG"
export BERTH_CONFIG_DIR=$TEST_DIR/berth-config BERTH_ROOT=$TEST_DIR/berth-root
mkdir -p "$BERTH_CONFIG_DIR"
berth() { timeout 120 "$BERTH_BIN" "$@"; }

# expect_fail_with TEXT CMD...: CMD fails and its last line mentions TEXT (an ERE).
expect_fail_with() {
	local text=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ $rc -ne 0 ] || { echo "succeeded but should have failed:"; echo "$out"; return 1; }
	[ "$(grep -c . <<<"$(tail -n 1 <<<"$out")")" -eq 1 ] || { echo "no one-line error"; return 1; }
	grep -qiE -- "$text" <<<"$(tail -n 1 <<<"$out")" || { echo "error does not mention '$text':"; echo "$out"; return 1; }
	tail -n 1 <<<"$out" | cut -c1-300 | sed 's/^/#   berth said: /' >&"$TAP_OUT"
}

# put_blob ADDR REPO FILE [curl args]: upload FILE (POST, then PUT ?digest=).
put_blob() {
	local addr=$1 repo=$2 file=$3 d loc
	shift 3
	d=sha256:$(sha256sum <"$file" | cut -d' ' -f1)
	loc=$(curl -sS -o /dev/null -D - -X POST "$@" "http://$addr/v2/$repo/blobs/uploads/" | tr -d '\r' |
		sed -n 's/^[Ll]ocation: //p')
	[ -n "$loc" ] || { echo "no upload session at $addr/$repo"; return 1; }
	case $loc in http*) ;; *) loc=http://$addr$loc ;; esac
	case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
	[ "$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$@" -H 'Content-Type: application/octet-stream' \
		--data-binary "@$file" "$loc")" = 201 ] || { echo "blob upload to $addr/$repo failed"; return 1; }
}

# push_referrer ADDR REPO SUBJECT_DIGEST SUBJECT_SIZE SUBJECT_MT NAME: an artifact manifest
# (empty config, one layer) whose subject is the given manifest; prints its digest.
push_referrer() {
	local addr=$1 repo=$2 sd=$3 ss=$4 smt=$5 name=$6 f=$TEST_DIR/ref-$6 ld ls m
	printf '{}' >"$f.empty"
	printf 'signature of %s by %s\n' "$sd" "$name" >"$f.sig"
	put_blob "$addr" "$repo" "$f.empty" >&2 && put_blob "$addr" "$repo" "$f.sig" >&2 || return 1
	ld=sha256:$(sha256sum <"$f.sig" | cut -d' ' -f1)
	ls=$(stat -c %s "$f.sig")
	m=$(jq -cn --arg sd "$sd" --argjson ss "$ss" --arg smt "$smt" --arg ld "$ld" --argjson ls "$ls" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		artifactType: "application/vnd.example.signature",
		config: {mediaType: "application/vnd.oci.empty.v1+json", size: 2,
		         digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
		layers: [{mediaType: "application/vnd.example.sig", digest: $ld, size: $ls}],
		subject: {mediaType: $smt, digest: $sd, size: $ss},
		annotations: {"org.example.signer": "berth-test"}}')
	printf '%s' "$m" >"$f.json"
	local md=sha256:$(sha256sum <"$f.json" | cut -d' ' -f1)
	[ "$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary "@$f.json" "http://$addr/v2/$repo/manifests/$md")" = 201 ] || return 1
	echo "$md"
}

# referrers_of ADDR REPO DIGEST: the digests the Referrers API lists.
referrers_of() {
	curl -sSf "http://$1/v2/$2/referrers/$3" | jq -r '.manifests[].digest'
}

# same_image REF WANT_TOP: the manifest at REF hashes to WANT_TOP, and so does each of the
# two platforms' manifests of the fixture index by digest.
same_image() {
	local ref=$1 want=$2 m repo=${1%:*}
	expect_ref_digest "$ref" "$want" || return 1
	for m in $(jq -r '.manifests[].digest' "$IMG/multi/blobs/sha256/${MULTI#sha256:}"); do
		expect_ref_digest "$repo@$m" "$m" || return 1
	done
}

build_fixtures() {
	"$MKIMAGE" "$IMG/multi" --layers 2 --platforms linux/amd64,linux/arm64 --tag m --seed copy-multi &&
		"$MKIMAGE" "$IMG/tags" --layers 2 --tag v1 --seed copy-v1 &&
		"$MKIMAGE" "$IMG/tags" --layers 2 --tag v2 --seed copy-v2 &&
		"$MKIMAGE" "$IMG/tags" --layers 2 --tag v3 --seed copy-v3 &&
		"$MKIMAGE" "$IMG/big" --layers 2 --tag big --extra-kb 4096 --seed copy-big
}
tap_check "mkimage.sh builds the fixture layouts" build_fixtures || { echo "Bail out! no fixtures"; exit 1; }
MULTI=$(layout_top_digest "$IMG/multi" m)
MULTI_SIZE=$(stat -c %s "$IMG/multi/blobs/sha256/${MULTI#sha256:}")
BIG=$(layout_top_digest "$IMG/big" big)

tap_check "start berthd A (source)" berthd_start "$TEST_DIR/a" || { echo "Bail out! berthd A"; exit 1; }
A=$BERTHD_ADDR A_DATA=$TEST_DIR/a A_LOG=$BERTHD_LOG
tap_check "start berthd B (destination)" berthd_start "$TEST_DIR/b" --log-level info ||
	{ echo "Bail out! berthd B"; exit 1; }
B=$BERTHD_ADDR B_LOG=$BERTHD_LOG
tap_check "start docker-registry" distribution_start "$TEST_DIR/dist" || { echo "Bail out! docker-registry"; exit 1; }
D=$DIST_ADDR
htpasswd -Bbc "$TEST_DIR/htpasswd" copier 'copier-pw-1' >/dev/null 2>&1
tap_check "start docker-registry with htpasswd" distribution_start "$TEST_DIR/dist-auth" --htpasswd "$TEST_DIR/htpasswd" ||
	{ echo "Bail out! docker-registry (auth)"; exit 1; }
DA=$DIST_ADDR

seed_source() {
	push_layout "oci:$IMG/multi:m" "docker://$A/src/multi:m" "$MULTI" --all --preserve-digests || return 1
	SIG=$(push_referrer "$A" src/multi "$MULTI" "$MULTI_SIZE" application/vnd.oci.image.index.v1+json sig) || return 1
	expect_eq "referrers of the index on A" "$(referrers_of "$A" src/multi "$MULTI")" "$SIG" || return 1
	local t
	for t in v1 v2 v3; do
		push_layout "oci:$IMG/tags:$t" "docker://$A/src/tags:$t" "$(layout_top_digest "$IMG/tags" "$t")" || return 1
	done
	push_layout "oci:$IMG/big:big" "docker://$A/src/big:big" "$BIG"
}
SIG=
tap_check "seed berthd A: two-platform index with a referrer, a repository with 3 tags" seed_source

# --- berthd -> berthd: index, platforms, referrer

OUT=$TEST_DIR/out
copy_a_to_b() {
	berth copy "$A/src/multi:m" "$B/dst/multi:m" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	cat "$OUT"
	same_image "docker://$B/dst/multi:m" "$MULTI" || return 1
	expect_eq "referrers of the index on B" "$(referrers_of "$B" dst/multi "$MULTI")" "$SIG" || return 1
	expect_ref_digest "docker://$B/dst/multi@$SIG" "$SIG" || return 1
	grep -q '(1 referrers)' "$OUT" || { echo "the summary does not count the referrer"; return 1; }
	grep -qE 'blobs: [1-9][0-9]* copied, 0 mounted, ' "$OUT"
}
tap_check "berth copy berthd -> berthd: index, both platforms and the referrer keep their digests" copy_a_to_b

copy_again() {
	berth copy "$A/src/multi:m" "$B/dst/multi:m" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	cat "$OUT"
	grep -qE 'blobs: 0 copied, 0 mounted, [1-9][0-9]* already present; 0 bytes' "$OUT"
}
tap_check "a second copy skips every blob (HEAD on the destination)" copy_again

copy_mount() {
	berth copy "$B/dst/multi:m" "$B/other/multi:m" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	cat "$OUT"
	grep -qE 'blobs: 0 copied, [1-9][0-9]* mounted, [0-9]+ already present; 0 bytes' "$OUT" || return 1
	# B's access log: mounts answer 201 to the POST, and no blob was PUT into other/multi
	grep -qE '"POST /v2/other/multi/blobs/uploads/[^"]*" 201' "$B_LOG" || { echo "no 201 mount in B's log"; return 1; }
	! grep -qE '"PUT /v2/other/multi/blobs/uploads/' "$B_LOG" || { echo "a blob was uploaded to other/multi"; return 1; }
	same_image "docker://$B/other/multi:m" "$MULTI"
}
tap_check "within one registry blobs are mounted (POST ?mount=&from=), nothing streamed" copy_mount

copy_by_digest() {
	berth copy -q "$A/src/big@$BIG" "$B/bydigest/big" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	cat "$OUT"
	grep -q "@$BIG: $BIG" "$OUT" || return 1
	expect_ref_digest "docker://$B/bydigest/big@$BIG" "$BIG" || return 1
	pull_back "docker://$B/bydigest/big@$BIG" "$TEST_DIR/big-back" big "$IMG/big" big
}
tap_check "copy by digest of a 4 MiB-layer image; it pulls back identical" copy_by_digest

copy_all_tags() {
	berth copy --all-tags -j 2 "$A/src/tags" "$B/mirror/tags" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	cat "$OUT"
	expect_eq "tags on B" "$(skopeo_cmd list-tags --tls-verify=false "docker://$B/mirror/tags" | jq -r '.Tags | sort | join(" ")')" "v1 v2 v3" || return 1
	local t
	for t in v1 v2 v3; do
		expect_ref_digest "docker://$B/mirror/tags:$t" "$(layout_top_digest "$IMG/tags" "$t")" || return 1
	done
	grep -q 'copied 3 tags' "$OUT"
}
tap_check "--all-tags copies every tag with the same digests" copy_all_tags

# --- berthd -> docker-registry (no Referrers API) and back

copy_to_dist() {
	berth copy "$A/src/multi:m" "$D/dst/multi:m" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	cat "$OUT"
	same_image "docker://$D/dst/multi:m" "$MULTI" || return 1
	local fb="sha256-${MULTI#sha256:}"
	expect_eq "referrers tag on docker-registry" "$(ref_raw "docker://$D/dst/multi:$fb" | jq -r '.manifests[].digest')" "$SIG" || return 1
	expect_ref_digest "docker://$D/dst/multi@$SIG" "$SIG"
}
tap_check "berthd -> docker-registry: digests kept, the referrer listed by the sha256-<hex> tag" copy_to_dist

copy_from_dist() {
	berth copy "$D/dst/multi:m" "$B/fromdist/multi:m" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	cat "$OUT"
	same_image "docker://$B/fromdist/multi:m" "$MULTI" || return 1
	expect_eq "referrers of the index on B" "$(referrers_of "$B" fromdist/multi "$MULTI")" "$SIG"
}
tap_check "docker-registry -> berthd: the tag-schema referrer arrives in B's Referrers API" copy_from_dist

copy_dist_all_tags() {
	berth copy -q --all-tags "$A/src/tags" "$D/tags" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	berth copy -q --all-tags "$D/tags" "$B/fromdist/tags" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	cat "$OUT"
	expect_eq "tags on B" "$(skopeo_cmd list-tags --tls-verify=false "docker://$B/fromdist/tags" | jq -r '.Tags | sort | join(" ")')" "v1 v2 v3"
}
tap_check "--all-tags through docker-registry and back" copy_dist_all_tags

# --- tag list pagination: a small registry that serves 2 tags a page, whatever n asks

# pagereg.py LAYOUT PORTFILE: a read-only v2 registry serving an OCI layout; its tags list
# answers 2 tags a page with a relative Link header, and logs each tags request.
cat >"$TEST_DIR/pagereg.py" <<'PY'
import json, os, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
layout, portfile = sys.argv[1], sys.argv[2]
idx = json.load(open(layout + "/index.json"))
tags = sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in idx["manifests"])
def blob(d):
    p = f"{layout}/blobs/sha256/{d.split(':', 1)[1]}"
    return open(p, "rb").read() if os.path.exists(p) else None
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body=b"", headers={}):
        self.send_response(code)
        for k, v in headers.items(): self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_HEAD(self): self.do_GET()
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = u.path.split("/")
        if u.path == "/v2/": return self.send(200, b"{}")
        if u.path.endswith("/tags/list"):
            print("tags", u.query, flush=True)
            last = q.get("last", [""])[0]
            page = [t for t in tags if t > last][:2]
            h = {"Content-Type": "application/json"}
            if page and page[-1] != tags[-1]:
                h["Link"] = f'<{u.path}?n=2&last={page[-1]}>; rel="next"'
            return self.send(200, json.dumps({"name": "p", "tags": page}).encode(), h)
        if len(parts) >= 5 and parts[-2] == "manifests":
            ref = parts[-1]
            if not ref.startswith("sha256:"):
                ref = next((m["digest"] for m in idx["manifests"]
                            if m["annotations"]["org.opencontainers.image.ref.name"] == ref), None)
            data = blob(ref) if ref else None
            if data is None: return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}')
            return self.send(200, data, {"Content-Type": json.loads(data)["mediaType"], "Docker-Content-Digest": ref})
        if len(parts) >= 5 and parts[-2] == "blobs":
            data = blob(parts[-1])
            if data is None: return self.send(404)
            return self.send(200, data, {"Content-Type": "application/octet-stream"})
        self.send(404, b'{"errors":[{"code":"NOT_FOUND","message":"no such endpoint"}]}')
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY

paged_all_tags() {
	local pf=$TEST_DIR/pagereg.port i
	python3 "$TEST_DIR/pagereg.py" "$IMG/tags" "$pf" >"$TEST_DIR/pagereg.log" 2>&1 &
	_berth_pids+=("$!")
	for ((i = 0; i < 50; i++)); do [ -s "$pf" ] && break; sleep 0.1; done
	[ -s "$pf" ] || { echo "pagereg.py did not start"; return 1; }
	local P=127.0.0.1:$(cat "$pf")
	berth copy -q --all-tags "$P/paged/tags" "$B/paged/tags" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	cat "$OUT"
	grep -q 'copied 3 tags' "$OUT" || return 1
	expect_eq "tag requests" "$(grep -c '^tags' "$TEST_DIR/pagereg.log")" 2 || return 1
	grep -q 'last=v2' "$TEST_DIR/pagereg.log" || { echo "the second page was not asked for"; return 1; }
	for t in v1 v2 v3; do
		expect_ref_digest "docker://$B/paged/tags:$t" "$(layout_top_digest "$IMG/tags" "$t")" || return 1
	done
}
tap_check "--all-tags follows the tag list's Link pages; a source without the Referrers API or tag schema" paged_all_tags

# --- docker-registry with htpasswd

copy_auth() {
	berth copy --dest-creds 'copier:copier-pw-1' "$A/src/multi:m" "$DA/secure/multi:m" >"$OUT" 2>&1 ||
		{ cat "$OUT"; return 1; }
	local got
	got=$(skopeo_cmd inspect --raw --tls-verify=false --creds 'copier:copier-pw-1' "docker://$DA/secure/multi:m" |
		sha256sum | cut -d' ' -f1)
	expect_eq "digest on the htpasswd registry" "sha256:$got" "$MULTI" || return 1
	# and back, with the credentials from `berth login`
	echo 'copier-pw-1' | berth login -u copier --password-stdin "$DA" >/dev/null || return 1
	berth copy "$DA/secure/multi:m" "$B/fromauth/multi:m" >"$OUT" 2>&1 || { cat "$OUT"; return 1; }
	berth logout "$DA" >/dev/null
	same_image "docker://$B/fromauth/multi:m" "$MULTI"
}
tap_check "copy to and from docker-registry with htpasswd (--dest-creds, berth login)" copy_auth

tap_check "no credentials for the htpasswd registry: one-line error, non-zero exit" \
	expect_fail_with 'unauthorized|authentication required' berth copy "$A/src/multi:m" "$DA/secure/other:m"
tap_check "wrong credentials: rejected" \
	expect_fail_with 'unauthorized|rejected' berth copy --dest-creds 'copier:wrong' "$A/src/multi:m" "$DA/secure/other:m"

# --- berthd --auth token as the destination: Bearer tokens, and a push that is denied

# berthd --auth token answers an anonymous /v2/ with 401, which is just as ready.
eval "$(declare -f _berth_wait_ready | sed '1s/_berth_wait_ready/_berth_wait_ready_200/')"
_berth_wait_ready() { _berth_wait_ready_200 "$1" "$2" "$3" "$4 401"; }
token_dest() {
	berthd_start "$TEST_DIR/c" --auth token || return 1
	C=$BERTHD_ADDR
	printf 'alice-password-1\n' | "$BERTHD" user add alice --password-stdin --data "$TEST_DIR/c" &&
		printf 'bob-password-1\n' | "$BERTHD" user add bob --password-stdin --data "$TEST_DIR/c" || return 1
	berth copy -q --dest-creds 'alice:alice-password-1' "$A/src/multi:m" "$C/alice/multi:m" >"$OUT" 2>&1 ||
		{ cat "$OUT"; return 1; }
	local got
	got=$(skopeo_cmd inspect --raw --tls-verify=false --creds 'alice:alice-password-1' "docker://$C/alice/multi:m" |
		sha256sum | cut -d' ' -f1)
	expect_eq "digest on berthd --auth token" "sha256:$got" "$MULTI"
}
C=
tap_check "copy to berthd --auth token with the owner's credentials (Bearer token flow)" token_dest
tap_check "copy into another user's namespace: denied, one line, non-zero exit" \
	expect_fail_with 'denied' berth copy --dest-creds 'bob:bob-password-1' "$A/src/multi:m" "$C/alice/other:m"
tap_check "copy from berthd --auth token without credentials: unauthorized" \
	expect_fail_with 'unauthorized|authentication required' berth copy "$C/alice/multi:m" "$B/x/y:m"

# --- errors

tap_check "a missing source tag: not found" \
	expect_fail_with 'not found' berth copy "$A/src/multi:nope" "$B/dst/nope:x"
tap_check "a missing source repository: not found" \
	expect_fail_with 'not found|unknown' berth copy "$A/no/such:v1" "$B/dst/nope:x"
tap_check "a source registry that does not answer" \
	expect_fail_with "127.0.0.1:1" berth copy "127.0.0.1:1/src/multi:m" "$B/dst/nope:x"
tap_check "--all-tags with a tag: usage error" \
	expect_fail_with 'without a tag' berth copy --all-tags "$A/src/tags:v1" "$B/x/y"
tap_check "a bad reference: invalid" \
	expect_fail_with 'invalid|source' berth copy "$A/UPPER/case:v1" "$B/x/y"
tap_check "--parallel out of range" expect_fail_with 'parallel' berth copy -j 0 "$A/src/tags:v1" "$B/x/y"

corrupt_source() {
	# Damage one layer of v3 on A's disk, same size: the copy must refuse it and store nothing.
	local man layer f
	man=$(layout_top_digest "$IMG/tags" v3)
	layer=$(jq -r '.layers[-1].digest' "$IMG/tags/blobs/sha256/${man#sha256:}")
	f=$A_DATA/blobs/sha256/${layer:7:2}/${layer#sha256:}
	[ -f "$f" ] || { echo "no blob file $f"; return 1; }
	python3 - "$f" <<-'EOF' || return 1
	import sys
	p = sys.argv[1]
	b = bytearray(open(p, "rb").read())
	b[len(b) // 2] ^= 0xFF
	open(p, "wb").write(bytes(b))
	EOF
	expect_fail_with 'digest' berth copy "$A/src/tags:v3" "$B/corrupt/tags:v3" || return 1
	[ "$(curl -s -o /dev/null -w '%{http_code}' -I "http://$B/v2/corrupt/tags/blobs/$layer")" = 404 ] ||
		{ echo "the corrupt blob was stored on B"; return 1; }
	[ "$(curl -s -o /dev/null -w '%{http_code}' -I "http://$B/v2/corrupt/tags/manifests/v3")" = 404 ] ||
		{ echo "the manifest was stored on B"; return 1; }
}
tap_check "a source blob that does not match its digest: digest error, nothing stored" corrupt_source

tap_check "no copy wrote to the local store (BERTH_ROOT was never created)" bash -c "[ ! -e '$BERTH_ROOT' ]"
tap_check "help lists copy" bash -c "'$BERTH_BIN' --help | grep -q copy && '$BERTH_BIN' copy --help | grep -q -- --all-tags"

tap_done
