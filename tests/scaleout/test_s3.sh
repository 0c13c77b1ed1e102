#!/usr/bin/env bash
# berthd on S3 storage (--storage s3) against a real single-node Ceph RGW started by
# tests/scaleout/ceph.sh: the API conformance suites, skopeo push/pull, chunked uploads with
# chunks under and over S3's 5 MiB part minimum, ranged GETs, a restart (and a SIGKILL) in
# the middle of an upload, fsck and fsck --repair on the bucket, --storage-redirect, the
# node-local --blob-cache (hits without S3, ranges, refetch, eviction, restart, GC), and bad
# settings. Prints TAP; reports how long Ceph took to start and what it used.
#
# usage: BERTHD=/abs/path/berthd tests/scaleout/test_s3.sh
#        BERTH_S3_SUITES=all (or a list like "test_blobs test_manifests") picks the API suites
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh

rut_require
berth_test_init scaleout-s3 || { echo "Bail out! cannot create a scratch directory"; exit 1; }

CEPH=$TEST_DIR/ceph
berth_on_exit "$HERE/ceph.sh" stop "$CEPH"
t0=$(date +%s.%N)
if ! "$HERE/ceph.sh" start "$CEPH" >"$TEST_DIR/ceph.env" 2>"$TEST_DIR/ceph.err"; then
	tap_fail "single-node Ceph (mon, osd, radosgw) starts" "$(tail -n 60 "$TEST_DIR/ceph.err")"
	tap_done
fi
tap_ok "single-node Ceph (mon, osd, radosgw) starts"
set -a
. "$TEST_DIR/ceph.env"
set +a
tap_diag "Ceph started in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s; $S3_ENDPOINT bucket $S3_BUCKET"

S3ARGS="--storage s3 --s3-endpoint $S3_ENDPOINT --s3-bucket $S3_BUCKET --s3-region $S3_REGION"
s3req() { python3 "$HERE/s3req.py" "$@"; }
# uploads_left ID: how many objects are under main/uploads/ID/ once the commit's clean-up is
# done (a committed upload's staging objects are deleted just after its 201: up to 5 s).
uploads_left() {
	local n i
	for ((i = 0; i < 50; i++)); do
		n=$(s3req GET "/$S3_BUCKET?list-type=2&prefix=main/uploads/$1/" | grep -o '<Key>' | wc -l)
		[ "$n" = 0 ] && break
		sleep 0.1
	done
	echo "$n"
}

# ---------------------------------------------------------------- (a) conformance suites

run_suite() {
	BERTH_TEST_ARGS="$S3ARGS --s3-prefix $1/" timeout 600 python3 "$2"
}
# The suites that drive blob storage; the others exercise the metadata, which S3 does not
# change, and take minutes more against RGW: BERTH_S3_SUITES=all runs every tests/api suite.
suites=${BERTH_S3_SUITES:-test_base test_blobs test_uploads test_restart}
[ "$suites" = all ] && suites=$(cd "$HERE/../api" && ls test_*.py | sed 's/\.py$//')
for suite in $suites; do
	s0=$SECONDS
	tap_check "API suite $suite passes on S3 storage" run_suite "api-$suite" "$HERE/../api/$suite.py"
	tap_diag "$suite took $((SECONDS - s0)) s"
done

# ---------------------------------------------------------------- the driver alone

# The multipart copy (for blobs over 5 GiB) with the limit lowered to 6 MiB; its TAP lines
# are folded into one case here.
COPY_CHECK=${BERTH_TOP:-$HERE/../..}/tests/scaleout/s3_copy_check
copy_check() {
	local out
	[ -x "$COPY_CHECK" ] || { echo "$COPY_CHECK is not built (make)"; return 1; }
	out=$(S3_PREFIX=copycheck/ "$COPY_CHECK")
	echo "$out"
	! grep -q '^not ok' <<<"$out" && grep -q '^1\.\.26$' <<<"$out"
}
tap_check "commit and quarantine use a multipart UploadPartCopy above the CopyObject limit; commits at a blob key without the bytes written are refused" copy_check

# ---------------------------------------------------------------- one berthd for the rest

DATA=$TEST_DIR/registry
export BERTH_TEST_ARGS="$S3ARGS --s3-prefix main/"
if ! tap_check "berthd starts with --storage s3" berthd_start "$DATA"; then
	tap_done
fi
R=$BERTHD_ADDR

# ---------------------------------------------------------------- (b) skopeo

IMG=$TEST_DIR/images
tap_check "mkimage.sh builds a 3-layer image with a 6 MiB layer" \
	"$MKIMAGE" "$IMG/three" --layers 3 --tag v3 --extra-kb 6144
THREE=$(layout_top_digest "$IMG/three" v3)
tap_check "skopeo pushes the image to berthd on S3" \
	push_layout "oci:$IMG/three:v3" "docker://$R/s3/three:v3" "$THREE" --preserve-digests
tap_check "skopeo pulls it back byte-identical" \
	pull_back "docker://$R/s3/three:v3" "$TEST_DIR/pulled" v3 "$IMG/three" v3

blobs_in_bucket() {
	s3req GET "/$S3_BUCKET?list-type=2&prefix=main/blobs/" | grep -o '<Key>[^<]*</Key>' | wc -l
}
check_bucket_holds_layers() {
	local n
	n=$(blobs_in_bucket)
	[ "$n" -ge 4 ] || { echo "only $n blob objects under main/blobs/"; return 1; }
	[ ! -d "$DATA/blobs/sha256" ] || [ -z "$(ls -A "$DATA/blobs/sha256")" ] ||
		{ echo "blobs were written to the data folder:"; ls -R "$DATA/blobs"; return 1; }
}
tap_check "the blobs are objects in the bucket, none on local disk" check_bucket_holds_layers

# ---------------------------------------------------------------- (c) chunked uploads, ranges

WORK=$TEST_DIR/work
mkdir -p "$WORK"
head -c 13000000 /dev/urandom >"$WORK/blob"
BLOB=sha256:$(sha256sum <"$WORK/blob" | cut -d' ' -f1)

# upload_start REPO: prints the upload's Location path.
upload_start() {
	curl -sf -D - -o /dev/null -X POST "http://$R/v2/$1/blobs/uploads/" | tr -d '\r' |
		sed -n 's/^[Ll]ocation: //p'
}
# upload_patch LOC FROM LEN [ADDR]: PATCH bytes FROM..FROM+LEN-1 of the blob; prints the
# status and the new Location on one line.
upload_patch() {
	local loc=$1 from=$2 len=$3 addr=${4:-$R}
	tail -c +$((from + 1)) "$WORK/blob" | head -c "$len" >"$WORK/chunk"
	curl -s -D "$WORK/h" -o "$WORK/body" -X PATCH -H 'Content-Type: application/octet-stream' \
		-H "Content-Range: $from-$((from + len - 1))" --data-binary @"$WORK/chunk" "http://$addr$loc" \
		-w '%{http_code}'
	printf ' %s\n' "$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Ll]ocation: //p')"
}
# upload_put LOC [ADDR]: complete with the blob's digest; prints the status.
upload_put() {
	local sep='?'
	case $1 in *\?*) sep='&' ;; esac
	curl -s -o "$WORK/body" -X PUT "http://${2:-$R}$1${sep}digest=$BLOB" -w '%{http_code}'
}
# blob_matches REPO [ADDR]: the whole blob comes back with the right digest.
blob_matches() {
	local got
	got=sha256:$(curl -sf "http://${2:-$R}/v2/$1/blobs/$BLOB" | sha256sum | cut -d' ' -f1)
	expect_eq "digest of GET /v2/$1/blobs/$BLOB" "$got" "$BLOB"
}

