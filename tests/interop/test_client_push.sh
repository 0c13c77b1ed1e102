#!/usr/bin/env bash
# berth push: a pulled image retagged to a second registry is pushed blob by blob and then
# its manifest byte for byte (skopeo reads the same digest back and copies it); a push to
# another repository of the same registry mounts the blobs; a second push sends nothing; a
# pulled multi-platform index pushes the host's image; token auth needs `berth login`;
# Debian's docker-registry takes a push too; unknown images fail with one line.
#
# usage: BERTHD=/abs/berthd BERTH_TOP=/repo tests/interop/test_client_push.sh  (tests/run sets both)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh
BERTH_TOP=${BERTH_TOP:-$(cd "$HERE/../.." && pwd)}
BERTH_BIN=$BERTH_TOP/berth

rut_require
berth_test_init client-push || { echo "Bail out! cannot create a scratch directory"; exit 1; }
[ -x "$BERTH_BIN" ] || { echo "Bail out! $BERTH_BIN is not built"; exit 1; }
command -v skopeo >/dev/null || { echo "Bail out! skopeo is not installed (scripts/deps.sh test)"; exit 1; }

ROOT=$TEST_DIR/root
IMG=$TEST_DIR/images
export BERTH_CONFIG_DIR=$TEST_DIR/berth-config
unset BERTH_INSECURE_REGISTRIES BERTH_ROOT
mkdir -p "$IMG" "$BERTH_CONFIG_DIR"

# berthd with --auth token answers an anonymous /v2/ with 401, which is just as ready.
eval "$(declare -f _berth_wait_ready | sed '1s/_berth_wait_ready/_berth_wait_ready_200/')"
_berth_wait_ready() { _berth_wait_ready_200 "$1" "$2" "$3" "$4 401"; }

berth() {
	timeout 60 "$BERTH_BIN" --root "$ROOT" "$@"
}

case $(uname -m) in
x86_64) HOST_ARCH=amd64 OTHER_ARCH=arm64 ;;
aarch64) HOST_ARCH=arm64 OTHER_ARCH=amd64 ;;
*) HOST_ARCH=$(uname -m) OTHER_ARCH=amd64 ;;
esac

# pushed_ok REF WANT: the manifest at REF has digest WANT.
pushed_ok() {
	expect_eq "digest at $1" "$(ref_digest "docker://$1")" "$2"
}

build_fixtures() {
	"$MKIMAGE" "$IMG/app" --layers 3 --tag v1 --seed push-app >/dev/null &&
		"$MKIMAGE" "$IMG/multi" --layers 2 --platforms "linux/$HOST_ARCH,linux/$OTHER_ARCH" --tag multi \
			--seed push-multi >/dev/null
}
tap_check "fixtures: mkimage.sh layouts" build_fixtures || { echo "Bail out! no fixtures"; exit 1; }
APP_MANIFEST=$(layout_top_digest "$IMG/app" v1)
MULTI_INDEX=$(layout_top_digest "$IMG/multi" multi)
MULTI_HOST=$(jq -r --arg a "$HOST_ARCH" '.manifests[] | select(.platform.architecture == $a) | .digest' \
	"$IMG/multi/blobs/sha256/${MULTI_INDEX#sha256:}")

start_registries() {
	berthd_start "$TEST_DIR/src" --auth none || return 1
	SRC=$BERTHD_ADDR
	berthd_start "$TEST_DIR/dst" --auth none || return 1
	DST=$BERTHD_ADDR DST_LOG=$BERTHD_LOG
	skopeo_cmd copy --dest-tls-verify=false "oci:$IMG/app:v1" "docker://$SRC/test/app:v1" >/dev/null &&
		skopeo_cmd copy --dest-tls-verify=false --all "oci:$IMG/multi:multi" "docker://$SRC/test/multi:multi" >/dev/null
}
tap_check "start two berthd (--auth none), the fixtures on the first" start_registries ||
	{ echo "Bail out! no registries"; exit 1; }

push_to_other() {
	local out
	berth pull -q "$SRC/test/app:v1" >/dev/null && berth tag "$SRC/test/app:v1" "$DST/copy/app:v1" || return 1
	out=$(berth push "$DST/copy/app:v1") || { echo "$out"; return 1; }
	echo "$out"
	grep -qx "4 blobs uploaded, 0 mounted, 0 already present" <<<"$out" &&
		grep -qx "v1: digest: $APP_MANIFEST size: [0-9]*" <<<"$out" && pushed_ok "$DST/copy/app:v1" "$APP_MANIFEST"
}
tap_check "push a pulled, retagged image to another berthd: same manifest digest there" push_to_other

copy_back() {
	skopeo_cmd copy --src-tls-verify=false "docker://$DST/copy/app:v1" "oci:$TEST_DIR/back:v1" >/dev/null &&
		expect_eq "copied manifest" "$(layout_top_digest "$TEST_DIR/back" v1)" "$APP_MANIFEST" &&
		expect_eq "blobs" "$(layout_blobs "$TEST_DIR/back")" "$(layout_blobs "$IMG/app")"
}
tap_check "skopeo copies the pushed image to an OCI layout, every blob intact" copy_back

