#!/bin/bash
# The AS2 receive interop cases again, with every body unwrapped from a
# file ([as2] unwrap_in_memory = 0, as2_stream.h) instead of in memory:
# the same MDNs, MICs, dispositions and stored payloads are expected.
# Prints TAP (the cases of as2_receive.sh).
here=$(dirname "$0")
AS2_STREAM_BODIES=1 AS2_UNWRAP_IN_MEMORY=0 exec bash "$here/as2_receive.sh"
