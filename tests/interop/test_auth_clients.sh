#!/usr/bin/env bash
# Real clients against berthd --auth token: podman login/push/pull/logout, skopeo with
# --creds/--dest-creds/--src-creds (password and personal access token), anonymous skopeo
# on public and private repositories, and berth login + pull. Accounts are made with the
# berthd admin CLI while the server runs.
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/interop/test_auth_clients.sh  (tests/run sets both)
# Optional: BERTH_TEST_TMP=/scratch, BERTH_KEEP_TMP=1. Prints TAP. podman cases need root.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
. "$HERE/../lib/podman-setup.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}
BERTH_BIN=$BERTH_TOP/berth

[ "${TEST_REGISTRY_IMPL:-berthd}" = berthd ] || { echo "1..0 # SKIP accounts are berthd's"; exit 0; }
rut_require
berth_test_init interop-auth || { echo "Bail out! cannot create a scratch directory"; exit 1; }
command -v skopeo >/dev/null || { echo "Bail out! skopeo is not installed (scripts/deps.sh test)"; exit 1; }

# berthd.sh waits for GET /v2/ to answer 200; with --auth token an anonymous /v2/ answers
# 401, which is just as ready.
eval "$(declare -f _berth_wait_ready | sed '1s/_berth_wait_ready/_berth_wait_ready_200/')"
_berth_wait_ready() { _berth_wait_ready_200 "$1" "$2" "$3" "$4 401"; }

exec {TAP_OUT}>&1
IMG=$TEST_DIR/images
OUT=$TEST_DIR/out
DATA=$TEST_DIR/registry
mkdir -p "$IMG" "$OUT"
ALICE_PW='alice pass word 1'
BOB_PW='bob-password-1'

# badm ARGS...: the berthd admin CLI on the running server's data folder.
badm() { "$BERTHD" "$@" --data "$DATA"; }

# push_creds SRC DST WANT CREDS [FLAGS...]: skopeo copy with --dest-creds CREDS; the digest
# skopeo reports and the manifest then at DST (read with the same credentials) equal WANT.
push_creds() {
	local src=$1 dst=$2 want=$3 creds=$4 got
	shift 4
	skopeo_cmd copy --dest-tls-verify=false --digestfile "$TEST_DIR/digest" --dest-creds "$creds" \
		"$@" "$src" "$dst" || return 1
	expect_eq "digest reported by skopeo" "$(cat "$TEST_DIR/digest")" "$want" || return 1
	got=$(skopeo_cmd inspect --raw --tls-verify=false --creds "$creds" "$dst" | sha256sum | cut -d' ' -f1)
	expect_eq "digest of the manifest at $dst" "sha256:$got" "$want"
}

build_fixtures() {
	"$MKIMAGE" "$IMG/app" --layers 2 --tag v1 --seed auth --cmd /bin/echo berth-auth
}
tap_check "mkimage.sh builds the fixture layout" build_fixtures || { echo "Bail out! no fixtures"; exit 1; }
APP=$(layout_top_digest "$IMG/app" v1)
APP_CONFIG=$(jq -r .config.digest "$IMG/app/blobs/sha256/${APP#sha256:}")

# BERTH_TEST_AUTH may say none: the later --auth wins.
tap_check "start berthd --auth token" rut_start "$DATA" --auth token ||
	{ echo "Bail out! berthd did not start"; exit 1; }
R=$RUT_ADDR

challenge() {
	local h
	h=$(curl -s -o /dev/null -D - "http://$R/v2/" | tr -d '\r' | grep -i '^www-authenticate:') || { echo "no challenge"; return 1; }
	echo "$h"
	grep -q "Bearer realm=\"http://$R/token\",service=\"berth\"" <<<"$h"
}
tap_check "anonymous GET /v2/ -> 401 with the Bearer challenge" challenge

make_accounts() {
	printf '%s\n' "$ALICE_PW" | badm user add alice --password-stdin &&
		printf '%s\n' "$BOB_PW" | badm user add bob --password-stdin &&
		PAT_RW=$(badm token add alice --scope read-write --name interop) &&
		PAT_R=$(badm token add alice --scope read --name interop-read) || return 1
	case $PAT_RW$PAT_R in berth_pat_*berth_pat_*) ;; *) echo "token add printed '$PAT_RW' '$PAT_R'"; return 1 ;; esac
}
tap_check "berthd user add / token add while the server runs" make_accounts

# --- skopeo

tap_check "skopeo copy --dest-creds (password) pushes alice/sk:v1" \
	push_creds "oci:$IMG/app:v1" "docker://$R/alice/sk:v1" "$APP" "alice:$ALICE_PW" --preserve-digests

tap_check "skopeo copy --src-creds pulls it back identical" \
	pull_back "docker://$R/alice/sk:v1" "$OUT/sk" v1 "$IMG/app" v1 --src-creds "alice:$ALICE_PW"