# chunked_upload REPO SIZES...: PATCH the blob in chunks of these sizes (the rest in the PUT).
chunked_upload() {
	local repo=$1 loc from=0 out code
	shift
	loc=$(upload_start "$repo") && [ -n "$loc" ] || { echo "POST gave no Location"; return 1; }
	for len in "$@"; do
		out=$(upload_patch "$loc" "$from" "$len")
		code=${out%% *}
		[ "$code" = 202 ] || { echo "PATCH $from+$len: HTTP $code: $(cat "$WORK/body")"; return 1; }
		loc=${out#* }
		from=$((from + len))
	done
	tail -c +$((from + 1)) "$WORK/blob" >"$WORK/chunk"
	local sep='?'
	case $loc in *\?*) sep='&' ;; esac
	code=$(curl -s -o "$WORK/body" -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary @"$WORK/chunk" "http://$R$loc${sep}digest=$BLOB" -w '%{http_code}')
	[ "$code" = 201 ] || { echo "PUT: HTTP $code: $(cat "$WORK/body")"; return 1; }
	blob_matches "$repo"
}
tap_check "chunked upload, chunks of 1 MiB (all under the part minimum)" \
	chunked_upload s3/small 1048576 1048576 1048576 1048576 1048576 1048576 1048576 1048576 1048576 1048576
tap_check "chunked upload, chunks of 6 and 5 MB (over the part minimum, crossing parts)" \
	chunked_upload s3/big 6000000 5000000
tap_check "chunked upload, 3 MB then 9 MB then the rest in the PUT" \
	chunked_upload s3/mixed 3000000 9000000
tap_check "chunked upload, one 13 MB PATCH then an empty PUT" chunked_upload s3/one 13000000

range_is() {
	local range=$1 from=$2 len=$3 want got code
	code=$(curl -s -o "$WORK/range" -w '%{http_code}' -H "Range: bytes=$range" "http://$R/v2/s3/small/blobs/$BLOB")
	[ "$code" = 206 ] || { echo "Range $range: HTTP $code"; return 1; }
	want=$(tail -c +$((from + 1)) "$WORK/blob" | head -c "$len" | sha256sum)
	got=$(sha256sum <"$WORK/range")
	expect_eq "bytes $range" "$got" "$want"
}
tap_check "ranged GET inside the first part" range_is 100-199 100 100
tap_check "ranged GET across a part boundary" range_is 8388000-8389999 8388000 2000
tap_check "ranged GET of the last byte" range_is 12999999- 12999999 1
tap_check "ranged GET of 12 MB from the middle (streamed)" range_is 500000-12499999 500000 12000000
unsatisfiable() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Range: bytes=13000000-' "http://$R/v2/s3/small/blobs/$BLOB")
	expect_eq "status of a range past the end" "$code" 416
}
tap_check "a range past the end is 416" unsatisfiable

