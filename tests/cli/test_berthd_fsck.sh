#!/usr/bin/env bash
# berthd fsck: a clean store passes; a corrupt blob, a missing blob file, an unreferenced
# file and the manifests that need the broken blobs are reported; --repair quarantines and
# fixes the metadata, after which fsck passes and clients see clean "unknown" answers.
set -u
: "${BERTHD:?BERTHD must name the berthd binary}"
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${BERTH_TEST_TMP:-/tmp}/fsck.XXXXXX")
n=0
fails=0
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'
}
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data="$tmp/data"
"$BERTHD" --auth none --listen "127.0.0.1:$port" --data "$data" --log-level warn >"$tmp/berthd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
bash "$top/tests/fixtures/mkimage.sh" "$tmp/img" --layers 3 --tag v1 >/dev/null 2>&1
skopeo_push() {
	skopeo copy -q --dest-tls-verify=false "oci:$tmp/img:v1" "docker://127.0.0.1:$port/$1:v1" >"$tmp/skopeo.log" 2>&1
}
check "push a three-layer image to two repositories" bash -c "$(declare -f skopeo_push); tmp='$tmp' port=$port; skopeo_push f/one && skopeo_push f/two"

out=$("$BERTHD" fsck --data "$data" 2>&1)
rc=$?
check "fsck of a clean store exits 0" test $rc -eq 0
check "fsck reports what it checked" grep -q "blobs checked: 0 corrupt, 0 missing, 0 unreferenced files, 0 dangling" <<<"$out"

manifest=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://127.0.0.1:$port/v2/f/one/manifests/v1")
layers=($(jq -r '.layers[].digest' <<<"$manifest"))
path() { echo "$data/blobs/sha256/${1:7:2}/${1#sha256:}"; }
# Corrupt the first layer, remove the second's file, add a file nothing records.
printf 'garbage' | dd of="$(path "${layers[0]}")" bs=1 seek=10 conv=notrunc 2>/dev/null
rm -f "$(path "${layers[1]}")"
head -c 1000 /dev/urandom >"$tmp/stray"
stray="sha256:$(sha256sum "$tmp/stray" | cut -d' ' -f1)"
mkdir -p "$(dirname "$(path "$stray")")"
cp "$tmp/stray" "$(path "$stray")"

out=$("$BERTHD" fsck --data "$data" 2>&1)
rc=$?
check "fsck finds problems and exits 1" test $rc -eq 1
check "the corrupt layer is reported" grep -q "corrupt blob: ${layers[0]}" <<<"$out"
check "the missing layer file is reported" grep -q "missing blob file: ${layers[1]}" <<<"$out"
check "the unreferenced file is reported" grep -q "unreferenced blob file: $stray" <<<"$out"
check "nothing was changed without --repair" test -f "$(path "${layers[0]}")"

out=$("$BERTHD" fsck --repair --data "$data" 2>&1)
rc=$?
check "fsck --repair exits 0" test $rc -eq 0
check "--repair reports the manifests that needed the lost layers, in both repositories" \
	test "$(grep -c 'dangling reference: f/\(one\|two\)@' <<<"$out")" -ge 2
check "--repair deleted those manifests" bash -c "grep -q 'deleted manifest f/one@' <<<'$out' && grep -q 'deleted manifest f/two@' <<<'$out'"
check "the corrupt blob is in quarantine/" test -f "$data/quarantine/sha256-${layers[0]#sha256:}"
check "the corrupt blob is no longer in the store" test ! -e "$(path "${layers[0]}")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/f/one/blobs/${layers[0]}")
check "the corrupt blob answers 404 now (got $code)" test "$code" = 404

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/f/one/manifests/v1")
check "the broken tag answers 404 MANIFEST_UNKNOWN now (got $code)" test "$code" = 404
out=$("$BERTHD" fsck --data "$data" 2>&1)
rc=$?
check "fsck passes after the repair (got $rc)" test $rc -eq 0
check "the intact third layer is still served" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/f/two/blobs/${layers[2]}")" = 200
err=$("$BERTHD" fsck --data "$tmp/nowhere" 2>&1)
check "fsck of a folder without a database exits 2 with one line" bash -c "'$BERTHD' fsck --data '$tmp/nowhere' >/dev/null 2>&1; test \$? -eq 2 && test $(wc -l <<<"$err") -eq 1"

kill -TERM $pid
wait $pid
pid=
echo "1..$n"
[ $fails -eq 0 ]
