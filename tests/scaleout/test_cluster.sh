#!/usr/bin/env bash
# Three berthd nodes on PostgreSQL and Ceph RGW behind haproxy (tests/scaleout/cluster.sh),
# every request free to land on any node: tokens and web sessions made on one node and used
# on the others, skopeo and podman through the load balancer, one chunked upload whose
# requests go to node 1, 2, 3 in turn, one tag pushed concurrently via two nodes, a node
# SIGKILLed in the middle of pushes, garbage collection on one node while the others take
# pushes (and a second collection refused), fsck of the shared store, and the API
# conformance suites through the load balancer. Prints TAP.
#
# usage: BERTHD=/abs/path/berthd tests/scaleout/test_cluster.sh
# Environment: BERTH_CLUSTER_SUITES=all (or a list like "test_blobs test_manifests") picks
# the API suites run through the load balancer; CLUSTER_DATABASE=sqlite runs the nodes on
# one shared SQLite file instead of PostgreSQL (see cluster.sh).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"
. "$HERE/../lib/podman-setup.sh"
MKIMAGE=$HERE/../fixtures/mkimage.sh

rut_require
berth_test_init scaleout-cluster || { echo "Bail out! cannot create a scratch directory"; exit 1; }

C=$TEST_DIR/cluster
berth_on_exit "$HERE/cluster.sh" stop "$C"
t0=$SECONDS
# Collections run only when asked (cluster.sh sets --gc-interval 0); a grace of 3 s lets
# the GC case below make garbage and collect it within seconds.
if ! CLUSTER_BERTHD_ARGS="--gc-grace 3" "$HERE/cluster.sh" start "$C" >"$TEST_DIR/cluster.env" 2>"$TEST_DIR/cluster.err"; then
	tap_fail "PostgreSQL, Ceph, three berthd nodes and haproxy start" "$(tail -n 60 "$TEST_DIR/cluster.err")"
	tap_done
fi
tap_ok "PostgreSQL, Ceph, three berthd nodes and haproxy start"
tap_diag "cluster up in $((SECONDS - t0)) s"

# reload: the cluster's assignments (node pids change when a node restarts).
reload() {
	set -a
	# shellcheck disable=SC1091
	. "$C/env"
	set +a
	NODE_ADDRS=("$NODE1_ADDR" "$NODE2_ADDR" "$NODE3_ADDR")
}
reload
ADMIN="$ADMIN_USER:$ADMIN_PASSWORD"
WORK=$TEST_DIR/work
IMG=$TEST_DIR/images
mkdir -p "$WORK" "$IMG"
MT_OCI=application/vnd.oci.image.manifest.v1+json

# cli_data: the --data folder for berthd gc|fsck beside the nodes: a scratch folder of its
# own on PostgreSQL, the shared one on SQLite.
cli_data() {
	if [ -n "${PG_URL:-}" ]; then echo "$TEST_DIR/cli"; else echo "$NODE1_DATA"; fi
}

# token ADDR SCOPE [CREDS]: a bearer token from node ADDR's /token.
token() {
	curl -sf -u "${3:-$ADMIN}" "http://$1/token?service=berth&scope=$2" | jq -er .token
}
# status METHOD URL [CURL ARGS...]: the HTTP status only; the body goes to $WORK/body.
status() {
	local m=$1 u=$2
	shift 2
	curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" "$@" "$u"
}
# path_of LOCATION: the path (and query) of an absolute or relative Location.
path_of() {
	case $1 in
	http://* | https://*) local rest=${1#*://}; echo "/${rest#*/}" ;;
	*) echo "$1" ;;
	esac
}

# ---------------------------------------------------------------- the load balancer

lb_spreads_requests() {
	# haproxy balances each request, not each connection: one keep-alive connection's
	# requests reach every node. Each node counts its requests in /metrics.
	local n before=() after=() i
	count() {
		curl -sf -u "$ADMIN" "http://$1/metrics" |
			awk '/^berth_http_requests_total/ {s += $NF} END {printf "%d\n", s}'
	}
	for n in 0 1 2; do before[n]=$(count "${NODE_ADDRS[n]}") || return 1; done
	local urls=()
	for ((i = 0; i < 30; i++)); do urls+=("$LB_URL/v2/"); done
	curl -s -o /dev/null "${urls[@]}" || return 1
	for n in 0 1 2; do
		after[n]=$(count "${NODE_ADDRS[n]}") || return 1
		# 30 requests, round robin: about 10 each, and every node some.
		[ $((after[n] - before[n])) -ge 5 ] ||
			{ echo "node $((n + 1)) served $((after[n] - before[n])) of 30 requests"; return 1; }
	done
	echo "requests per node: $((after[0] - before[0])) $((after[1] - before[1])) $((after[2] - before[2]))"
}
tap_check "haproxy spreads one connection's requests over all three nodes" lb_spreads_requests

# ---------------------------------------------------------------- tokens and sessions

