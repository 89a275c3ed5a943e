#!/bin/sh
# store_pg.sh - the store's test suite (tests/unit/test_store) on a
# throwaway PostgreSQL cluster.
exec sh "$(dirname "$0")/pg_unit.sh" test_store
