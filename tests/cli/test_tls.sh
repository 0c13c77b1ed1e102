#!/usr/bin/env bash
# TLS: berthd with --tls-cert/--tls-key serves TLS 1.2 and 1.3 only, with forward-secret
# AEAD cipher suites; TLS 1.0/1.1, CBC and static-RSA suites are refused. On SIGHUP it
# loads the certificate and key files again: new connections get the new certificate while
# a connection opened before keeps working; a broken replacement is refused and the old
# certificate stays; a key that does not match its certificate stops start-up. Uses
# openssl s_client, curl and python's ssl module as clients. Prints TAP.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"

rut_require
berth_test_init cli-tls || { echo "Bail out! cannot create a scratch directory"; exit 1; }
D=$TEST_DIR

# mkcert NAME: a self-signed EC certificate for 127.0.0.1, CN=NAME, in $D/NAME.{crt,key}.
mkcert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$D/$1.key" -out "$D/$1.crt" 2>/dev/null
}
mkcert_rsa() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$D/$1.key" -out "$D/$1.crt" 2>/dev/null
}
tap_check "make certificates" sh -c "$(declare -f mkcert mkcert_rsa); D=$D; mkcert a && mkcert b && mkcert_rsa r" ||
	tap_done

# The served certificate's subject CN, as openssl s_client sees it (extra flags allowed).
served_cn() {
	openssl s_client -connect "$BERTHD_ADDR" "$@" </dev/null 2>/dev/null |
		openssl x509 -noout -subject 2>/dev/null | sed -n 's/.*CN *= *//p'
}
handshake() { openssl s_client -connect "$BERTHD_ADDR" "$@" </dev/null >/dev/null 2>&1; }

# tls_start CERT KEY: berthd on a free port (berthd_start polls plain HTTP, so not that);
# sets BERTHD_PID, BERTHD_PORT, BERTHD_ADDR, BERTHD_LOG like it.
tls_start() {
	BERTHD_PORT=$(berth_free_port)
	BERTHD_ADDR=127.0.0.1:$BERTHD_PORT
	BERTHD_LOG=$D/berthd-$BERTHD_PORT.log
	"$BERTHD" --listen "$BERTHD_ADDR" --data "$D/data" --auth none --log-level info --tls-cert "$1" \
		--tls-key "$2" </dev/null >>"$BERTHD_LOG" 2>&1 {_BERTH_STDERR}>&- &
	BERTHD_PID=$!
	_berth_pids+=("$BERTHD_PID")
	for _ in $(seq 1 100); do
		curl -sk -o /dev/null "https://$BERTHD_ADDR/v2/" && return 0
		kill -0 "$BERTHD_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$BERTHD_LOG"
	return 1
}

cp "$D/a.crt" "$D/live.crt"
cp "$D/a.key" "$D/live.key"
mkdir -p "$D/data"
tls_start "$D/live.crt" "$D/live.key"
tap_check "berthd starts with --tls-cert/--tls-key" kill -0 "$BERTHD_PID" || tap_done
tap_check "GET /v2/ over HTTPS with curl (certificate a)" \
	curl -sSf --retry 20 --retry-connrefused --retry-delay 0 --cacert "$D/a.crt" "https://$BERTHD_ADDR/v2/"

tap_check "TLS 1.3 handshake" handshake -tls1_3
tap_check "TLS 1.2 handshake (ECDHE-ECDSA-AES128-GCM-SHA256)" handshake -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
tap_check "TLS 1.1 is refused" sh -c "! openssl s_client -connect $BERTHD_ADDR -tls1_1 -cipher DEFAULT@SECLEVEL=0 </dev/null >/dev/null 2>&1"
tap_check "TLS 1.0 is refused" sh -c "! openssl s_client -connect $BERTHD_ADDR -tls1 -cipher DEFAULT@SECLEVEL=0 </dev/null >/dev/null 2>&1"
tap_check "a CBC suite over TLS 1.2 is refused" sh -c "! openssl s_client -connect $BERTHD_ADDR -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256 </dev/null >/dev/null 2>&1"
tap_check "plain HTTP to the TLS port gets no answer" sh -c "! curl -sf -m 5 http://$BERTHD_ADDR/v2/ >/dev/null"
expect_cn() { local got; got=$(served_cn); [ "$got" = "$1" ] || { echo "served CN '$got', want '$1'"; return 1; }; }
tap_check "the served certificate is a" expect_cn a

