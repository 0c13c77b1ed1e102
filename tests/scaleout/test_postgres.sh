#!/usr/bin/env bash
# The API conformance suites (tests/api) with berthd's metadata in PostgreSQL and its blobs
# on the local disk: the PostgreSQL driver tested alone, as tests/api tests the SQLite one
# and test_s3.sh the S3 driver. One throwaway PostgreSQL 15 (postgres.sh); every berthd data
# folder a suite uses gets a fresh database there (BERTH_TEST_POSTGRES, tests/lib/berthtest.py),
# so each registry a suite starts is as separate as on SQLite. Prints TAP: one line per
# suite, with the suite's own failures as comments.
#
# usage: BERTHD=/abs/path/berthd tests/scaleout/test_postgres.sh
# Environment: BERTH_PG_SUITES=all (the default: every suite but test_upgrade and
# test_limits), every (test_limits too) or a list like "test_blobs test_gc".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/berthd.sh"

rut_require
berth_test_init scaleout-postgres || { echo "Bail out! cannot create a scratch directory"; exit 1; }

PG=$TEST_DIR/pg
berth_on_exit "$HERE/postgres.sh" stop "$PG"
if ! "$HERE/postgres.sh" start "$PG" >"$TEST_DIR/pg.env" 2>"$TEST_DIR/pg.err"; then
	tap_fail "PostgreSQL 15 starts" "$(cat "$TEST_DIR/pg.err")"
	tap_done
fi
tap_ok "PostgreSQL 15 starts"
# shellcheck disable=SC1091
. "$TEST_DIR/pg.env"

suites=${BERTH_PG_SUITES:-all}
# test_upgrade migrates SQLite databases of older releases: it has no PostgreSQL form.
# test_limits (connection, header and body-rate limits, 20 s of waiting) touches no
# metadata the database driver changes: BERTH_PG_SUITES=every runs it too.
case $suites in
all) suites=$(cd "$HERE/../api" && ls test_*.py | sed 's/\.py$//' | grep -vx -e test_upgrade -e test_limits) ;;
every) suites=$(cd "$HERE/../api" && ls test_*.py | sed 's/\.py$//' | grep -vx test_upgrade) ;;
esac
PG_SERVER=postgres://berth@127.0.0.1:$PG_PORT
for suite in $suites; do
	s0=$SECONDS
	tap_check "API suite $suite passes on PostgreSQL + disk" \
		env BERTH_TEST_POSTGRES="$PG_SERVER" timeout 600 python3 "$HERE/../api/$suite.py"
	tap_diag "$suite took $((SECONDS - s0)) s"
done
tap_diag "$(psql -X -At "$PG_URL" -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'berth\_%'") databases used"

tap_done