token_from_node1_on_others() {
	local tok code repo=admin/tokens blob=$WORK/tokblob digest
	tok=$(token "$NODE1_ADDR" "repository:$repo:pull,push") || { echo "no token from node 1"; return 1; }
	head -c 4096 /dev/urandom >"$blob"
	digest=sha256:$(sha256sum <"$blob" | cut -d' ' -f1)
	# Push a blob on node 2 with node 1's token (monolithic POST ?digest=)...
	code=$(status POST "$NODE2_URL/v2/$repo/blobs/uploads/?digest=$digest" -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$blob")
	expect_eq "status of a blob push on node 2 with node 1's token" "$code" 201 || { cat "$WORK/body"; return 1; }
	# ...and read it back on node 3 with the same token.
	code=$(status GET "$NODE3_URL/v2/$repo/blobs/$digest" -H "Authorization: Bearer $tok")
	expect_eq "status of the blob GET on node 3" "$code" 200 || return 1
	cmp -s "$WORK/body" "$blob" || { echo "node 3 served other bytes"; return 1; }
	# A pull-only token from node 1 cannot push on node 3.
	tok=$(token "$NODE1_ADDR" "repository:$repo:pull") || return 1
	code=$(status POST "$NODE3_URL/v2/$repo/blobs/uploads/" -H "Authorization: Bearer $tok")
	case $code in 401 | 403) ;; *) echo "a pull-only token started an upload on node 3: HTTP $code"; return 1 ;; esac
	# A token whose signature was tampered with is refused on every node.
	tok=$(token "$NODE1_ADDR" "repository:$repo:pull") || return 1
	local bad=${tok%.*}.AAAA${tok##*.}
	for addr in "$NODE2_ADDR" "$NODE3_ADDR"; do
		code=$(status GET "http://$addr/v2/$repo/blobs/$digest" -H "Authorization: Bearer $bad")
		expect_eq "status of a tampered token on $addr" "$code" 401 || return 1
	done
}
tap_check "a token issued by node 1 works on nodes 2 and 3 (push, pull); narrower and tampered ones do not" \
	token_from_node1_on_others

session_across_nodes() {
	local jar=$WORK/cookies csrf code user
	rm -f "$jar"
	code=$(status POST "$NODE1_URL/api/v1/session" -c "$jar" -H 'Content-Type: application/json' \
		--data "{\"username\":\"$ADMIN_USER\",\"password\":\"$ADMIN_PASSWORD\"}")
	expect_eq "status of signing in on node 1" "$code" 200 || { cat "$WORK/body"; return 1; }
	csrf=$(jq -er .csrf_token "$WORK/body") || return 1
	code=$(status GET "$NODE2_URL/api/v1/session" -b "$jar")
	expect_eq "status of GET /api/v1/session on node 2" "$code" 200 || return 1
	user=$(jq -r .user.name "$WORK/body")
	expect_eq "user of the session on node 2" "$user" "$ADMIN_USER" || return 1
	expect_eq "CSRF token node 2 gives" "$(jq -r .csrf_token "$WORK/body")" "$csrf" || return 1
	# A change on node 3 with the cookie: refused without the CSRF token, done with it.
	code=$(status PATCH "$NODE3_URL/api/v1/repositories/admin/tokens" -b "$jar" \
		-H 'Content-Type: application/json' --data '{"description":"set on node 3"}')
	expect_eq "status of a change on node 3 without X-CSRF-Token" "$code" 403 || return 1
	code=$(status PATCH "$NODE3_URL/api/v1/repositories/admin/tokens" -b "$jar" -H "X-CSRF-Token: $csrf" \
		-H 'Content-Type: application/json' --data '{"description":"set on node 3"}')
	expect_eq "status of the change on node 3 with the CSRF token" "$code" 200 || { cat "$WORK/body"; return 1; }
	code=$(status GET "$NODE1_URL/api/v1/repositories/admin/tokens" -b "$jar")
	expect_eq "description node 1 reads" "$(jq -r .description "$WORK/body")" "set on node 3" || return 1
	# Signing out on node 2 ends the session everywhere.
	code=$(status DELETE "$NODE2_URL/api/v1/session" -b "$jar" -H "X-CSRF-Token: $csrf")
	expect_eq "status of signing out on node 2" "$code" 204 || return 1
	code=$(status GET "$NODE3_URL/api/v1/session" -b "$jar")
	expect_eq "status of the ended session on node 3" "$code" 401
}
tap_check "a web session made on node 1 works on nodes 2 and 3 (cookie and CSRF), sign-out on one ends it on all" \
	session_across_nodes

# ---------------------------------------------------------------- skopeo and podman

tap_check "mkimage.sh builds a 3-layer image" "$MKIMAGE" "$IMG/three" --layers 3 --tag v1 --extra-kb 2048
THREE=$(layout_top_digest "$IMG/three" v1)
for a in "$LB_ADDR" "${NODE_ADDRS[@]}"; do
	skopeo_cmd login --tls-verify=false -u "$ADMIN_USER" -p "$ADMIN_PASSWORD" "$a" >/dev/null 2>&1