bad_chunk_leaves_upload_intact() {
	local loc out
	loc=$(upload_start s3/badchunk)
	out=$(upload_patch "$loc" 0 6000000)
	[ "${out%% *}" = 202 ] || { echo "first PATCH: $out"; return 1; }
	loc=${out#* }
	# A chunk that does not start where the upload ends is refused...
	out=$(upload_patch "$loc" 5000000 2000000)
	expect_eq "status of a chunk at the wrong offset" "${out%% *}" 416 || return 1
	# ...and a digest that does not match removes nothing stored and fails cleanly.
	out=$(upload_patch "$loc" 6000000 7000000)
	[ "${out%% *}" = 202 ] || { echo "second PATCH: $out"; return 1; }
	loc=${out#* }
	local sep='?'
	case $loc in *\?*) sep='&' ;; esac
	local code
	code=$(curl -s -o "$WORK/body" -X PUT "http://$R$loc${sep}digest=sha256:$(printf '%064d' 0)" -w '%{http_code}')
	expect_eq "status of a PUT with the wrong digest" "$code" 400 || return 1
	grep -q DIGEST_INVALID "$WORK/body" || { echo "body: $(cat "$WORK/body")"; return 1; }
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R/v2/s3/badchunk/blobs/sha256:$(printf '%064d' 0)")
	expect_eq "status of the never-stored digest" "$code" 404
}
tap_check "bad chunks and a wrong digest are refused and store nothing" bad_chunk_leaves_upload_intact

upload_cancel_cleans_bucket() {
	local loc out id n
	loc=$(upload_start s3/cancel)
	out=$(upload_patch "$loc" 0 9000000)
	[ "${out%% *}" = 202 ] || { echo "PATCH: $out"; return 1; }
	id=${loc##*/}
	id=${id%%\?*}
	n=$(s3req GET "/$S3_BUCKET?list-type=2&prefix=main/uploads/$id/" | grep -o '<Key>' | wc -l)
	[ "$n" -ge 2 ] || { echo "expected state and tail objects, found $n"; return 1; }
	curl -sf -X DELETE "http://$R${out#* }" -o /dev/null || { echo "DELETE failed"; return 1; }
	n=$(s3req GET "/$S3_BUCKET?list-type=2&prefix=main/uploads/$id/" | grep -o '<Key>' | wc -l)
	expect_eq "objects left under uploads/$id/" "$n" 0 || return 1
	n=$(s3req GET "/$S3_BUCKET?uploads=&prefix=main/uploads/$id/" | grep -o '<UploadId>' | wc -l)
	expect_eq "multipart uploads left for $id" "$n" 0
}
tap_check "cancelling an upload removes its objects and aborts its multipart upload" upload_cancel_cleans_bucket

damaged_state_is_a_clear_error() {
	local loc out id code n
	loc=$(upload_start s3/damaged)
	out=$(upload_patch "$loc" 0 2000000)
	[ "${out%% *}" = 202 ] || { echo "PATCH: $out"; return 1; }
	loc=${out#* }
	id=${loc##*/}
	id=${id%%\?*}
	echo '{"size": 5, "parts": "nonsense"}' >"$WORK/state"
	s3req PUT "/$S3_BUCKET/main/uploads/$id/state" "$WORK/state" >/dev/null || return 1
	out=$(upload_patch "$loc" 2000000 1000000)
	expect_eq "status of a PATCH on a damaged upload state" "${out%% *}" 500 || return 1
	grep -q "state object is malformed" "$WORK/body" || { echo "body: $(cat "$WORK/body")"; return 1; }
	code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://$R$loc")
	expect_eq "status of cancelling it" "$code" 204 || return 1
	n=$(s3req GET "/$S3_BUCKET?list-type=2&prefix=main/uploads/$id/" | grep -o '<Key>' | wc -l)
	expect_eq "objects left under uploads/$id/" "$n" 0
}
tap_check "a damaged upload state in the bucket is a clear error, and the upload can still be cancelled" \
	damaged_state_is_a_clear_error

# mp_gone_setup REPO: an upload of a blob of its own (MPBLOB, 13 MB) with one 8 MiB part and a
# tail staged (a 9 MB PATCH), whose multipart upload is then aborted behind berthd's back (as
# a bucket lifecycle rule AbortIncompleteMultipartUpload would). Sets loc and id.
head -c 13000000 /dev/urandom >"$WORK/mpblob"
MPBLOB=sha256:$(sha256sum <"$WORK/mpblob" | cut -d' ' -f1)
mp_gone_setup() {
	local code mp
	loc=$(upload_start "$1")
	head -c 9000000 "$WORK/mpblob" >"$WORK/mpchunk"
	code=$(curl -s -D "$WORK/h" -o "$WORK/body" -w '%{http_code}' -X PATCH -H 'Content-Type: application/octet-stream' \
		-H 'Content-Range: 0-8999999' --data-binary @"$WORK/mpchunk" "http://$R$loc")
	[ "$code" = 202 ] || { echo "PATCH: $code $(cat "$WORK/body")"; return 1; }
	loc=$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Ll]ocation: //p')
	id=${loc##*/}
	id=${id%%\?*}
	mp=$(s3req GET "/$S3_BUCKET/main/uploads/$id/state" | python3 -c 'import json, sys; print(json.load(sys.stdin)["mp"])')
	[ -n "$mp" ] && [ "$mp" != None ] || { echo "no multipart upload in the state"; return 1; }
	s3req DELETE "/$S3_BUCKET/main/uploads/$id/data?uploadId=$mp" >/dev/null
}
# mp_gone_ended: the upload is gone (404) and left nothing in the bucket, nor a blob.
mp_gone_ended() {
	local code n
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R$loc")
	expect_eq "status of the upload afterwards" "$code" 404 || return 1
	n=$(s3req GET "/$S3_BUCKET?list-type=2&prefix=main/uploads/$id/" | grep -o '<Key>' | wc -l)
	expect_eq "objects left under uploads/$id/" "$n" 0 || return 1
	! s3req GET "/$S3_BUCKET/main/blobs/sha256/${MPBLOB:7:2}/${MPBLOB#sha256:}" >/dev/null 2>&1 ||
		{ echo "the blob key exists"; return 1; }
}
mp_gone_commit_ends_upload() {
	local loc id code
	mp_gone_setup s3/mpgone || return 1
	tail -c +9000001 "$WORK/mpblob" >"$WORK/rest"
	local sep='?'
	case $loc in *\?*) sep='&' ;; esac
	code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary @"$WORK/rest" "http://$R$loc${sep}digest=$MPBLOB")
	expect_eq "status of the commit" "$code" 400 || return 1
	grep -q 'BLOB_UPLOAD_INVALID' "$WORK/body" && grep -q 'multipart upload aborted' "$WORK/body" ||
		{ echo "body: $(cat "$WORK/body")"; return 1; }
	mp_gone_ended
}
tap_check "a commit whose multipart upload was aborted behind berthd's back answers 400 BLOB_UPLOAD_INVALID and ends the upload" \
	mp_gone_commit_ends_upload
mp_gone_patch_ends_upload() {
	local loc id code
	mp_gone_setup s3/mpgone2 || return 1
	head -c 8000000 /dev/zero >"$WORK/zeros"
	code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X PATCH -H 'Content-Type: application/octet-stream' \
		-H 'Content-Range: 9000000-16999999' --data-binary @"$WORK/zeros" "http://$R$loc")
	expect_eq "status of a PATCH that fills a part" "$code" 400 || return 1
	grep -q 'BLOB_UPLOAD_INVALID' "$WORK/body" && grep -q 'multipart upload aborted' "$WORK/body" ||
		{ echo "body: $(cat "$WORK/body")"; return 1; }
	mp_gone_ended
}
tap_check "a PATCH whose part goes to a multipart upload aborted behind berthd's back answers 400 BLOB_UPLOAD_INVALID and ends the upload" \
	mp_gone_patch_ends_upload

# ---------------------------------------------------------------- (d) restart mid-upload

restart_mid_upload() {
	local signal=$1 repo=$2 loc out code
	loc=$(upload_start "$repo")
	out=$(upload_patch "$loc" 0 3000000)
	[ "${out%% *}" = 202 ] || { echo "PATCH 1: $out"; return 1; }
	out=$(upload_patch "${out#* }" 3000000 7000000)
	[ "${out%% *}" = 202 ] || { echo "PATCH 2: $out"; return 1; }
	loc=${out#* }
	if [ "$signal" = KILL ]; then
		kill -KILL "$BERTHD_PID"
		wait "$BERTHD_PID" 2>/dev/null
		unset BERTHD_PID
	else
		berthd_stop
	fi
	berthd_start "$DATA" || { echo "berthd did not start again"; return 1; }
	R=$BERTHD_ADDR
	# The digest state comes back from the bucket, not from the new process's memory.
	out=$(upload_patch "$loc" 10000000 2000000)
	[ "${out%% *}" = 202 ] || { echo "PATCH 3 after the restart: $out $(cat "$WORK/body")"; return 1; }
	loc=${out#* }
	tail -c +12000001 "$WORK/blob" >"$WORK/chunk"
	local sep='?'
	case $loc in *\?*) sep='&' ;; esac
	code=$(curl -s -o "$WORK/body" -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary @"$WORK/chunk" "http://$R$loc${sep}digest=$BLOB" -w '%{http_code}')
	[ "$code" = 201 ] || { echo "PUT after the restart: HTTP $code: $(cat "$WORK/body")"; return 1; }
	blob_matches "$repo"
}
tap_check "an upload continues after berthd restarts (SIGTERM) between chunks" restart_mid_upload TERM s3/restart
tap_check "an upload continues after berthd is killed (SIGKILL) between chunks" restart_mid_upload KILL s3/killed

# Two berthd processes on one bucket (sharing, for this test, one SQLite file): the digest
# state travels with the upload in the bucket, so consecutive chunks may go to either.
alternate_nodes() {
	_berthd_spawn "$DATA" || { echo "the second berthd did not start"; return 1; }
	local b=127.0.0.1:$_SPAWN_PORT bpid=$_SPAWN_PID loc out from=0 i=0 addr code
	loc=$(upload_start s3/twonodes)
	for len in 3000000 6000000 1000000 2000000; do
		addr=$R
		[ $((i % 2)) -eq 1 ] && addr=$b
		out=$(upload_patch "$loc" "$from" "$len" "$addr")
		[ "${out%% *}" = 202 ] || { echo "PATCH $i to $addr: $out $(cat "$WORK/body")"; _berth_kill "$bpid"; return 1; }
		loc=${out#* }
		from=$((from + len))
		i=$((i + 1))
	done
	tail -c +$((from + 1)) "$WORK/blob" >"$WORK/chunk"
	local sep='?'
	case $loc in *\?*) sep='&' ;; esac
	code=$(curl -s -o "$WORK/body" -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary @"$WORK/chunk" "http://$b$loc${sep}digest=$BLOB" -w '%{http_code}')
	_berth_kill "$bpid"
	[ "$code" = 201 ] || { echo "PUT on the second node: HTTP $code: $(cat "$WORK/body")"; return 1; }
	blob_matches s3/twonodes
}
tap_check "chunks of one upload alternate between two berthd processes on the same bucket" alternate_nodes

# The S3 requests of one small blob pushed as skopeo and podman push (POST, PATCH with the
# whole body, PUT ?digest=), counted from a second berthd's debug log (one line per
# request): the upload state is read with If-None-Match, so every read after the first
# write is a 304 without a body, and the clean-up after the commit deletes the keys the
# state names without listing them (docs/performance.md has the counts before and after).
request_count() {
	_berthd_spawn "$DATA" --log-level debug || { echo "the debug berthd did not start"; return 1; }
	local b=127.0.0.1:$_SPAWN_PORT bpid=$_SPAWN_PID log=$_SPAWN_LOG loc out code n0 id
	head -c 300000 /dev/urandom >"$WORK/count"
	local d=sha256:$(sha256sum <"$WORK/count" | cut -d' ' -f1)
	n0=$(wc -l <"$log")
	loc=$(curl -sf -D - -o /dev/null -X POST "http://$b/v2/s3/count/blobs/uploads/" | tr -d '\r' |
		sed -n 's/^[Ll]ocation: //p')
	id=${loc##*/}
	id=${id%%\?*}
	code=$(curl -s -D "$WORK/h" -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/octet-stream' \
		--data-binary @"$WORK/count" "http://$b$loc")
	loc=$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Ll]ocation: //p')
	local sep='?'
	case $loc in *\?*) sep='&' ;; esac
	[ "$code" = 202 ] && code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "http://$b$loc${sep}digest=$d")
	sleep 0.2
	_berth_kill "$bpid"
	[ "$code" = 201 ] || { echo "push through the debug berthd: HTTP $code"; return 1; }
	tail -n +$((n0 + 1)) "$log" | grep ' s3: ' >"$WORK/requests"
	local total lists reads fresh copies
	total=$(wc -l <"$WORK/requests")
	copies=$(grep -c ' s3: COPY' "$WORK/requests")
	lists=$(grep -c ' s3: GET (bucket)' "$WORK/requests")
	reads=$(grep -c ' s3: GET uploads/[^ ]*/state' "$WORK/requests")
	fresh=$(grep -c ' s3: GET uploads/[^ ]*/state -> 200' "$WORK/requests")
	echo "$total requests, $reads state reads ($fresh with a body), $lists listings, $copies copies"
	[ "$total" -gt 0 ] && [ "$reads" -gt 0 ] || { echo "no S3 request in the debug log"; cat "$log"; return 1; }
	expect_eq "state reads answered with a body" "$fresh" 0 || { cat "$WORK/requests"; return 1; }
	expect_eq "listings" "$lists" 0 || { cat "$WORK/requests"; return 1; }
	# The PATCH (no Content-Range, on an empty upload) also PUT the bytes at their blob key.
	expect_eq "copies" "$copies" 0 || { cat "$WORK/requests"; return 1; }
	[ "$total" -le 18 ] || { echo "more S3 requests than the 18 expected:"; cat "$WORK/requests"; return 1; }
	expect_eq "objects left under uploads/$id/" "$(uploads_left "$id")" 0 || return 1
	got=sha256:$(curl -sf "http://$R/v2/s3/count/blobs/$d" | sha256sum | cut -d' ' -f1)
	expect_eq "digest of the blob read back" "$got" "$d"
}
tap_check "a small blob pushed as skopeo does costs no listing, no copy and no state read with a body" request_count

# A first PATCH without Content-Range is taken for the whole blob and its bytes are PUT at
# their digest's key too; when more chunks follow, the blob is still the right one and that
# object, which no metadata row owns, goes at the next collection.
early_copy_not_whole() {
	local loc out code first
	head -c 400000 "$WORK/blob" >"$WORK/first"
	first=$(digest_of "$WORK/first")
	loc=$(upload_start s3/notwhole)
	code=$(curl -s -D "$WORK/h" -o "$WORK/body" -w '%{http_code}' -X PATCH -H 'Content-Type: application/octet-stream' \
		--data-binary @"$WORK/first" "http://$R$loc")
	expect_eq "status of the first PATCH" "$code" 202 || return 1
	s3req GET "/$S3_BUCKET/$(blob_key "$first")" | cmp -s - "$WORK/first" ||
		{ echo "the first chunk is not at its blob key"; return 1; }
	loc=$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Ll]ocation: //p')
	out=$(upload_patch "$loc" 400000 3000000)
	expect_eq "status of the second PATCH" "${out%% *}" 202 || return 1
	loc=${out#* }
	tail -c +3400001 "$WORK/blob" >"$WORK/chunk"
	local sep='?'
	case $loc in *\?*) sep='&' ;; esac
	code=$(curl -s -o "$WORK/body" -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary @"$WORK/chunk" "http://$R$loc${sep}digest=$BLOB" -w '%{http_code}')
	expect_eq "status of the PUT" "$code" 201 || { cat "$WORK/body"; return 1; }
	blob_matches s3/notwhole || return 1
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R/v2/s3/notwhole/blobs/$first")
	expect_eq "status of the first chunk's digest in the registry" "$code" 404 || return 1
	# shellcheck disable=SC2086
	"$BERTHD" gc --data "$DATA" $BERTH_TEST_ARGS >"$WORK/gc.out" 2>&1 || { cat "$WORK/gc.out"; return 1; }
	! s3req GET "/$S3_BUCKET/$(blob_key "$first")" >/dev/null 2>&1 ||
		{ echo "the first chunk's object outlived a collection"; cat "$WORK/gc.out"; return 1; }
	blob_matches s3/notwhole
}

