#!/usr/bin/env bash
# End-to-end tests of the web UI in real headless Chromium (Debian's /usr/bin/chromium,
# driven by playwright-core from tests/ui/node_modules): berthd --auth token with images
# pushed by skopeo (built by tests/fixtures/mkimage.sh), then tests/ui/ui.mjs signs in,
# searches, browses repositories, tags, platforms and layers, copies pull commands, makes
# and revokes a token, changes visibility, deletes a tag, checks that a malicious
# description stays inert, keyboard use and dark mode. A second berthd (no auth) is the
# upstream of berthd's pull-through cache (--mirror up=URL) and the source of a replication
# rule that the admin page adds, runs and deletes. Screenshots of every page go to
# $BERTH_TEST_OUT/ui-screenshots (tests/out/ui-screenshots by default).
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/ui/test_ui.sh  (tests/run sets both). Prints TAP.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}

[ "${TEST_REGISTRY_IMPL:-berthd}" = berthd ] || { echo "1..0 # SKIP the web UI is berthd's"; exit 0; }
rut_require
berth_test_init ui || { echo "Bail out! cannot create a scratch directory"; exit 1; }
command -v skopeo >/dev/null || { echo "Bail out! skopeo is not installed (scripts/deps.sh test)"; exit 1; }
[ -x /usr/bin/chromium ] || { echo "Bail out! /usr/bin/chromium is not installed (scripts/deps.sh test)"; exit 1; }
command -v node >/dev/null || { echo "Bail out! node is not installed (scripts/deps.sh test)"; exit 1; }
[ -d "$HERE/node_modules/playwright-core" ] ||
	{ echo "Bail out! tests/ui/node_modules is missing: run scripts/deps.sh test (npm ci in tests/ui)"; exit 1; }

# With --auth token an anonymous GET /v2/ answers 401, which is just as ready.
eval "$(declare -f _berth_wait_ready | sed '1s/_berth_wait_ready/_berth_wait_ready_200/')"
_berth_wait_ready() { _berth_wait_ready_200 "$1" "$2" "$3" "$4 401"; }

IMG=$TEST_DIR/images
DATA=$TEST_DIR/registry
SHOTS=${BERTH_TEST_OUT:-$BERTH_TOP/tests/out}/ui-screenshots
mkdir -p "$IMG" "$SHOTS"
export UI_ADMIN_PW='admin-password-1' UI_ALICE_PW='alice-password-1' UI_BOB_PW='bob-password-1'

badm() { "$BERTHD" "$@" --data "$DATA"; }

build_fixtures() {
	"$MKIMAGE" "$IMG/app" --layers 3 --platforms linux/amd64,linux/arm64 --tag latest --seed ui-app &&
		"$MKIMAGE" "$IMG/app" --layers 2 --tag 1.0 --seed ui-app-1 &&
		"$MKIMAGE" "$IMG/tool" --layers 2 --tag v1 --seed ui-tool --cmd /bin/echo hello-from-berth &&
		"$MKIMAGE" "$IMG/evil" --layers 1 --tag latest --seed ui-evil &&
		"$MKIMAGE" "$IMG/secret" --layers 1 --tag latest --seed ui-secret
}
tap_check "mkimage.sh builds the fixture layouts" build_fixtures || { echo "Bail out! no fixtures"; exit 1; }

# The upstream: a berthd without accounts, holding library/base:v1 (pulled through the
# cache below) and :v2 (pulled by ui.mjs for a mirror webhook), and team/app:1.0 and
# :latest (what the replication rule copies).
start_upstream() {
	_berthd_spawn "$TEST_DIR/upstream" || return 1
	UP=127.0.0.1:$_SPAWN_PORT
	local c=(skopeo_cmd copy -q --dest-tls-verify=false --multi-arch all)
	"${c[@]}" "oci:$IMG/tool:v1" "docker://$UP/library/base:v1" &&
		"${c[@]}" "oci:$IMG/tool:v1" "docker://$UP/library/base:v2" &&
		"${c[@]}" "oci:$IMG/app:1.0" "docker://$UP/team/app:1.0" &&
		"${c[@]}" "oci:$IMG/app:latest" "docker://$UP/team/app:latest"
}
tap_check "upstream berthd with library/base:v1 and :v2, team/app:1.0 and :latest" start_upstream ||
	{ echo "Bail out! the upstream did not start"; exit 1; }
export UI_UPSTREAM="http://$UP"

# --gc-grace 0: the admin page's collection frees what the tests deleted at once;
# --gc-interval 0: no collection but those the test starts.
tap_check "start berthd --auth token --mirror up=http://UPSTREAM --gc-grace 0 --gc-interval 0" \
	rut_start "$DATA" --auth token --mirror "up=http://$UP" --gc-grace 0 --gc-interval 0 ||
	{ echo "Bail out! berthd did not start"; exit 1; }
