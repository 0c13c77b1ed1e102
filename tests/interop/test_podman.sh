#!/usr/bin/env bash
# Interop with podman: an image built by tests/fixtures/mkimage.sh is loaded into a private
# podman store, pushed to the registry under test, pulled back into a second, empty store,
# compared by digest and run with runc. podman talks to the registry over plain HTTP
# (--tls-verify=false) and never touches /etc/containers or /var/lib/containers.
#
# usage: BERTHD=/abs/path/berthd tests/interop/test_podman.sh
#        TEST_REGISTRY_IMPL=distribution tests/interop/test_podman.sh   (docker-registry instead)
# Optional: BERTH_TEST_TMP=/scratch, BERTH_KEEP_TMP=1, PODMAN_STORAGE_DRIVER=overlay|vfs.
# Needs root (podman with runc and cgroupfs); running containers is skipped if impossible.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
. "$HERE/../lib/podman-setup.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh

rut_require
berth_test_init interop-podman || { echo "Bail out! cannot create a scratch directory"; exit 1; }
command -v podman >/dev/null || { echo "not ok 1 - podman is not installed (scripts/deps.sh test)"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "not ok 1 - the podman tests need root"; exit 1; }

IMG=$TEST_DIR/images
mkdir -p "$IMG"
# Every podman call gets a time limit so a hung registry fails a case, not the whole run.
PODMAN_TIMEOUT=${PODMAN_TIMEOUT:-90}
pm() { timeout -k 5 "$PODMAN_TIMEOUT" "${PODMAN_CMD[@]}" "$@"; }
pm_run() { pm run --pull never --cgroup-parent "$PODMAN_CGROUP_PARENT" "$@"; }
POL=(--signature-policy "$TEST_DIR/podman-a/policy.json")

build_fixtures() {
	"$MKIMAGE" "$IMG/app" --layers 3 --tag v1 --seed podman --cmd /bin/echo berth-default-cmd &&
		"$MKIMAGE" "$IMG/multi" --layers 2 --platforms linux/amd64,linux/arm64 --tag multi --seed podman
}
if ! tap_check "mkimage.sh builds the fixture layouts" build_fixtures; then
	echo "Bail out! no fixtures"
	exit 1
fi
APP=$(layout_top_digest "$IMG/app" v1)
APP_CONFIG=$(jq -r .config.digest "$IMG/app/blobs/sha256/${APP#sha256:}")
MULTI=$(layout_top_digest "$IMG/multi" multi)
ARM64=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' \
	"$IMG/multi/blobs/sha256/${MULTI#sha256:}")

tap_check "start $TEST_REGISTRY_IMPL" rut_start "$TEST_DIR/registry" ||
	{ echo "Bail out! the registry under test did not start"; exit 1; }
R=$RUT_ADDR

# Store A loads and pushes; store B starts empty and pulls.
if ! tap_check "private podman store A (runc, cgroupfs, no host paths)" podman_setup "$TEST_DIR/podman-a"; then
	echo "Bail out! podman cannot be set up here"
	exit 1
fi
tap_diag "podman $(pm info --format '{{.Version.Version}}: storage {{.Store.GraphDriverName}}, runtime {{.Host.OCIRuntime.Name}}, cgroup manager {{.Host.CgroupManager}}, cgroups {{.Host.CgroupsVersion}}' 2>&1)"

load_image() {
	# podman names the image after the layout's path, which must then be lowercase: use a
	# relative one.
	(cd "$IMG" && pm pull -q "${POL[@]}" oci:app:v1) >"$TEST_DIR/loaded-id" || return 1
	pm tag "$(cat "$TEST_DIR/loaded-id")" localhost/berth/app:v1 || return 1
	expect_eq "image ID (config digest)" "sha256:$(cat "$TEST_DIR/loaded-id")" "$APP_CONFIG"
}
tap_check "podman pull oci:DIR:TAG loads the fixture (image ID = config digest)" load_image

PUSHED=
push_image() {
	pm push "${POL[@]}" --tls-verify=false --digestfile "$TEST_DIR/pushed" \
		localhost/berth/app:v1 "docker://$R/podman/app:v1" || return 1
	PUSHED=$(cat "$TEST_DIR/pushed")
	# podman recompresses layers from its store, so the digest is new, but the config and
	# the uncompressed layers are the same image.
	expect_ref_digest "docker://$R/podman/app:v1" "$PUSHED" &&
		expect_eq "config digest in the pushed manifest" \
			"$(ref_raw "docker://$R/podman/app:v1" | jq -r .config.digest)" "$APP_CONFIG"
}
tap_check "podman push to $TEST_REGISTRY_IMPL (--tls-verify=false)" push_image

tap_check "podman push --format v2s2" \
	pm push "${POL[@]}" --tls-verify=false --format v2s2 localhost/berth/app:v1 "docker://$R/podman/app-v2s2:v1"

tap_check "podman push --compression-format zstd" \
	pm push "${POL[@]}" --tls-verify=false --format oci --compression-format zstd \
	localhost/berth/app:v1 "docker://$R/podman/app-zstd:v1"

