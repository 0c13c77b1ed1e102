#!/usr/bin/env bash
# Server-side replication: berthd (--auth token) copies images from a second berthd and from
# Debian's docker-registry with htpasswd auth, by rules managed with `berthd mirror
# add|list|del|run` and /api/v1/replication. New and moved tags arrive on the next run
# (asked for, or by the schedule), unchanged ones are skipped, digests are kept, the status
# of each rule is visible to admins only, and bad input is refused with a clear message.
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/interop/test_replication.sh  (tests/run sets both)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh

[ "${TEST_REGISTRY_IMPL:-berthd}" = berthd ] || { echo "1..0 # SKIP replication is berthd's"; exit 0; }
rut_require
berth_test_init interop-replication || { echo "Bail out! cannot create a scratch directory"; exit 1; }
command -v skopeo >/dev/null || { echo "Bail out! skopeo is not installed (scripts/deps.sh test)"; exit 1; }
[ -x "$DOCKER_REGISTRY" ] || { echo "Bail out! $DOCKER_REGISTRY is not installed (scripts/deps.sh test)"; exit 1; }
command -v htpasswd >/dev/null || { echo "Bail out! htpasswd is not installed (scripts/deps.sh test)"; exit 1; }

# berthd --auth token answers an anonymous /v2/ with 401, which is just as ready.
eval "$(declare -f _berth_wait_ready | sed '1s/_berth_wait_ready/_berth_wait_ready_200/')"
_berth_wait_ready() { _berth_wait_ready_200 "$1" "$2" "$3" "$4 401"; }

exec {TAP_OUT}>&1
FAIL_SAID=berthd # expect_fail_with's comments
IMG=$TEST_DIR/images
DATA=$TEST_DIR/local
mkdir -p "$IMG"
ADMIN_PW='admin pass word 1'
BOB_PW='bob-password-1'

mirror() { timeout 120 "$BERTHD" mirror "$@" --data "$DATA"; }

# api METHOD PATH [JSON] [USER:PW]: prints the body, then the status on the last line.
api() {
	local creds=${4:-admin:$ADMIN_PW}
	if [ -n "${3:-}" ]; then
		curl -sS -u "$creds" -X "$1" -H 'Content-Type: application/json' --data-binary "$3" \
			-w '\n%{http_code}' "http://$L/api/v1$2"
	else
		curl -sS -u "$creds" -X "$1" -w '\n%{http_code}' "http://$L/api/v1$2"
	fi
}
# expect_status WANT METHOD PATH [JSON] [USER:PW]
expect_status() {
	local want=$1 out
	shift
	out=$(api "$@")
	[ "$(tail -n 1 <<<"$out")" = "$want" ] || { echo "HTTP $(tail -n 1 <<<"$out"), want $want:"; echo "$out"; return 1; }
	sed '$d' <<<"$out" >"$TEST_DIR/api.json"
}

# local_digest REPO:TAG: the digest of the manifest berthd (local) has there, read as admin.
local_digest() {
	skopeo_cmd inspect --raw --tls-verify=false --creds "admin:$ADMIN_PW" "docker://$L/$1" | sha256sum |
		sed 's/^/sha256:/; s/ .*//'
}

# rule_field NAME KEY: a key=value field of `berthd mirror list` for rule NAME (message: the
# rest of the line).
rule_field() {
	local line
	line=$(mirror list | awk -v n="$1" '$1 == n { found = 1; next } found && /^  / { print; exit }')
	if [ "$2" = message ]; then
		sed -n 's/.* message=//p' <<<"$line"
	else
		tr ' ' '\n' <<<"$line" | sed -n "s/^$2=//p"
	fi
}

