#!/usr/bin/env bash
# A Berth cluster on loopback, without systemd, every file under DIR: PostgreSQL 15
# (postgres.sh), a single-node Ceph with its S3 gateway (ceph.sh), three berthd nodes sharing
# the database and one bucket, and haproxy in front of them (round robin per request, no
# sticky sessions, health checks on GET /v2/).
#
#   tests/scaleout/cluster.sh start DIR     start everything; prints shell assignments on
#                                           stdout (also in DIR/env):
#       LB_URL LB_ADDR              the load balancer (http://127.0.0.1:PORT, 127.0.0.1:PORT)
#       NODE1_URL NODE1_ADDR NODE1_PID NODE1_DATA ... NODEn_*   each berthd node
#       NODES                       how many nodes
#       HAPROXY_PID
#       ADMIN_USER ADMIN_PASSWORD   an admin account (created once, with berthd user add)
#       CLUSTER_ARGS                the berthd options every node shares (--database, --storage
#                                   s3 ...), for berthd gc|fsck|user beside the nodes
#       PG_URL PG_PORT PG_DIR, S3_ENDPOINT S3_BUCKET S3_REGION AWS_ACCESS_KEY_ID
#       AWS_SECRET_ACCESS_KEY CEPH_DIR, CLUSTER_DIR
#   tests/scaleout/cluster.sh stop DIR      stop haproxy, the nodes, Ceph and PostgreSQL
#   tests/scaleout/cluster.sh restart DIR [BERTHD_OPTION...]
#                                           restart every node on its port with the shared
#                                           options plus these (replacing the previous
#                                           extra ones; e.g. --auth none; {node} in them
#                                           becomes the node's number, for options that
#                                           need a folder per node such as --blob-cache);
#                                           prints the assignments again
#   tests/scaleout/cluster.sh node DIR N start|stop|kill
#                                           start node N again (same port and options),
#                                           stop it (SIGTERM) or SIGKILL it; start prints
#                                           the assignments again
#
# Environment: BERTHD (berthd binary; default the one built next to tests/), CLUSTER_NODES
# (default 3), CLUSTER_AUTH (token, the default, or none), CLUSTER_BERTHD_ARGS (more berthd
# options for every node), CLUSTER_DATABASE (postgres, the default, or sqlite: no
# PostgreSQL, every node uses one shared data folder and its SQLite file, as on one machine),
# and those of ceph.sh and postgres.sh. The nodes use --external-url of the load balancer,
# --gc-interval 0 (collections only when asked) and their own --data folder for local
# scratch.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BERTHD=${BERTHD:-$TOP/berthd}

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

alive() {
	kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}

# stop_pid PIDFILE: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
	local pid i
	[ -f "$1" ] || return 0
	pid=$(cat "$1" 2>/dev/null)
	if [ -n "$pid" ] && alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			echo "cluster.sh: pid $pid ($(basename "$1" .pid)) ignored SIGTERM for 10 s, sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	rm -f "$1"
}

# load_state: the settings start wrote (ports, credentials, shared options).
load_state() {
	[ -f "$DIR/state" ] || die "no cluster in $DIR (cluster.sh start $DIR first)"
	# shellcheck disable=SC1091
	. "$DIR/state"
	set -a
	# shellcheck disable=SC1091
	. "$DIR/ceph/env"
	set +a
}

# node_data N: node N's data folder.
node_data() {
	if [ "$DATABASE" = sqlite ]; then echo "$DIR/shared"; elif [ "$1" = admin ]; then echo "$DIR/admin"; else echo "$DIR/node$1"; fi
}

# node_args N: the argument list node N runs with, one per line.
node_args() {
	local n=$1 port
	port=$(cat "$DIR/run/node$n.port")
	printf '%s\n' --listen "127.0.0.1:$port" --data "$(node_data "$n")" --log-level warn \
		--auth "$AUTH" --external-url "http://127.0.0.1:$LB_PORT" --gc-interval 0
	printf '%s\n' "${SHARED[@]}"
	[ -f "$DIR/run/extra" ] && sed "s/{node}/$n/g" "$DIR/run/extra"
	return 0
}

# start_node N: starts node N (detached, its own session) and waits up to 20 s for GET /v2/.
start_node() {
	local n=$1 port pid args i code log=$DIR/log/node$1.log
	port=$(cat "$DIR/run/node$n.port")
	mapfile -t args < <(node_args "$n")
	mkdir -p "$(node_data "$n")"
	echo "=== $(date -u +%FT%TZ) $BERTHD ${args[*]}" >>"$log"
	setsid "$BERTHD" "${args[@]}" </dev/null >>"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$DIR/run/node$n.pid"
	for ((i = 0; i < 200; i++)); do
		if ! alive "$pid"; then
			tail -n 20 "$log" >&2
			echo "cluster.sh: node $n (port $port) exited at start" >&2
			return 1
		fi
		code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/v2/")
		case $code in 200 | 401) return 0 ;; esac
		sleep 0.1
	done
	tail -n 20 "$log" >&2
	echo "cluster.sh: node $n (port $port) not ready after 20 s (last status $code)" >&2
	return 1
}