done
tap_check "skopeo pushes through the load balancer" \
	push_layout "oci:$IMG/three:v1" "docker://$LB_ADDR/admin/three:v1" "$THREE" --preserve-digests
tap_check "skopeo pulls it back byte-identical through the load balancer" \
	pull_back "docker://$LB_ADDR/admin/three:v1" "$WORK/pulled-lb" v1 "$IMG/three" v1
every_node_serves() {
	local a
	for a in "${NODE_ADDRS[@]}"; do
		pull_back "docker://$a/admin/three:v1" "$WORK/pulled-${a##*:}" v1 "$IMG/three" v1 || return 1
	done
}
tap_check "every node serves the pushed image whole" every_node_serves

# ---------------------------------------------------------------- a chunked upload across nodes

head -c 9000000 /dev/urandom >"$WORK/blob"
BLOB=sha256:$(sha256sum <"$WORK/blob" | cut -d' ' -f1)
chunks_alternate() {
	local repo=admin/chunked tok loc from=0 i=0 len addr code
	tok=$(token "$NODE1_ADDR" "repository:$repo:pull,push") || return 1
	code=$(curl -s -D "$WORK/h" -o "$WORK/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" \
		"$NODE1_URL/v2/$repo/blobs/uploads/")
	expect_eq "status of POST on node 1" "$code" 202 || return 1
	loc=$(path_of "$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Ll]ocation: //p')")
	for len in 1000000 3000000 2000000 1500000 500000; do
		addr=${NODE_ADDRS[i % 3]}
		tail -c +$((from + 1)) "$WORK/blob" | head -c "$len" >"$WORK/chunk"
		code=$(curl -s -D "$WORK/h" -o "$WORK/body" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $tok" \
			-H 'Content-Type: application/octet-stream' -H "Content-Range: $from-$((from + len - 1))" \
			--data-binary @"$WORK/chunk" "http://$addr$loc")
		expect_eq "status of PATCH $i (bytes $from+$len) on $addr" "$code" 202 || { cat "$WORK/body"; return 1; }
		loc=$(path_of "$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Ll]ocation: //p')")
		expect_eq "Range after PATCH $i" "$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Rr]ange: //p')" \
			"0-$((from + len - 1))" || return 1
		from=$((from + len))
		i=$((i + 1))
	done
	# The upload's state as another node sees it.
	code=$(curl -s -D "$WORK/h" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$NODE3_URL$loc")
	expect_eq "status of GET on the upload on node 3" "$code" 204 || return 1
	expect_eq "Range node 3 reports" "$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Rr]ange: //p')" "0-$((from - 1))" || return 1
	tail -c +$((from + 1)) "$WORK/blob" >"$WORK/chunk"
	local sep='?'
	case $loc in *\?*) sep='&' ;; esac
	code=$(status PUT "$NODE3_URL$loc${sep}digest=$BLOB" -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$WORK/chunk")
	expect_eq "status of the final PUT on node 3" "$code" 201 || { cat "$WORK/body"; return 1; }
	for addr in "${NODE_ADDRS[@]}"; do
		got=sha256:$(curl -sf -H "Authorization: Bearer $tok" "http://$addr/v2/$repo/blobs/$BLOB" | sha256sum | cut -d' ' -f1)
		expect_eq "digest of the blob on $addr" "$got" "$BLOB" || return 1
	done
}
tap_check "one chunked upload: POST on node 1, PATCHes on nodes 1, 2, 3, 1, 2, PUT on node 3" chunks_alternate

# ---------------------------------------------------------------- one tag, two nodes, at once

tap_check "mkimage.sh builds two images that differ" \
	bash -c "'$MKIMAGE' '$IMG/a' --layers 2 --seed a --tag v1 >/dev/null && '$MKIMAGE' '$IMG/b' --layers 2 --seed b --tag v1 >/dev/null"
A=$(layout_top_digest "$IMG/a" v1)
B=$(layout_top_digest "$IMG/b" v1)

# all_nodes_agree REPO TAG: every node's manifest at the tag has the same digest, one of A
# and B, and both A and B are stored whole on every node.
all_nodes_agree() {
	local repo=$1 tag=$2 tok a d first=
	tok=$(token "$NODE2_ADDR" "repository:$repo:pull") || return 1
	for a in "${NODE_ADDRS[@]}"; do
		d=$(curl -sf -I -H "Authorization: Bearer $tok" -H "Accept: $MT_OCI" "http://$a/v2/$repo/manifests/$tag" |
			tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
		[ -n "$d" ] || { echo "no manifest at $repo:$tag on $a"; return 1; }
		[ "$d" = "$A" ] || [ "$d" = "$B" ] || { echo "$repo:$tag on $a is $d, neither pushed manifest"; return 1; }
		[ -z "$first" ] && first=$d
		expect_eq "digest of $repo:$tag on $a" "$d" "$first" || return 1
		for d in "$A" "$B"; do
			code=$(status GET "http://$a/v2/$repo/manifests/$d" -H "Authorization: Bearer $tok" -H "Accept: $MT_OCI")
			expect_eq "status of $repo@$d on $a" "$code" 200 || return 1
		done
		n=$(curl -sf -H "Authorization: Bearer $tok" "http://$a/v2/$repo/tags/list" | jq --arg t "$tag" '[.tags[] | select(. == $t)] | length')
		expect_eq "times $tag is listed on $a" "$n" 1 || return 1
	done
	echo "$repo:$tag is $first on every node"
}

skopeo_race() {
	local repo=admin/race rc1 rc2
	skopeo_cmd copy -q --dest-tls-verify=false --preserve-digests "oci:$IMG/a:v1" "docker://$NODE1_ADDR/$repo:t" \
		>"$WORK/race1.log" 2>&1 &
	local p1=$!
	skopeo_cmd copy -q --dest-tls-verify=false --preserve-digests "oci:$IMG/b:v1" "docker://$NODE2_ADDR/$repo:t" \
		>"$WORK/race2.log" 2>&1 &
	local p2=$!
	wait $p1
	rc1=$?
	wait $p2
	rc2=$?
	[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] || { cat "$WORK/race1.log" "$WORK/race2.log"; return 1; }
	all_nodes_agree "$repo" t
}
tap_check "skopeo pushes two images to one tag via nodes 1 and 2 at once: the tag is one of them on every node" skopeo_race

# Then the manifest PUTs alone, racing twenty times, every blob already stored.
manifest_put_race() {
	local repo=admin/race tok round c1 c2
	tok=$(token "$NODE1_ADDR" "repository:$repo:pull,push") || return 1
	skopeo_cmd inspect --raw --tls-verify=false "oci:$IMG/a:v1" >"$WORK/ma" || return 1
	skopeo_cmd inspect --raw --tls-verify=false "oci:$IMG/b:v1" >"$WORK/mb" || return 1
	for ((round = 0; round < 20; round++)); do
		curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $tok" -H "Content-Type: $MT_OCI" \
			--data-binary @"$WORK/ma" "$NODE1_URL/v2/$repo/manifests/r$round" >"$WORK/c1" &
		curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $tok" -H "Content-Type: $MT_OCI" \
			--data-binary @"$WORK/mb" "$NODE2_URL/v2/$repo/manifests/r$round" >"$WORK/c2" &
		wait
		c1=$(cat "$WORK/c1") c2=$(cat "$WORK/c2")
		[ "$c1" = 201 ] && [ "$c2" = 201 ] || { echo "round $round: node 1 HTTP $c1, node 2 HTTP $c2"; return 1; }
		all_nodes_agree "$repo" "r$round" || return 1
	done
}
tap_check "20 rounds of two manifest PUTs to one tag on nodes 1 and 2 at once: every node agrees each time" \
	manifest_put_race

# ---------------------------------------------------------------- GC on one node, pushes on the others

six_images() {
	local i
	for i in 1 2 3 4 5 6; do
		"$MKIMAGE" "$IMG/gc$i" --layers 2 --seed "gc$i" --tag v1 >/dev/null || return 1
	done
}
tap_check "mkimage.sh builds six more images" six_images

gc_runs() {
	curl -sf -u "$ADMIN" "$NODE1_URL/api/v1/gc?limit=100" | jq '[.runs[] | select(.trigger == "api")] | length'
}

gc_while_pushing() {
	local i orphans=() tok f d code runs0 runs1 pids=() failed=0
	# Garbage: unreferenced blobs, older than the grace period when the collections run.
	tok=$(token "$NODE1_ADDR" "repository:admin/orphans:pull,push") || return 1
	for i in 1 2 3 4 5 6 7 8 9 10; do
		f=$WORK/orphan$i
		head -c 20000 /dev/urandom >"$f"
		d=sha256:$(sha256sum <"$f" | cut -d' ' -f1)
		code=$(status POST "$LB_URL/v2/admin/orphans/blobs/uploads/?digest=$d" -H "Authorization: Bearer $tok" \
			-H 'Content-Type: application/octet-stream' --data-binary @"$f")
		expect_eq "status of orphan blob $i" "$code" 201 || return 1
		orphans+=("$d")
	done
	sleep 4
	runs0=$(gc_runs) || return 1
	# Six pushes, alternating between nodes 2 and 3; a push the collector refused (a blob
	# collected before its manifest came, the grace being 3 s) is pushed again, as clients do.
	for i in 1 2 3 4 5 6; do
		local a=${NODE_ADDRS[1 + i % 2]}
		(
			for try in 1 2 3; do
				skopeo_cmd copy -q --dest-tls-verify=false --preserve-digests "oci:$IMG/gc$i:v1" \
					"docker://$a/admin/gc$i:v1" >>"$WORK/gcpush$i.log" 2>&1 && exit 0
				echo "(attempt $try failed)" >>"$WORK/gcpush$i.log"
			done
			exit 1
		) &
		pids+=($!)
	done
	# Meanwhile node 1 collects again and again.
	local started=0
	while :; do
		local running=0
		for f in "${pids[@]}"; do kill -0 "$f" 2>/dev/null && running=1; done
		[ $running -eq 1 ] || [ $started -eq 0 ] || break
		code=$(status POST "$NODE1_URL/api/v1/gc" -u "$ADMIN")
		case $code in
		202) started=$((started + 1)) ;;
		409) ;;
		*) echo "POST /api/v1/gc on node 1: HTTP $code: $(cat "$WORK/body")"; failed=1; break ;;
		esac
		sleep 0.2
	done
	for f in "${pids[@]}"; do wait "$f" || failed=1; done
	[ $failed -eq 0 ] || { cat "$WORK"/gcpush*.log; return 1; }
	# Wait for the last run to end.
	for i in $(seq 100); do
		[ "$(curl -sf -u "$ADMIN" "$NODE1_URL/api/v1/gc" | jq -r .running)" = false ] && break
		sleep 0.2
	done
	runs1=$(gc_runs)
	echo "$started collections started on node 1 during the pushes ($((runs1 - runs0)) recorded)" | tee "$WORK/diag"
	[ "$started" -ge 1 ] || { echo "no collection ran"; return 1; }
	curl -sf -u "$ADMIN" "$NODE1_URL/api/v1/gc?limit=5" | jq -c '.runs[] | {blobs_deleted, error}'
	# The garbage is gone...
	for d in "${orphans[@]}"; do
		code=$(status HEAD "$NODE3_URL/v2/admin/orphans/blobs/$d" -H "Authorization: Bearer $tok" -I)
		expect_eq "status of collected orphan $d on node 3" "$code" 404 || return 1
	done
	# ...and every pushed image pulls back whole, from every node.
	for i in 1 2 3 4 5 6; do
		for a in "$LB_ADDR" "${NODE_ADDRS[@]}"; do
			pull_back "docker://$a/admin/gc$i:v1" "$WORK/gcpulled" v1 "$IMG/gc$i" v1 >/dev/null ||
				{ echo "admin/gc$i:v1 does not pull back whole from $a"; return 1; }
		done
	done
	echo "$(cat "$WORK"/gcpush*.log | grep -c attempt) pushes refused by the collector and pushed again" >>"$WORK/diag"
	return 0
}
rm -f "$WORK/diag"
tap_check "GC on node 1 while six pushes go through nodes 2 and 3: garbage freed, every image pulls back whole" \
	gc_while_pushing