inspect_pat() {
	local j
	j=$(skopeo_cmd inspect --tls-verify=false --creds "alice:$PAT_R" "docker://$R/alice/sk:v1") || return 1
	expect_eq Digest "$(jq -r .Digest <<<"$j")" "$APP"
}
tap_check "skopeo inspect --creds with a read PAT as the password" inspect_pat

tap_check "skopeo copy --dest-creds with a read-write PAT pushes alice/sk-pat:v1" \
	push_creds "oci:$IMG/app:v1" "docker://$R/alice/sk-pat:v1" "$APP" "alice:$PAT_RW" --preserve-digests

tap_check "skopeo push with a read PAT fails" \
	expect_fail_with "denied|unauthorized|authentication|401|403" \
	skopeo_cmd copy --dest-tls-verify=false --dest-creds "alice:$PAT_R" "oci:$IMG/app:v1" "docker://$R/alice/sk-ro:v1"

tap_check "skopeo inspect --creds with a wrong password fails" \
	expect_fail_with "unauthorized|authentication|401|invalid username" \
	skopeo_cmd inspect --tls-verify=false --creds "alice:wrong-password" "docker://$R/alice/sk:v1"

tap_check "bob cannot push into alice/ (skopeo --dest-creds bob)" \
	expect_fail_with "denied|unauthorized|authentication|401|403" \
	skopeo_cmd copy --dest-tls-verify=false --dest-creds "bob:$BOB_PW" "oci:$IMG/app:v1" "docker://$R/alice/bob-was-here:v1"

tap_check "bob cannot read alice's private image" \
	expect_fail_with "denied|unauthorized|authentication|401|403|not found|unknown" \
	skopeo_cmd inspect --tls-verify=false --creds "bob:$BOB_PW" "docker://$R/alice/sk:v1"

tap_check "anonymous skopeo inspect of a private repository fails with an auth error" \
	expect_fail_with "unauthorized|authentication required|401" \
	skopeo_cmd inspect --tls-verify=false --no-creds "docker://$R/alice/sk:v1"

anon_public() {
	local j
	badm repo visibility alice/sk-pat public || return 1
	j=$(skopeo_cmd inspect --tls-verify=false --no-creds "docker://$R/alice/sk-pat:v1") || return 1
	expect_eq Digest "$(jq -r .Digest <<<"$j")" "$APP" || return 1
	rm -rf "$OUT/anon"
	skopeo_cmd copy --src-tls-verify=false --src-no-creds "docker://$R/alice/sk-pat:v1" "oci:$OUT/anon:v1" &&
		expect_same_layout "$IMG/app" v1 "$OUT/anon" v1
}
tap_check "anonymous skopeo inspect and copy of a public repository work" anon_public

tap_check "anonymous skopeo push to the public repository fails" \
	expect_fail_with "unauthorized|authentication|401|403|denied" \
	skopeo_cmd copy --dest-tls-verify=false --dest-no-creds "oci:$IMG/app:v1" "docker://$R/alice/sk-pat:v2"

# --- podman

if [ "$(id -u)" != 0 ] || ! command -v podman >/dev/null; then
	tap_skip "podman login/push/pull/logout" "needs root and podman"
elif ! tap_check "private podman store (no host paths)" podman_setup "$TEST_DIR/podman"; then
	tap_fail "podman login/push/pull/logout" "podman cannot be set up"
