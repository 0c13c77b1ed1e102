#!/usr/bin/env bash
# The system-wide per-registry certificate folders, as users of podman, skopeo and docker
# install a private CA: /etc/containers/certs.d/HOST:PORT/ca.crt, /etc/docker/certs.d/HOST:PORT/
# (containers/image reads both, the first folder that exists wins) and
# $HOME/.config/containers/certs.d/HOST:PORT/ (before them). Against a TLS berthd whose
# certificate comes from a throwaway CA, with verification on and no --cert-dir/--ca-cert:
#   - CA in /etc/containers/certs.d: skopeo copy push + pull, podman push + pull, berth pull +
#     push and run (pulling); the digests match;
#   - the same with the CA in /etc/docker/certs.d instead, and berth with it in ~/.config;
#   - without the folder every one of them fails with a certificate error (skopeo/podman:
#     "certificate signed by unknown authority"; berth: one line naming the folder to use) and
#     the registry's catalog and tag lists are unchanged;
#   - berth: any *.crt of the folder is trusted; a *.crt holding no certificate is a one-line
#     error naming it; a folder in /etc/containers/certs.d hides /etc/docker/certs.d's (as
#     containers/image has it); --ca-cert is trusted beside the folder's CAs.
# Only the folders named after this run's port are created under /etc (the port is free and
# unique to the run); they are removed on exit, failed or not, and so are
# /etc/containers/certs.d and /etc/docker/certs.d themselves if this test created them and
# they are empty.
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/interop/test_tls_certs_d.sh (tests/run sets
# both). Needs root (it writes /etc), skopeo; podman cases need podman. Prints TAP.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
. "$HERE/../lib/podman-setup.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}
BERTH_BIN=$BERTH_TOP/berth

[ "${TEST_REGISTRY_IMPL:-berthd}" = berthd ] || { echo "1..0 # SKIP berthd's TLS"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root to write /etc/containers/certs.d"; exit 0; }
rut_require
berth_test_init interop-certs-d || { echo "Bail out! cannot create a scratch directory"; exit 1; }
command -v skopeo >/dev/null || { echo "Bail out! skopeo is not installed (scripts/deps.sh test)"; exit 1; }
[ -x "$BERTH_BIN" ] || { echo "Bail out! $BERTH_BIN is not built"; exit 1; }

exec {TAP_OUT}>&1
D=$TEST_DIR
IMG=$D/images
PKI=$D/pki
mkdir -p "$IMG" "$PKI"

# ---------------------------------------------------------------- certificates, image, berthd

make_pki() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Berth certs.d test CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Another CA" \
			-addext "basicConstraints=critical,CA:TRUE" -keyout "$PKI/other.key" -out "$PKI/other.crt" 2>/dev/null &&
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
			-keyout "$PKI/server.key" -out "$PKI/server.csr" 2>/dev/null || return 1
	printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = critical,CA:FALSE\nextendedKeyUsage = serverAuth\n' \
		>"$PKI/server.ext"
	openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 2 \
		-extfile "$PKI/server.ext" -out "$PKI/server.crt" 2>/dev/null &&
		openssl verify -CAfile "$PKI/ca.crt" "$PKI/server.crt"
}
tap_check "a private CA signs a certificate for 127.0.0.1 (and another CA)" make_pki ||
	{ echo "Bail out! openssl could not make the certificates"; exit 1; }

tap_check "mkimage.sh builds the fixture layout" \
	"$MKIMAGE" "$IMG/app" --layers 2 --tag v1 --seed certs-d --cmd /bin/echo berth-certs-d ||
	{ echo "Bail out! no fixtures"; exit 1; }
APP=$(layout_top_digest "$IMG/app" v1)
APP_CONFIG=$(jq -r .config.digest "$IMG/app/blobs/sha256/${APP#sha256:}")

# berthd over TLS on a free port (berthd.sh's helpers poll plain HTTP: this polls https).
tls_berthd() {
	local port
	for _ in 1 2 3; do
		port=$(berth_free_port) || return 1
		MAIN_LOG=$D/berthd-$port.log
		"$BERTHD" --listen "127.0.0.1:$port" --data "$D/data" --log-level info --tls-cert "$PKI/server.crt" \
			--tls-key "$PKI/server.key" --auth none </dev/null >>"$MAIN_LOG" 2>&1 {_BERTH_STDERR}>&- &
		MAIN_PID=$!
		_berth_pids+=("$MAIN_PID")
		for _ in $(seq 1 100); do
			[ "$(curl -sk -o /dev/null -m 2 -w '%{http_code}' "https://127.0.0.1:$port/v2/")" != 000 ] && break
			_berth_alive "$MAIN_PID" || break
			sleep 0.1
		done
		if _berth_alive "$MAIN_PID"; then
			R=127.0.0.1:$port
			return 0
		fi
		cat "$MAIN_LOG"
	done
	return 1
}
tap_check "berthd --tls-cert (CA-signed) starts on a free port" tls_berthd ||
	{ echo "Bail out! berthd did not start"; exit 1; }
RUT_PID=$MAIN_PID RUT_NAME=berthd RUT_LOG=$MAIN_LOG # tap_fail reports a crash with its log

# ---------------------------------------------------------------- the folders under /etc

ETC_CONTAINERS=/etc/containers/certs.d
ETC_DOCKER=/etc/docker/certs.d
HOME_CERTS=$BERTH_CONTAINERS_DIR/home/.config/containers/certs.d # skopeo_cmd's HOME
# Cleanup first, so that even a failure while installing leaves nothing: our HOST:PORT folders,
# then the certs.d folders if they did not exist before and are empty.
for root in "$ETC_DOCKER" "$ETC_CONTAINERS"; do
	[ -d "$root" ] || berth_on_exit rmdir "$root"
	[ -e "$root/$R" ] && { echo "Bail out! $root/$R exists already (not ours): refusing to touch it"; exit 1; }
	berth_on_exit rm -rf -- "$root/$R"
done

# install ROOT [FILE=ca.crt] [SOURCE=$PKI/ca.crt]: ROOT/$R/FILE holds SOURCE; no other
# folder of ours exists.
install_ca() {
	remove_cas
	mkdir -p "$1/$R" && cp "${3:-$PKI/ca.crt}" "$1/$R/${2:-ca.crt}"
}
remove_cas() {
	rm -rf -- "${ETC_CONTAINERS:?}/$R" "${ETC_DOCKER:?}/$R" "${HOME_CERTS:?}/$R"
}

# registry_state: the catalog and every repository's tag list (read without verification).
registry_state() {
	local repo
	curl -sSk "https://$R/v2/_catalog" | jq -c .repositories || return 1
	for repo in $(curl -sSk "https://$R/v2/_catalog" | jq -r '.repositories[]'); do
		curl -sSk "https://$R/v2/$repo/tags/list" | jq -c '.tags | sort'
	done
}

# sk_digest REF: sha256 of the raw manifest at REF (TLS checked with the CA given explicitly).
mkdir -p "$D/cadir" && cp "$PKI/ca.crt" "$D/cadir/ca.crt"
sk_digest() {
	skopeo_cmd inspect --raw --cert-dir "$D/cadir" "$1" >"$D/raw" || return 1
	echo "sha256:$(sha256sum <"$D/raw" | cut -d' ' -f1)"
}

export BERTH_CONFIG_DIR=$D/berth-config
unset BERTH_INSECURE_REGISTRIES BERTH_ROOT DOCKER_CONFIG BERTH_CA_CERT
mkdir -p "$BERTH_CONFIG_DIR"
berth() { HOME=$BERTH_CONTAINERS_DIR/home timeout 60 "$BERTH_BIN" --root "$D/berth-root" "$@"; }

# one_line_fail TEXT CMD...: CMD exits non-zero with exactly one line on stderr matching TEXT.
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

if command -v podman >/dev/null && tap_check "private podman store (no host paths)" podman_setup "$D/podman"; then
	HAVE_PODMAN=1
	pm() { timeout -k 5 "${PODMAN_TIMEOUT:-90}" "${PODMAN_CMD[@]}" "$@"; }
	POL=(--signature-policy "$D/podman/policy.json")
	load_image() { (cd "$IMG" && pm pull -q "${POL[@]}" oci:app:v1) >"$D/loaded-id"; }
	tap_check "podman loads the fixture" load_image
	PM_ID=$(cat "$D/loaded-id")
else
	HAVE_PODMAN=
	tap_skip "podman push/pull through certs.d" "podman is not installed or cannot be set up"
fi

# ---------------------------------------------------------------- clients, CA in a folder

# sk_push_pull TAG: skopeo copy push to cd/sk:TAG and pull back, no --cert-dir; digests match.
sk_push_pull() {
	skopeo_cmd copy -q --digestfile "$D/digest" "oci:$IMG/app:v1" "docker://$R/cd/sk:$1" || return 1
	expect_eq "digest reported by skopeo" "$(cat "$D/digest")" "$APP" || return 1
	rm -rf "$D/pulled"
	skopeo_cmd copy -q "docker://$R/cd/sk:$1" "oci:$D/pulled:v1" || return 1
	expect_eq "pulled digest" "$(layout_top_digest "$D/pulled" v1)" "$APP" &&
		expect_same_layout "$IMG/app" v1 "$D/pulled" v1
}

# pm_push_pull TAG: podman push to cd/pm:TAG, image removed, pulled back; the pulled digest
# is the registry's and the image is the fixture's.
pm_push_pull() {
	local ref=$R/cd/pm:$1 want got
	pm tag "$PM_ID" "$ref" && pm push -q "${POL[@]}" "$ref" || return 1
	want=$(sk_digest "docker://$ref") || return 1
	expect_eq "config digest pushed" "$(jq -r .config.digest "$D/raw")" "$APP_CONFIG" || return 1
	pm rmi -f "$PM_ID" >/dev/null || return 1 # every name and layer: the pull fetches it all
	pm pull -q "${POL[@]}" "$ref" >/dev/null || return 1
	got=$(pm image inspect "$ref" | jq -r '.[0].Digest') || return 1
	expect_eq "digest pulled by podman" "$got" "$want" || return 1
	expect_eq "Id" "sha256:$(pm image inspect "$ref" | jq -r '.[0].Id')" "$APP_CONFIG"
}

# berth_pull_push TAG: berth pulls cd/sk:TAG (pushed by skopeo), no --ca-cert; the image is
# the fixture's; berth pushes it back as cd/berth:TAG, same manifest.
berth_pull_push() {
	berth rmi "$R/cd/sk:$1" >/dev/null 2>&1
	berth pull -q "$R/cd/sk:$1" || return 1
	expect_eq Id "$(berth inspect "$R/cd/sk:$1" | jq -r '.[0].Id')" "$APP_CONFIG" || return 1
	berth tag "$R/cd/sk:$1" "$R/cd/berth:$1" && berth push -q "$R/cd/berth:$1" || return 1
	expect_eq "manifest pushed by berth" "$(sk_digest "docker://$R/cd/berth:$1")" "$APP"
}

# berth_run_ok TAG: berth run pulls cd/sk:TAG (removed first) and runs it (its Cmd echoes).
berth_run_ok() {
	berth rmi "$R/cd/sk:$1" >/dev/null 2>&1
	local out
	out=$(berth run --rm "$R/cd/sk:$1") || return 1
	expect_eq "output of the container" "$out" berth-certs-d
}

# clients_ok WHERE TAG: every client through the folder WHERE.
clients_ok() {
	tap_check "$1: skopeo copy push + pull (verification on, no --cert-dir), same digest" sk_push_pull "$2"
	if [ -n "$HAVE_PODMAN" ]; then
		tap_check "$1: podman push + pull (verification on, no --cert-dir), same digest" pm_push_pull "$2"
	fi
	tap_check "$1: berth pull + push (no --ca-cert), same image" berth_pull_push "$2"
	tap_check "$1: berth run pulls the image and runs it" berth_run_ok "$2"
}

tap_check "CA installed as $ETC_CONTAINERS/$R/ca.crt" install_ca "$ETC_CONTAINERS"
clients_ok "/etc/containers/certs.d" v1

tap_check "CA installed as $ETC_DOCKER/$R/ca.crt (and not in /etc/containers)" install_ca "$ETC_DOCKER"
clients_ok "/etc/docker/certs.d" v2

tap_check "CA installed as ~/.config/containers/certs.d/$R/ca.crt only" install_ca "$HOME_CERTS"
tap_check "~/.config/containers/certs.d: skopeo copy push + pull" sk_push_pull v3
tap_check "~/.config/containers/certs.d: berth pull + push" berth_pull_push v3

# ---------------------------------------------------------------- clients, no folder

tap_check "all the folders removed" remove_cas
BEFORE=$(registry_state)
tap_diag "registry before the refused pushes: $(tr '\n' ' ' <<<"$BEFORE")" >&"$TAP_OUT"
UNKNOWN="x509: certificate signed by unknown authority"
tap_check "no folder: skopeo copy push fails: $UNKNOWN" \
	expect_fail_with "$UNKNOWN" skopeo_cmd copy -q "oci:$IMG/app:v1" "docker://$R/cd/noca:v1"
tap_check "no folder: skopeo push of a new tag to a repository fails the same" \
	expect_fail_with "$UNKNOWN" skopeo_cmd copy -q "oci:$IMG/app:v1" "docker://$R/cd/sk:noca"
tap_check "no folder: skopeo copy pull fails the same" \
	expect_fail_with "$UNKNOWN" skopeo_cmd copy -q "docker://$R/cd/sk:v1" "oci:$D/nopull:v1"
if [ -n "$HAVE_PODMAN" ]; then
	pm_push_noca() {
		pm tag "$PM_ID" "$R/cd/pm:noca" "$R/cd/pm-noca:v1" || return 1
		expect_fail_with "$UNKNOWN" pm push -q "${POL[@]}" "$R/cd/pm:noca" &&
			expect_fail_with "$UNKNOWN" pm push -q "${POL[@]}" "$R/cd/pm-noca:v1"
	}
	tap_check "no folder: podman push (new repository, new tag) fails: $UNKNOWN" pm_push_noca
	tap_check "no folder: podman pull fails the same" \
		expect_fail_with "$UNKNOWN" pm pull -q "${POL[@]}" "$R/cd/pm:v1"
fi
berth rmi "$R/cd/sk:v1" >/dev/null 2>&1
tap_check "no folder: berth pull fails with one line naming the folder to use" \
	one_line_fail "certificate problem.*put the CA's certificate in /etc/containers/certs.d/$R/ca.crt" \
	berth pull -q "$R/cd/sk:v1"
tap_check "no folder: berth pull stored no image" expect_fail_with "no such image|not found|unknown" \
	berth inspect "$R/cd/sk:v1"
tap_check "no folder: berth run fails with one error line (after its progress lines)" \
	berth_fails_with "certificate problem" berth run --rm "$R/cd/sk:v1"
tap_check "no folder: berth push fails with one line" one_line_fail "certificate problem" \
	berth push -q "$R/cd/berth:v1"
tap_check "no folder: the catalog and tag lists are unchanged" expect_eq "registry" "$(registry_state)" "$BEFORE"

# ---------------------------------------------------------------- berth: the folder's files

any_crt() {
	install_ca "$ETC_CONTAINERS" registry.crt && cp "$PKI/other.crt" "$ETC_CONTAINERS/$R/another.crt" &&
		printf 'not read\n' >"$ETC_CONTAINERS/$R/notes.txt" || return 1
	berth rmi "$R/cd/sk:v1" >/dev/null 2>&1
	berth pull -q "$R/cd/sk:v1"
}
tap_check "berth trusts every *.crt of the folder (the CA as registry.crt beside another CA)" any_crt

bad_crt() {
	printf 'not a certificate\n' >"$ETC_CONTAINERS/$R/broken.crt" || return 1
	one_line_fail "$ETC_CONTAINERS/$R/broken.crt: no PEM certificate" berth pull -q "$R/cd/sk:v1"
}
tap_check "a *.crt without a certificate: berth fails with one line naming it" bad_crt

wrong_ca() {
	install_ca "$ETC_CONTAINERS" ca.crt "$PKI/other.crt" || return 1
	one_line_fail "certificate problem.*none of $ETC_CONTAINERS/$R/\*\.crt" berth pull -q "$R/cd/sk:v1"
}
tap_check "a folder without the registry's CA: berth fails with one line naming the folder" wrong_ca

shadowed() {
	install_ca "$ETC_DOCKER" && mkdir -p "$ETC_CONTAINERS/$R" && cp "$PKI/other.crt" "$ETC_CONTAINERS/$R/ca.crt" ||
		return 1
	expect_fail_with "$UNKNOWN" skopeo_cmd inspect --raw "docker://$R/cd/sk:v1" &&
		one_line_fail "certificate problem.*$ETC_CONTAINERS/$R" berth pull -q "$R/cd/sk:v1"
}
tap_check "the /etc/containers folder hides /etc/docker's: skopeo and berth both refuse" shadowed

with_ca_cert() {
	berth rmi "$R/cd/sk:v1" >/dev/null 2>&1
	berth --ca-cert "$PKI/ca.crt" pull -q "$R/cd/sk:v1"
}
tap_check "berth --ca-cert is trusted beside the folder's CAs" with_ca_cert

tap_check "all the folders removed" remove_cas
tap_check "the registry holds what the clients pushed, nothing more" expect_eq "registry" "$(registry_state)" "$BEFORE"
tap_check "berthd is still running" _berth_alive "$MAIN_PID"
tap_done