# ---------------------------------------------------------------- monolithic uploads at the blob key
# A body whose digest is known before it starts (POST ?digest=, PUT ?digest= with the body on
# an empty upload) goes straight to the blob's key: small ones in one PUT once verified,
# larger ones as a multipart upload there, completed only after the digest was checked.

# multipart_uploads PREFIX: how many multipart uploads are open under PREFIX in the bucket.
multipart_uploads() {
	s3req GET "/$S3_BUCKET?prefix=$1&uploads=" | grep -o '<Upload>' | wc -l
}
# blob_key DIGEST: the blob's key in the bucket under main/.
blob_key() { echo "main/blobs/sha256/${1:7:2}/${1#sha256:}"; }
# mono_post REPO FILE DIGEST: POST ?digest= with the file as body; prints the status.
mono_post() {
	curl -s -o "$WORK/body" -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
		--data-binary @"$2" "http://$R/v2/$1/blobs/uploads/?digest=$3"
}
# mono_put REPO FILE DIGEST: POST, then PUT ?digest= with the file as body; prints the status.
mono_put() {
	local loc sep='?'
	loc=$(upload_start "$1")
	case $loc in *\?*) sep='&' ;; esac
	echo "$loc" >"$WORK/loc"
	curl -s -o "$WORK/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary @"$2" "http://$R$loc${sep}digest=$3"
}
digest_of() { echo "sha256:$(sha256sum <"$1" | cut -d' ' -f1)"; }

mono_right_digest() {
	local f d code size
	for size in 300000 20000000; do
		f=$WORK/mono-$size
		head -c "$size" /dev/urandom >"$f"
		d=$(digest_of "$f")
		code=$(mono_post s3/mono "$f" "$d")
		expect_eq "status of POST ?digest= ($size bytes)" "$code" 201 || { cat "$WORK/body"; return 1; }
		s3req GET "/$S3_BUCKET/$(blob_key "$d")" | cmp -s - "$f" || { echo "the blob key does not hold the bytes"; return 1; }
		head -c "$size" /dev/urandom >"$f"
		d=$(digest_of "$f")
		code=$(mono_put s3/mono "$f" "$d")
		expect_eq "status of PUT ?digest= with the body ($size bytes)" "$code" 201 || { cat "$WORK/body"; return 1; }
		blob_matches_file s3/mono "$f" "$d" || return 1
		id=$(sed 's,.*/,,; s,?.*,,' "$WORK/loc")
		expect_eq "objects left under uploads/$id/" "$(uploads_left "$id")" 0 || return 1
	done
	expect_eq "multipart uploads left under blobs/" "$(multipart_uploads main/blobs/)" 0
}
# blob_matches_file REPO FILE DIGEST: GET gives the file's bytes.
blob_matches_file() {
	curl -sf "http://$R/v2/$1/blobs/$3" | cmp -s - "$2" || { echo "GET /v2/$1/blobs/$3 gave other bytes"; return 1; }
}
tap_check "a first PATCH without Content-Range followed by more chunks: the blob is right, its early object goes at the next gc" \
	early_copy_not_whole
tap_check "monolithic uploads (POST ?digest=, PUT with the body; 300 kB and 20 MB) land at the blob key, nothing left under uploads/" \
	mono_right_digest

mono_wrong_digest() {
	local f d wrong code size before
	before=$(multipart_uploads main/blobs/)
	for size in 300000 20000000; do
		f=$WORK/wrong-$size
		head -c "$size" /dev/urandom >"$f"
		d=$(digest_of "$f")
		wrong=sha256:$(printf '%s' "$size" | sha256sum | cut -d' ' -f1)
		for how in mono_post mono_put; do
			code=$($how s3/wrong "$f" "$wrong")
			expect_eq "status of $how with the wrong digest ($size bytes)" "$code" 400 || return 1
			grep -q DIGEST_INVALID "$WORK/body" || { echo "body: $(cat "$WORK/body")"; return 1; }
			for k in "$(blob_key "$wrong")" "$(blob_key "$d")"; do
				! s3req GET "/$S3_BUCKET/$k" >/dev/null 2>&1 || { echo "$k exists after a wrong digest"; return 1; }
			done
		done
		# The session of the PUT ended with it, as with a wrong digest on a bodiless PUT.
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R$(cat "$WORK/loc")")
		expect_eq "status of the upload after its wrong digest" "$code" 404 || return 1
	done
	expect_eq "multipart uploads left under blobs/" "$(multipart_uploads main/blobs/)" "$before"
}
tap_check "a monolithic upload with the wrong digest is 400 DIGEST_INVALID: nothing at either blob key, no multipart upload left" \
	mono_wrong_digest

# A client that goes away after 12 of 20 MB of a PUT ?digest= with the body: the multipart
# upload at the blob key is aborted, the upload is still there (empty) and a retry works.
mono_cut_off() {
	local f=$WORK/cut d loc sep='?' code
	head -c 20000000 /dev/urandom >"$f"
	d=$(digest_of "$f")
	loc=$(upload_start s3/cut)
	case $loc in *\?*) sep='&' ;; esac
	python3 - "$R" "$loc${sep}digest=$d" "$f" <<-'PY' || return 1
		import socket, sys, time
		host, port = sys.argv[1].split(":")
		data = open(sys.argv[3], "rb").read()
		s = socket.create_connection((host, int(port)))
		s.sendall(("PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
		           "Content-Length: %d\r\n\r\n" % (sys.argv[2], sys.argv[1], len(data))).encode())
		s.sendall(data[:12000000])
		time.sleep(1)
		s.close()
	PY
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(multipart_uploads "$(blob_key "$d")")" = 0 ] && break
		sleep 0.2
	done
	expect_eq "multipart uploads at the blob key after the client went away" "$(multipart_uploads "$(blob_key "$d")")" 0 || return 1
	! s3req GET "/$S3_BUCKET/$(blob_key "$d")" >/dev/null 2>&1 || { echo "the blob key exists"; return 1; }
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R/v2/s3/cut/blobs/$d")
	expect_eq "status of the blob" "$code" 404 || return 1
	code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary @"$f" "http://$R$loc${sep}digest=$d")
	expect_eq "status of the retried PUT" "$code" 201 || { cat "$WORK/body"; return 1; }
	blob_matches_file s3/cut "$f" "$d"
}
tap_check "a client cut off mid-body of a monolithic PUT leaves no multipart upload and no blob; the retry works" mono_cut_off

