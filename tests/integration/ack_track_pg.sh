#!/bin/sh
# ack_track_pg.sh - the ack tracking tests (tests/unit/test_ack_track) on
# a throwaway PostgreSQL cluster.
exec sh "$(dirname "$0")/pg_unit.sh" test_ack_track