[ -f "$WORK/diag" ] && tap_diag "$(cat "$WORK/diag")"

# A second collection on another node while one runs is refused. The run in progress is
# stood in for by a session that holds the collector's PostgreSQL advisory lock (its key is
# META_GC_LOCK in server/meta.c, "BerthGC" in ASCII), so that it lasts as long as the case
# needs; that is exactly what a running collection holds.
GC_LOCK_KEY=$((0x4265727468474322))
held_by_holder() {
	psql -X -At "$PG_URL" -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'berth-test-gc-hold'"
}
gc_hold_start() {
	PGAPPNAME=berth-test-gc-hold psql -X -q "$PG_URL" -c "SELECT pg_advisory_lock($GC_LOCK_KEY)" \
		-c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
	GC_HOLDER=$!
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(held_by_holder)" = 1 ] && return 0
		sleep 0.1
	done
	echo "the advisory lock was not taken within 5 s"
	return 1
}
gc_hold_stop() {
	psql -X -q "$PG_URL" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'berth-test-gc-hold'" >/dev/null 2>&1
	wait "$GC_HOLDER" 2>/dev/null
}
second_gc_cli_refused() {
	gc_hold_start || { gc_hold_stop; return 1; }
	# shellcheck disable=SC2086
	"$BERTHD" gc --data "$(cli_data)" $CLUSTER_ARGS >"$WORK/gc.out" 2>&1
	local rc=$?
	gc_hold_stop
	cat "$WORK/gc.out"
	[ $rc -ne 0 ] || { echo "berthd gc ran beside another collection"; return 1; }
	grep -q "running on another node" "$WORK/gc.out"
}
second_gc_api_refused() {
	gc_hold_start || { gc_hold_stop; return 1; }
	local code
	code=$(status POST "$NODE2_URL/api/v1/gc" -u "$ADMIN")
	gc_hold_stop
	expect_eq "status of POST /api/v1/gc on node 2 while a collection runs on another node" "$code" 409 ||
		{ cat "$WORK/body"; return 1; }
	grep -q "another node" "$WORK/body" || { echo "body: $(cat "$WORK/body")"; return 1; }
}
gc_after_release() {
	local code i
	# Node 2 may still be busy with the run it queued above.
	for ((i = 0; i < 50; i++)); do
		[ "$(curl -sf -u "$ADMIN" "$NODE3_URL/api/v1/gc" | jq -r .running)" = false ] && break
		sleep 0.1
	done
	local before last
	before=$(curl -sf -u "$ADMIN" "$NODE1_URL/api/v1/gc?limit=1" | jq -r '.runs[0].id // 0')
	code=$(status POST "$NODE3_URL/api/v1/gc" -u "$ADMIN")
	expect_eq "status of POST /api/v1/gc on node 3 once the lock is free" "$code" 202 || { cat "$WORK/body"; return 1; }
	# The run is recorded (seen from node 1) once it ends: a new one, without an error.
	for ((i = 0; i < 200; i++)); do
		last=$(curl -sf -u "$ADMIN" "$NODE1_URL/api/v1/gc?limit=1")
		[ "$(jq -r '.runs[0].id // 0' <<<"$last")" -gt "$before" ] && break
		sleep 0.1
	done
	[ "$(jq -r '.runs[0].id // 0' <<<"$last")" -gt "$before" ] ||
		{ echo "no new run was recorded within 20 s (last: $last)"; return 1; }
	jq -e '.runs[0].error == null' <<<"$last" >/dev/null || { echo "the run failed: $last"; return 1; }
}
if [ -z "${PG_URL:-}" ]; then
	tap_skip "while a collection holds the lock, berthd gc beside another node fails" \
		"the nodes share no PostgreSQL (CLUSTER_DATABASE=sqlite)"
	tap_skip "while a collection holds the lock, POST /api/v1/gc on another node answers 409" \
		"the nodes share no PostgreSQL (CLUSTER_DATABASE=sqlite)"