# start_nodes: starts every node. On PostgreSQL all at once, as in a deployment (the first
# start on an empty database: every node migrates it at the same moment); on one
# shared SQLite folder one after the other, since the first start there creates files
# (the token signing key) that concurrent first starts would race for.
start_nodes() {
	local n pids=() failed=0
	for ((n = 1; n <= NODES; n++)); do
		if [ "$DATABASE" = sqlite ]; then
			start_node "$n" || return 1
		else
			start_node "$n" &
			pids+=($!)
		fi
	done
	for n in "${pids[@]}"; do wait "$n" || failed=1; done
	return $failed
}

# wait_lb: the load balancer answers and sees every node up (its stats socket).
wait_lb() {
	local i up
	for ((i = 0; i < 100; i++)); do
		up=$(echo "show stat" | socat_stats | awk -F, '$1 == "nodes" && $2 ~ /^node/ && $18 == "UP"' | wc -l)
		[ "$up" -eq "$NODES" ] && return 0
		sleep 0.1
	done
	echo "cluster.sh: haproxy sees $up of $NODES nodes up after 10 s" >&2
	return 1
}

# socat_stats: a command on haproxy's stats socket (python, as socat is not a dependency).
socat_stats() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
s.shutdown(socket.SHUT_WR)
while True:
    d = s.recv(65536)
    if not d:
        break
    sys.stdout.buffer.write(d)
' "$DIR/run/haproxy.sock"
}

print_env() {
	local n pid
	{
		echo "CLUSTER_DIR=$DIR"
		echo "NODES=$NODES"
		echo "LB_ADDR=127.0.0.1:$LB_PORT"
		echo "LB_URL=http://127.0.0.1:$LB_PORT"
		echo "HAPROXY_PID=$(cat "$DIR/run/haproxy.pid" 2>/dev/null)"
		for ((n = 1; n <= NODES; n++)); do
			pid=$(cat "$DIR/run/node$n.pid" 2>/dev/null)
			echo "NODE${n}_ADDR=127.0.0.1:$(cat "$DIR/run/node$n.port")"
			echo "NODE${n}_URL=http://127.0.0.1:$(cat "$DIR/run/node$n.port")"
			echo "NODE${n}_PID=$pid"
			echo "NODE${n}_DATA=$(node_data "$n")"
		done
		echo "ADMIN_USER=$ADMIN_USER"
		echo "ADMIN_PASSWORD=$ADMIN_PASSWORD"
		printf 'CLUSTER_ARGS=%q\n' "${SHARED[*]}"
		[ "$DATABASE" = sqlite ] || cat "$DIR/pg/env"
		cat "$DIR/ceph/env"
	} >"$DIR/env.new"
	chmod 0600 "$DIR/env.new"
	mv "$DIR/env.new" "$DIR/env"
	cat "$DIR/env"
}

# splice-response: haproxy moves answer bodies (blob pulls) socket to socket in the kernel
# instead of copying them through its buffers, as docs/scale-out.md recommends.
write_haproxy_cfg() {
	local n
	{
		cat <<-CFG
		global
		    pidfile $DIR/run/haproxy.pid
		    stats socket $DIR/run/haproxy.sock mode 600 level admin
		    maxconn 2000
		defaults
		    mode http
		    timeout connect 5s
		    timeout client 300s
		    timeout server 300s
		    timeout http-request 30s
		    retries 2
		    option redispatch
		    option splice-response
		frontend registry
		    bind 127.0.0.1:$LB_PORT
		    default_backend nodes
		backend nodes
		    balance roundrobin
		    option httpchk GET /v2/
		    http-check expect rstatus ^(200|401)\$
		    default-server check inter 1s fall 2 rise 1
		CFG
		for ((n = 1; n <= NODES; n++)); do
			echo "    server node$n 127.0.0.1:$(cat "$DIR/run/node$n.port")"
		done
	} >"$DIR/haproxy.cfg"
}

