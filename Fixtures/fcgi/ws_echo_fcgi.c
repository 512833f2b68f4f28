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

/* ---------- SHA-1 (FIPS 180-4) and base64 ---------- */

typedef struct {
    uint32_t h[5];
    uint64_t len;
    unsigned char blk[64];
    size_t n;
} sha1_ctx;

static uint32_t rol(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

static void sha1_block(sha1_ctx *c, const unsigned char *p)
{
    uint32_t w[80], a, b, cc, d, e, f, k, t;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3]; e = c->h[4];
    for (int i = 0; i < 80; i++) {
        if (i < 20) { f = (b & cc) | (~b & d); k = 0x5A827999; }
        else if (i < 40) { f = b ^ cc ^ d; k = 0x6ED9EBA1; }
        else if (i < 60) { f = (b & cc) | (b & d) | (cc & d); k = 0x8F1BBCDC; }
        else { f = b ^ cc ^ d; k = 0xCA62C1D6; }
        t = rol(a, 5) + f + e + k + w[i];
        e = d; d = cc; cc = rol(b, 30); b = a; a = t;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d; c->h[4] += e;
}

static void sha1_init(sha1_ctx *c)
{
    static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(c->h, iv, sizeof iv);
    c->len = 0;
    c->n = 0;
}

static void sha1_update(sha1_ctx *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    c->len += len;
    while (len--) {
        c->blk[c->n++] = *p++;
        if (c->n == 64) { sha1_block(c, c->blk); c->n = 0; }
    }
}

static void sha1_final(sha1_ctx *c, unsigned char out[20])
{
    uint64_t bits = c->len * 8;
    unsigned char pad = 0x80, zero = 0, lenb[8];
    sha1_update(c, &pad, 1);
    while (c->n != 56) sha1_update(c, &zero, 1);
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(c, lenb, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24); out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8); out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

static void base64_encode(const unsigned char *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0, o = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18]; out[o++] = tab[(v >> 12) & 63]; out[o++] = tab[(v >> 6) & 63]; out[o++] = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18]; out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

static void ws_accept(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char d[20];
    sha1_ctx c;
    sha1_init(&c);
    sha1_update(&c, key, strlen(key));
    sha1_update(&c, guid, sizeof guid - 1);
    sha1_final(&c, d);
    base64_encode(d, 20, out);
}

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