else
	tap_check "while a collection holds the lock, berthd gc beside another node fails" second_gc_cli_refused
	tap_check "while a collection holds the lock, POST /api/v1/gc on another node answers 409" second_gc_api_refused
	tap_check "once it is released, a collection started on node 3 runs to the end" gc_after_release
fi

# ---------------------------------------------------------------- a node killed mid-push

tap_check "mkimage.sh builds an image with a 24 MiB layer" "$MKIMAGE" "$IMG/big" --layers 2 --tag v1 --extra-kb 24576
BIG=$(layout_top_digest "$IMG/big" v1)

# nothing_partial REPO TAG LAYOUT: on every live node, the manifest at REPO:TAG is absent or
# whole, and each of the layout's blobs is absent or whole.
nothing_partial() {
	local repo=$1 tag=$2 layout=$3 tok a d code got
	tok=$(token "$LB_ADDR" "repository:$repo:pull") || return 1
	for a in "${LIVE[@]}"; do
		code=$(status GET "http://$a/v2/$repo/manifests/$tag" -H "Authorization: Bearer $tok" -H "Accept: $MT_OCI")
		case $code in
		404) ;;
		200) cmp -s "$WORK/body" "$layout/blobs/sha256/${BIG#sha256:}" || { echo "a different manifest at $repo:$tag on $a"; return 1; } ;;
		*) echo "manifest GET on $a: HTTP $code"; return 1 ;;
		esac
		for d in $(layout_blobs "$layout"); do
			code=$(status GET "http://$a/v2/$repo/blobs/$d" -H "Authorization: Bearer $tok" -L)
			case $code in
			404) ;;
			200)
				got=sha256:$(sha256sum <"$WORK/body" | cut -d' ' -f1)
				expect_eq "digest of blob $d on $a" "$got" "$d" || return 1
				;;
			*) echo "blob GET $d on $a: HTTP $code"; return 1 ;;
			esac
		done
	done
}