tap_check "push the two-platform fixture with skopeo (for the pulls below)" \
	push_layout "oci:$IMG/multi:multi" "docker://$R/podman/multi:multi" "$MULTI" --all --preserve-digests

# --- clean store B

setup_b() { podman_setup "$TEST_DIR/podman-b" && podman_allow_http "$R" && [ -z "$(pm images -q)" ]; }
tap_check "private podman store B, empty" setup_b

pull_image() {
	local j
	pm pull -q "${POL[@]}" --tls-verify=false "$R/podman/app:v1" || return 1
	j=$(pm image inspect "$R/podman/app:v1") || return 1
	expect_eq "Digest" "$(jq -r '.[0].Digest' <<<"$j")" "$PUSHED" &&
		expect_eq "Id" "sha256:$(jq -r '.[0].Id' <<<"$j")" "$APP_CONFIG" &&
		expect_eq "RepoDigests" "$(jq -r '.[0].RepoDigests[]' <<<"$j" | grep -c "^$R/podman/app@$PUSHED\$")" 1 &&
		expect_eq "layer diff IDs" "$(jq -c '.[0].RootFS.Layers' <<<"$j")" \
			"$(jq -c .rootfs.diff_ids "$IMG/app/blobs/sha256/${APP_CONFIG#sha256:}")"
}
tap_check "podman pull into the empty store: image inspect digests match the push" pull_image

pull_variants() {
	local j
	pm pull -q "${POL[@]}" --tls-verify=false "$R/podman/app-v2s2:v1" >/dev/null &&
		pm pull -q "${POL[@]}" --tls-verify=false "$R/podman/app-zstd:v1" >/dev/null || return 1
	j=$(pm image inspect "$R/podman/app-zstd:v1") || return 1
	expect_eq "layer diff IDs of the zstd image" "$(jq -c '.[0].RootFS.Layers' <<<"$j")" \
		"$(jq -c .rootfs.diff_ids "$IMG/app/blobs/sha256/${APP_CONFIG#sha256:}")"
}
tap_check "podman pull of the v2s2 and zstd pushes" pull_variants

pull_arm64() {
	local j
	pm pull -q "${POL[@]}" --tls-verify=false --arch arm64 "$R/podman/multi:multi" >/dev/null || return 1
	j=$(pm image inspect "$R/podman/multi:multi") || return 1
	jq -c '.[0] | {Digest, RepoDigests, Architecture}' <<<"$j"
	# podman records the index digest as .Digest and both digests in RepoDigests.
	expect_eq Architecture "$(jq -r '.[0].Architecture' <<<"$j")" arm64 &&
		expect_eq Digest "$(jq -r '.[0].Digest' <<<"$j")" "$MULTI" &&
		expect_eq "arm64 manifest in RepoDigests" \
			"$(jq -r '.[0].RepoDigests[]' <<<"$j" | grep -c "^$R/podman/multi@$ARM64\$")" 1
}
tap_check "podman pull --arch arm64 picks the arm64 manifest from the index" pull_arm64

manifest_inspect() {
	local j
	j=$(pm manifest inspect "$R/podman/multi:multi") || return 1
	expect_eq "platforms" "$(jq -c '[.manifests[] | .platform.architecture + "=" + .digest]' <<<"$j")" \
		"$(jq -c '[.manifests[] | .platform.architecture + "=" + .digest]' "$IMG/multi/blobs/sha256/${MULTI#sha256:}")"
}
tap_check "podman manifest inspect of the index" manifest_inspect

# --- run what came back

if WHY=$(podman_can_run); then
	run_pulled() {
		local out
		out=$(pm_run --rm "$R/podman/app:v1" /bin/sh -c \
			'echo hello-from-berth; cat /etc/berth-layer3.txt; test ! -e /etc/berth-removed.txt && echo whiteout-applied') ||
			{ echo "$out"; return 1; }
		expect_eq "container output" "$(tr '\n' '|' <<<"$out")" 'hello-from-berth|layer 3 was here|whiteout-applied|'
	}
	tap_check "podman run --rm of the pulled image (runc): layers and whiteout applied" run_pulled
	run_default() {
		expect_eq "output of the image's Cmd" "$(pm_run --rm "$R/podman/app-zstd:v1")" berth-default-cmd
	}
	tap_check "podman run --rm of the zstd image runs its Cmd" run_default
else
	tap_fail "podman run --rm of the pulled image" "podman cannot run containers here: $WHY"
fi

# Push from store B (a pulled image) to a new repo: podman reuses the blobs already there.
repush() {
	pm push "${POL[@]}" --tls-verify=false --digestfile "$TEST_DIR/repushed" \
		"$R/podman/app:v1" "docker://$R/podman/app-copy:v1" || return 1
	expect_ref_digest "docker://$R/podman/app-copy:v1" "$(cat "$TEST_DIR/repushed")"
}
tap_check "podman push of a pulled image to another repository" repush

tap_done
