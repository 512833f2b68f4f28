#!/bin/sh
# grandchild.sh?PIDFILE - answers without Content-Length, then exits leaving a grandchild that keeps
# stdout open (its pid in PIDFILE). The response must still end, and the grandchild must not survive.
printf 'Content-Type: text/plain\r\n\r\nfrom the cgi\n'
sleep 600 &
echo $! > "$QUERY_STRING.tmp" && mv "$QUERY_STRING.tmp" "$QUERY_STRING"
exit 0