# Two clients push the same 20 MB blob at once (and two the same small one): all get 201
# and the blob is whole; the second multipart upload is aborted, not left behind.
mono_concurrent() {
	local f=$WORK/same s=$WORK/same-small d ds pids=() i fails=0
	head -c 20000000 /dev/urandom >"$f"
	head -c 200000 /dev/urandom >"$s"
	d=$(digest_of "$f")
	ds=$(digest_of "$s")
	for i in 1 2; do
		curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/octet-stream' \
			--data-binary @"$f" "http://$R/v2/s3/same$i/blobs/uploads/?digest=$d" >"$WORK/same-$i" &
		pids+=($!)
		curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/octet-stream' \
			--data-binary @"$s" "http://$R/v2/s3/same$i/blobs/uploads/?digest=$ds" >"$WORK/same-small-$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || fails=$((fails + 1)); done
	for i in 1 2; do
		expect_eq "status of push $i" "$(cat "$WORK/same-$i")" 201 || return 1
		expect_eq "status of small push $i" "$(cat "$WORK/same-small-$i")" 201 || return 1
		blob_matches_file "s3/same$i" "$f" "$d" || return 1
		blob_matches_file "s3/same$i" "$s" "$ds" || return 1
	done
	expect_eq "multipart uploads left at the blob key" "$(multipart_uploads "$(blob_key "$d")")" 0
}
tap_check "the same blob pushed by two clients at once: both 201, the blob whole, no multipart upload left" mono_concurrent

# A DELETE of an upload sent while a request still uses it waits for that one (review of the
# s3push branch, items 1 and 2): a PATCH streaming its body slowly (curl --limit-rate), and a
# PUT ?digest= with the body of a blob already stored for another repository, each with a
# DELETE sent mid-body, three times. berthd stays up, nothing of the upload is left in the
# bucket (a cancel that did not wait let the PATCH save its state after the abort), and the
# stored blob keeps its bytes (a commit whose held-back bytes a cancel took once wrote an
# empty object over it).
cancel_races() {
	local f=$WORK/race d loc sep code i n pid
	head -c 3000000 /dev/urandom >"$f"
	d=$(digest_of "$f")
	code=$(mono_post s3/racebase "$f" "$d")
	expect_eq "status of the first push" "$code" 201 || return 1
	for ((i = 1; i <= 3; i++)); do
		loc=$(upload_start s3/race)
		sep='?'
		case $loc in *\?*) sep='&' ;; esac
		curl -s -o /dev/null -w '%{http_code}' --limit-rate 1500K -X PATCH -H 'Content-Type: application/octet-stream' \
			--data-binary @"$f" "http://$R$loc" >"$WORK/race-patch" &
		pid=$!
		sleep 0.7
		code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X DELETE "http://$R$loc")
		wait "$pid"
		expect_eq "status of the PATCH ($i)" "$(cat "$WORK/race-patch")" 202 || return 1
		expect_eq "status of the DELETE during the PATCH ($i)" "$code" 204 || { cat "$WORK/body"; return 1; }
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R$loc")
		expect_eq "status of the upload after the DELETE ($i)" "$code" 404 || return 1
		id=$(sed 's,.*/,,; s,?.*,,' <<<"$loc")
		n=$(s3req GET "/$S3_BUCKET?list-type=2&prefix=main/uploads/$id/" | grep -o '<Key>' | wc -l)
		expect_eq "objects left under uploads/$id/ ($i)" "$n" 0 || return 1

		loc=$(upload_start s3/race)
		sep='?'
		case $loc in *\?*) sep='&' ;; esac
		curl -s -o /dev/null -w '%{http_code}' --limit-rate 1500K -X PUT -H 'Content-Type: application/octet-stream' \
			--data-binary @"$f" "http://$R$loc${sep}digest=$d" >"$WORK/race-put" &
		pid=$!
		sleep 0.7
		code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X DELETE "http://$R$loc")
		wait "$pid"
		# Either order is right (the PUT first: 201 then 404 for the DELETE; the DELETE
		# first: 204 then 404 for the PUT), as long as the blob stays whole.
		case "$(cat "$WORK/race-put") $code" in
		"201 404" | "201 204" | "404 204") ;;
		*) echo "PUT $(cat "$WORK/race-put"), DELETE $code: $(cat "$WORK/body")"; return 1 ;;
		esac
		curl -sf "http://$R/v2/" >/dev/null || { echo "berthd is down"; return 1; }
		s3req GET "/$S3_BUCKET/$(blob_key "$d")" | cmp -s - "$f" ||
			{ echo "the blob key lost its bytes ($i)"; return 1; }
		blob_matches_file s3/racebase "$f" "$d" || return 1
		[ "$(cat "$WORK/race-put")" = 201 ] && { blob_matches_file s3/race "$f" "$d" || return 1; }
	done
	expect_eq "multipart uploads left at the blob key" "$(multipart_uploads "$(blob_key "$d")")" 0
}
tap_check "a DELETE during a slow PATCH or a monolithic PUT waits for it: berthd up, nothing left under uploads/, the stored blob whole" \
	cancel_races

# Garbage collections (berthd gc beside the serving berthd, the default grace: only the pass
# that removes objects without a metadata row matters here) run back to back while blobs are
# pushed monolithically (small ones are PUT at the blob key before their row exists): every
# push succeeds and every blob stays readable.
mono_vs_gc() {
	local stop=$WORK/gc-stop i n code runs=0 d
	rm -f "$stop"
	(while [ ! -e "$stop" ]; do
		# shellcheck disable=SC2086
		"$BERTHD" gc --data "$DATA" $BERTH_TEST_ARGS >>"$WORK/gc-race.out" 2>&1 && echo run >>"$WORK/gc-runs"
	done) &
	local gcpid=$!
	: >"$WORK/gc-runs"
	for ((i = 1; i <= 12; i++)); do
		n=$((i % 3 == 0 ? 9000000 : 100000 + i))
		head -c "$n" /dev/urandom >"$WORK/gc-$i"
		d=$(digest_of "$WORK/gc-$i")
		echo "$d" >"$WORK/gc-$i.d"
		if ((i % 2)); then code=$(mono_post s3/gcrace "$WORK/gc-$i" "$d"); else code=$(mono_put s3/gcrace "$WORK/gc-$i" "$d"); fi
		[ "$code" = 201 ] || { touch "$stop"; wait "$gcpid"; echo "push $i: HTTP $code $(cat "$WORK/body")"; return 1; }
	done
	touch "$stop"
	wait "$gcpid"
	runs=$(wc -l <"$WORK/gc-runs")
	[ "$runs" -gt 0 ] || { echo "no collection completed:"; tail -n 20 "$WORK/gc-race.out"; return 1; }
	for ((i = 1; i <= 12; i++)); do
		blob_matches_file s3/gcrace "$WORK/gc-$i" "$(cat "$WORK/gc-$i.d")" || return 1
	done
	echo "$runs collections completed meanwhile"
}
tap_check "monolithic pushes racing back-to-back garbage collections all succeed and stay readable" mono_vs_gc

