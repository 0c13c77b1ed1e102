#!/usr/bin/env bash
# Interop with skopeo: images built by tests/fixtures/mkimage.sh go into the registry under
# test and come back byte-identical (manifest, index, config and layer digests), in OCI and
# Docker schema2 form, across a restart, between repositories, and then get deleted.
#
# usage: BERTHD=/abs/path/berthd tests/interop/test_skopeo.sh
#        TEST_REGISTRY_IMPL=distribution tests/interop/test_skopeo.sh   (docker-registry instead)
# Optional: BERTH_TEST_TMP=/scratch, BERTH_KEEP_TMP=1. Prints TAP.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh

rut_require
berth_test_init interop-skopeo || { echo "Bail out! cannot create a scratch directory"; exit 1; }
command -v skopeo >/dev/null || { echo "not ok 1 - skopeo is not installed (scripts/deps.sh test)"; exit 1; }

IMG=$TEST_DIR/images
OUT=$TEST_DIR/out
mkdir -p "$IMG" "$OUT"

# --- fixtures

build_fixtures() {
	"$MKIMAGE" "$IMG/single" --tag v1 --cmd /bin/echo berth-single &&
		"$MKIMAGE" "$IMG/three" --layers 3 --tag v3 &&
		"$MKIMAGE" "$IMG/multi" --layers 2 --platforms linux/amd64,linux/arm64 --tag multi &&
		"$MKIMAGE" "$IMG/again" --tag v1 --cmd /bin/echo berth-single || return 1
	expect_eq "digest of a second identical build" \
		"$(layout_top_digest "$IMG/again" v1)" "$(layout_top_digest "$IMG/single" v1)"
}
if ! tap_check "mkimage.sh builds the fixture layouts, deterministically" build_fixtures; then
	echo "Bail out! no fixtures"
	exit 1
fi
SINGLE=$(layout_top_digest "$IMG/single" v1)
THREE=$(layout_top_digest "$IMG/three" v3)
MULTI=$(layout_top_digest "$IMG/multi" multi)
ARM64=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' \
	"$IMG/multi/blobs/sha256/${MULTI#sha256:}")

if ! tap_check "start $TEST_REGISTRY_IMPL" rut_start "$TEST_DIR/registry"; then
	echo "Bail out! the registry under test did not start"
	exit 1
fi
R=$RUT_ADDR

# --- single image, three layers, two platforms

tap_check "push 1-layer OCI image (oci: -> docker://, --preserve-digests)" \
	push_layout "oci:$IMG/single:v1" "docker://$R/interop/single:v1" "$SINGLE" --preserve-digests

