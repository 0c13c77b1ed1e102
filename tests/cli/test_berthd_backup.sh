#!/usr/bin/env bash
# berthd backup DIR: an online copy that a fresh berthd serves with identical digests,
# accounts and signing key; refusals for bad targets.
set -u
: "${BERTHD:?BERTHD must name the berthd binary}"
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${BERTH_TEST_TMP:-/tmp}/backup.XXXXXX")
n=0
fails=0
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
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
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # data port
	"$BERTHD" --listen "127.0.0.1:$2" --data "$1" --log-level warn >>"$tmp/berthd.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		case $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/v2/") in 401) return 0 ;; esac
		sleep 0.1
	done
	return 1
}
sk() { skopeo "$@" >>"$tmp/skopeo.log" 2>&1; }

p1=$(free_port)
echo 'alice-password' | "$BERTHD" user add alice --password-stdin --data "$tmp/data" >/dev/null
start "$tmp/data" "$p1" || notok "berthd starts"
bash "$top/tests/fixtures/mkimage.sh" "$tmp/img" --layers 2 --tag v1 >/dev/null 2>&1
check "push an image with credentials" sk copy -q --dest-tls-verify=false --dest-creds alice:alice-password \
	"oci:$tmp/img:v1" "docker://127.0.0.1:$p1/alice/app:v1"
want=$(skopeo inspect --raw --tls-verify=false --creds alice:alice-password "docker://127.0.0.1:$p1/alice/app:v1" | sha256sum | cut -d' ' -f1)

out=$("$BERTHD" backup "$tmp/copy" --data "$tmp/data" 2>&1)
check "backup while berthd serves exits 0" test $? -eq 0
check "backup says what it copied" grep -q "the database and 3 blobs" <<<"$out"
check "the signing key is copied, mode 0600" test "$(stat -c %a "$tmp/copy/token-signing-key.pem" 2>/dev/null)" = 600
check "fsck of the copy passes" "$BERTHD" fsck --data "$tmp/copy"

p2=$(free_port)
start "$tmp/copy" "$p2" || notok "berthd starts on the copy"
got=$(skopeo inspect --raw --tls-verify=false --creds alice:alice-password "docker://127.0.0.1:$p2/alice/app:v1" | sha256sum | cut -d' ' -f1)
check "the copy serves the same manifest bytes" test "$got" = "$want"
check "the copy's blobs pull with matching digests" sk copy -q --src-tls-verify=false --src-creds alice:alice-password \
	"docker://127.0.0.1:$p2/alice/app:v1" "oci:$tmp/back:v1"
tok=$(curl -s -u alice:alice-password "http://127.0.0.1:$p1/token?service=berth&scope=repository:alice/app:pull" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "http://127.0.0.1:$p2/v2/alice/app/manifests/v1")
check "a token from the original is valid on the copy (same key), got $code" test "$code" = 200

"$BERTHD" backup "$tmp/copy" --data "$tmp/data" >/dev/null 2>"$tmp/err"
rc=$?
check "backup into an existing folder is refused (exit 2, one line)" test $rc -eq 2 -a "$(wc -l <"$tmp/err")" -eq 1
"$BERTHD" backup "$tmp/copy2" --data "$tmp/nothing" >/dev/null 2>"$tmp/err"
rc=$?
check "backup of a folder without a database is refused (exit 2)" test $rc -eq 2
check "and leaves no target behind" test ! -e "$tmp/copy2"

echo "1..$n"
[ $fails -eq 0 ]
