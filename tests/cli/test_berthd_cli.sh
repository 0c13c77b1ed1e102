#!/usr/bin/env bash
# berthd's command line, environment and config file; start-up errors; graceful shutdown.
set -u
: "${BERTHD:?BERTHD must name the berthd binary}"
tmp=$(mktemp -d "${BERTH_TEST_TMP:-/tmp}/cli.XXXXXX")
n=0
fails=0
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
notok() {
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'
}
check() { # check "desc" cond-command...
	local d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { # url
	for _ in $(seq 100); do
		case $(curl -s -o /dev/null -w '%{http_code}' "$1/v2/") in 200 | 401) return 0 ;; esac
		sleep 0.1
	done
	return 1
}

# --version and --help
out=$("$BERTHD" --version 2>&1)
check "--version prints the version" grep -qE '^berthd [0-9]+\.[0-9]+\.[0-9]+' <<<"$out"
out=$("$BERTHD" --help 2>&1)
rc=$?
check "--help exits 0" test "$rc" -eq 0
for flag in --listen --data --auth --tls-cert --tls-key --log-level --read-only --config; do
	check "--help documents $flag" grep -q -- "$flag" <<<"$out"
done

# Bad input: one clear line on stderr, non-zero exit, nothing started.
bad() { # desc expected-substring args...
	local d=$1 want=$2
	shift 2
	local err rc
	err=$(timeout 5 "$BERTHD" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q -- "$want" <<<"$err" && [ "$(wc -l <<<"$err")" -eq 1 ]; then
		ok "$d"
	else
		notok "$d" "exit $rc, stderr: $err"
	fi
}
bad "unknown flag is refused" "unknown option --bogus" --bogus
bad "missing flag value is refused" "needs a value" --data
bad "bad log level is refused" "log-level" --log-level loud --data "$tmp/x"
bad "bad listen address is refused" "listen" --listen nonsense --data "$tmp/x"
bad "bad port is refused" "port" --listen 127.0.0.1:99999 --data "$tmp/x"
bad "unknown auth mode is refused" "auth" --auth ldap --data "$tmp/x"
bad "bad default visibility is refused" "default-visibility" --default-visibility secret --data "$tmp/x"
bad "bad external URL is refused" "external-url" --external-url ftp://x --data "$tmp/x"
bad "tls-cert without key is refused" "go together" --tls-cert /nonexistent --data "$tmp/x"
bad "missing config file is refused" "config file" --config "$tmp/none.conf"
printf 'listen = 127.0.0.1:1\nwhatever = 3\n' >"$tmp/bad.conf"
bad "unknown config setting names file and line" "bad.conf:2" --config "$tmp/bad.conf"
touch "$tmp/file"
bad "data folder that is a file is refused" "data" --listen 127.0.0.1:0 --data "$tmp/file"
err=$(BERTH_LOG_LEVEL=loud timeout 5 "$BERTHD" --data "$tmp/x" 2>&1 >/dev/null)
check "a bad BERTH_LOG_LEVEL is refused with its name" grep -q BERTH_LOG_LEVEL <<<"$err"

# Port already in use.
port=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$port)); s.listen(); time.sleep(5)" &
pids+=($!)
for _ in $(seq 100); do # wait until the listener holds the port (a loaded machine is slow)
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null && break
	sleep 0.1
done
bad "a port in use is refused" "in use" --listen "127.0.0.1:$port" --data "$tmp/inuse"

# Settings from the config file, overridden by the environment, overridden by flags.
port=$(free_port)
port2=$(free_port)
cat >"$tmp/berthd.conf" <<EOC
# comment
listen = 127.0.0.1:$port2
data = "$tmp/fromfile"
log-level = info
EOC
BERTH_LISTEN="127.0.0.1:$port" "$BERTHD" --config "$tmp/berthd.conf" --log-level warn >"$tmp/cfg.log" 2>&1 &
pid=$!
pids+=($pid)
if wait_ready "http://127.0.0.1:$port"; then ok "environment overrides the config file (listen)"; else notok "environment overrides the config file (listen)" "$(cat "$tmp/cfg.log")"; fi
check "config file sets the data folder" test -f "$tmp/fromfile/berth.db"
check "flag overrides the config file (log-level warn: no access log)" bash -c "! grep -q access '$tmp/cfg.log'"
kill -TERM $pid
wait $pid
check "SIGTERM stops berthd with status 0" test $? -eq 0