# push_referrer ADDR REPO SUBJECT_DIGEST: an artifact manifest (empty config, one layer) whose
# subject is the given image manifest, pushed to a registry without auth; prints its digest.
push_referrer() {
	local addr=$1 repo=$2 sd=$3 f=$TEST_DIR/referrer f2 d loc ss
	ss=$(curl -sSf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$addr/v2/$repo/manifests/$sd" | wc -c)
	printf '{}' >"$f.empty"
	printf 'signature of %s\n' "$sd" >"$f.sig"
	for f2 in "$f.empty" "$f.sig"; do
		d=sha256:$(sha256sum <"$f2" | cut -d' ' -f1)
		loc=$(curl -sS -o /dev/null -D - -X POST "http://$addr/v2/$repo/blobs/uploads/" | tr -d '\r' |
			sed -n 's/^[Ll]ocation: //p')
		case $loc in http*) ;; *) loc=http://$addr$loc ;; esac
		case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
		curl -sSf -o /dev/null -X PUT --data-binary "@$f2" "$loc" || return 1
	done
	jq -cn --arg sd "$sd" --argjson ss "$ss" --arg ld "sha256:$(sha256sum <"$f.sig" | cut -d' ' -f1)" \
		--argjson ls "$(stat -c %s "$f.sig")" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json", artifactType: "application/vnd.example.signature",
		config: {mediaType: "application/vnd.oci.empty.v1+json", size: 2,
		         digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
		layers: [{mediaType: "application/vnd.example.sig", digest: $ld, size: $ls}],
		subject: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $sd, size: $ss}}' |
		tr -d '\n' >"$f.json"
	d=sha256:$(sha256sum <"$f.json" | cut -d' ' -f1)
	curl -sSf -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary "@$f.json" "http://$addr/v2/$repo/manifests/$d" || return 1
	echo "$d"
}

build_fixtures() {
	local s
	for s in v1 v2 v3 v1b latest dev-1; do
		"$MKIMAGE" "$IMG/app" --layers 2 --tag "$s" --seed "repl-$s" >/dev/null || return 1
	done
	"$MKIMAGE" "$IMG/other" --tag v1 --seed repl-other >/dev/null
}
tap_check "mkimage.sh builds the fixture layouts" build_fixtures || { echo "Bail out! no fixtures"; exit 1; }
dg() { layout_top_digest "$IMG/$1" "$2"; }

tap_check "start the source berthd (--auth none)" berthd_start "$TEST_DIR/source" --auth none ||
	{ echo "Bail out! source berthd"; exit 1; }
S=$BERTHD_ADDR
htpasswd -Bbc "$TEST_DIR/htpasswd" puller 'puller-pw-1' >/dev/null 2>&1
tap_check "start docker-registry with htpasswd" distribution_start "$TEST_DIR/dist" --htpasswd "$TEST_DIR/htpasswd" ||
	{ echo "Bail out! docker-registry"; exit 1; }
D=$DIST_ADDR
tap_check "start the local berthd (--auth token)" berthd_start "$DATA" --auth token --log-level info ||
	{ echo "Bail out! local berthd"; exit 1; }
L=$BERTHD_ADDR L_LOG=$BERTHD_LOG
accounts() {
	printf '%s\n' "$ADMIN_PW" | "$BERTHD" user add admin --admin --password-stdin --data "$DATA" &&
		printf '%s\n' "$BOB_PW" | "$BERTHD" user add bob --password-stdin --data "$DATA"
}
tap_check "accounts: admin, bob" accounts

seed() {
	local t
	for t in v1 v2 latest dev-1; do
		skopeo_cmd copy --dest-tls-verify=false "oci:$IMG/app:$t" "docker://$S/lib/app:$t" >/dev/null || return 1
	done
	skopeo_cmd copy --dest-tls-verify=false "oci:$IMG/other:v1" "docker://$S/lib/other:v1" >/dev/null &&
		skopeo_cmd copy --dest-tls-verify=false "oci:$IMG/other:v1" "docker://$S/elsewhere/x:v1" >/dev/null &&
		skopeo_cmd copy --dest-tls-verify=false --dest-creds puller:puller-pw-1 "oci:$IMG/app:v1" \
			"docker://$D/team/app:v1" >/dev/null
}
tap_check "seed the sources" seed

# --- the CLI: bad input

tap_check "mirror add: bad rule name" expect_fail_with 'rule name' \
	mirror add 'Bad Name' --source "http://$S" --repositories 'lib/*'
tap_check "mirror add: source is no URL" expect_fail_with 'source' \
	mirror add rr --source "$S" --repositories 'lib/*'
tap_check "mirror add: source with a path" expect_fail_with 'source' \
	mirror add rr --source "http://$S/v2/lib" --repositories 'lib/*'
tap_check "mirror add: --repositories missing" expect_fail_with 'repositories' \
	mirror add rr --source "http://$S"
tap_check "mirror add: bad interval" expect_fail_with 'interval' \
	mirror add rr --source "http://$S" --repositories 'lib/*' --interval 10x