start() {
	local n t0=$SECONDS
	command -v haproxy >/dev/null || die "haproxy not found (scripts/deps.sh test installs it)"
	[ -x "$BERTHD" ] || die "$BERTHD is not built (make)"
	[ ! -e "$DIR/state" ] || die "$DIR already holds a cluster (stop it and remove the folder first)"
	NODES=${CLUSTER_NODES:-3}
	[[ $NODES =~ ^[1-9]$ ]] || die "CLUSTER_NODES must be 1 to 9"
	AUTH=${CLUSTER_AUTH:-token}
	case $AUTH in token | none) ;; *) die "CLUSTER_AUTH must be token or none" ;; esac
	DATABASE=${CLUSTER_DATABASE:-postgres}
	case $DATABASE in postgres | sqlite) ;; *) die "CLUSTER_DATABASE must be postgres or sqlite" ;; esac
	mkdir -p "$DIR/run" "$DIR/log" || die "cannot create $DIR"

	SHARED=()
	if [ "$DATABASE" = postgres ]; then
		"$HERE/postgres.sh" start "$DIR/pg" >/dev/null 2>"$DIR/log/postgres.err" ||
			{ cat "$DIR/log/postgres.err" >&2; die "PostgreSQL did not start"; }
		SHARED=(--database "$(sed -n 's/^PG_URL=//p' "$DIR/pg/env")")
	fi
	"$HERE/ceph.sh" start "$DIR/ceph" >/dev/null 2>"$DIR/log/ceph.err" ||
		{ tail -n 40 "$DIR/log/ceph.err" >&2; stop; die "Ceph did not start"; }
	set -a
	# shellcheck disable=SC1091
	. "$DIR/ceph/env"
	set +a
	SHARED+=(--storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket "$S3_BUCKET" --s3-region "$S3_REGION")
	# shellcheck disable=SC2206 # a list of words
	SHARED+=(${CLUSTER_BERTHD_ARGS:-})
	LB_PORT=$(free_port)
	ADMIN_USER='admin'
	ADMIN_PASSWORD=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24)
	{
		echo "NODES=$NODES"
		echo "AUTH=$AUTH"
		echo "DATABASE=$DATABASE"
		echo "LB_PORT=$LB_PORT"
		echo "ADMIN_USER=$ADMIN_USER"
		echo "ADMIN_PASSWORD=$ADMIN_PASSWORD"
		printf 'SHARED=(%s)\n' "$(printf '%q ' "${SHARED[@]}")"
	} >"$DIR/state"
	chmod 0600 "$DIR/state"

	for ((n = 1; n <= NODES; n++)); do
		free_port >"$DIR/run/node$n.port"
	done
	start_nodes || { stop; die "a node did not start"; }
	# The admin account, once, in the shared database, with berthd beside the nodes.
	printf '%s\n' "$ADMIN_PASSWORD" | "$BERTHD" user add "$ADMIN_USER" --admin --password-stdin \
		--data "$(node_data admin)" "${SHARED[@]}" >"$DIR/log/user-add.log" 2>&1 ||
		{ cat "$DIR/log/user-add.log" >&2; stop; die "berthd user add $ADMIN_USER failed"; }

	write_haproxy_cfg
	haproxy -c -q -f "$DIR/haproxy.cfg" >"$DIR/log/haproxy-check.log" 2>&1 ||
		{ cat "$DIR/log/haproxy-check.log" >&2; stop; die "haproxy refuses its configuration"; }
	haproxy -D -f "$DIR/haproxy.cfg" >"$DIR/log/haproxy.log" 2>&1 ||
		{ cat "$DIR/log/haproxy.log" >&2; stop; die "haproxy did not start"; }
	wait_lb || { stop; die "the load balancer does not see every node"; }
	print_env
	echo "cluster.sh: $NODES nodes behind http://127.0.0.1:$LB_PORT, up in $((SECONDS - t0)) s" >&2
}

stop() {
	local n
	stop_pid "$DIR/run/haproxy.pid"
	for n in "$DIR"/run/node*.pid; do
		[ -f "$n" ] && stop_pid "$n"
	done
	[ -d "$DIR/ceph" ] && "$HERE/ceph.sh" stop "$DIR/ceph"
	[ -d "$DIR/pg" ] && "$HERE/postgres.sh" stop "$DIR/pg"
	return 0
}

restart() {
	local n
	load_state
	if [ $# -gt 0 ]; then printf '%s\n' "$@" >"$DIR/run/extra"; else rm -f "$DIR/run/extra"; fi
	for ((n = 1; n <= NODES; n++)); do
		stop_pid "$DIR/run/node$n.pid"
	done
	start_nodes || die "a node did not start again"
	wait_lb || die "the load balancer does not see every node"
	print_env
}

node() {
	local n=$1 pid
	load_state
	[[ $n =~ ^[1-9]$ ]] && [ "$n" -le "$NODES" ] || die "no node $n (1 to $NODES)"
	case $2 in
	start)
		pid=$(cat "$DIR/run/node$n.pid" 2>/dev/null)
		[ -n "$pid" ] && alive "$pid" && die "node $n is running (pid $pid)"
		start_node "$n" || die "node $n did not start"
		wait_lb || die "the load balancer does not see node $n up"
		print_env
		;;
	stop) stop_pid "$DIR/run/node$n.pid" ;;
	kill)
		pid=$(cat "$DIR/run/node$n.pid" 2>/dev/null)
		[ -n "$pid" ] && alive "$pid" || die "node $n is not running"
		kill -KILL "$pid"
		rm -f "$DIR/run/node$n.pid"
		;;
	*) die "usage: $0 node DIR N start|stop|kill" ;;
	esac
}

usage="usage: $0 start|stop DIR | restart DIR [BERTHD_OPTION...] | node DIR N start|stop|kill"
[ $# -ge 2 ] || die "$usage"
cmd=$1
DIR=$(mkdir -p "$2" && cd "$2" && pwd) || die "cannot use $2"
shift 2
case $cmd in
start) [ $# -eq 0 ] || die "$usage"; start ;;
stop)
	[ $# -eq 0 ] || die "$usage"
	stop
	;;
restart) restart "$@" ;;
node) [ $# -eq 2 ] || die "$usage"; node "$1" "$2" ;;
*) die "$usage" ;;
esac
