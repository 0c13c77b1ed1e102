#!/usr/bin/env bash
# A single-node Ceph with an S3 gateway, for the scale-out tests: one monitor, one OSD on a
# file-backed BlueStore, radosgw (beast frontend), all on 127.0.0.1, without systemd, every
# file under DIR.
#
#   tests/scaleout/ceph.sh start DIR   start it; prints shell assignments on stdout:
#                                      S3_ENDPOINT S3_BUCKET S3_REGION AWS_ACCESS_KEY_ID
#                                      AWS_SECRET_ACCESS_KEY CEPH_DIR
#   tests/scaleout/ceph.sh stop DIR    stop every daemon started in DIR (bounded waits)
#
# Every wait is bounded and says what it waited for when it gives up; on a failed start the
# daemons already running are stopped again and the last lines of their logs are printed.
# Environment: CEPH_OSD_SIZE (BlueStore file size, default 3G, sparse), CEPH_BUCKET (berth).
set -uo pipefail

die() {
	echo "ceph.sh: $*" >&2
	exit 1
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.5 s.
wait_for() {
	local secs=$1 what=$2 i
	shift 2
	for ((i = 0; i < secs * 2; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "ceph.sh: gave up after ${secs}s waiting for $what" >&2
	return 1
}

show_logs() {
	local f
	for f in "$DIR"/log/*.log; do
		[ -f "$f" ] || continue
		echo "---- last lines of $f" >&2
		tail -n 15 "$f" >&2
	done
}

ceph_cmd() {
	timeout 30 ceph -c "$DIR/ceph.conf" --connect-timeout 10 "$@"
}

stop_daemons() {
	local pidf pid i
	for pidf in "$DIR"/run/radosgw.pid "$DIR"/run/osd.pid "$DIR"/run/mgr.pid "$DIR"/run/mon.pid; do
		[ -f "$pidf" ] || continue
		pid=$(cat "$pidf" 2>/dev/null)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			for ((i = 0; i < 100; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			if kill -0 "$pid" 2>/dev/null; then
				echo "ceph.sh: pid $pid ($(basename "$pidf" .pid)) ignored SIGTERM for 10 s, sending SIGKILL" >&2
				kill -KILL "$pid" 2>/dev/null
			fi
		fi
		rm -f "$pidf"
	done
}

start() {
	for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
		command -v "$b" >/dev/null || die "$b not found (scripts/deps.sh test installs Ceph)"
	done
	[ ! -e "$DIR/ceph.conf" ] || die "$DIR already holds a cluster (stop it and remove the folder first)"
	mkdir -p "$DIR"/{mon,osd,run,log} || die "cannot create $DIR"
	local fsid mon_port rgw_port bucket=${CEPH_BUCKET:-berth} t0=$SECONDS blockdir=$DIR/osd
	# BlueStore opens its block file with O_DIRECT, which tmpfs refuses: put it on disk.
	if [ "$(stat -f -c %T "$DIR")" = tmpfs ]; then
		blockdir=$(mktemp -d /var/tmp/berth-ceph-block.XXXXXX) || die "cannot create a folder in /var/tmp"
		echo "$blockdir" >"$DIR/blockdir"
	fi
	fsid=$(cat /proc/sys/kernel/random/uuid)
	mon_port=$(free_port)
	rgw_port=$(free_port)
	# tcp_nodelay=1 on beast: without it every answer with a body (a GET, a list, a
	# CompleteMultipartUpload) waits ~40 ms for the client's delayed ACK of its headers
	# (Nagle); Ceph 16 defaults to 0, and docs/scale-out.md tells operators to set it.
	cat >"$DIR/ceph.conf" <<-CONF
	[global]
	fsid = $fsid
	mon host = v2:127.0.0.1:$mon_port
	mon initial members = a
	public network = 127.0.0.0/8
	ms bind ipv6 = false
	auth cluster required = cephx
	auth service required = cephx
	auth client required = cephx
	run dir = $DIR/run
	admin socket = $DIR/run/\$name.asok
	log file = $DIR/log/\$name.log
	log to stderr = false
	err to stderr = true
	mon cluster log file = $DIR/log/cluster.log
	crash dir = $DIR/crash
	mon data = $DIR/mon/\$id
	osd data = $DIR/osd/\$id
	mon allow pool size one = true
	mon allow pool delete = true
	mon warn on pool no redundancy = false
	osd pool default size = 1
	osd pool default min size = 1
	osd pool default pg num = 8
	osd pool default pgp num = 8
	osd pool default pg autoscale mode = off
	osd crush chooseleaf type = 0
	mon max pg per osd = 1000
	[mon]
	keyring = $DIR/mon/\$id/keyring
	[client.admin]
	keyring = $DIR/admin.keyring
	[osd]
	keyring = $DIR/osd/\$id/keyring
	osd objectstore = bluestore
	bluestore block path = $blockdir/block.\$id
	bluestore block create = true
	bluestore block size = ${CEPH_OSD_SIZE_BYTES}
	bluestore block db create = false
	bluestore block wal create = false
	osd memory target = 939524096
	bluestore cache autotune = false
	bluestore cache size = 134217728
	osd op num shards = 1
	osd op num threads per shard = 2
	[client.rgw.a]
	keyring = $DIR/rgw.keyring
	rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
	rgw thread pool size = 32
	rgw dns name = 127.0.0.1
	rgw enable usage log = false
	CONF
	local c=(-c "$DIR/ceph.conf")
	ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null ||
		die "ceph-authtool (mon key) failed"
	ceph-authtool --create-keyring "$DIR/admin.keyring" --gen-key -n client.admin --cap mon 'allow *' \
		--cap osd 'allow *' --cap mgr 'allow *' >/dev/null || die "ceph-authtool (admin key) failed"
	ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/admin.keyring" >/dev/null || die "ceph-authtool import failed"
	monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$DIR/monmap" >/dev/null ||
		die "monmaptool failed"
	ceph-mon "${c[@]}" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" 2>"$DIR/log/mkfs-mon.err" ||
		{ cat "$DIR/log/mkfs-mon.err" >&2; die "ceph-mon --mkfs failed"; }
	ceph-mon "${c[@]}" -i a --pid-file "$DIR/run/mon.pid" 2>>"$DIR/log/mon.err" ||
		{ show_logs; die "ceph-mon did not start"; }
	wait_for 30 "the monitor to answer" ceph_cmd mon stat || { show_logs; stop_daemons; exit 1; }

	local osd_uuid osd_id
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	osd_id=$(ceph_cmd osd create "$osd_uuid" 2>>"$DIR/log/osd.err") || { show_logs; stop_daemons; die "ceph osd create failed"; }
	mkdir -p "$DIR/osd/$osd_id"
	ceph-osd "${c[@]}" --no-mon-config -i "$osd_id" --mkfs --mkkey --osd-uuid "$osd_uuid" 2>"$DIR/log/mkfs-osd.err" >/dev/null ||
		{ tail -n 20 "$DIR/log/mkfs-osd.err" >&2; show_logs; stop_daemons; die "ceph-osd --mkfs failed"; }
	ceph_cmd auth add "osd.$osd_id" osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' \
		-i "$DIR/osd/$osd_id/keyring" >/dev/null 2>&1 || { show_logs; stop_daemons; die "ceph auth add osd failed"; }
	ceph-osd "${c[@]}" -i "$osd_id" --pid-file "$DIR/run/osd.pid" 2>>"$DIR/log/osd.err" ||
		{ show_logs; stop_daemons; die "ceph-osd did not start"; }
	wait_for 60 "the OSD to come up" sh -c "ceph -c '$DIR/ceph.conf' --connect-timeout 10 osd stat 2>/dev/null | grep -q '1 up'" ||
		{ show_logs; stop_daemons; exit 1; }

	ceph_cmd auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
		-o "$DIR/rgw.keyring" >/dev/null 2>&1 || { show_logs; stop_daemons; die "cannot create the radosgw key"; }
	radosgw "${c[@]}" -n client.rgw.a --pid-file "$DIR/run/radosgw.pid" 2>>"$DIR/log/radosgw.err" ||
		{ show_logs; stop_daemons; die "radosgw did not start"; }
	wait_for 90 "radosgw to answer on 127.0.0.1:$rgw_port" curl -sf -m 2 "http://127.0.0.1:$rgw_port/" ||
		{ show_logs; stop_daemons; exit 1; }

	local ak sk
	ak=$(tr -dc 'A-Z0-9' </dev/urandom | head -c 20)
	sk=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 40)
	timeout 60 radosgw-admin "${c[@]}" user create --uid=berth --display-name="Berth tests" \
		--access-key="$ak" --secret="$sk" >"$DIR/log/user.json" 2>>"$DIR/log/radosgw-admin.err" ||
		{ show_logs; stop_daemons; die "radosgw-admin user create failed"; }
	S3_ENDPOINT=http://127.0.0.1:$rgw_port AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk \
		timeout 60 python3 "$(dirname "$0")/s3req.py" PUT "/$bucket" >"$DIR/log/bucket.out" 2>&1 ||
		{ cat "$DIR/log/bucket.out" >&2; stop_daemons; die "cannot create bucket $bucket"; }

	{
		echo "CEPH_DIR=$DIR"
		echo "S3_ENDPOINT=http://127.0.0.1:$rgw_port"
		echo "S3_BUCKET=$bucket"
		echo "S3_REGION=us-east-1"
		echo "AWS_ACCESS_KEY_ID=$ak"
		echo "AWS_SECRET_ACCESS_KEY=$sk"
	} | tee "$DIR/env"
	echo "ceph.sh: up in $((SECONDS - t0)) s (monitor 127.0.0.1:$mon_port, radosgw 127.0.0.1:$rgw_port)" >&2
}

[ $# -eq 2 ] || die "usage: $0 start|stop DIR"
DIR=$(mkdir -p "$2" && cd "$2" && pwd) || die "cannot use $2"
size=${CEPH_OSD_SIZE:-3G}
CEPH_OSD_SIZE_BYTES=$(numfmt --from=iec "$size") || die "CEPH_OSD_SIZE: not a size: $size"
case $1 in
start) start ;;
stop)
	stop_daemons
	if [ -f "$DIR/blockdir" ]; then
		rm -rf "$(cat "$DIR/blockdir")"
		rm -f "$DIR/blockdir"
	fi
	;;
*) die "usage: $0 start|stop DIR" ;;
esac