tap_check "mirror add: interval too short" expect_fail_with 'interval' \
	mirror add rr --source "http://$S" --repositories 'lib/*' --interval 2
tap_check "mirror add: bad regular expression" expect_fail_with 'regular expression' \
	mirror add rr --source "http://$S" --repositories 'lib/*' --tags '/v[0-9/'
tap_check "mirror add: bad destination namespace" expect_fail_with 'destination' \
	mirror add rr --source "http://$S" --repositories 'lib/*' --destination 'UP/per'
tap_check "mirror add: --password-stdin without --username" expect_fail_with 'username' \
	mirror add rr --source "http://$S" --repositories 'lib/*' --password-stdin </dev/null
tap_check "mirror del of an unknown rule" expect_fail_with 'no replication rule named nope' mirror del nope
tap_check "mirror run of an unknown rule" expect_fail_with 'no replication rule named nope' mirror run nope
tap_check "mirror with an unknown verb: usage, exit 2" bash -c "'$BERTHD' mirror frob --data '$DATA' 2>&1 | grep -q Usage; [ \${PIPESTATUS[0]} -eq 2 ]"
tap_check "nothing was stored by the refused commands" bash -c "[ -z \"\$('$BERTHD' mirror list --data '$DATA')\" ]"

# --- a rule on the second berthd: regex tags, catalog glob, destination namespace

add_rule() {
	mirror add fromberth --source "http://$S" --repositories 'lib/*' --tags '/v[0-9]+/' \
		--destination mirror --interval 0 || return 1
	expect_fail_with 'exists already' mirror add fromberth --source "http://$S" --repositories 'x'
}
tap_check "mirror add fromberth (lib/*, tags /v[0-9]+/, into mirror/), and not twice" add_rule

first_run() {
	mirror run fromberth --wait || return 1
	expect_eq copied "$(rule_field fromberth copied)" 3 || return 1
	expect_eq "mirror/lib/app:v1" "$(local_digest mirror/lib/app:v1)" "$(dg app v1)" &&
		expect_eq "mirror/lib/app:v2" "$(local_digest mirror/lib/app:v2)" "$(dg app v2)" &&
		expect_eq "mirror/lib/other:v1" "$(local_digest mirror/lib/other:v1)" "$(dg other v1)" || return 1
	# not matching: the tags latest and dev-1, the repository elsewhere/x
	local code
	for ref in lib/app/manifests/latest lib/app/manifests/dev-1 elsewhere/x/manifests/v1; do
		code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$ADMIN_PW" -I "http://$L/v2/mirror/$ref")
		expect_eq "HEAD mirror/$ref" "$code" 404 || return 1
	done
}
tap_check "run --wait: the matching tags are copied with their digests, the others not" first_run

next_run() {
	local sig
	sig=$(push_referrer "$S" lib/app "$(dg app v2)") || { echo "cannot push a referrer"; return 1; }
	skopeo_cmd copy --dest-tls-verify=false "oci:$IMG/app:v3" "docker://$S/lib/app:v3" >/dev/null || return 1
	skopeo_cmd copy --dest-tls-verify=false "oci:$IMG/app:v1b" "docker://$S/lib/app:v1" >/dev/null || return 1
	mirror run fromberth --wait || return 1
	expect_eq copied "$(rule_field fromberth copied)" 2 &&
		expect_eq unchanged "$(rule_field fromberth unchanged)" 2 &&
		expect_eq total "$(rule_field fromberth total)" 5 || return 1
	expect_eq "new tag v3" "$(local_digest mirror/lib/app:v3)" "$(dg app v3)" &&
		expect_eq "moved tag v1" "$(local_digest mirror/lib/app:v1)" "$(dg app v1b)" || return 1
	expect_eq "referrers of the unchanged v2" "$(curl -sSf -u "admin:$ADMIN_PW" \
		"http://$L/v2/mirror/lib/app/referrers/$(dg app v2)" | jq -r '.manifests[].digest')" "$sig"
}
tap_check "the next run copies the new tag and the moved one, and a new signature of an unchanged one" next_run

# --- a scheduled rule on docker-registry with htpasswd credentials