push_again() {
	local out
	out=$(berth push "$DST/copy/app:v1") || { echo "$out"; return 1; }
	echo "$out"
	grep -qx "0 blobs uploaded, 0 mounted, 4 already present" <<<"$out"
}
tap_check "pushing again uploads nothing" push_again

push_mount() {
	local out
	berth tag "$DST/copy/app:v1" "$DST/other/app:v2" || return 1
	out=$(berth push "$DST/other/app:v2") || { echo "$out"; return 1; }
	echo "$out"
	grep -qx "0 blobs uploaded, 4 mounted, 0 already present" <<<"$out" && pushed_ok "$DST/other/app:v2" "$APP_MANIFEST"
}
tap_check "push to another repository of the same registry mounts every blob" push_mount

push_index() {
	local out err
	berth pull -q "$SRC/test/multi:multi" >/dev/null && berth tag "$SRC/test/multi:multi" "$DST/copy/multi:m" || return 1
	out=$(berth push "$DST/copy/multi:m" 2>"$TEST_DIR/stderr") || { cat "$TEST_DIR/stderr"; echo "$out"; return 1; }
	err=$(cat "$TEST_DIR/stderr")
	echo "$out"
	echo "$err"
	[ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "multi-platform index; pushing only its linux/$HOST_ARCH image" <<<"$err" &&
		pushed_ok "$DST/copy/multi:m" "$MULTI_HOST"
}
tap_check "a pulled index pushes the host's image, saying so in one line" push_index

tap_check "an unknown local image fails with one line" \
	berth_fails_with "no such local image: $DST/copy/nothing:v1" berth push "$DST/copy/nothing:v1"
tap_check "an unreachable registry fails with one line" \
	berth_fails_with "berth: push 127.0.0.1:1/x/app:v1" bash -c '"$0" --root "$1" tag "$2" 127.0.0.1:1/x/app:v1 &&
		"$0" --root "$1" push 127.0.0.1:1/x/app:v1' "$BERTH_BIN" "$ROOT" "$SRC/test/app:v1"

# ---------------------------------------------------------------- token auth

token_setup() {
	berthd_start "$TEST_DIR/tok" --auth token || return 1
	TOK=$BERTHD_ADDR
	printf 'alice pass 1\n' | "$BERTHD" user add alice --password-stdin --data "$TEST_DIR/tok" &&
		printf 'bob pass 1\n' | "$BERTHD" user add bob --password-stdin --data "$TEST_DIR/tok" &&
		berth tag "$SRC/test/app:v1" "$TOK/alice/app:v1" && berth tag "$SRC/test/app:v1" "$TOK/bob/app:v1"
}
if tap_check "berthd --auth token with accounts alice and bob" token_setup; then
	tap_check "push without login fails clearly" \
		berth_fails_with "berth login $TOK" berth push "$TOK/alice/app:v1"
	login_push() {
		printf 'alice pass 1\n' | berth login "$TOK" -u alice --password-stdin >/dev/null &&
			berth push -q "$TOK/alice/app:v1" &&
			expect_eq "digest" "$(skopeo_cmd inspect --raw --tls-verify=false --creds 'alice:alice pass 1' \
				"docker://$TOK/alice/app:v1" | sha256sum | cut -d' ' -f1)" "${APP_MANIFEST#sha256:}"
	}
	tap_check "after berth login the push works" login_push
	tap_check "pushing into another user's namespace is refused: denied" \
		berth_fails_with "denied" berth push "$TOK/bob/app:v1"
	berth logout "$TOK" >/dev/null
fi

# ---------------------------------------------------------------- docker-registry

if [ -x "$DOCKER_REGISTRY" ]; then
	dist_push() {
		distribution_start "$TEST_DIR/dist" || return 1
		berth tag "$SRC/test/app:v1" "$DIST_ADDR/dist/app:v1" && berth push -q "$DIST_ADDR/dist/app:v1" &&
			pushed_ok "$DIST_ADDR/dist/app:v1" "$APP_MANIFEST" &&
			berth tag "$SRC/test/app:v1" "$DIST_ADDR/dist/mounted:v1" &&
			berth push "$DIST_ADDR/dist/mounted:v1" | grep -qx "0 blobs uploaded, 4 mounted, 0 already present" &&
			pushed_ok "$DIST_ADDR/dist/mounted:v1" "$APP_MANIFEST"
	}
	tap_check "push to Debian's docker-registry (upload, then mount)" dist_push
	distribution_stop
else
	tap_skip "push to Debian's docker-registry" "$DOCKER_REGISTRY not installed"
fi

tap_check "--help lists push" bash -c '"$0" --help | grep -q "^  push "' "$BERTH_BIN"

tap_done
