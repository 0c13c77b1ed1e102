#!/usr/bin/env bash
# A DELETE of an upload that another request is still writing (a slow PATCH, a monolithic
# PUT with its body) answers at once and the upload ends when that request is done. berthd
# serves connections on a pool of HTTP worker threads; a DELETE that waited for the other
# request could wait for a request its own worker thread must serve. With --threads 1 every
# connection shares one worker, so waiting would hang both (30 s, then 503).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/berthd.sh
. "$HERE/../lib/berthd.sh"
berth_test_init upload-cancel || exit 1
berthd_start "$TEST_DIR/data" --threads 1 || { tap_fail "berthd --threads 1 starts" "$(cat "$TEST_DIR"/*.log)"; tap_done; exit 1; }
R=$BERTHD_ADDR
head -c 3000000 /dev/urandom >"$TEST_DIR/blob"
D=sha256:$(sha256sum <"$TEST_DIR/blob" | cut -d' ' -f1)

# upload_start REPO: POST, prints the Location.
upload_start() {
	curl -sf -D - -o /dev/null -X POST "http://$R/v2/$1/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p'
}

# DELETE during a PATCH that takes 3 s (1 MB/s): 204 within seconds, the PATCH still
# answered, then the upload is gone.
cancel_during_patch() {
	local loc pid code t0 t1
	loc=$(upload_start t/patch) && [ -n "$loc" ] || { echo "POST failed"; return 1; }
	curl -s -o /dev/null -w '%{http_code}' -m 60 --limit-rate 1000K -X PATCH \
		-H 'Content-Type: application/octet-stream' --data-binary @"$TEST_DIR/blob" "http://$R$loc" >"$TEST_DIR/patch" &
	pid=$!
	sleep 0.5
	t0=$SECONDS
	code=$(curl -s -o "$TEST_DIR/body" -w '%{http_code}' -m 20 -X DELETE "http://$R$loc")
	t1=$SECONDS
	wait "$pid"
	expect_eq "status of the DELETE during the PATCH" "$code" 204 || { cat "$TEST_DIR/body"; return 1; }
	[ $((t1 - t0)) -le 10 ] || { echo "the DELETE took $((t1 - t0)) s"; return 1; }
	expect_eq "status of the PATCH" "$(cat "$TEST_DIR/patch")" 202 || return 1
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R$loc")
	expect_eq "status of the upload after both" "$code" 404 || return 1
	[ -z "$(ls -A "$TEST_DIR/data/uploads" 2>/dev/null)" ] || { echo "left in uploads/: $(ls "$TEST_DIR/data/uploads")"; return 1; }
}
tap_check "a DELETE during a slow PATCH on the same worker thread answers 204 at once; the upload ends after the PATCH" \
	cancel_during_patch

# DELETE during a monolithic PUT with its body: the DELETE answers 204 at once; the PUT
# commits (201) or, had the DELETE come first, finds no upload (404); the blob is whole if
# it was stored.
cancel_during_put() {
	local loc pid code sep
	loc=$(upload_start t/put) && [ -n "$loc" ] || { echo "POST failed"; return 1; }
	sep='?'
	case $loc in *\?*) sep='&' ;; esac
	curl -s -o /dev/null -w '%{http_code}' -m 60 --limit-rate 1000K -X PUT \
		-H 'Content-Type: application/octet-stream' --data-binary @"$TEST_DIR/blob" "http://$R$loc${sep}digest=$D" >"$TEST_DIR/put" &
	pid=$!
	sleep 0.5
	code=$(curl -s -o "$TEST_DIR/body" -w '%{http_code}' -m 20 -X DELETE "http://$R$loc")
	wait "$pid"
	case "$(cat "$TEST_DIR/put") $code" in
	"201 204" | "201 404" | "404 204") ;;
	*) echo "PUT $(cat "$TEST_DIR/put"), DELETE $code: $(cat "$TEST_DIR/body")"; return 1 ;;
	esac
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R$loc")
	expect_eq "status of the upload after both" "$code" 404 || return 1
	if [ "$(cat "$TEST_DIR/put")" = 201 ]; then
		[ "sha256:$(curl -sf "http://$R/v2/t/put/blobs/$D" | sha256sum | cut -d' ' -f1)" = "$D" ] ||
			{ echo "the stored blob is not whole"; return 1; }
	fi
}
tap_check "a DELETE during a slow monolithic PUT answers at once; the PUT commits whole or finds no upload" cancel_during_put

curl -sf "http://$R/v2/" >/dev/null && tap_ok "berthd is still serving" || tap_fail "berthd is still serving"
tap_done