else
	PODMAN_TIMEOUT=${PODMAN_TIMEOUT:-90}
	pm() { timeout -k 5 "$PODMAN_TIMEOUT" "${PODMAN_CMD[@]}" "$@"; }
	POL=(--signature-policy "$TEST_DIR/podman/policy.json")
	load_image() {
		(cd "$IMG" && pm pull -q "${POL[@]}" oci:app:v1) >"$TEST_DIR/loaded-id" &&
			pm tag "$(cat "$TEST_DIR/loaded-id")" "$R/alice/pm:v1" &&
			expect_eq "image ID" "sha256:$(cat "$TEST_DIR/loaded-id")" "$APP_CONFIG"
	}
	tap_check "podman loads the fixture" load_image

	tap_check "podman login with a wrong password fails" \
		expect_fail_with "unauthorized|401|invalid username|authentication" \
		pm login --tls-verify=false -u alice -p wrong-password "$R"

	tap_check "podman push without login fails" \
		expect_fail_with "unauthorized|authentication|401" \
		pm push "${POL[@]}" --tls-verify=false "$R/alice/pm:v1"

	login_ok() {
		printf '%s\n' "$ALICE_PW" | pm login --tls-verify=false -u alice --password-stdin "$R" || return 1
		jq -e --arg r "$R" '.auths[$r].auth' "$PODMAN_DIR/auth.json" >/dev/null ||
			{ echo "no credentials for $R in auth.json"; return 1; }
	}
	tap_check "podman login --password-stdin succeeds and stores credentials" login_ok

	push_ok() {
		pm push "${POL[@]}" --tls-verify=false --digestfile "$TEST_DIR/pushed" "$R/alice/pm:v1" || return 1
		expect_eq "config digest of the pushed manifest" \
			"$(skopeo_cmd inspect --raw --tls-verify=false --creds "alice:$ALICE_PW" "docker://$R/alice/pm:v1" | jq -r .config.digest)" \
			"$APP_CONFIG"
	}
	tap_check "podman push after login" push_ok

	pull_ok() {
		pm rmi -f "$R/alice/pm:v1" >/dev/null || return 1
		pm rmi -f "$(cat "$TEST_DIR/loaded-id")" >/dev/null 2>&1
		pm pull -q "${POL[@]}" --tls-verify=false "$R/alice/pm:v1" || return 1
		expect_eq Id "sha256:$(pm image inspect "$R/alice/pm:v1" | jq -r '.[0].Id')" "$APP_CONFIG"
	}
	tap_check "podman pull after login (image removed first)" pull_ok

	logout_ok() {
		pm logout "$R" || return 1
		jq -e --arg r "$R" '.auths[$r] == null' "$PODMAN_DIR/auth.json" >/dev/null ||
			{ echo "credentials still in auth.json"; return 1; }
		pm rmi -f "$R/alice/pm:v1" >/dev/null
		expect_fail_with "unauthorized|authentication|401" \
			pm pull -q "${POL[@]}" --tls-verify=false "$R/alice/pm:v1"
	}
	tap_check "podman logout; pulling the private image fails again" logout_ok

	bob_push() {
		local rc
		(cd "$IMG" && pm pull -q "${POL[@]}" oci:app:v1) >/dev/null &&
			pm tag "$APP_CONFIG" "$R/alice/pm-bob:v1" &&
			printf '%s\n' "$BOB_PW" | pm login --tls-verify=false -u bob --password-stdin "$R" || return 1
		expect_fail_with "denied|unauthorized|authentication|401|403" \
			pm push "${POL[@]}" --tls-verify=false "$R/alice/pm-bob:v1"
		rc=$?
		pm logout "$R" >/dev/null
		return $rc
	}
	tap_check "podman login as bob; push into alice/ refused" bob_push
fi

# --- berth

if [ -x "$BERTH_BIN" ]; then
	export BERTH_CONFIG_DIR=$TEST_DIR/berth-config
	unset BERTH_INSECURE_REGISTRIES BERTH_ROOT DOCKER_CONFIG
	mkdir -p "$BERTH_CONFIG_DIR"
	berth() { timeout 60 "$BERTH_BIN" --root "$TEST_DIR/berth-root" "$@"; }

	tap_check "berth pull of a private image without login fails clearly" \
		expect_fail_with "login|unauthorized|authentication" berth pull "$R/alice/sk:v1"

	tap_check "berth login with a wrong password fails and stores nothing" bash -c '
		! echo wrong-password | "$0" --root "$1" login "$2" -u alice --password-stdin &&
		{ [ ! -e "$3/config.json" ] || [ "$(jq -c ".auths[\"$2\"]" "$3/config.json")" = null ]; }' \
		"$BERTH_BIN" "$TEST_DIR/berth-root" "$R" "$BERTH_CONFIG_DIR"

	tap_check "berth login $R -u alice --password-stdin" \
		bash -c 'printf "%s\n" "$1" | "$0" --root "$2" login "$3" -u alice --password-stdin' \
		"$BERTH_BIN" "$ALICE_PW" "$TEST_DIR/berth-root" "$R"

	berth_pull_ok() {
		berth pull -q "$R/alice/sk:v1" || return 1
		expect_eq Id "$(berth inspect "$R/alice/sk:v1" | jq -r '.[0].Id')" "$APP_CONFIG"
	}
	tap_check "berth pull of the private image after login" berth_pull_ok

	berth_logout_ok() {
		berth logout "$R" || return 1
		expect_fail_with "login|unauthorized|authentication" berth pull "$R/alice/sk:v1"
	}
	tap_check "berth logout; pulling the private image fails again" berth_logout_ok

	tap_check "berth pull of the public image anonymously" berth pull -q "$R/alice/sk-pat:v1"

	berth_pat() {
		printf '%s\n' "$PAT_R" | berth login "$R" -u alice --password-stdin &&
			berth pull -q "$R/alice/sk:v1" && berth logout "$R"
	}
	tap_check "berth login with a PAT as the password, pull" berth_pat
else
	tap_skip "berth login + pull" "$BERTH_BIN is not built"
fi

tap_check "berthd is still running" _berth_alive "$RUT_PID"
tap_done