# A connection opened before the reload: a python client sends one request, waits for the
# file $D/go (created after the SIGHUP), and sends another on the same connection.
cat >"$D/keepalive.py" <<'PY'
import os, socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10),
                    server_hostname="127.0.0.1")
def get():
    s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while not (b"\r\n\r\n" in data and data.endswith(b"}")):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()
print("before", get(), flush=True)
for _ in range(200):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
print("after", get(), dict(x[0] for x in s.getpeercert()["subject"]), flush=True)
PY
timeout 60 python3 "$D/keepalive.py" "$BERTHD_PORT" "$D/a.crt" "$D/go" >"$D/keepalive.out" 2>&1 &
kapid=$!
sleep 1

cp "$D/b.crt" "$D/live.crt"
cp "$D/b.key" "$D/live.key"
kill -HUP "$BERTHD_PID"
sleep 1
tap_check "after SIGHUP new connections get certificate b" expect_cn b
tap_check "curl trusting only b succeeds" curl -sSf --cacert "$D/b.crt" "https://$BERTHD_ADDR/v2/"
touch "$D/go"
wait "$kapid"
tap_check "a connection opened before the reload keeps working" \
	sh -c "grep -q '^before HTTP/1.1 200' $D/keepalive.out && grep -q \"^after HTTP/1.1 200 OK {'commonName': 'a'}\" $D/keepalive.out || { cat $D/keepalive.out; exit 1; }"
tap_check "the log names the reload" grep -q 'SIGHUP: reloaded the TLS certificate' "$BERTHD_LOG"

# A broken replacement: the old certificate stays.
echo "not a key" >"$D/live.key"
kill -HUP "$BERTHD_PID"
sleep 1
tap_check "a broken key on SIGHUP is logged and certificate b stays" \
	sh -c "grep -q 'SIGHUP: .*still serving' $BERTHD_LOG && [ \"\$(openssl s_client -connect $BERTHD_ADDR </dev/null 2>/dev/null | openssl x509 -noout -subject | sed -n 's/.*CN *= *//p')\" = b ]"
cp "$D/a.key" "$D/live.key" # certificate b with key a
kill -HUP "$BERTHD_PID"
sleep 1
tap_check "a key that does not match on SIGHUP is refused and certificate b stays" \
	sh -c "[ \$(grep -c 'still serving' $BERTHD_LOG) -ge 2 ] && [ \"\$(openssl s_client -connect $BERTHD_ADDR </dev/null 2>/dev/null | openssl x509 -noout -subject | sed -n 's/.*CN *= *//p')\" = b ]"
tap_check "still serving after the refused reloads" curl -sSf --cacert "$D/b.crt" "https://$BERTHD_ADDR/v2/"
berthd_stop

# An RSA certificate works too (ECDHE-RSA).
tls_start "$D/r.crt" "$D/r.key"
tap_check "berthd starts with an RSA certificate" kill -0 "$BERTHD_PID"
tap_check "TLS 1.2 with ECDHE-RSA-AES256-GCM-SHA384" handshake -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
tap_check "static RSA key exchange (AES128-GCM-SHA256) is refused" sh -c "! openssl s_client -connect $BERTHD_ADDR -tls1_2 -cipher AES128-GCM-SHA256 </dev/null >/dev/null 2>&1"
berthd_stop

mismatch() {
	local out
	out=$("$BERTHD" --listen 127.0.0.1:0 --data "$D/data" --tls-cert "$D/a.crt" --tls-key "$D/b.key" 2>&1) &&
		{ echo "started with a mismatched key"; return 1; }
	echo "$out" | grep -qi 'key' || { echo "unclear message: $out"; return 1; }
}
tap_check "a key that does not match the certificate stops start-up with a clear message" mismatch
missing() {
	local out
	out=$("$BERTHD" --listen 127.0.0.1:0 --data "$D/data" --tls-cert "$D/none.crt" --tls-key "$D/a.key" 2>&1) &&
		{ echo "started without its certificate file"; return 1; }
	echo "$out" | grep -q 'none.crt' || { echo "message does not name the file: $out"; return 1; }
}
tap_check "a missing certificate file stops start-up, naming the file" missing
tap_done