# Graceful stop: an upload in flight when SIGTERM arrives still completes.
port=$(free_port)
"$BERTHD" --auth none --listen "127.0.0.1:$port" --data "$tmp/graceful" --log-level info >"$tmp/graceful.log" 2>&1 &
pid=$!
pids+=($pid)
wait_ready "http://127.0.0.1:$port" || notok "berthd starts" "$(cat "$tmp/graceful.log")"
head -c 3000000 /dev/urandom >"$tmp/blob"
dg="sha256:$(sha256sum "$tmp/blob" | cut -d' ' -f1)"
# Send the body slowly (about 1.5 s) so SIGTERM lands mid-request.
curl -s -o /dev/null -w '%{http_code}' --limit-rate 2M -X POST -H 'Content-Type: application/octet-stream' \
	--data-binary @"$tmp/blob" "http://127.0.0.1:$port/v2/g/r/blobs/uploads/?digest=$dg" >"$tmp/code" &
cpid=$!
sleep 0.5
kill -TERM $pid
wait $cpid
code=$(cat "$tmp/code")
wait $pid
rc=$?
check "an upload in flight at SIGTERM completes (got $code)" test "$code" = 201
check "berthd exits 0 after finishing it" test "$rc" -eq 0
check "the stop is logged" grep -q "stopping" "$tmp/graceful.log"
check "the access log has one line per request" grep -q 'access 127.0.0.1 "POST /v2/g/r/blobs/uploads/" 201' "$tmp/graceful.log"
"$BERTHD" --auth none --listen "127.0.0.1:$port" --data "$tmp/graceful" --log-level warn >>"$tmp/graceful.log" 2>&1 &
pid=$!
pids+=($pid)
wait_ready "http://127.0.0.1:$port"
got=$(curl -s "http://127.0.0.1:$port/v2/g/r/blobs/$dg" | sha256sum | cut -d' ' -f1)
check "the blob is there after a restart" test "sha256:$got" = "$dg"
check "the database passes integrity_check" bash -c "sqlite3 '$tmp/graceful/berth.db' 'PRAGMA integrity_check' | grep -qx ok"
kill -TERM $pid
wait $pid

# SIGTERM while keep-alive clients keep sending requests: berthd still stops promptly
# (answers carry Connection: close once stopping, so no client can hold the shutdown).
port=$(free_port)
"$BERTHD" --auth none --listen "127.0.0.1:$port" --data "$tmp/busy" --log-level warn >"$tmp/busy.log" 2>&1 &
pid=$!
pids+=($pid)
wait_ready "http://127.0.0.1:$port"
python3 - "$port" <<'PYEOF' &
import socket, sys, threading, time
port = int(sys.argv[1])
def hammer():
    end = time.time() + 15
    while time.time() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            while time.time() < end:
                s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
                if not s.recv(4096):
                    break
        except OSError:
            time.sleep(0.05)
for _ in range(8):
    threading.Thread(target=hammer, daemon=True).start()
time.sleep(15)
PYEOF
hpid=$!
sleep 1
start=$(date +%s%N)
kill -TERM $pid
wait $pid
rc=$?
took=$((($(date +%s%N) - start) / 1000000))
kill $hpid 2>/dev/null
wait $hpid 2>/dev/null
check "SIGTERM under continuous keep-alive load stops within 5 s (took ${took} ms, status $rc)" test "$took" -lt 5000 -a "$rc" -eq 0