# multipart_at DIGEST: how many multipart uploads are open at the blob's key in the bucket.
multipart_at() {
	python3 "$HERE/s3req.py" GET "/$S3_BUCKET?prefix=blobs/sha256/${1:7:2}/${1#sha256:}&uploads=" |
		grep -o '<Upload>' | wc -l
}

kill_mid_upload() {
	# A slow monolithic blob PUT to node 2, killed with SIGKILL while the body streams, once
	# the first 8 MiB went to the multipart upload at the blob's key (a monolithic upload
	# writes there directly).
	local repo=admin/killed tok loc code d i
	tok=$(token "$NODE1_ADDR" "repository:$repo:pull,push") || return 1
	head -c 12000000 /dev/urandom >"$WORK/slow"
	d=sha256:$(sha256sum <"$WORK/slow" | cut -d' ' -f1)
	code=$(curl -s -D "$WORK/h" -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" \
		"$NODE2_URL/v2/$repo/blobs/uploads/")
	expect_eq "status of POST on node 2" "$code" 202 || return 1
	loc=$(path_of "$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Ll]ocation: //p')")
	local sep='?'
	case $loc in *\?*) sep='&' ;; esac
	echo "$loc" >"$WORK/killed-loc"
	echo "$d" >"$WORK/killed-digest"
	curl -s -o /dev/null --limit-rate 2M -X PUT -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$WORK/slow" "$NODE2_URL$loc${sep}digest=$d" &
	local cpid=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(multipart_at "$d")" = 1 ] && break
		sleep 0.1
	done
	expect_eq "multipart uploads at the blob key while the body streams" "$(multipart_at "$d")" 1 ||
		{ kill "$cpid"; return 1; }
	"$HERE/cluster.sh" node "$C" 2 kill || return 1
	wait $cpid
	LIVE=("$NODE1_ADDR" "$NODE3_ADDR")
	for a in "${LIVE[@]}"; do
		code=$(status HEAD "http://$a/v2/$repo/blobs/$d" -I -H "Authorization: Bearer $tok")
		expect_eq "status of the killed upload's blob on $a" "$code" 404 || return 1
	done
	# The load balancer takes node 2 out and every request still succeeds.
	for ((i = 0; i < 12; i++)); do
		code=$(status GET "$LB_URL/v2/" -u "$ADMIN")
		expect_eq "status of GET /v2/ $i through the load balancer with node 2 dead" "$code" 200 || return 1
	done
}
tap_check "node 2 SIGKILLed while a blob streams to it: the blob is on no other node, the LB routes around it" \
	kill_mid_upload
