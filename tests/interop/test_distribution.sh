#!/usr/bin/env bash
# Interop with CNCF Distribution (Debian's docker-registry) as a peer: skopeo moves images
# from the registry under test to docker-registry and back, in both directions, and every
# manifest, index, config and layer digest survives the trip. This is what a mirror or a
# migration between the two does.
#
# usage: BERTHD=/abs/path/berthd tests/interop/test_distribution.sh
#        TEST_REGISTRY_IMPL=distribution tests/interop/test_distribution.sh   (two docker-registries)
# Optional: BERTH_TEST_TMP=/scratch, BERTH_KEEP_TMP=1, DOCKER_REGISTRY=/usr/bin/docker-registry.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh

rut_require
berth_test_init interop-distribution || { echo "Bail out! cannot create a scratch directory"; exit 1; }
command -v skopeo >/dev/null || { echo "not ok 1 - skopeo is not installed (scripts/deps.sh test)"; exit 1; }
[ -x "$DOCKER_REGISTRY" ] || { echo "not ok 1 - $DOCKER_REGISTRY is not installed (scripts/deps.sh test)"; exit 1; }

IMG=$TEST_DIR/images
OUT=$TEST_DIR/out
mkdir -p "$IMG" "$OUT"

build_fixtures() {
	"$MKIMAGE" "$IMG/single" --tag v1 --seed distribution-single &&
		"$MKIMAGE" "$IMG/three" --layers 3 --tag v3 --seed distribution-three &&
		"$MKIMAGE" "$IMG/multi" --layers 2 --platforms linux/amd64,linux/arm64 --tag multi \
			--seed distribution-multi &&
		"$MKIMAGE" "$IMG/big" --layers 2 --tag big --extra-kb 6144 --seed distribution-big
}
if ! tap_check "mkimage.sh builds the fixture layouts" build_fixtures; then
	echo "Bail out! no fixtures"
	exit 1
fi
SINGLE=$(layout_top_digest "$IMG/single" v1)
THREE=$(layout_top_digest "$IMG/three" v3)
MULTI=$(layout_top_digest "$IMG/multi" multi)
BIG=$(layout_top_digest "$IMG/big" big)

tap_check "start $TEST_REGISTRY_IMPL (registry under test)" rut_start "$TEST_DIR/registry" ||
	{ echo "Bail out! the registry under test did not start"; exit 1; }
tap_check "start docker-registry (peer)" distribution_start "$TEST_DIR/peer" ||
	{ echo "Bail out! docker-registry did not start"; exit 1; }
R=$RUT_ADDR
D=$DIST_ADDR

# --- registry under test -> docker-registry

tap_check "oci -> $TEST_REGISTRY_IMPL, 1-layer image" \
	push_layout "oci:$IMG/single:v1" "docker://$R/mirror/single:v1" "$SINGLE" --preserve-digests
tap_check "$TEST_REGISTRY_IMPL -> docker-registry, 1-layer image: same digest" \
	push_layout "docker://$R/mirror/single:v1" "docker://$D/mirror/single:v1" "$SINGLE" --preserve-digests
tap_check "docker-registry copy of the 1-layer image pulls back identical" \
	pull_back "docker://$D/mirror/single:v1" "$OUT/single-d" v1 "$IMG/single" v1

tap_check "oci -> $TEST_REGISTRY_IMPL, 3-layer image" \
	push_layout "oci:$IMG/three:v3" "docker://$R/mirror/three:v3" "$THREE" --preserve-digests
tap_check "$TEST_REGISTRY_IMPL -> docker-registry, 3-layer image: same digest" \
	push_layout "docker://$R/mirror/three:v3" "docker://$D/mirror/three:v3" "$THREE" --preserve-digests
tap_check "docker-registry copy of the 3-layer image pulls back identical" \
	pull_back "docker://$D/mirror/three:v3" "$OUT/three-d" v3 "$IMG/three" v3

tap_check "oci -> $TEST_REGISTRY_IMPL, two-platform index (--all)" \
	push_layout "oci:$IMG/multi:multi" "docker://$R/mirror/multi:multi" "$MULTI" --all --preserve-digests
tap_check "$TEST_REGISTRY_IMPL -> docker-registry, two-platform index (--all): same digest" \
	push_layout "docker://$R/mirror/multi:multi" "docker://$D/mirror/multi:multi" "$MULTI" --all --preserve-digests
tap_check "docker-registry copy of the index pulls back identical (--all)" \
	pull_back "docker://$D/mirror/multi:multi" "$OUT/multi-d" multi "$IMG/multi" multi --all

# --- docker-registry -> registry under test

tap_check "oci -> docker-registry, 1-layer image" \
	push_layout "oci:$IMG/single:v1" "docker://$D/origin/single:v1" "$SINGLE" --preserve-digests
tap_check "docker-registry -> $TEST_REGISTRY_IMPL, 1-layer image: same digest" \
	push_layout "docker://$D/origin/single:v1" "docker://$R/origin/single:v1" "$SINGLE" --preserve-digests
tap_check "$TEST_REGISTRY_IMPL copy of the 1-layer image pulls back identical" \
	pull_back "docker://$R/origin/single:v1" "$OUT/single-r" v1 "$IMG/single" v1

tap_check "oci -> docker-registry, 3-layer image" \
	push_layout "oci:$IMG/three:v3" "docker://$D/origin/three:v3" "$THREE" --preserve-digests
