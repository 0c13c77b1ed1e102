#!/usr/bin/env bash
# Real clients over HTTPS, with certificate verification on, against berthd serving a
# certificate from a throwaway private CA (made here with openssl, for 127.0.0.1 and
# localhost) under --auth token (so the token realm is https too):
#   - skopeo copy push/pull (--dest-cert-dir/--src-cert-dir holding the CA as ca.crt) and
#     skopeo inspect (--cert-dir); podman login/push/pull (--cert-dir, private store from
#     tests/lib/podman-setup.sh); berth login/pull (--ca-cert, BERTH_CA_CERT);
#   - bad cases, each failing with a certificate error and storing nothing: every client
#     without the CA, a certificate for another name, an expired certificate; plain HTTP to
#     the TLS port (berthd closes the connection without an answer: curl says "Empty reply
#     from server" at once); berth --ca-cert with a missing or non-PEM file;
#   - loopback registries named without a scheme are probed for TLS by berth: a copy whose
#     blob workers all race the probe ends up over HTTPS; a plain registry that drops a
#     connection unanswered is not switched (berth), nor is berthd's http:// upstream;
#   - certificate rotation: new files + SIGHUP, served at once, data kept, clients still work;
#   - a second berthd mirroring (--mirror) and replicating (berthd mirror add) from the TLS
#     berthd as upstream, trusting the private CA with --upstream-ca; without it, the
#     upstream's certificate is refused.
# The docker CLI is not tested: `docker login` needs a running docker engine, and there is
# none here.
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/interop/test_tls_clients.sh (tests/run sets
# both). Optional: BERTH_TEST_TMP=/scratch, BERTH_KEEP_TMP=1. Prints TAP. podman cases need root.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
. "$HERE/../lib/podman-setup.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}
BERTH_BIN=$BERTH_TOP/berth

[ "${TEST_REGISTRY_IMPL:-berthd}" = berthd ] || { echo "1..0 # SKIP berthd's TLS and accounts"; exit 0; }
rut_require
berth_test_init interop-tls || { echo "Bail out! cannot create a scratch directory"; exit 1; }
command -v skopeo >/dev/null || { echo "Bail out! skopeo is not installed (scripts/deps.sh test)"; exit 1; }
[ -x "$BERTH_BIN" ] || { echo "Bail out! $BERTH_BIN is not built"; exit 1; }

exec {TAP_OUT}>&1
D=$TEST_DIR
IMG=$D/images
PKI=$D/pki
CERTS=$D/certs.d # what skopeo and podman get as --cert-dir: the CA as ca.crt, nothing else
mkdir -p "$IMG" "$PKI" "$CERTS"
ALICE_PW='alice tls pass 1'
CREDS="alice:$ALICE_PW"

# ---------------------------------------------------------------- certificates

# leaf NAME SAN [openssl ca dates...]: a P-256 server certificate NAME.crt/NAME.key for SAN
# signed by the test CA (openssl ca, so that dates in the past can be given).
leaf() {
	local name=$1 san=$2
	shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
		-keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null || return 1
	printf 'subjectAltName = %s\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n' \
		"$san" >"$PKI/$name.ext"
	openssl ca -batch -config "$PKI/ca.cnf" -notext -extfile "$PKI/$name.ext" -in "$PKI/$name.csr" \
		-out "$PKI/$name.crt" "$@" 2>"$PKI/$name.err" || { cat "$PKI/$name.err"; return 1; }
}

make_pki() {
	mkdir -p "$PKI/new" && : >"$PKI/index.txt" && echo 1000 >"$PKI/serial" || return 1
	cat >"$PKI/ca.cnf" <<-EOF
	[ca]
	default_ca = test
	[test]
	dir = $PKI
	database = $PKI/index.txt
	serial = $PKI/serial
	new_certs_dir = $PKI/new
	certificate = $PKI/ca.crt
	private_key = $PKI/ca.key
	default_md = sha256
	default_days = 2
	policy = anything
	unique_subject = no
	copy_extensions = none
	[anything]
	commonName = supplied
	EOF
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Berth test CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null || return 1
	leaf server "IP:127.0.0.1, DNS:localhost" &&
		leaf rotated "IP:127.0.0.1, DNS:localhost" &&
		leaf wrongname "IP:127.0.0.2, DNS:registry.invalid" &&
		leaf expired "IP:127.0.0.1, DNS:localhost" -startdate 20200101000000Z -enddate 20200102000000Z || return 1
	cp "$PKI/ca.crt" "$CERTS/ca.crt"
	printf 'not a certificate\n' >"$PKI/garbage.pem"
	openssl verify -CAfile "$PKI/ca.crt" "$PKI/server.crt" "$PKI/rotated.crt" "$PKI/wrongname.crt" &&
		! openssl verify -CAfile "$PKI/ca.crt" "$PKI/expired.crt" >/dev/null 2>&1
}
tap_check "a private CA signs certificates for 127.0.0.1+localhost, another name, and an expired one" make_pki ||
	{ echo "Bail out! openssl could not make the certificates"; exit 1; }

tap_check "mkimage.sh builds the fixture layout" \
	"$MKIMAGE" "$IMG/app" --layers 2 --tag v1 --seed tls --cmd /bin/echo berth-tls ||
	{ echo "Bail out! no fixtures"; exit 1; }
APP=$(layout_top_digest "$IMG/app" v1)
APP_CONFIG=$(jq -r .config.digest "$IMG/app/blobs/sha256/${APP#sha256:}")

# ---------------------------------------------------------------- servers

# tls_berthd VAR DATA CERT KEY [ARGS...]: berthd over TLS on a free port. berthd.sh's helpers
# poll plain HTTP, so this polls https (any HTTP status is ready). Sets VAR_ADDR, VAR_PID and
# VAR_LOG.
tls_berthd() {
	local var=$1 data=$2 cert=$3 key=$4 port pid log
	shift 4
	mkdir -p "$data"
	for _ in 1 2 3; do
		port=$(berth_free_port) || return 1
		log=$D/berthd-$var-$port.log
		"$BERTHD" --listen "127.0.0.1:$port" --data "$data" --log-level info --tls-cert "$cert" --tls-key "$key" \
			"$@" </dev/null >>"$log" 2>&1 {_BERTH_STDERR}>&- &
		pid=$!
		_berth_pids+=("$pid")
		for _ in $(seq 1 100); do
			[ "$(curl -sk -o /dev/null -m 2 -w '%{http_code}' "https://127.0.0.1:$port/v2/")" != 000 ] && break
			_berth_alive "$pid" || break
			sleep 0.1
		done
		if _berth_alive "$pid"; then
			printf -v "${var}_ADDR" %s "127.0.0.1:$port"
			printf -v "${var}_PID" %s "$pid"
			printf -v "${var}_LOG" %s "$log"
			return 0
		fi
		cat "$log"
	done
	return 1
}

MAIN_DATA=$D/main
cp "$PKI/server.crt" "$D/live.crt"
cp "$PKI/server.key" "$D/live.key"
tap_check "berthd --auth token --tls-cert (CA-signed) starts" \
	tls_berthd MAIN "$MAIN_DATA" "$D/live.crt" "$D/live.key" --auth token ||
	{ echo "Bail out! berthd did not start"; exit 1; }
R=$MAIN_ADDR
RUT_PID=$MAIN_PID RUT_NAME=berthd RUT_LOG=$MAIN_LOG # tap_fail reports a crash with its log

badm() { "$BERTHD" "$@" --data "$MAIN_DATA"; }
tap_check "user alice (the admin CLI)" bash -c 'printf "%s\n" "$1" | "$0" user add alice --password-stdin --data "$2"' \
	"$BERTHD" "$ALICE_PW" "$MAIN_DATA"

realm_https() {
	local h
	h=$(curl -sS --cacert "$PKI/ca.crt" -o /dev/null -D - "https://$R/v2/" | tr -d '\r' |
		grep -i '^www-authenticate:') || { echo "no challenge"; return 1; }
	echo "$h"
	grep -q "Bearer realm=\"https://$R/token\"" <<<"$h"
}
tap_check "curl --cacert: /v2/ asks for a token from an https realm" realm_https

# ---------------------------------------------------------------- skopeo

# sk_digest REF [FLAGS...]: sha256 of the raw manifest at REF, TLS verified with the CA.
sk_digest() {
	local ref=$1
	shift
	skopeo_cmd inspect --raw --cert-dir "$CERTS" "$@" "$ref" >"$D/raw" || return 1
	echo "sha256:$(sha256sum <"$D/raw" | cut -d' ' -f1)"
}

skopeo_push() {
	skopeo_cmd copy --dest-cert-dir "$CERTS" --dest-creds "$CREDS" --digestfile "$D/digest" \
		"oci:$IMG/app:v1" "docker://$R/alice/app:v1" || return 1
	expect_eq "digest reported by skopeo" "$(cat "$D/digest")" "$APP"
}
tap_check "skopeo copy push with --dest-cert-dir and --dest-creds" skopeo_push

skopeo_inspect() {
	local got
	got=$(skopeo_cmd inspect --cert-dir "$CERTS" --creds "$CREDS" "docker://$R/alice/app:v1" | jq -r .Digest) ||
		return 1
	expect_eq "skopeo inspect's Digest" "$got" "$APP"
}
tap_check "skopeo inspect with --cert-dir and --creds" skopeo_inspect

skopeo_pull() {
	rm -rf "$D/pulled"
	skopeo_cmd copy --src-cert-dir "$CERTS" --src-creds "$CREDS" "docker://$R/alice/app:v1" "oci:$D/pulled:v1"
}
tap_check "skopeo copy pull with --src-cert-dir and --src-creds" skopeo_pull &&
	tap_check "pulled layout equals the pushed one" expect_same_layout "$IMG/app" v1 "$D/pulled" v1

tap_check "alice/app is private: anonymous skopeo inspect is refused" \
	expect_fail_with "unauthorized|authentication|denied|401" \
	skopeo_cmd inspect --raw --cert-dir "$CERTS" --no-creds "docker://$R/alice/app:v1"

# nothing_at REF: no manifest at REF (read as alice, TLS verified).
nothing_at() {
	local out
	if out=$(skopeo_cmd inspect --raw --cert-dir "$CERTS" --creds "$CREDS" "$1" 2>&1); then
		echo "$1 exists but should not"
		return 1
	fi
	grep -qiE "manifest unknown|not found|name unknown" <<<"$out" || { echo "unexpected error: $out"; return 1; }
}

skopeo_no_ca() {
	expect_fail_with "x509|certificate" skopeo_cmd copy --dest-creds "$CREDS" \
		"oci:$IMG/app:v1" "docker://$R/alice/noca:v1" || return 1
	nothing_at "docker://$R/alice/noca:v1"
}
tap_check "skopeo push without the CA fails with a certificate error; nothing stored" skopeo_no_ca
tap_check "skopeo inspect without the CA fails with a certificate error" \
	expect_fail_with "x509|certificate" skopeo_cmd inspect --creds "$CREDS" "docker://$R/alice/app:v1"

# ---------------------------------------------------------------- podman

if [ "$(id -u)" != 0 ] || ! command -v podman >/dev/null; then
	tap_skip "podman login/push/pull over verified TLS" "needs root and podman"
elif ! tap_check "private podman store (no host paths)" podman_setup "$D/podman"; then
	tap_fail "podman login/push/pull over verified TLS" "podman cannot be set up"
else
	pm() { timeout -k 5 "${PODMAN_TIMEOUT:-90}" "${PODMAN_CMD[@]}" "$@"; }
	POL=(--signature-policy "$D/podman/policy.json")
	load_image() {
		(cd "$IMG" && pm pull -q "${POL[@]}" oci:app:v1) >"$D/loaded-id" &&
			pm tag "$(cat "$D/loaded-id")" "$R/alice/pm:v1" "$R/alice/pm-noca:v1"
	}
	tap_check "podman loads the fixture" load_image

	tap_check "podman login without the CA fails with a certificate error" \
		expect_fail_with "x509|certificate" pm login -u alice -p "$ALICE_PW" "$R"

	pm_login() {
		printf '%s\n' "$ALICE_PW" | pm login --cert-dir "$CERTS" -u alice --password-stdin "$R" || return 1
		jq -e --arg r "$R" '.auths[$r].auth' "$PODMAN_DIR/auth.json" >/dev/null ||
			{ echo "no credentials for $R in auth.json"; return 1; }
	}
	tap_check "podman login --cert-dir" pm_login

	pm_push() {
		pm push "${POL[@]}" --cert-dir "$CERTS" "$R/alice/pm:v1" || return 1
		expect_eq "config digest of the pushed manifest" \
			"$(skopeo_cmd inspect --raw --cert-dir "$CERTS" --creds "$CREDS" "docker://$R/alice/pm:v1" | jq -r .config.digest)" \
			"$APP_CONFIG"
	}
	tap_check "podman push --cert-dir" pm_push

	pm_pull() {
		pm rmi -f "$R/alice/pm:v1" "$R/alice/pm-noca:v1" >/dev/null 2>&1
		pm rmi -f "$(cat "$D/loaded-id")" >/dev/null 2>&1
		pm pull -q "${POL[@]}" --cert-dir "$CERTS" "$R/alice/pm:v1" || return 1
		expect_eq Id "sha256:$(pm image inspect "$R/alice/pm:v1" | jq -r '.[0].Id')" "$APP_CONFIG"
	}

	pm_push_no_ca() {
		expect_fail_with "x509|certificate" pm push "${POL[@]}" "$R/alice/pm-noca:v1" || return 1
		nothing_at "docker://$R/alice/pm-noca:v1"
	}
	tap_check "podman push without the CA (logged in) fails with a certificate error; nothing stored" pm_push_no_ca
	tap_check "podman pull --cert-dir (image removed first)" pm_pull
	tap_check "podman pull without the CA fails with a certificate error" \
		expect_fail_with "x509|certificate" pm pull -q "${POL[@]}" "$R/alice/pm:v1"
fi

# ---------------------------------------------------------------- berth

export BERTH_CONFIG_DIR=$D/berth-config
unset BERTH_INSECURE_REGISTRIES BERTH_ROOT DOCKER_CONFIG BERTH_CA_CERT
mkdir -p "$BERTH_CONFIG_DIR"
berth() { timeout 60 "$BERTH_BIN" --root "$D/berth-root" "$@"; }

# one_line_fail TEXT CMD...: CMD exits non-zero with exactly one line on stderr that
# mentions TEXT.
one_line_fail() {
	local text=$1 rc
	shift
	"$@" >"$D/stdout" 2>"$D/stderr"
	rc=$?
	[ $rc -ne 0 ] || { echo "succeeded but should have failed"; cat "$D/stderr"; return 1; }
	[ "$(wc -l <"$D/stderr")" -eq 1 ] || { echo "want one line on stderr, got:"; cat "$D/stderr"; return 1; }
	grep -qiE -- "$text" "$D/stderr" || { echo "error does not mention '$text':"; cat "$D/stderr"; return 1; }
	cut -c1-300 "$D/stderr" | sed 's/^/#   client said: /' >&"$TAP_OUT"
}

berth_login() { printf '%s\n' "$ALICE_PW" | berth "$@" login "$R" -u alice --password-stdin; }
berth_login_no_ca() {
	one_line_fail "certificate" berth_login || return 1
	[ ! -e "$BERTH_CONFIG_DIR/config.json" ] ||
		[ "$(jq -c --arg r "$R" '.auths[$r]' "$BERTH_CONFIG_DIR/config.json")" = null ] ||
		{ echo "credentials were stored"; return 1; }
}
tap_check "berth login without the CA fails with a certificate error, stores nothing" berth_login_no_ca
tap_check "berth --ca-cert login" berth_login --ca-cert "$PKI/ca.crt"

tap_check "berth pull without the CA fails with a one-line certificate error" \
	one_line_fail "certificate" berth pull -q "$R/alice/app:v1"
tap_check "berth pull without the CA stored no image" expect_fail_with "no such image|not found|unknown" \
	berth inspect "$R/alice/app:v1"

berth_pull_ok() {
	berth "$@" pull -q "$R/alice/app:v1" || return 1
	expect_eq Id "$(berth inspect "$R/alice/app:v1" | jq -r '.[0].Id')" "$APP_CONFIG"
}
tap_check "berth --ca-cert pull of the private image" berth_pull_ok --ca-cert "$PKI/ca.crt"
berth_pull_env() {
	berth rmi "$R/alice/app:v1" >/dev/null || return 1
	BERTH_CA_CERT=$PKI/ca.crt berth_pull_ok
}
tap_check "berth pull with BERTH_CA_CERT (image removed first)" berth_pull_env

berth_localhost() {
	local L=localhost:${R##*:}
	printf '%s\n' "$ALICE_PW" | berth --ca-cert "$PKI/ca.crt" login "$L" -u alice --password-stdin &&
		berth --ca-cert "$PKI/ca.crt" pull -q "$L/alice/app:v1" || return 1
	expect_eq Id "$(berth inspect "$L/alice/app:v1" | jq -r '.[0].Id')" "$APP_CONFIG"
}
tap_check "berth --ca-cert login + pull by the name localhost (its DNS SAN)" berth_localhost

berth_push_ok() {
	berth tag "$R/alice/app:v1" "$R/alice/berth-pushed:v1" &&
		berth --ca-cert "$PKI/ca.crt" push -q "$R/alice/berth-pushed:v1" || return 1
	expect_eq "manifest pushed by berth" "$(sk_digest "docker://$R/alice/berth-pushed:v1" --creds "$CREDS")" \
		"$(sk_digest "docker://$R/alice/app:v1" --creds "$CREDS")"
}
tap_check "berth --ca-cert push" berth_push_ok

berth_ca_missing() {
	one_line_fail "no such file" berth --ca-cert "$PKI/missing.crt" pull "$R/alice/app:v1" || return 1
	berth --ca-cert "$PKI/missing.crt" pull "$R/alice/app:v1" 2>/dev/null
	expect_eq "exit status" "$?" 2
}
tap_check "berth --ca-cert with a missing file: one-line error, exit 2" berth_ca_missing
tap_check "berth --ca-cert with a file holding no certificate: one-line error" \
	one_line_fail "no PEM certificate" berth --ca-cert "$PKI/garbage.pem" pull "$R/alice/app:v1"
tap_check "berth --ca-cert naming a directory: one-line error pointing at DIR/ca.crt" \
	one_line_fail "not a file.*ca.crt" berth --ca-cert "$CERTS" pull "$R/alice/app:v1"
berth_env_missing() {
	BERTH_CA_CERT=$PKI/missing.crt one_line_fail "BERTH_CA_CERT .*missing.crt.*no such file" berth pull "$R/alice/app:v1"
}
tap_check "BERTH_CA_CERT naming a missing file: the error names BERTH_CA_CERT" berth_env_missing

# ---------------------------------------------------------------- probing loopback registries

# berth copy's first requests to the destination come from several blob workers at once:
# every one must end up over HTTPS, not only the one that settled the probe.
tap_check "a plain-HTTP berthd as a copy source" berthd_start "$D/plainsrc" --auth none
PLAIN=$BERTHD_ADDR
berth_copy_parallel() {
	"$MKIMAGE" "$IMG/many" --layers 6 --tag v1 --seed tls-copy >/dev/null || return 1
	skopeo_cmd copy -q --dest-tls-verify=false "oci:$IMG/many:v1" "docker://$PLAIN/x/many:v1" || return 1
	berth --ca-cert "$PKI/ca.crt" copy -q -j 8 --dest-creds "$CREDS" "$PLAIN/x/many:v1" "$R/alice/many:v1" || return 1
	expect_eq "digest copied" "$(sk_digest "docker://$R/alice/many:v1" --creds "$CREDS")" \
		"$(layout_top_digest "$IMG/many" v1)"
}
tap_check "berth copy plain -> TLS berthd, 8 blob workers whose first requests race the probe" berth_copy_parallel
berthd_stop

# A plain registry that drops a connection unanswered (here: berthd at its per-address
# connection limit, one connection held open) is not taken for a TLS one: berth reports the
# plain error, and an http:// upstream of berthd's pull-through cache stays http://.
plain1_start() {
	berthd_start "$D/plain1" --auth none &&
		skopeo_cmd copy -q --dest-tls-verify=false "oci:$IMG/app:v1" "docker://$BERTHD_ADDR/x/app:v1" &&
		berthd_stop && berthd_start "$D/plain1" --auth none --max-connections-per-address 1
}
tap_check "a plain-HTTP berthd holding an image, allowing one connection per address" plain1_start
PLAIN1=$BERTHD_ADDR
PLAIN1_PID=$BERTHD_PID
plain_drop_berth() {
	exec {hold}<>"/dev/tcp/127.0.0.1/${PLAIN1##*:}" || return 1
	sleep 0.2
	berth pull -q "$PLAIN1/x/app:v1" >"$D/stdout" 2>"$D/stderr"
	local rc=$?
	exec {hold}>&-
	[ $rc -ne 0 ] || { echo "the pull passed the connection limit"; return 1; }
	! grep -qiE "ssl|certificate|https" "$D/stderr" || { echo "taken for TLS:"; cat "$D/stderr"; return 1; }
	cut -c1-300 "$D/stderr" | sed 's/^/#   client said: /' >&"$TAP_OUT"
	sleep 0.2
	berth pull -q "$PLAIN1/x/app:v1" >/dev/null || return 1
}
tap_check "berth: a plain registry dropping a connection gets the plain error, then works" plain_drop_berth
tap_check "a mirror berthd with that registry as an http:// upstream" \
	berthd_start "$D/mirror-plain" --auth none --mirror "p1=http://$PLAIN1"
plain_drop_mirror() {
	exec {hold}<>"/dev/tcp/127.0.0.1/${PLAIN1##*:}" || return 1
	sleep 0.2
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$BERTHD_ADDR/v2/p1/x/app/manifests/v1")
	exec {hold}>&-
	expect_eq "status while the upstream drops connections" "$code" 503 || return 1
	sleep 0.2
	expect_ref_digest "docker://$BERTHD_ADDR/p1/x/app:v1" "$APP" || return 1
	! grep -qiE "https://127.0.0.1:${PLAIN1##*:}" "$BERTHD_LOG" || { echo "the mirror tried https:"; grep https "$BERTHD_LOG" | tail -3; return 1; }
}
tap_check "pull-through: an http:// upstream dropping a connection answers 503, then works (never https)" plain_drop_mirror
berthd_stop
_berth_kill "$PLAIN1_PID"

# ---------------------------------------------------------------- bad certificates, plain HTTP

# The other certificate cases each get their own empty berthd (--auth none): whatever a
# client could push would land there.
tap_check "berthd serving a certificate for registry.invalid starts" \
	tls_berthd WRONG "$D/wrong" "$PKI/wrongname.crt" "$PKI/wrongname.key" --auth none
tap_check "berthd serving an expired certificate starts" \
	tls_berthd OLD "$D/expired" "$PKI/expired.crt" "$PKI/expired.key" --auth none

# empty_registry ADDR: its catalog (read without certificate checks) is empty.
empty_registry() {
	local cat
	cat=$(curl -sSk "https://$1/v2/_catalog" | jq -c .repositories) || return 1
	expect_eq "catalog of $1" "$cat" "[]"
}
bad_cert_case() {
	local addr=$1 text=$2
	expect_fail_with "$text" skopeo_cmd copy --dest-cert-dir "$CERTS" "oci:$IMG/app:v1" "docker://$addr/t/app:v1" &&
		expect_fail_with "$text" skopeo_cmd inspect --cert-dir "$CERTS" "docker://$addr/t/app:v1" &&
		one_line_fail "$3" berth --ca-cert "$PKI/ca.crt" pull -q "$addr/t/app:v1" &&
		berth tag "$R/alice/app:v1" "$addr/t/app:v1" &&
		one_line_fail "$3" berth --ca-cert "$PKI/ca.crt" push -q "$addr/t/app:v1" &&
		berth rmi "$addr/t/app:v1" >/dev/null || return 1
	if [ -n "${PODMAN_CMD+x}" ]; then
		expect_fail_with "$text" pm login --cert-dir "$CERTS" -u x -p y "$addr" || return 1
	fi
	empty_registry "$addr"
}
tap_check "certificate for other names (127.0.0.2, registry.invalid): skopeo, podman, berth refuse it (with the CA); nothing stored" \
	bad_cert_case "$WRONG_ADDR" "x509: certificate is valid for .*not 127\.0\.0\.1" "no alternative certificate subject name"
tap_check "expired certificate: skopeo, podman, berth refuse it (with the CA); nothing stored" \
	bad_cert_case "$OLD_ADDR" "x509: certificate has expired" "certificate has expired"

plain_http() {
	local start code rc secs
	start=$(date +%s%N)
	code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://$R/v2/")
	rc=$?
	secs=$((($(date +%s%N) - start) / 1000000))
	tap_diag "plain HTTP to the TLS port: curl exit $rc, HTTP status $code, after ${secs} ms" >&"$TAP_OUT"
	[ "$rc" = 52 ] || { echo "want curl exit 52 (empty reply: berthd closes the connection), got $rc"; return 1; }
	[ "$secs" -lt 3000 ] || { echo "the connection was closed only after $secs ms"; return 1; }
	curl -sS --cacert "$PKI/ca.crt" -o /dev/null "https://$R/v2/"
}
tap_check "plain HTTP to the TLS port: closed at once without an answer; HTTPS still served" plain_http

# ---------------------------------------------------------------- rotation

serial_served() {
	openssl s_client -connect "$R" -CAfile "$PKI/ca.crt" -verify_return_error </dev/null 2>/dev/null |
		openssl x509 -noout -serial
}
rotate() {
	local want
	want=$(openssl x509 -noout -serial -in "$PKI/rotated.crt")
	cp "$PKI/rotated.crt" "$D/live.crt.new" && cp "$PKI/rotated.key" "$D/live.key.new" &&
		mv "$D/live.key.new" "$D/live.key" && mv "$D/live.crt.new" "$D/live.crt" &&
		kill -HUP "$MAIN_PID" || return 1
	for _ in $(seq 1 50); do
		[ "$(serial_served)" = "$want" ] && return 0
		sleep 0.1
	done
	echo "served: $(serial_served), want $want"
	tail -n 5 "$MAIN_LOG"
	return 1
}
tap_check "rotation: new certificate files + SIGHUP, the new certificate is served" rotate
tap_check "after rotation: skopeo inspect sees the same image" \
	expect_eq "digest" "$(sk_digest "docker://$R/alice/app:v1" --creds "$CREDS")" "$APP"
berth_pull_again() {
	berth rmi "$R/alice/app:v1" >/dev/null || return 1
	berth_pull_ok --ca-cert "$PKI/ca.crt"
}
tap_check "after rotation: berth pull (stored login) still works" berth_pull_again
if [ -n "${PODMAN_CMD+x}" ]; then
	tap_check "after rotation: podman pull --cert-dir" pm_pull
fi
tap_check "after rotation: berthd still runs (same process)" _berth_alive "$MAIN_PID"

# ---------------------------------------------------------------- upstream over TLS

printf '%s\n' "$ALICE_PW" >"$D/alice.password"
UP="up=https://$R username=alice password-file=$D/alice.password"

tap_check "berthd --upstream-ca with a missing file refuses to start" \
	expect_fail_with "upstream-ca.*no such file" timeout 10 "$BERTHD" --listen 127.0.0.1:0 --data "$D/nostart" \
	--upstream-ca "$D/missing.crt"

upstream_ca_garbage() {
	BERTH_UPSTREAM_CA=$PKI/garbage.pem timeout 10 "$BERTHD" --listen 127.0.0.1:0 --data "$D/nostart" >"$D/stdout" 2>&1
	expect_eq "exit status" "$?" 2 || return 1
	grep -q "upstream-ca .*garbage.pem: no PEM certificate" "$D/stdout" || { cat "$D/stdout"; return 1; }
}
tap_check "BERTH_UPSTREAM_CA naming a file without a certificate: berthd exits 2 naming it" upstream_ca_garbage

tap_check "berthd --mirror https upstream --upstream-ca starts" berthd_start "$D/mirror" --auth none --mirror "$UP" \
	--upstream-ca "$PKI/ca.crt"
tap_check "pull-through from the TLS upstream (private CA trusted with --upstream-ca)" \
	expect_eq "digest" "$(ref_digest "docker://$BERTHD_ADDR/up/alice/app:v1")" "$APP"

repl() {
	printf '%s\n' "$ALICE_PW" | "$BERTHD" mirror add fromtls --source "https://$R" --repositories alice/app \
		--destination copy --interval 0 --username alice --password-stdin --data "$D/mirror" &&
		timeout 60 "$BERTHD" mirror run fromtls --wait --data "$D/mirror" || return 1
	expect_eq "replicated digest" "$(ref_digest "docker://$BERTHD_ADDR/copy/alice/app:v1")" "$APP"
}
tap_check "replication rule from the TLS upstream copies the image" repl
berthd_stop

no_ca_mirror() {
	berthd_start "$D/mirror-noca" --auth none --mirror "$UP" || return 1
	expect_fail_with "manifest unknown|not found|unavailable|unknown" \
		skopeo_cmd inspect --raw --tls-verify=false "docker://$BERTHD_ADDR/up/alice/app:v1" || return 1
	grep -iE "certificate" "$BERTHD_LOG" | tail -n 1 | cut -c1-300 | sed 's/^/#   berthd logged: /' >&"$TAP_OUT"
	grep -qiE "certificate" "$BERTHD_LOG" || { echo "berthd's log does not mention the certificate:"; tail "$BERTHD_LOG"; return 1; }
}
tap_check "without --upstream-ca the upstream's certificate is refused (logged), nothing served" no_ca_mirror
berthd_stop

tap_check "the TLS berthd is still running" _berth_alive "$MAIN_PID"
tap_done