tap_check "node 2 starts again" bash -c "'$HERE/cluster.sh' node '$C' 2 start >/dev/null"

# The upload's state in the bucket names the multipart upload at the blob key, so another
# node's cancel (as the expiry would) aborts it; nothing is ever visible at the key.
cancel_killed_upload() {
	local tok loc d code
	reload
	loc=$(cat "$WORK/killed-loc")
	d=$(cat "$WORK/killed-digest")
	tok=$(token "$NODE1_ADDR" "repository:admin/killed:pull,push") || return 1
	expect_eq "multipart uploads at the blob key left by the killed node" "$(multipart_at "$d")" 1 || return 1
	code=$(status DELETE "$NODE1_URL$loc" -H "Authorization: Bearer $tok")
	expect_eq "status of cancelling the upload on node 1" "$code" 204 || return 1
	expect_eq "multipart uploads at the blob key after the cancel" "$(multipart_at "$d")" 0 || return 1
	code=$(status HEAD "$NODE1_URL/v2/admin/killed/blobs/$d" -I -H "Authorization: Bearer $tok")
	expect_eq "status of the blob" "$code" 404
}
tap_check "the multipart upload the killed node left at the blob key is aborted by a cancel on node 1" \
	cancel_killed_upload
reload

# A monolithic PUT whose commit fails for a transient reason (the shared write lock, held
# here by a psql session for longer than berthd waits for it: 503) has its bytes, held in
# memory for a write to the blob's key, staged in the bucket: the upload shows them on
# another node, and the client's bodiless PUT there completes it.
transient_retry_elsewhere() {
	local repo=admin/retry tok loc code d sep='?' i
	tok=$(token "$NODE1_ADDR" "repository:$repo:pull,push") || return 1
	head -c 300000 /dev/urandom >"$WORK/retry"
	d=sha256:$(sha256sum <"$WORK/retry" | cut -d' ' -f1)
	code=$(curl -s -D "$WORK/h" -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" \
		"$NODE2_URL/v2/$repo/blobs/uploads/")
	expect_eq "status of POST on node 2" "$code" 202 || return 1
	loc=$(path_of "$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Ll]ocation: //p')")
	case $loc in *\?*) sep='&' ;; esac
	PGAPPNAME=berth-test-write-hold psql -X -q "$PG_URL" -c "SELECT pg_advisory_lock($((0x4265727468)))" \
		-c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
	local holder=$!
	for ((i = 0; i < 50; i++)); do
		[ "$(psql -X -At "$PG_URL" -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
			WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'berth-test-write-hold'")" = 1 ] && break
		sleep 0.1
	done
	code=$(status PUT "$NODE2_URL$loc${sep}digest=$d" -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$WORK/retry")
	psql -X -q "$PG_URL" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'berth-test-write-hold'" >/dev/null 2>&1
	wait "$holder" 2>/dev/null
	expect_eq "status of the PUT while the write lock is held" "$code" 503 || { cat "$WORK/body"; return 1; }
	code=$(curl -s -D "$WORK/h" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$NODE1_URL$loc")
	expect_eq "status of the upload on node 1" "$code" 204 || return 1
	expect_eq "its Range on node 1" "$(tr -d '\r' <"$WORK/h" | sed -n 's/^[Rr]ange: //p')" "0-299999" || return 1
	code=$(status PUT "$NODE1_URL$loc${sep}digest=$d" -H "Authorization: Bearer $tok")
	expect_eq "status of the bodiless retry on node 1" "$code" 201 || { cat "$WORK/body"; return 1; }
	curl -sf -H "Authorization: Bearer $tok" "http://$NODE3_ADDR/v2/$repo/blobs/$d" | cmp -s - "$WORK/retry" ||
		{ echo "node 3 gives other bytes for $d"; return 1; }
}
if [ -z "${PG_URL:-}" ]; then
	tap_skip "a monolithic PUT that failed with 503 (write lock) is retried without its body on another node" \
		"the nodes share no PostgreSQL (CLUSTER_DATABASE=sqlite)"
else
	tap_check "a monolithic PUT that failed with 503 (write lock) is retried without its body on another node" \
		transient_retry_elsewhere
fi

kill_mid_skopeo() {
	local repo=admin/big spid rc=0
	skopeo_cmd copy -q --retry-times 3 --dest-tls-verify=false --preserve-digests "oci:$IMG/big:v1" \
		"docker://$LB_ADDR/$repo:v1" >"$WORK/big1.log" 2>&1 &
	spid=$!
	sleep 1
	"$HERE/cluster.sh" node "$C" 3 kill || return 1
	wait $spid || rc=$?
	if [ $rc -eq 0 ]; then
		echo "the push during the kill completed (skopeo's own retries)" >"$WORK/diag"
	else
		echo "the push during the kill failed (status $rc: $(tail -n 1 "$WORK/big1.log")); pushed again" >"$WORK/diag"
	fi
	LIVE=("$NODE1_ADDR" "$NODE2_ADDR")
	nothing_partial "$repo" v1 "$IMG/big" || return 1
	"$HERE/cluster.sh" node "$C" 3 start >/dev/null || return 1
	reload
	LIVE=("${NODE_ADDRS[@]}")
	nothing_partial "$repo" v1 "$IMG/big" || return 1
	# The client's retry (or a rerun) through the load balancer completes the push.
	if [ $rc -ne 0 ]; then
		push_layout "oci:$IMG/big:v1" "docker://$LB_ADDR/$repo:v1" "$BIG" --preserve-digests || return 1
	fi
	for a in "${NODE_ADDRS[@]}"; do
		pull_back "docker://$a/$repo:v1" "$WORK/bigpulled" v1 "$IMG/big" v1 || return 1
	done
}
rm -f "$WORK/diag"
tap_check "node 3 SIGKILLed during a skopeo push through the LB: nothing partial anywhere, the retried push completes" \
	kill_mid_skopeo
[ -f "$WORK/diag" ] && tap_diag "$(cat "$WORK/diag")"

fsck_clean() {
	# shellcheck disable=SC2086
	"$BERTHD" fsck --data "$(cli_data)" $CLUSTER_ARGS >"$WORK/fsck.out" 2>&1 || { cat "$WORK/fsck.out"; return 1; }
	grep -q '0 corrupt, 0 missing' "$WORK/fsck.out" || { cat "$WORK/fsck.out"; return 1; }
	cat "$WORK/fsck.out"
}
tap_check "berthd fsck of the shared database and bucket finds nothing wrong" fsck_clean

# ---------------------------------------------------------------- podman

if ! command -v podman >/dev/null || [ "$(id -u)" != 0 ]; then
	tap_skip "podman push and pull through the load balancer" "needs root and podman"
elif ! tap_check "private podman store" podman_setup "$TEST_DIR/podman"; then
	tap_fail "podman push and pull through the load balancer" "podman cannot be set up"
else
	pm() { timeout -k 5 90 "${PODMAN_CMD[@]}" "$@"; }
	podman_push_pull() {
		local pol=(--signature-policy "$TEST_DIR/podman/policy.json") id cfg
		cfg=$(jq -r .config.digest "$IMG/three/blobs/sha256/${THREE#sha256:}")
		id=$(cd "$IMG" && pm pull -q "${pol[@]}" oci:three:v1) || return 1
		pm tag "$id" "$LB_ADDR/admin/pm:v1" || return 1
		printf '%s\n' "$ADMIN_PASSWORD" | pm login --tls-verify=false -u "$ADMIN_USER" --password-stdin "$LB_ADDR" || return 1
		pm push -q "${pol[@]}" --tls-verify=false "$LB_ADDR/admin/pm:v1" || return 1
		pm rmi -f "$LB_ADDR/admin/pm:v1" "$id" >/dev/null 2>&1
		pm pull -q "${pol[@]}" --tls-verify=false "$LB_ADDR/admin/pm:v1" || return 1
		expect_eq "image ID podman pulled" "sha256:$(pm image inspect "$LB_ADDR/admin/pm:v1" | jq -r '.[0].Id')" "$cfg"
	}
	tap_check "podman push and pull through the load balancer" podman_push_pull
fi

# ---------------------------------------------------------------- the API suites through the LB

# The conformance suites test an open registry: the nodes restart with --auth none (same
# database, bucket and ports). The suites that start berthd processes of their own
# (needs_process) have no place here.
if tap_check "the three nodes restart with --auth none" bash -c "'$HERE/cluster.sh' restart '$C' --auth none >/dev/null"; then
	reload
	# Through Ceph each suite takes minutes more than on disk: by default the ones that
	# move blobs and upload sessions between nodes, and test_concurrency, whose racing
	# PATCHes and PUTs on one upload land on two nodes and must meet the upload's lock
	# (about 45 s; "all" takes about 3 minutes).
	suites=${BERTH_CLUSTER_SUITES:-test_base test_blobs test_uploads test_concurrency}
	[ "$suites" = all ] && suites="test_base test_blobs test_uploads test_manifests test_tags_catalog test_referrers \
test_names_and_errors test_concurrency"
	for suite in $suites; do
		s0=$SECONDS
		tap_check "API suite $suite passes through the load balancer" \
			env TEST_REGISTRY_URL="$LB_URL" timeout 600 python3 "$HERE/../api/$suite.py"
		tap_diag "$suite took $((SECONDS - s0)) s"
	done
fi
tap_check "berthd fsck finds nothing wrong after the suites" fsck_clean

tap_done
