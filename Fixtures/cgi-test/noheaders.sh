#!/bin/sh
# noheaders.sh - exits without writing anything; the gateway must answer 502.
exit 0