tap_check "docker-registry -> $TEST_REGISTRY_IMPL, 3-layer image: same digest" \
	push_layout "docker://$D/origin/three:v3" "docker://$R/origin/three:v3" "$THREE" --preserve-digests
tap_check "$TEST_REGISTRY_IMPL copy of the 3-layer image pulls back identical" \
	pull_back "docker://$R/origin/three:v3" "$OUT/three-r" v3 "$IMG/three" v3

tap_check "oci -> docker-registry, two-platform index (--all)" \
	push_layout "oci:$IMG/multi:multi" "docker://$D/origin/multi:multi" "$MULTI" --all --preserve-digests
tap_check "docker-registry -> $TEST_REGISTRY_IMPL, two-platform index (--all): same digest" \
	push_layout "docker://$D/origin/multi:multi" "docker://$R/origin/multi:multi" "$MULTI" --all --preserve-digests
tap_check "$TEST_REGISTRY_IMPL copy of the index pulls back identical (--all)" \
	pull_back "docker://$R/origin/multi:multi" "$OUT/multi-r" multi "$IMG/multi" multi --all

both_platforms() {
	local m
	for m in $(jq -r '.manifests[].digest' "$IMG/multi/blobs/sha256/${MULTI#sha256:}"); do
		expect_ref_digest "docker://$R/origin/multi@$m" "$m" &&
			expect_ref_digest "docker://$D/mirror/multi@$m" "$m" || return 1
	done
}
tap_check "each platform manifest resolves by digest on both registries" both_platforms

# --- Docker schema2 and a bigger layer, both ways

V2S2=
v2s2_to_peer() {
	skopeo_cmd copy --src-tls-verify=false --dest-tls-verify=false --format v2s2 \
		"oci:$IMG/three:v3" "docker://$D/origin/three-v2s2:v3" || return 1
	V2S2=$(ref_digest "docker://$D/origin/three-v2s2:v3") || return 1
	expect_eq mediaType "$(ref_raw "docker://$D/origin/three-v2s2:v3" | jq -r .mediaType)" \
		application/vnd.docker.distribution.manifest.v2+json
}
tap_check "oci -> docker-registry as Docker schema2 (--format v2s2)" v2s2_to_peer

v2s2_roundtrip() {
	[ -n "$V2S2" ] || { echo "no schema2 image on docker-registry"; return 1; }
	push_layout "docker://$D/origin/three-v2s2:v3" "docker://$R/origin/three-v2s2:v3" "$V2S2" --preserve-digests &&
		push_layout "docker://$R/origin/three-v2s2:v3" "docker://$D/mirror/three-v2s2:v3" "$V2S2" --preserve-digests
}
tap_check "schema2 image docker-registry -> $TEST_REGISTRY_IMPL -> docker-registry: same digest" v2s2_roundtrip

tap_check "oci -> $TEST_REGISTRY_IMPL, image with a 6 MiB incompressible layer" \
	push_layout "oci:$IMG/big:big" "docker://$R/mirror/big:big" "$BIG" --preserve-digests
big_roundtrip() {
	push_layout "docker://$R/mirror/big:big" "docker://$D/mirror/big:big" "$BIG" --preserve-digests &&
		push_layout "docker://$D/mirror/big:big" "docker://$R/back/big:big" "$BIG" --preserve-digests &&
		pull_back "docker://$R/back/big:big" "$OUT/big" big "$IMG/big" big
}
tap_check "$TEST_REGISTRY_IMPL -> docker-registry -> $TEST_REGISTRY_IMPL of the big image, pulled back identical" \
	big_roundtrip

# --- whole repositories: skopeo sync lists tags and copies each

sync_both_ways() {
	local t
	for t in single:v1 three:v3 multi:multi; do
		skopeo_cmd copy --src-tls-verify=false --dest-tls-verify=false --all --preserve-digests \
			"docker://$R/mirror/$t" "docker://$R/app:${t#*:}" || return 1
	done
	skopeo_cmd sync --src-tls-verify=false --dest-tls-verify=false --all --preserve-digests \
		--src docker --dest docker "$R/app" "$D/synced" || return 1
	skopeo_cmd sync --src-tls-verify=false --dest-tls-verify=false --all --preserve-digests \
		--src docker --dest docker "$D/synced/app" "$R/synced-back" || return 1
	expect_eq "tags on docker-registry" \
		"$(skopeo_cmd list-tags --tls-verify=false "docker://$D/synced/app" | jq -c '.Tags | sort')" '["multi","v1","v3"]' &&
		expect_eq "tags back on $TEST_REGISTRY_IMPL" \
			"$(skopeo_cmd list-tags --tls-verify=false "docker://$R/synced-back/app" | jq -c '.Tags | sort')" '["multi","v1","v3"]' || return 1
	for t in "v1 $SINGLE" "v3 $THREE" "multi $MULTI"; do
		set -- $t
		expect_ref_digest "docker://$D/synced/app:$1" "$2" &&
			expect_ref_digest "docker://$R/synced-back/app:$1" "$2" || return 1
	done
}
tap_check "skopeo sync of a 3-tag repository $TEST_REGISTRY_IMPL -> docker-registry -> $TEST_REGISTRY_IMPL" sync_both_ways

tap_done