# berthd is killed (SIGKILL) while a 20 MB POST ?digest= has sent parts to its multipart
# upload at the blob key: the upload's state recorded it, so the start-up sweep (which
# removes staging objects no session owns) aborts it; nothing appears at the blob key.
mono_killed() {
	local f=$WORK/killed d i client
	head -c 20000000 /dev/urandom >"$f"
	d=$(digest_of "$f")
	python3 - "$R" "/v2/s3/killed/blobs/uploads/?digest=$d" "$f" <<-'PY' &
		import socket, sys, time
		host, port = sys.argv[1].split(":")
		data = open(sys.argv[3], "rb").read()
		s = socket.create_connection((host, int(port)))
		s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
		           "Content-Length: %d\r\n\r\n" % (sys.argv[2], sys.argv[1], len(data))).encode())
		s.sendall(data[:17000000])
		time.sleep(30)
	PY
	client=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(multipart_uploads "$(blob_key "$d")")" = 1 ] && break
		sleep 0.1
	done
	expect_eq "multipart uploads at the blob key while the body arrives" "$(multipart_uploads "$(blob_key "$d")")" 1 ||
		{ kill "$client"; return 1; }
	sleep 1 # the parts after the first
	kill -KILL "$BERTHD_PID"
	wait "$BERTHD_PID" 2>/dev/null
	unset BERTHD_PID
	kill "$client" 2>/dev/null
	wait "$client" 2>/dev/null
	berthd_start "$DATA" || { echo "berthd did not start again"; return 1; }
	R=$BERTHD_ADDR
	expect_eq "multipart uploads at the blob key after the restart" "$(multipart_uploads "$(blob_key "$d")")" 0 || return 1
	! s3req GET "/$S3_BUCKET/$(blob_key "$d")" >/dev/null 2>&1 || { echo "the blob key exists"; return 1; }
	local code
	code=$(mono_post s3/killed "$f" "$d")
	expect_eq "status of the push again" "$code" 201 || { cat "$WORK/body"; return 1; }
	blob_matches_file s3/killed "$f" "$d"
}
tap_check "berthd killed mid-body of a monolithic push: the start-up sweep aborts the multipart upload at the blob key" mono_killed

# ---------------------------------------------------------------- --storage-redirect