inspect_single() {
	local j
	j=$(skopeo_cmd inspect --tls-verify=false "docker://$R/interop/single:v1") || return 1
	expect_eq Digest "$(jq -r .Digest <<<"$j")" "$SINGLE" &&
		expect_eq Architecture "$(jq -r .Architecture <<<"$j")" amd64 &&
		expect_eq Layers "$(jq -c .Layers <<<"$j")" \
			"$(skopeo_cmd inspect oci:"$IMG/single:v1" | jq -c .Layers)" &&
		expect_eq "config digest (inspect --config)" \
			"sha256:$(skopeo_cmd inspect --tls-verify=false --config --raw "docker://$R/interop/single:v1" | sha256sum | cut -d' ' -f1)" \
			"$(jq -r .config.digest "$IMG/single/blobs/sha256/${SINGLE#sha256:}")"
}
tap_check "skopeo inspect (image and --config) matches the source" inspect_single

tap_check "pull 1-layer image back to a new OCI layout: identical digests and blobs" \
	pull_back "docker://$R/interop/single:v1" "$OUT/single" v1 "$IMG/single" v1

tap_check "push 3-layer image (with whiteout layer)" \
	push_layout "oci:$IMG/three:v3" "docker://$R/interop/three:v3" "$THREE" --preserve-digests

tap_check "pull 3-layer image back: identical digests and blobs" \
	pull_back "docker://$R/interop/three:v3" "$OUT/three" v3 "$IMG/three" v3

tap_check "push two-platform index with --all" \
	push_layout "oci:$IMG/multi:multi" "docker://$R/interop/multi:multi" "$MULTI" --all --preserve-digests

tap_check "inspect --raw of the arm64 manifest by digest" \
	expect_ref_digest "docker://$R/interop/multi@$ARM64" "$ARM64"

tap_check "pull two-platform index back with --all: identical digests and blobs" \
	pull_back "docker://$R/interop/multi:multi" "$OUT/multi" multi "$IMG/multi" multi --all

# --- tags and digests

list_tags() {
	local j
	skopeo_cmd copy --src-tls-verify=false --dest-tls-verify=false "docker://$R/interop/single:v1" "docker://$R/interop/single:v2" || return 1
	j=$(skopeo_cmd list-tags --tls-verify=false "docker://$R/interop/single") || return 1
	echo "$j"
	expect_eq Repository "$(jq -r .Repository <<<"$j")" "$R/interop/single" &&
		expect_eq Tags "$(jq -c '.Tags | sort' <<<"$j")" '["v1","v2"]' &&
		expect_ref_digest "docker://$R/interop/single:v2" "$SINGLE"
}
tap_check "skopeo list-tags after tagging by docker:// -> docker://" list_tags

tap_check "copy from a digest reference (repo@sha256:...) to an OCI layout" \
	pull_back "docker://$R/interop/three@$THREE" "$OUT/three-bydigest" v3 "$IMG/three" v3

tap_check "push to a digest reference (repo@sha256:...)" \
	push_layout "oci:$IMG/three:v3" "docker://$R/interop/bydigest@$THREE" "$THREE"

# --- manifest formats

tap_check "push with --format oci" \
	push_layout "oci:$IMG/three:v3" "docker://$R/interop/format-oci:v3" "$THREE" --format oci

v2s2_push() {
	local raw want_layers
	skopeo_cmd copy --src-tls-verify=false --dest-tls-verify=false --format v2s2 "oci:$IMG/three:v3" "docker://$R/interop/format-v2s2:v3" || return 1
	raw=$(ref_raw "docker://$R/interop/format-v2s2:v3") || return 1
	want_layers=$(jq -c '[.layers[].digest]' "$IMG/three/blobs/sha256/${THREE#sha256:}")
	expect_eq mediaType "$(jq -r .mediaType <<<"$raw")" application/vnd.docker.distribution.manifest.v2+json &&
		expect_eq "config mediaType" "$(jq -r .config.mediaType <<<"$raw")" application/vnd.docker.container.image.v1+json &&
		expect_eq "layer mediaTypes" "$(jq -c '[.layers[].mediaType] | unique' <<<"$raw")" \
			'["application/vnd.docker.image.rootfs.diff.tar.gzip"]' &&
		expect_eq "layer digests" "$(jq -c '[.layers[].digest]' <<<"$raw")" "$want_layers" &&
		expect_eq "config digest" "$(jq -r .config.digest <<<"$raw")" \
			"$(jq -r .config.digest "$IMG/three/blobs/sha256/${THREE#sha256:}")"
}
tap_check "push with --format v2s2: Docker schema2 manifest, same layer and config blobs" v2s2_push

v2s2_pull() {
	local want
	want=$(ref_digest "docker://$R/interop/format-v2s2:v3") || return 1
	rm -rf "$OUT/v2s2-dir"
	skopeo_cmd copy --src-tls-verify=false --dest-tls-verify=false "docker://$R/interop/format-v2s2:v3" "dir:$OUT/v2s2-dir" || return 1
	expect_eq "manifest.json digest in dir:" "sha256:$(sha256sum <"$OUT/v2s2-dir/manifest.json" | cut -d' ' -f1)" "$want" &&
		expect_eq "fetched blobs" \
			"$(ls "$OUT/v2s2-dir" | grep -v -e manifest.json -e version | sort | tr '\n' ' ')" \
			"$(layout_blobs "$IMG/three" | grep -v -e "${THREE#sha256:}" | sed 's/^sha256://' | sort | tr '\n' ' ')"
}
tap_check "pull the schema2 image back (dir:): same manifest bytes, config and layers" v2s2_pull

# --- restart

restart() {
	rut_stop || return 1
	rut_start "$TEST_DIR/registry" || return 1
	R=$RUT_ADDR
}
tap_check "restart $TEST_REGISTRY_IMPL on the same data directory" restart

after_restart() {
	expect_ref_digest "docker://$R/interop/single:v1" "$SINGLE" &&
		expect_ref_digest "docker://$R/interop/three:v3" "$THREE" &&
		expect_ref_digest "docker://$R/interop/multi:multi" "$MULTI" &&
		expect_ref_digest "docker://$R/interop/multi@$ARM64" "$ARM64" &&
		expect_eq "tags of interop/single" \
			"$(skopeo_cmd list-tags --tls-verify=false "docker://$R/interop/single" | jq -c '.Tags | sort')" '["v1","v2"]'
}
tap_check "after restart: every tag and digest still resolves, tags listed" after_restart

tap_check "after restart: pull two-platform index back, identical" \
	pull_back "docker://$R/interop/multi:multi" "$OUT/multi-restart" multi "$IMG/multi" multi --all

# --- blob reuse and registry-to-registry copies

reuse() {
	local log=$TEST_DIR/reuse.log n want
	skopeo_cmd copy --src-tls-verify=false --dest-tls-verify=false "oci:$IMG/three:v3" "docker://$R/interop/reuse-a:v3" || return 1
	skopeo_cmd --debug copy --src-tls-verify=false --dest-tls-verify=false "oci:$IMG/three:v3" "docker://$R/interop/reuse-b:v3" >"$log" 2>&1 ||
		{ tail -n 40 "$log"; return 1; }
	want=$(jq '.layers | length' "$IMG/three/blobs/sha256/${THREE#sha256:}")
	n=$(grep -c 'Skipping blob .*already present' "$log")
	if [ "$n" != "$want" ]; then
		echo "second push reused $n of $want layers; the requests were:"
		grep -E 'msg="(HEAD|POST|PUT|PATCH|GET) |mount|Skipping' "$log" | sed 's/^time="[^"]*" //' | head -n 40
		return 1
	fi
	expect_ref_digest "docker://$R/interop/reuse-b:v3" "$THREE"
}
tap_check "second push of the same image to another repo reuses every layer (mount/HEAD)" reuse

tap_check "docker:// -> docker:// between two repos keeps the digest" \
	push_layout "docker://$R/interop/three:v3" "docker://$R/interop/copy-of-three:v3" "$THREE" --preserve-digests

tap_check "docker:// -> docker:// of the two-platform index with --all" \
	push_layout "docker://$R/interop/multi:multi" "docker://$R/interop/copy-of-multi:multi" "$MULTI" --all --preserve-digests

# --- delete

delete() {
	local out
	push_layout "oci:$IMG/single:v1" "docker://$R/interop/delete-me:v1" "$SINGLE" || return 1
	skopeo_cmd delete --tls-verify=false "docker://$R/interop/delete-me:v1" || return 1
	if out=$(skopeo_cmd inspect --raw --tls-verify=false "docker://$R/interop/delete-me@$SINGLE" 2>&1); then
		echo "manifest still served by digest after skopeo delete"
		return 1
	fi
	grep -qi 'manifest unknown' <<<"$out" || { echo "unexpected error after delete: $out"; return 1; }
	if skopeo_cmd inspect --raw --tls-verify=false "docker://$R/interop/delete-me:v1" >/dev/null 2>&1; then
		echo "tag v1 still resolves after skopeo delete"
		return 1
	fi
	# The same manifest in another repository is untouched.
	expect_ref_digest "docker://$R/interop/single:v1" "$SINGLE"
}
tap_check "skopeo delete removes the manifest (by tag and digest), other repos keep it" delete

tap_done