scheduled() {
	printf 'puller-pw-1\n' | mirror add fromdist --source "http://$D" --repositories team/app --tags 'v*' \
		--interval 5 --username puller --password-stdin || return 1
	local i
	for ((i = 0; i < 60; i++)); do
		[ "$(rule_field fromdist last)" = ok ] && break
		sleep 0.5
	done
	expect_eq "status of fromdist" "$(rule_field fromdist last)" ok || { mirror list; return 1; }
	expect_eq "team/app:v1" "$(local_digest team/app:v1)" "$(dg app v1)"
}
tap_check "a rule with an interval runs by itself; htpasswd credentials to docker-registry" scheduled

bad_creds() {
	printf 'wrong\n' | mirror add badcreds --source "http://$D" --repositories team/app --interval 0 \
		--username puller --password-stdin || return 1
	expect_fail_with 'did not succeed' mirror run badcreds --wait || return 1
	expect_eq "status" "$(rule_field badcreds last)" failed || return 1
	rule_field badcreds message | grep -qiE 'unauthori|rejected' || { mirror list; return 1; }
}
tap_check "wrong source credentials: the run fails, its status says why" bad_creds

dead_source() {
	mirror add dead --source http://127.0.0.1:1 --repositories lib/app --interval 0 || return 1
	expect_fail_with 'did not succeed' mirror run dead --wait || return 1
	expect_eq "status" "$(rule_field dead last)" failed || return 1
	rule_field dead message | grep -q '127.0.0.1:1' || { mirror list; return 1; }
}
tap_check "an unreachable source: failed, with the address in the message" dead_source

# --- the API: admins only, status, no password

api_list() {
	expect_status 200 GET /replication || return 1
	jq -e '.rules | length == 4' "$TEST_DIR/api.json" >/dev/null || { cat "$TEST_DIR/api.json"; return 1; }
	jq -e '.rules[] | select(.name == "fromberth") | .status.last_result == "ok" and .status.images_copied == 2
		and .status.total_images_copied == 5 and .status.unchanged == 2 and .status.errors == 0
		and .destination == "mirror" and .tags == "/v[0-9]+/" and .status.state == "idle"' \
		"$TEST_DIR/api.json" >/dev/null || { cat "$TEST_DIR/api.json"; return 1; }
	jq -e '.rules[] | select(.name == "fromdist") | .username == "puller" and .has_password == true' \
		"$TEST_DIR/api.json" >/dev/null || { cat "$TEST_DIR/api.json"; return 1; }
	! grep -q 'puller-pw-1' "$TEST_DIR/api.json" || { echo "the password is in the answer"; return 1; }
	jq -e '.rules[] | select(.name == "dead") | .status.last_result == "failed" and (.status.message | test("127.0.0.1:1"))' \
		"$TEST_DIR/api.json" >/dev/null || { cat "$TEST_DIR/api.json"; return 1; }
}
tap_check "GET /api/v1/replication: every rule with its status, no password" api_list

tap_check "GET /api/v1/replication as a non-admin: 403" expect_status 403 GET /replication '' "bob:$BOB_PW"
tap_check "GET /api/v1/replication anonymously: 401" bash -c \
	"[ \"\$(curl -s -o /dev/null -w '%{http_code}' 'http://$L/api/v1/replication')\" = 401 ]"
tap_check "GET /api/v1/replication/nope: 404" expect_status 404 GET /replication/nope
tap_check "POST with a bad source: 400" expect_status 400 POST /replication \
	'{"name":"x1","source":"ftp://h","repositories":"a"}'
tap_check "POST without repositories: 400" expect_status 400 POST /replication '{"name":"x1","source":"http://h"}'
tap_check "POST with a bad interval: 400" expect_status 400 POST /replication \
	'{"name":"x1","source":"http://h","repositories":"a","interval":"soon"}'
tap_check "POST a duplicate name: 409" expect_status 409 POST /replication \
	'{"name":"fromberth","source":"http://h","repositories":"a"}'
tap_check "POST as a non-admin: 403" expect_status 403 POST /replication \
	'{"name":"x1","source":"http://h","repositories":"a"}' "bob:$BOB_PW"