export UI_BASE="http://$RUT_ADDR"

accounts() {
	printf '%s\n' "$UI_ADMIN_PW" | badm user add admin --admin --password-stdin &&
		printf '%s\n' "$UI_ALICE_PW" | badm user add alice --password-stdin &&
		printf '%s\n' "$UI_BOB_PW" | badm user add bob --password-stdin
}
tap_check "berthd user add: admin, alice, bob" accounts || { echo "Bail out! no accounts"; exit 1; }

push() { # push LAYOUT:TAG REPO:TAG
	skopeo_cmd copy --dest-tls-verify=false --dest-creds "alice:$UI_ALICE_PW" --multi-arch all \
		"oci:$IMG/$1" "docker://$RUT_ADDR/alice/$2"
}
pushes() {
	push app:latest app:latest && push app:1.0 app:1.0 && push tool:v1 tool:v1 && push evil:latest evil:latest &&
		push secret:latest secret:latest
}
tap_check "skopeo pushes alice/app (two platforms), alice/tool, alice/evil, alice/secret" pushes ||
	{ echo "Bail out! pushes failed"; exit 1; }

# api METHOD PATH [JSON]: /api/v1 as alice (Basic), fails on an HTTP error.
api() {
	curl -sf -u "alice:$UI_ALICE_PW" -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} \
		"$UI_BASE/api/v1$2"
}
settings() {
	local readme
	readme=$(jq -Rs . <<'MD'
# Demo app

A **tiny** image for the UI tests, with a [link](https://example.org/docs).

| arch | tested |
| --- | --- |
| amd64 | yes |
| arm64 | ~~no~~ yes |

- [x] multi-platform
- [ ] signed
MD
)
	api PATCH /repositories/alice/app "{\"visibility\":\"public\",\"description\":\"A small demo app for the web UI\",\"full_description\":$readme}" >/dev/null &&
		api PATCH /repositories/alice/tool '{"visibility":"public","description":"Prints hello"}' >/dev/null &&
		api PATCH /repositories/alice/evil '{"visibility":"public","description":"<img src=x onerror=alert(1)>"}' >/dev/null &&
		api POST /orgs '{"name":"acme"}' >/dev/null &&
		api PUT /orgs/acme/members/bob '{"role":"reader"}' >/dev/null
}
tap_check "visibility and descriptions set through /api/v1; organization acme with bob" settings ||
	{ echo "Bail out! API set-up failed"; exit 1; }

# 30 more (private) repositories, so that Explore has a second page: alice/tool's manifest
# and blobs mounted into each through /v2/ (Basic credentials are accepted there).
bulk() {
	local raw cfg layers i d
	raw=$(curl -sf -u "alice:$UI_ALICE_PW" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"$UI_BASE/v2/alice/tool/manifests/v1") || return 1
	cfg=$(jq -r .config.digest <<<"$raw")
	layers=$(jq -r '.layers[].digest' <<<"$raw")
	for i in $(seq -w 0 29); do
		for d in $cfg $layers; do
			curl -sf -o /dev/null -u "alice:$UI_ALICE_PW" -X POST \
				"$UI_BASE/v2/alice/zz-bulk-$i/blobs/uploads/?mount=$d&from=alice/tool" || return 1
		done
		curl -sf -o /dev/null -u "alice:$UI_ALICE_PW" -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
			--data-binary "$raw" "$UI_BASE/v2/alice/zz-bulk-$i/manifests/v1" || return 1
	done
}
tap_check "30 more private repositories alice/zz-bulk-NN (mounted blobs, same manifest)" bulk

# Pull alice/app:latest once, so the tags table has a last-pulled time (written within 5 s).
tap_check "skopeo pulls alice/app:latest anonymously (public)" \
	skopeo_cmd inspect --raw --tls-verify=false "docker://$RUT_ADDR/alice/app:latest"

# A pull through the cache (as admin: the cached repository gets the default visibility,
# private) stores up/library/base with its tag.
tap_check "skopeo pulls up/library/base:v1 through the pull-through cache" \
	skopeo_cmd copy -q --src-tls-verify=false --src-creds "admin:$UI_ADMIN_PW" \
	"docker://$RUT_ADDR/up/library/base:v1" "oci:$TEST_DIR/pulled:v1"

export UI_SHOTS=$SHOTS UI_TAP_START=$_tap_n
cd "$HERE" && timeout 600 node ui.mjs
rc=$?
_tap_failed=$((_tap_failed + rc))
exit $rc
