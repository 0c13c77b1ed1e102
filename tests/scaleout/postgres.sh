#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the scale-out tests: initdb as the postgres OS user, trust
# authentication, listening on 127.0.0.1 and a Unix socket in its own folder only, without
# systemd. Its files are under DIR, or (when DIR is private to root, so that the postgres
# user cannot enter it) in a folder /tmp/berth-pg.* that stop removes. About a second.
#
#   tests/scaleout/postgres.sh start DIR   start it; prints shell assignments on stdout:
#                                          PG_URL (postgres://berth@127.0.0.1:PORT/berth)
#                                          PG_PORT PG_DIR PG_HOST
#   tests/scaleout/postgres.sh stop DIR    stop the server started in DIR (bounded wait)
#   tests/scaleout/postgres.sh createdb DIR NAME
#                                          one more empty database owned by berth; prints
#                                          its URL
#
# The role berth owns the database berth and may create databases. fsync stays on (the
# tests see what production sees); max_connections is 200 so that several berthd nodes,
# each with its own connection pool, fit. Environment: PG_BIN (default
# /usr/lib/postgresql/15/bin).
set -uo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

die() {
	echo "postgres.sh: $*" >&2
	exit 1
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# as_postgres CMD...: runs CMD as the postgres OS user (initdb and postgres refuse root).
as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# psql_admin SQL: runs SQL as the superuser over TCP on loopback (trust authentication).
psql_admin() {
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$DIR/port")" -U postgres \
		-d postgres -c "$1"
}

start() {
	local b port t0=$SECONDS i
	for b in initdb pg_ctl psql; do
		[ -x "$PG_BIN/$b" ] || die "$PG_BIN/$b not found (scripts/deps.sh test installs postgresql-15)"
	done
	[ ! -e "$DIR/port" ] || die "$DIR already holds a database cluster (stop it and remove the folder first)"
	PGD=$DIR
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || die "there is no postgres OS user (the postgresql-15 package creates it)"
		# The server runs as postgres, which must reach its folder; test scratch folders are
		# often private to root (mktemp -d): then the server's files go to a folder of its own.
		if ! runuser -u postgres -- test -x "$DIR"; then
			PGD=$(mktemp -d /tmp/berth-pg.XXXXXX) || die "cannot create a folder in /tmp"
			echo "$PGD" >"$DIR/pgdir"
			chmod 0755 "$PGD"
		fi
		chown postgres: "$PGD" || die "cannot give $PGD to the postgres user"
	fi
	as_postgres mkdir -p "$PGD/data" && as_postgres chmod 0700 "$PGD/data" || die "cannot create $PGD/data"
	as_postgres "$PG_BIN/initdb" -D "$PGD/data" -U postgres --auth=trust --locale=C.UTF-8 --encoding=UTF8 \
		--no-instructions >"$DIR/initdb.log" 2>&1 || { tail -n 20 "$DIR/initdb.log" >&2; die "initdb failed"; }
	for i in 1 2 3; do
		port=$(free_port) || die "no free port"
		echo "$port" >"$DIR/port"
		if as_postgres "$PG_BIN/pg_ctl" -D "$PGD/data" -l "$PGD/postgres.log" -w -t 30 \
			-o "-k $PGD -p $port -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on \
-c shared_buffers=32MB" start >"$DIR/pg_ctl.log" 2>&1; then
			break
		fi
		# Another process may have taken the port between the probe and the bind.
		grep -q 'could not bind\|Address already in use' "$PGD/postgres.log" 2>/dev/null && [ "$i" -lt 3 ] && continue
		tail -n 20 "$PGD/postgres.log" >&2
		die "pg_ctl start failed (port $port)"
	done
	psql_admin "CREATE ROLE berth LOGIN CREATEDB" >"$DIR/psql.log" 2>&1 &&
		psql_admin "CREATE DATABASE berth OWNER berth" >>"$DIR/psql.log" 2>&1 ||
		{ cat "$DIR/psql.log" >&2; stop; die "cannot create the role and database berth"; }
	{
		echo "PG_DIR=$DIR"
		echo "PG_HOST=127.0.0.1"
		echo "PG_PORT=$port"
		echo "PG_URL=postgres://berth@127.0.0.1:$port/berth"
	} | tee "$DIR/env"
	echo "postgres.sh: up in $((SECONDS - t0)) s on 127.0.0.1:$port (server files in $PGD)" >&2
}

stop() {
	PGD=$DIR
	[ -f "$DIR/pgdir" ] && PGD=$(cat "$DIR/pgdir")
	if [ -f "$PGD/data/postmaster.pid" ] &&
		! as_postgres "$PG_BIN/pg_ctl" -D "$PGD/data" -m fast -w -t 20 stop >>"$DIR/pg_ctl.log" 2>&1; then
		# A server that does not stop in 20 s is killed: it is a throwaway.
		local pid
		pid=$(head -n 1 "$PGD/data/postmaster.pid" 2>/dev/null)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			echo "postgres.sh: postmaster $pid did not stop in 20 s, sending SIGQUIT" >&2
			kill -QUIT "$pid" 2>/dev/null
		fi
	fi
	if [ -f "$DIR/pgdir" ]; then
		cp "$PGD/postgres.log" "$DIR/postgres.log" 2>/dev/null
		rm -rf "$PGD"
		rm -f "$DIR/pgdir"
	fi
	return 0
}

createdb() {
	local name=$1 port
	[[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "not a database name: $name"
	[ -f "$DIR/port" ] || die "no server in $DIR"
	port=$(cat "$DIR/port")
	psql_admin "CREATE DATABASE $name OWNER berth" >/dev/null || die "cannot create database $name"
	echo "postgres://berth@127.0.0.1:$port/$name"
}

[ $# -ge 2 ] || die "usage: $0 start|stop DIR | createdb DIR NAME"
DIR=$(mkdir -p "$2" && cd "$2" && pwd) || die "cannot use $2"
case $1 in
start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop ;;
createdb) [ $# -eq 3 ] || die "usage: $0 createdb DIR NAME"; createdb "$3" ;;
*) die "usage: $0 start|stop DIR | createdb DIR NAME" ;;
esac
