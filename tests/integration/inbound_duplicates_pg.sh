#!/bin/sh
# inbound_duplicates_pg.sh - the inbound duplicate tests
# (tests/unit/test_inbound_duplicates) on a throwaway PostgreSQL cluster.
exec sh "$(dirname "$0")/pg_unit.sh" test_inbound_duplicates