# SIGKILL in the middle of a monolithic upload: nothing half-written is ever visible, and the
# next start removes the staged bytes no upload session owns.
port=$(free_port)
"$BERTHD" --auth none --listen "127.0.0.1:$port" --data "$tmp/crash" --log-level info >"$tmp/crash.log" 2>&1 &
pid=$!
pids+=($pid)
wait_ready "http://127.0.0.1:$port"
curl -s -o /dev/null --limit-rate 1M -X POST -H 'Content-Type: application/octet-stream' \
	--data-binary @"$tmp/blob" "http://127.0.0.1:$port/v2/c/r/blobs/uploads/?digest=$dg" &
cpid=$!
sleep 0.7
staged=$(ls "$tmp/crash/uploads" | wc -l)
kill -KILL $pid
wait $pid 2>/dev/null
wait $cpid 2>/dev/null
check "a monolithic upload in progress is staged under uploads/ ($staged file)" test "$staged" -eq 1
check "no blob file exists for the interrupted upload" test ! -e "$tmp/crash/blobs/sha256/${dg:7:2}/${dg#sha256:}"
"$BERTHD" --auth none --listen "127.0.0.1:$port" --data "$tmp/crash" --log-level info >>"$tmp/crash.log" 2>&1 &
pid=$!
pids+=($pid)
wait_ready "http://127.0.0.1:$port"
check "restart after SIGKILL removes the orphaned staged bytes" test "$(ls "$tmp/crash/uploads" | wc -l)" -eq 0
check "the restart says so in the log" grep -q "removed 1 interrupted upload" "$tmp/crash.log"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/c/r/blobs/$dg")
check "the interrupted blob is unknown (404), not partial (got $code)" test "$code" = 404
kill -TERM $pid
wait $pid

# The subcommands share one argument parser (server/cli_args.c): their own options as
# "--opt VALUE" or "--opt=VALUE", the server's (--data...) passed on, a server switch
# (--read-only, --gc-untagged) taking no word after it, and the same errors everywhere.
sub=$tmp/sub
printf 'pw-0123456789\n' | "$BERTHD" user add carol --password-stdin --email=carol@example.org --data="$sub" >/dev/null 2>&1
email=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT email FROM accounts WHERE name = ?", ("carol",)).fetchone()[0])' "$sub/berth.db" 2>&1)
check "user add takes --email=VALUE and --data=DIR (email: $email)" test "$email" = carol@example.org
bad "a subcommand option without its value" "--email needs a value" user add dave --data "$sub" --email
bad "a subcommand switch given a value" "--password-stdin takes no value" user add dave --password-stdin=yes --data "$sub"
bad "one word too many for user" "unexpected argument 'd'" user add a b c d --data "$sub"
bad "one word too many for mirror" "unexpected argument 'c'" mirror del a c --data "$sub"
bad "one word too many for policy" "unexpected argument 'c'" policy del 1 c --data "$sub"
bad "one word too many for gc" "unexpected argument 'now'" gc now --data "$sub"
bad "a word after a server switch is a word" "unexpected argument 'now'" gc --gc-untagged now --data "$sub"
bad "fsck takes no word" "unexpected argument 'x'" fsck x --data "$sub"
bad "an unknown server option in a subcommand" "unknown option --bogus" webhook list --bogus 1 --data "$sub"
bad "backup takes one folder" "unexpected argument 'two'" backup "$tmp/b1" two --data "$sub"
out=$("$BERTHD" policy immutable --namespace=carol --pattern='v*' --data "$sub" 2>&1)
check "policy takes --namespace=NS --pattern=GLOB" grep -q "immutable namespace carol v\*" <<<"$out"
out=$("$BERTHD" gc --data "$sub" --gc-untagged --dry-run 2>&1)
check "gc: --dry-run after a server switch" grep -q "would delete" <<<"$out"
"$BERTHD" backup --data "$sub" "$tmp/b2" >/dev/null 2>&1
check "backup: the folder may follow --data SRC" test -f "$tmp/b2/berth.db"
out=$("$BERTHD" mirror --help --bogus 2>&1)
check "mirror --help before anything else" grep -q "berthd mirror add" <<<"$out"

echo "1..$n"
[ $fails -eq 0 ]