api_rule() {
	skopeo_cmd copy --dest-tls-verify=false "oci:$IMG/app:v2" "docker://$S/lib/app:v9" >/dev/null || return 1
	expect_status 201 POST /replication \
		"{\"name\":\"viaapi\",\"source\":\"http://$S\",\"repositories\":\"lib/app\",\"tags\":\"v9\",\"destination\":\"api\",\"interval\":\"1h\"}" ||
		return 1
	jq -e '.interval == 3600 and .has_password == false and .status.state == "idle"' "$TEST_DIR/api.json" >/dev/null ||
		{ cat "$TEST_DIR/api.json"; return 1; }
	expect_status 202 POST /replication/viaapi/run || return 1
	local i
	for ((i = 0; i < 40; i++)); do
		expect_status 200 GET /replication/viaapi || return 1
		jq -e '.status.last_result == "ok"' "$TEST_DIR/api.json" >/dev/null && break
		sleep 0.5
	done
	jq -e '.status.last_result == "ok" and .status.images_copied == 1' "$TEST_DIR/api.json" >/dev/null ||
		{ cat "$TEST_DIR/api.json"; return 1; }
	expect_eq "api/lib/app:v9" "$(local_digest api/lib/app:v9)" "$(dg app v2)" || return 1
	expect_status 204 DELETE /replication/viaapi || return 1
	expect_status 404 GET /replication/viaapi
}
tap_check "POST a rule, POST .../run, its status turns ok, the image is there; DELETE" api_rule

audit() {
	expect_status 200 GET '/audit?limit=100' || return 1
	jq -e '[.entries[].action] | index("replication_add") and index("replication_run") and index("replication_del")' \
		"$TEST_DIR/api.json" >/dev/null || { jq -c '[.entries[].action]' "$TEST_DIR/api.json"; return 1; }
}
tap_check "rule changes are in the audit log" audit

tap_check "the loopback credential cannot be guessed from outside" bash -c \
	"[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u '@replication:berth_replication_x' 'http://$L/v2/')\" = 401 ]"

# The loopback credential is accepted from loopback only: a berthd listening on every
# address is asked with its real secret (read from its memory, as only root can) through a
# non-loopback address of this machine (401), and through 127.0.0.1 (200).
internal_from_outside() {
	local ext port pid log secret
	ext=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')
	[ -n "$ext" ] || { echo "# SKIP no non-loopback address on this machine" >&"$TAP_OUT"; return 0; }
	port=$(berth_free_port) || return 1
	log=$TEST_DIR/berthd-any-$port.log
	"$BERTHD" --listen "0.0.0.0:$port" --data "$TEST_DIR/any" --auth token --log-level warn </dev/null >>"$log" 2>&1 &
	pid=$!
	_berth_pids+=("$pid")
	_berth_wait_ready "$pid" "http://127.0.0.1:$port/v2/" "$log" "200 401" || return 1
	secret=$(python3 - "$pid" <<-'PY'
		import re, sys
		pid = sys.argv[1]
		with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
		    for line in maps:
		        f = line.split()
		        if "rw" not in f[1] or (len(f) > 5 and not f[5].startswith("[heap")):
		            continue
		        lo, hi = (int(x, 16) for x in f[0].split("-"))
		        try:
		            mem.seek(lo)
		            m = re.search(rb"berth_replication_[a-z2-7]{52}", mem.read(hi - lo))
		        except OSError:
		            continue
		        if m:
		            print(m.group().decode())
		            break
	PY
	)
	[ -n "$secret" ] || { echo "the secret was not found in berthd's memory"; return 1; }
	expect_eq "from 127.0.0.1" "$(curl -s -o /dev/null -w '%{http_code}' -u "@replication:$secret" "http://127.0.0.1:$port/v2/")" 200 &&
		expect_eq "from $ext" "$(curl -s -o /dev/null -w '%{http_code}' -u "@replication:$secret" "http://$ext:$port/v2/")" 401 &&
		expect_eq "from $ext on /api/v1" \
			"$(curl -s -o /dev/null -w '%{http_code}' -u "@replication:$secret" "http://$ext:$port/api/v1/users")" 401
}
tap_check "the loopback credential is refused from a non-loopback address, even with the right secret" \
	internal_from_outside

delete_rule() {
	mirror del fromdist || return 1
	! mirror list | grep -q '^fromdist ' || { echo "fromdist still listed"; return 1; }
	# the copied repository stays, an ordinary local one
	expect_eq "team/app:v1" "$(local_digest team/app:v1)" "$(dg app v1)"
}
tap_check "mirror del: the rule goes, the replicated repository stays" delete_rule

tap_check "berthd --help and mirror --help" bash -c \
	"'$BERTHD' --help | grep -q 'mirror add' && '$BERTHD' mirror --help | grep -q -- '--repositories'"

tap_done
