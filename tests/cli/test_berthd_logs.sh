#!/usr/bin/env bash
# berthd's structured logs (--log-format json) and the SIGHUP reload of the log level from
# the config file.
set -u
: "${BERTHD:?BERTHD must name the berthd binary}"
tmp=$(mktemp -d "${BERTH_TEST_TMP:-/tmp}/logs.XXXXXX")
n=0
fails=0
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
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
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
log=$tmp/berthd.log
conf=$tmp/berthd.conf

# Bad format: one clear line, non-zero exit.
err=$("$BERTHD" --log-format yaml --data "$tmp/x" 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 0 ] && grep -q "log-format must be text or json" <<<"$err" && [ "$(wc -l <<<"$err")" -eq 1 ]; then
	ok "--log-format yaml is refused with a clear message"
else
	notok "--log-format yaml is refused with a clear message" "exit $rc: $err"
fi
check "--help documents --log-format" grep -q -- "--log-format" <<<"$("$BERTHD" --help)"

printf 'log-level = info\nlog-format = json\n' >"$conf"
"$BERTHD" --config "$conf" --listen "127.0.0.1:$port" --data "$tmp/data" --auth none </dev/null >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/v2/")" = 200 ] && break
	sleep 0.1
done
# A request whose path needs escaping in JSON (quote, backslash, control byte, UTF-8).
curl -s -o /dev/null "$url/v2/a%22b%5Cc%01%C3%A9/tags/list"
curl -s -o /dev/null -A 'agent "with" quotes' "$url/v2/"

# parse_log FILE: every line is one JSON object with time, level and msg strings.
parse_log() {
	python3 - "$1" <<'PY'
import json, sys
lines = open(sys.argv[1], "rb").read().decode("utf-8").splitlines()
assert lines, "no log lines"
for l in lines:
    o = json.loads(l)
    assert set(o) == {"time", "level", "msg"}, o
    assert o["level"] in ("debug", "info", "warn", "error"), o
    assert o["time"].endswith("Z") and "T" in o["time"], o
print(len(lines), "lines")
PY
}
sleep 0.3
if out=$(parse_log "$log" 2>&1); then ok "every log line is a JSON object ($out)"; else notok "every log line is a JSON object" "$out"; fi
check "the start-up line is in the JSON log" grep -q '"level":"info","msg":"berthd .* serving' "$log"
check "access lines with quotes are escaped" grep -qF 'agent \"with\" quotes' "$log"
check "control bytes in a path are escaped" grep -qF '\u0001' "$log"

# SIGHUP: the config file's level applies without a restart.
access_count() { grep -c '"msg":"access ' "$log"; }
before=$(access_count)
printf 'log-level = error\nlog-format = json\n' >"$conf"
kill -HUP "$pid"
sleep 0.5
check "SIGHUP logs the change of level" grep -q 'SIGHUP: log level info -> error' "$log"
curl -s -o /dev/null "$url/v2/"
sleep 0.3
check "at level error no access line is written" test "$(access_count)" -eq "$before"
printf 'log-level = nonsense\n' >"$conf"
kill -HUP "$pid"
sleep 0.5
check "a bad config file on SIGHUP is reported" grep -q 'SIGHUP: settings not reloaded: .*log-level must be' "$log"
check "berthd keeps running after a bad reload" kill -0 "$pid"
curl -s -o /dev/null "$url/v2/"
sleep 0.3
check "a failed reload keeps the level" test "$(access_count)" -eq "$before"
printf 'log-level = debug\nlog-format = json\n' >"$conf"
kill -HUP "$pid"
sleep 0.5
curl -s -o /dev/null "$url/v2/"
sleep 0.3
check "SIGHUP back to debug logs requests again" test "$(access_count)" -gt "$before"
if out=$(parse_log "$log" 2>&1); then ok "the log is still all JSON after reloads"; else notok "the log is still all JSON after reloads" "$out"; fi
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "berthd stops cleanly" test "$rc" -eq 0

echo "1..$n"
[ "$fails" -eq 0 ]