redirect_serves_presigned() {
	berthd_stop
	berthd_start "$DATA" --storage-redirect || { echo "berthd --storage-redirect did not start"; return 1; }
	R=$BERTHD_ADDR
	local code loc got
	code=$(curl -s -o /dev/null -D "$WORK/h" -w '%{http_code}' "http://$R/v2/s3/small/blobs/$BLOB")
	expect_eq "status of a blob GET with --storage-redirect" "$code" 307 || return 1
	loc=$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Ll]ocation: //p')
	case $loc in "$S3_ENDPOINT"/*X-Amz-Signature=*) ;; *) echo "Location is no presigned URL: $loc"; return 1 ;; esac
	got=sha256:$(curl -sf "$loc" | sha256sum | cut -d' ' -f1)
	expect_eq "digest of what the presigned URL serves" "$got" "$BLOB" || return 1
	code=$(curl -s -o /dev/null -w '%{http_code}' "${loc%X-Amz-Signature=*}X-Amz-Signature=$(printf '%064d' 0)")
	expect_eq "status of a tampered presigned URL" "$code" 403 || return 1
	code=$(curl -s -o /dev/null -w '%{http_code}' -I "http://$R/v2/s3/small/blobs/$BLOB")
	expect_eq "status of a HEAD (answered by berthd itself)" "$code" 200 || return 1
	pull_back "docker://$R/s3/three:v3" "$TEST_DIR/pulled-redirect" v3 "$IMG/three" v3
}
tap_check "--storage-redirect answers blob GETs with a presigned URL that works (curl, skopeo)" \
	redirect_serves_presigned

# ---------------------------------------------------------------- (e) fsck

fsck_clean() {
	# shellcheck disable=SC2086
	"$BERTHD" fsck --data "$DATA" $BERTH_TEST_ARGS >"$WORK/fsck.out" 2>&1 || { cat "$WORK/fsck.out"; return 1; }
	grep -q '0 corrupt, 0 missing' "$WORK/fsck.out" || { cat "$WORK/fsck.out"; return 1; }
	cat "$WORK/fsck.out"
}
tap_check "berthd fsck on the S3 store finds nothing wrong" fsck_clean

fsck_finds_and_repairs() {
	local key=main/blobs/sha256/${BLOB:7:2}/${BLOB#sha256:} rc
	head -c 1000 /dev/urandom >"$WORK/garbage"
	s3req PUT "/$S3_BUCKET/$key" "$WORK/garbage" >/dev/null || return 1
	# shellcheck disable=SC2086
	"$BERTHD" fsck --data "$DATA" $BERTH_TEST_ARGS >"$WORK/fsck.out" 2>&1
	rc=$?
	cat "$WORK/fsck.out"
	expect_eq "fsck exit status with a corrupt blob" "$rc" 1 || return 1
	grep -q "corrupt blob: $BLOB" "$WORK/fsck.out" || return 1
	# shellcheck disable=SC2086
	"$BERTHD" fsck --repair --data "$DATA" $BERTH_TEST_ARGS >"$WORK/fsck.out" 2>&1 || { cat "$WORK/fsck.out"; return 1; }
	s3req GET "/$S3_BUCKET/main/quarantine/sha256-${BLOB#sha256:}" | cmp -s - "$WORK/garbage" ||
		{ echo "the corrupt bytes are not in quarantine/"; return 1; }
	s3req GET "/$S3_BUCKET/$key" >/dev/null 2>&1 && { echo "the corrupt object is still at $key"; return 1; }
	# shellcheck disable=SC2086
	"$BERTHD" fsck --data "$DATA" $BERTH_TEST_ARGS >"$WORK/fsck.out" 2>&1 || { cat "$WORK/fsck.out"; return 1; }
}
berthd_stop
tap_check "fsck finds a corrupted object, --repair quarantines it in the bucket" fsck_finds_and_repairs

# ---------------------------------------------------------------- garbage collection

gc_on_s3() {
	berthd_start "$DATA" || { echo "berthd did not start"; return 1; }
	R=$BERTHD_ADDR
	local loc orphan key
	head -c 70000 /dev/urandom >"$WORK/orphan"
	orphan=sha256:$(sha256sum "$WORK/orphan" | cut -d' ' -f1)
	key=main/blobs/sha256/${orphan:7:2}/${orphan#sha256:}
	loc=$(curl -sf -X POST -D - -o /dev/null "http://$R/v2/s3/orphan/blobs/uploads/" | tr -d '\r' |
		sed -n 's/^[Ll]ocation: //p')
	[ -n "$loc" ] || { echo "no upload location"; return 1; }
	curl -sf -X PUT --data-binary @"$WORK/orphan" -H 'Content-Type: application/octet-stream' \
		"http://$R$loc?digest=$orphan" >/dev/null || { echo "blob push failed"; return 1; }
	s3req GET "/$S3_BUCKET/$key" | cmp -s - "$WORK/orphan" || { echo "the blob is not in the bucket"; return 1; }
	# shellcheck disable=SC2086
	"$BERTHD" gc --gc-grace 0 --data "$DATA" $BERTH_TEST_ARGS >"$WORK/gc.out" 2>&1 || { cat "$WORK/gc.out"; return 1; }
	cat "$WORK/gc.out"
	s3req GET "/$S3_BUCKET/$key" >/dev/null 2>&1 && { echo "the unreferenced blob is still in the bucket"; return 1; }
	s3req GET "/$S3_BUCKET/main/trash/sha256-${orphan#sha256:}" >/dev/null 2>&1 &&
		{ echo "the unreferenced blob was left in trash/"; return 1; }
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R/v2/s3/orphan/blobs/$orphan")
	expect_eq "status of the collected blob" "$code" 404 || return 1
	# Everything a manifest references stays and pulls whole.
	pull_back "docker://$R/s3/three:v3" "$TEST_DIR/pulled-after-gc" v3 "$IMG/three" v3 || return 1
	# shellcheck disable=SC2086
	"$BERTHD" fsck --data "$DATA" $BERTH_TEST_ARGS >"$WORK/fsck.out" 2>&1 || { cat "$WORK/fsck.out"; return 1; }
	berthd_stop
}
tap_check "berthd gc on the S3 store frees an unreferenced blob (trash emptied) and keeps referenced ones" gc_on_s3

# ---------------------------------------------------------------- the node-local blob cache

# A berthd of its own (prefix cache/) with a 40 MiB --blob-cache: blobs over 10 MiB are not
# cached. Blobs are pushed by monolithic uploads and read back with curl.
CACHE=$TEST_DIR/blob-cache
CWORK=$WORK/cache
mkdir -p "$CWORK"
# cache_push NAME KB: a random blob of KB KiB in $CWORK/NAME, pushed to s3/cache; prints its digest.
cache_push() {
	local f=$CWORK/$1 d loc
	head -c $(($2 * 1024)) /dev/urandom >"$f"
	d=sha256:$(sha256sum <"$f" | cut -d' ' -f1)
	loc=$(upload_start s3/cache) && [ -n "$loc" ] || return 1
	curl -sf -X PUT --data-binary @"$f" -H 'Content-Type: application/octet-stream' \
		"http://$R$loc?digest=$d" >/dev/null || return 1
	echo "$d"
}
cache_file() { echo "$CACHE/sha256/${1:7:2}/${1#sha256:}"; }
cache_key() { echo "/$S3_BUCKET/cache/blobs/sha256/${1:7:2}/${1#sha256:}"; }
# cache_wait_file DIGEST SIZE: the cache file appears with SIZE bytes (the fill thread links it
# in once it has written the last byte, just after the client has it).
cache_wait_file() {
	local f
	f=$(cache_file "$1")
	for _ in $(seq 50); do
		[ "$(stat -c %s "$f" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	echo "no cache file $f of $2 bytes: $(ls -l "$f" 2>&1)"
	return 1
}
# cache_get NAME DIGEST: a whole GET gives the bytes of $CWORK/NAME.
cache_get() {
	curl -sf "http://$R/v2/s3/cache/blobs/$2" -o "$CWORK/got" || { echo "GET $2 failed"; return 1; }
	cmp -s "$CWORK/got" "$CWORK/$1" || { echo "GET $2 gave other bytes"; return 1; }
}
# cache_range NAME DIGEST FROM LEN: a ranged GET gives those bytes of $CWORK/NAME.
cache_range() {
	local code
	code=$(curl -s -o "$CWORK/range" -w '%{http_code}' -H "Range: bytes=$3-$(($3 + $4 - 1))" \
		"http://$R/v2/s3/cache/blobs/$2")
	expect_eq "status of Range bytes=$3-$(($3 + $4 - 1))" "$code" 206 || return 1
	tail -c +$(($3 + 1)) "$CWORK/$1" | head -c "$4" | cmp -s - "$CWORK/range" ||
		{ echo "Range bytes=$3-... gave other bytes"; return 1; }
}

cache_start() {
	BERTH_TEST_ARGS="$S3ARGS --s3-prefix cache/" berthd_start "$TEST_DIR/cache-data" \
		--blob-cache "$CACHE" --blob-cache-size 40M --gc-grace 0 --gc-interval 0 || return 1
	R=$BERTHD_ADDR
}

cache_fills_and_hits() {
	cache_start || { echo "berthd --blob-cache did not start"; return 1; }
	CA=$(cache_push a 3000) || { echo "push failed"; return 1; }
	[ ! -e "$(cache_file "$CA")" ] || { echo "the push alone filled the cache"; return 1; }
	cache_get a "$CA" || return 1
	cache_wait_file "$CA" $((3000 * 1024)) || return 1
	cmp -s "$(cache_file "$CA")" "$CWORK/a" || { echo "the cache file differs from the blob"; return 1; }
	# With the object gone from the bucket, only the cache can answer.
	s3req DELETE "$(cache_key "$CA")" >/dev/null || return 1
	cache_get a "$CA" || return 1
	cache_range a "$CA" 1000 1000 || return 1
	cache_range a "$CA" $((3000 * 1024 - 1)) 1 || return 1
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -I "http://$R/v2/s3/cache/blobs/$CA")
	expect_eq "status of a HEAD on a cached blob" "$code" 200 || return 1
	s3req PUT "$(cache_key "$CA")" "$CWORK/a" >/dev/null
}
tap_check "--blob-cache: a full GET fills the cache; later GETs, ranges and HEADs are served from it without S3" \
	cache_fills_and_hits

cache_wrong_size_refetched() {
	local f
	f=$(cache_file "$CA")
	truncate -s 1000 "$f" || return 1
	cache_get a "$CA" || return 1
	cache_wait_file "$CA" $((3000 * 1024)) || return 1
	cmp -s "$f" "$CWORK/a" || { echo "the refetched cache file differs"; return 1; }
}
tap_check "--blob-cache: a cache file of the wrong size is ignored, and the blob fetched and cached again" \
	cache_wrong_size_refetched

cache_range_and_partial_leave_nothing() {
	CB=$(cache_push b 6000) || { echo "push failed"; return 1; }
	cache_range b "$CB" 0 1000000 || return 1
	cache_range b "$CB" 5000000 1000000 || return 1
	# A client that goes away after 100 KB.
	curl -s --limit-rate 2M "http://$R/v2/s3/cache/blobs/$CB" | head -c 100000 >/dev/null
	sleep 1
	[ ! -e "$(cache_file "$CB")" ] || { echo "a ranged or cut-short read left $(cache_file "$CB")"; return 1; }
	local left
	left=$(find "$CACHE" -type f ! -path "$CACHE/sha256/*")
	[ -z "$left" ] || { echo "temporary files left: $left"; return 1; }
	# The same blob read whole is cached.
	cache_get b "$CB" || return 1
	cache_wait_file "$CB" $((6000 * 1024))
}
tap_check "--blob-cache: ranged GETs of a miss and a client that disconnects early leave no file" \
	cache_range_and_partial_leave_nothing

cache_evicts_oldest() {
	local d i big used
	# 11 MiB is over a quarter of 40 MiB: streamed, never cached.
	big=$(cache_push big 11264) || return 1
	cache_get big "$big" || return 1
	for i in 1 2 3 4 5 6; do
		d=$(cache_push "e$i" 8000) || return 1
		cache_get "e$i" "$d" || return 1
		cache_wait_file "$d" $((8000 * 1024)) || return 1
		sleep 1 # distinct mtimes, so "oldest" is well defined
	done
	used=$(find "$CACHE" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	[ "$used" -le $((40 * 1024 * 1024)) ] || { echo "the cache holds $used bytes, over 40 MiB"; return 1; }
	[ ! -e "$(cache_file "$big")" ] || { echo "a blob over a quarter of the size was cached"; return 1; }
	[ ! -e "$(cache_file "$CA")" ] || { echo "the oldest blob was not evicted"; return 1; }
	[ -e "$(cache_file "$d")" ] || { echo "the newest blob was evicted"; return 1; }
	CE=$d
	echo "cache holds $used bytes in $(find "$CACHE" -type f | wc -l) files"
}
tap_check "--blob-cache: eviction keeps the folder under --blob-cache-size, oldest first; big blobs are not cached" \
	cache_evicts_oldest

# cache_metric NAME: the value of series NAME (with its labels, e.g. 'x{reason="behind"}') on
# /metrics; prints 0 if it is absent, then the caller's comparison fails.
cache_metric() {
	curl -sf "http://$R/metrics" | awk -v n="$1" '$1 == n {print $2; f = 1} END {if (!f) print 0}'
}

cache_metrics_counted() {
	local names=(hits_total misses_total fills_total served_bytes_total 'fills_abandoned_total{reason="incomplete"}')
	local before=() after=() i d size=$((2000 * 1024)) used
	for i in "${!names[@]}"; do before[i]=$(cache_metric "berth_blob_cache_${names[i]}"); done
	d=$(cache_push m 2000) || return 1
	cache_get m "$d" || return 1          # a miss that fills
	cache_wait_file "$d" "$size" || return 1
	cache_get m "$d" || return 1          # a hit: size bytes sent
	cache_range m "$d" 1000 1000 || return 1 # a hit: 1000 bytes
	curl -sf -o /dev/null -I "http://$R/v2/s3/cache/blobs/$d" || return 1 # a hit, nothing sent
	# A client that goes away after 100 KB: the fill it started is given up.
	d=$(cache_push n 6000) || return 1
	curl -s --limit-rate 2M "http://$R/v2/s3/cache/blobs/$d" | head -c 100000 >/dev/null
	sleep 1
	for i in "${!names[@]}"; do after[i]=$(cache_metric "berth_blob_cache_${names[i]}"); done
	local want=(3 2 1 $((size + 1000)) 1)
	for i in "${!names[@]}"; do
		expect_eq "berth_blob_cache_${names[i]} increase" $((after[i] - before[i])) "${want[i]}" || return 1
	done
	[ "$(cache_metric berth_blob_cache_evictions_total)" -ge 1 ] || { echo "the evictions were not counted"; return 1; }
	used=$(find "$CACHE" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	expect_eq "berth_blob_cache_bytes" "$(cache_metric berth_blob_cache_bytes)" "$used" || return 1
	expect_eq "berth_blob_cache_files" "$(cache_metric berth_blob_cache_files)" "$(find "$CACHE" -type f | wc -l)" || return 1
	expect_eq "berth_blob_cache_max_bytes" "$(cache_metric berth_blob_cache_max_bytes)" $((40 << 20))
}
tap_check "--blob-cache: /metrics counts hits, misses, fills, abandoned fills, bytes served, evictions and the size" \
	cache_metrics_counted

cache_restart_cleans() {
	berthd_stop
	local empty=$CACHE/sha256/00/00$(printf '%062d' 0)
	mkdir -p "$CACHE/sha256/00" && : >"$empty" && echo junk >"$CACHE/.tmp-crashed" || return 1
	cache_start || { echo "berthd did not start again"; return 1; }
	[ ! -e "$empty" ] && [ ! -e "$CACHE/.tmp-crashed" ] || { echo "start-up left a temporary or empty file"; return 1; }
	# The survivors are still served from the cache, even with the bucket's object gone.
	s3req DELETE "$(cache_key "$CE")" >/dev/null || return 1
	cache_get e6 "$CE" || return 1
	s3req PUT "$(cache_key "$CE")" "$CWORK/e6" >/dev/null
}
tap_check "--blob-cache: a restart removes temporary and empty files and keeps serving cached blobs" \
	cache_restart_cleans

cache_gc_drops() {
	local f
	f=$(cache_file "$CE")
	[ -e "$f" ] || { echo "$f is not cached to start with"; return 1; }
	# Every blob of s3/cache is unreferenced: berthd's own collection, every 2 s, frees them.
	berthd_stop
	BERTH_TEST_ARGS="$S3ARGS --s3-prefix cache/" berthd_start "$TEST_DIR/cache-data" \
		--blob-cache "$CACHE" --blob-cache-size 40M --gc-grace 0 --gc-interval 2 || return 1
	R=$BERTHD_ADDR
	for _ in $(seq 100); do
		# The collection removes the blobs one by one: wait for all of them.
		! s3req GET "$(cache_key "$CE")" >/dev/null 2>&1 && [ -z "$(find "$CACHE" -type f)" ] && break
		sleep 0.2
	done
	s3req GET "$(cache_key "$CE")" >/dev/null 2>&1 && { echo "gc left the object in the bucket"; return 1; }
	[ ! -e "$f" ] || { echo "gc left the cached copy $f"; return 1; }
	[ -z "$(find "$CACHE" -type f)" ] || { echo "gc left cached copies: $(find "$CACHE" -type f)"; return 1; }
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$R/v2/s3/cache/blobs/$CE")
	expect_eq "status of the collected blob" "$code" 404
}
tap_check "--blob-cache: garbage collection drops the collected blobs from the cache" cache_gc_drops
berthd_stop

# ---------------------------------------------------------------- the pull-through cache on S3

mirror_on_s3() {
	local up
	BERTH_TEST_ARGS='' _berthd_spawn "$TEST_DIR/upstream" || { echo "upstream berthd did not start"; return 1; }
	up=127.0.0.1:$_SPAWN_PORT
	skopeo_cmd copy -q --dest-tls-verify=false "oci:$IMG/three:v3" "docker://$up/lib/three:v3" || return 1
	# A store of its own, so that every blob is fetched from the upstream, not linked.
	BERTH_TEST_ARGS="$S3ARGS --s3-prefix mirror/" berthd_start "$TEST_DIR/mirror-data" --mirror "up=http://$up" ||
		{ echo "berthd --mirror did not start"; return 1; }
	R=$BERTHD_ADDR
	# The first pull streams every blob while it goes into the bucket, then reads it back.
	pull_back "docker://$R/up/lib/three:v3" "$TEST_DIR/pulled-mirror" v3 "$IMG/three" v3 || return 1
	pull_back "docker://$R/up/lib/three:v3" "$TEST_DIR/pulled-mirror2" v3 "$IMG/three" v3 || return 1
	# The web UI's manifest view reads the image config from the bucket.
	curl -sf "http://$R/api/v1/repositories/up/lib/three/manifests/v3" >"$WORK/detail.json" || return 1
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["config_missing"] is None and d["config"]["os"] else 1)' \
		"$WORK/detail.json" || { cat "$WORK/detail.json"; return 1; }
	berthd_stop
}
tap_check "pull-through cache on S3: first and later pulls complete, the UI's manifest view reads the config" mirror_on_s3

# ---------------------------------------------------------------- bad settings

bad_start() {
	local want=$1 out
	shift
	out=$("$BERTHD" --listen 127.0.0.1:0 --data "$TEST_DIR/bad" --auth none "$@" 2>&1)
	[ $? -ne 0 ] || { echo "berthd started with $*"; return 1; }
	grep -q -- "$want" <<<"$out" || { echo "message lacks '$want': $out"; return 1; }
}
tap_check "--storage s3 without a bucket is refused" bad_start "needs --s3-bucket" --storage s3 --s3-endpoint "$S3_ENDPOINT"
tap_check "an invalid bucket name is refused" bad_start "no valid bucket name" \
	--storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket 'Bad_Bucket'
tap_check "--storage-redirect without s3 is refused" bad_start "needs --storage s3" --storage-redirect
tap_check "an unknown --storage is refused" bad_start "must be fs or s3" --storage nfs
tap_check "--blob-cache with --storage fs is refused" bad_start "blob-cache needs --storage s3" --blob-cache "$TEST_DIR/bc"
tap_check "--blob-cache-size without --blob-cache is refused" bad_start "needs --blob-cache" \
	$S3ARGS --blob-cache-size 1G
tap_check "a malformed --blob-cache-size is refused" bad_start "wants a size" \
	$S3ARGS --blob-cache "$TEST_DIR/bc" --blob-cache-size 10Q
tap_check "missing credentials are refused" env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	bash -c "$(declare -f bad_start); BERTHD=$BERTHD TEST_DIR=$TEST_DIR bad_start 'needs credentials' $S3ARGS"
tap_check "a wrong secret key fails at start with S3's reason" env AWS_SECRET_ACCESS_KEY=wrong \
	bash -c "$(declare -f bad_start); BERTHD=$BERTHD TEST_DIR=$TEST_DIR bad_start SignatureDoesNotMatch $S3ARGS"
tap_check "a bucket that does not exist fails at start" \
	bad_start NoSuchBucket --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket no-such-bucket-here

# ---------------------------------------------------------------- what Ceph used

rss=0
for f in "$CEPH"/run/*.pid; do
	p=$(cat "$f")
	r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null)
	rss=$((rss + ${r:-0}))
done
tap_diag "Ceph resident memory $((rss / 1024)) MiB (mon + osd + radosgw), disk $(du -sm "$CEPH" | cut -f1) MiB used in $CEPH"

# ---------------------------------------------------------------- the store goes away

# Last: radosgw is stopped for good. Requests then fail with 503 UNAVAILABLE, which clients
# retry, and nothing recorded is lost or changed.
store_down_is_unavailable() {
	local code pid
	pid=$(cat "$CEPH/run/radosgw.pid") && kill -TERM "$pid" || return 1
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	local layer
	layer=$(jq -r '.layers[0].digest' "$IMG/three/blobs/sha256/${THREE#sha256:}")
	code=$(curl -s -o "$WORK/body" -w '%{http_code}' "http://$R/v2/s3/three/blobs/$layer")
	expect_eq "status of a blob GET with the store down" "$code" 503 || return 1
	grep -q UNAVAILABLE "$WORK/body" || { echo "body: $(cat "$WORK/body")"; return 1; }
	code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X POST "http://$R/v2/s3/down/blobs/uploads/")
	expect_eq "status of starting an upload with the store down" "$code" 503 || return 1
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$R/v2/s3/three/manifests/v3")
	expect_eq "status of a manifest GET (metadata only) with the store down" "$code" 200
}
berthd_start "$DATA" >/dev/null 2>&1 && R=$BERTHD_ADDR
tap_check "with the S3 store down, blob requests answer 503 UNAVAILABLE and manifests are still served" \
	store_down_is_unavailable

tap_done
