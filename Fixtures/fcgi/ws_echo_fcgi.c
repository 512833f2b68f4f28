/*
 * ws_echo_fcgi.c - a "legacy" FastCGI application written against Debian's
 * libfcgi (libfcgi-dev), used to test Switchyard's mod_fastcgi including the
 * WebSocket upgrade ("upgrade" => 1 in fastcgi.server).
 *
 *   upgrade request (HTTP_UPGRADE=websocket + HTTP_SEC_WEBSOCKET_KEY):
 *       Status: 101 Switching Protocols, Upgrade, Connection, Sec-WebSocket-Accept,
 *       flush, then echo WebSocket frames read from the request's FCGI_STDIN
 *       stream (client frames unmasked, replies unmasked, same FIN/opcode;
 *       PING -> PONG; CLOSE -> CLOSE with the same code) until EOF or CLOSE.
 *   any other request:
 *       Content-Type: text/plain, "fcgi-ws-echo ok\n", the method and QUERY_STRING.
 *
 * Listening socket: fd 0 (FastCGI spawning, as a gateway's bin-path does), or
 * the address given as argv[1] (":9000", "127.0.0.1:9000" or a Unix socket path),
 * opened with FCGX_OpenSocket(argv[1], 64).
 *
 * SHA-1 and base64 are implemented here (no OpenSSL).
 *
 * Build: cc -O2 -Wall -Wextra -o Fixtures/bin/fcgi-ws-echo Fixtures/fcgi/ws_echo_fcgi.c -lfcgi
 */
#include <fcgiapp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PAYLOAD (64u << 20)

#include "../../cgi-bin/ws_accept.h"

/* ---------- WebSocket over the FastCGI streams ---------- */

static unsigned char *payload_buf;
static size_t payload_cap;

/* 0 on success, -1 when the stream ended early */
static int get_exact(FCGX_Stream *in, void *p, size_t n)
{
    char *s = p;
    while (n) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        int r = FCGX_GetStr(s, chunk, in);
        if (r <= 0) return -1;
        s += r; n -= (size_t)r;
    }
    return 0;
}

static int send_frame(FCGX_Stream *out, int fin, int opcode, const unsigned char *p, uint64_t len)
{
    unsigned char h[10];
    int hl;
    h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) { h[1] = (unsigned char)len; hl = 2; }
    else if (len < 65536) { h[1] = 126; h[2] = (unsigned char)(len >> 8); h[3] = (unsigned char)len; hl = 4; }
    else { h[1] = 127; for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)(len >> (56 - 8 * i)); hl = 10; }
    if (FCGX_PutStr((const char *)h, hl, out) != hl) return -1;
    if (len && FCGX_PutStr((const char *)p, (int)len, out) != (int)len) return -1;
    return FCGX_FFlush(out) < 0 ? -1 : 0;
}

static void send_close(FCGX_Stream *out, unsigned code, const char *reason)
{
    unsigned char p[125];
    size_t rl = strlen(reason);
    if (rl > 123) rl = 123;
    p[0] = (unsigned char)(code >> 8); p[1] = (unsigned char)code;
    memcpy(p + 2, reason, rl);
    send_frame(out, 1, 0x8, p, 2 + rl);
}

static void echo_frames(FCGX_Stream *in, FCGX_Stream *out)
{
    for (;;) {
        unsigned char h[14];
        if (get_exact(in, h, 2) < 0) return;
        int fin = h[0] >> 7, opcode = h[0] & 0x0F, masked = h[1] >> 7;
        uint64_t len = h[1] & 0x7F;
        if (len == 126) {
            if (get_exact(in, h + 2, 2) < 0) return;
            len = (uint64_t)h[2] << 8 | h[3];
        } else if (len == 127) {
            if (get_exact(in, h + 2, 8) < 0) return;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
        }
        if ((h[0] & 0x70) || (opcode > 2 && opcode < 8) || opcode > 0xA) { send_close(out, 1002, "bad frame header"); return; }
        if (!masked) { send_close(out, 1002, "client frames must be masked"); return; }
        if (opcode >= 8 && (!fin || len > 125)) { send_close(out, 1002, "bad control frame"); return; }
        if (len > MAX_PAYLOAD) { send_close(out, 1009, "frame too big"); return; }
        unsigned char key[4];
        if (get_exact(in, key, 4) < 0) return;
        if (len > payload_cap) {
            size_t ncap = payload_cap ? payload_cap : 65536;
            while (ncap < len) ncap *= 2;
            unsigned char *nb = realloc(payload_buf, ncap);
            if (!nb) { send_close(out, 1011, "out of memory"); return; }
            payload_buf = nb; payload_cap = ncap;
        }
        if (len && get_exact(in, payload_buf, (size_t)len) < 0) return;
        for (uint64_t i = 0; i < len; i++) payload_buf[i] ^= key[i & 3];
        if (opcode == 0x8) {
            if (len == 1) send_close(out, 1002, "bad close payload");
            else send_frame(out, 1, 0x8, payload_buf, len >= 2 ? 2 : 0);
            return;
        }
        if (opcode == 0xA) continue;
        if (send_frame(out, opcode == 0x9 ? 1 : fin, opcode == 0x9 ? 0xA : opcode, payload_buf, len) < 0) return;
    }
}

static void handle(FCGX_Request *r)
{
    const char *upgrade = FCGX_GetParam("HTTP_UPGRADE", r->envp);
    const char *key = FCGX_GetParam("HTTP_SEC_WEBSOCKET_KEY", r->envp);
    if (upgrade && strcasecmp(upgrade, "websocket") == 0 && key && *key && strlen(key) <= 64) {
        char accept[32];
        ws_accept(key, accept);
        FCGX_FPrintF(r->out,
                     "Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
        if (FCGX_FFlush(r->out) < 0) return;
        echo_frames(r->in, r->out);
        return;
    }
    const char *method = FCGX_GetParam("REQUEST_METHOD", r->envp);
    const char *query = FCGX_GetParam("QUERY_STRING", r->envp);
    FCGX_FPrintF(r->out, "Content-Type: text/plain\r\n\r\nfcgi-ws-echo ok\nmethod=%s\nquery=%s\n",
                 method ? method : "", query ? query : "");
}

int main(int argc, char **argv)
{
    int sock = 0;
    signal(SIGPIPE, SIG_IGN);
    if (FCGX_Init() != 0) {
        fprintf(stderr, "fcgi-ws-echo: FCGX_Init failed\n");
        return 1;
    }
    if (argc > 1) {
        sock = FCGX_OpenSocket(argv[1], 64);
        if (sock < 0) {
            fprintf(stderr, "fcgi-ws-echo: cannot listen on %s\n", argv[1]);
            return 1;
        }
    }
    FCGX_Request req;
    if (FCGX_InitRequest(&req, sock, 0) != 0) return 1;
    while (FCGX_Accept_r(&req) >= 0) {
        handle(&req);
        FCGX_Finish_r(&req);
    }
    return 0;
}
