/*
 * corrupt_echo.c - a deliberately corrupting WebSocket echo CGI.
 *
 * It is cgi-bin/ws_echo_fast.c with WS_ECHO_CORRUPT defined: every Nth echoed
 * data message (N from QUERY_STRING "every=N", default 10) has one payload byte
 * XORed with 0x01 (ASCII stays ASCII, so text frames stay valid UTF-8 for
 * ASCII payloads).  The benchmark's mismatch detection must report it.
 *
 * Build: cc -O2 -Wall -Wextra -o Fixtures/bin/corrupt-echo Fixtures/bench/corrupt_echo.c
 */
#define WS_ECHO_CORRUPT 1
#include "../../cgi-bin/ws_echo_fast.c"
