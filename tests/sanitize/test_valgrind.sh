#!/usr/bin/env bash
# TAP: one push/pull cycle with berthd under valgrind (memcheck): an image built by
# tests/fixtures/mkimage.sh is pushed with skopeo, pulled back byte-identical, its tag
# listed and deleted; then berthd is stopped with SIGTERM and valgrind must report no
# memory errors and no definite or indirect leaks. Skips if valgrind is missing.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh

rut_require
berth_test_init sanitize-valgrind || { echo "Bail out! cannot create a scratch directory"; exit 1; }
if ! command -v valgrind >/dev/null; then
	echo "1..0 # SKIP valgrind is not installed (scripts/deps.sh test installs it)"
	exit 0
fi
command -v skopeo >/dev/null || { echo "not ok 1 - skopeo is not installed (scripts/deps.sh test)"; exit 1; }

IMG=$TEST_DIR/images
mkdir -p "$IMG"
tap_check "mkimage.sh builds a 2-layer image" "$MKIMAGE" "$IMG/img" --layers 2 --tag v1 || { tap_done; }
DIGEST=$(layout_top_digest "$IMG/img" v1)

# berthd under valgrind: the wrapper script keeps berthd.sh's start/stop helpers as they are.
VGLOG=$TEST_DIR/valgrind.log
cat >"$TEST_DIR/berthd-vg" <<WRAP
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --track-origins=no --log-file="$VGLOG" "$BERTHD" "\$@"
WRAP
chmod +x "$TEST_DIR/berthd-vg"
REAL_BERTHD=$BERTHD
BERTHD=$TEST_DIR/berthd-vg
# valgrind starts slowly: give readiness a little longer by retrying the start once.
if ! tap_check "berthd starts under valgrind" berthd_start "$TEST_DIR/data" --threads 2; then
	tap_diag "$(cat "$VGLOG" 2>/dev/null | tail -20)"
	tap_done
fi
R=$BERTHD_ADDR
export SKOPEO_TIMEOUT=300s

tap_check "push with skopeo" push_layout "oci:$IMG/img:v1" "docker://$R/vg/img:v1" "$DIGEST" --preserve-digests
tap_check "pull back with skopeo, byte-identical" pull_back "docker://$R/vg/img:v1" "$TEST_DIR/back" v1 "$IMG/img" v1
tap_check "tag list names v1" sh -c "curl -sf http://$R/v2/vg/img/tags/list | jq -e '.tags == [\"v1\"]'"
tap_check "delete the manifest" sh -c "curl -sf -o /dev/null -X DELETE http://$R/v2/vg/img/manifests/$DIGEST"
tap_check "a bad request is refused cleanly" sh -c \
	"test \"\$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary '{\"schemaVersion\":2,' http://$R/v2/vg/img/manifests/bad)\" = 400"

# Stop it ourselves to get valgrind's exit status.
kill -TERM "$BERTHD_PID"
status=0
for _ in $(seq 1 300); do
	kill -0 "$BERTHD_PID" 2>/dev/null || break
	sleep 0.1
done
wait "$BERTHD_PID"
status=$?
unset BERTHD_PID
BERTHD=$REAL_BERTHD
# The log must come from memcheck itself (so the check cannot pass without valgrind) and
# end with no errors and nothing definitely or indirectly lost.
if [ "$status" -eq 0 ] && grep -q 'Memcheck, a memory error detector' "$VGLOG" &&
	grep -q 'ERROR SUMMARY: 0 errors' "$VGLOG" &&
	! grep -q 'definitely lost: [1-9]\|indirectly lost: [1-9]' "$VGLOG"; then
	tap_ok "valgrind: no memory errors, no definite or indirect leaks (berthd exited 0)"
	tap_diag "$(grep -E 'ERROR SUMMARY|in use at exit|definitely lost|indirectly lost|possibly lost' "$VGLOG")"
else
	tap_fail "valgrind reports problems (berthd exit status $status)" "$(head -80 "$VGLOG")"
fi
tap_done
