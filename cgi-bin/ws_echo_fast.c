/*
 * ws_echo_fast.c - RFC 6455 WebSocket echo CGI in C, for benchmarks.
 *
 * Same behaviour as cgi-bin/ws_echo.py: CGI upgrade handshake on stdout, then
 * frames on fd 0 are unmasked and echoed unmasked on fd 1 with the same
 * FIN/opcode; PING -> PONG; CLOSE -> CLOSE echoing the code, exit; EOF -> exit.
 * Blocking I/O, one growing buffer (frames up to 64 MiB), no allocation per
 * message once the buffer is large enough, writev(header, payload).
 *
 * Build: cc -O2 -Wall -Wextra -o cgi-bin/ws-echo-fast cgi-bin/ws_echo_fast.c
 *
 * Fixtures/bench/corrupt_echo.c includes this file with WS_ECHO_CORRUPT
 * defined: it then flips one byte of every Nth echoed data message
 * (N from QUERY_STRING "every=N", default 10), to prove that a benchmark's
 * mismatch detection fires.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_PAYLOAD (64u << 20)
#define MIN_READ (256u << 10)

#include "ws_accept.h"

/* ---------- I/O ---------- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        s += w; n -= (size_t)w;
    }
    return 0;
}

static int writev_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t w = writev(fd, iov, cnt);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        while (cnt > 0 && (size_t)w >= iov->iov_len) { w -= (ssize_t)iov->iov_len; iov++; cnt--; }
        if (cnt > 0) { iov->iov_base = (char *)iov->iov_base + w; iov->iov_len -= (size_t)w; }
    }
    return 0;
}

static int send_frame(int fin, int opcode, unsigned char *payload, uint64_t len)
{
    unsigned char h[10];
    size_t hl;
    h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (len < 126) { h[1] = (unsigned char)len; hl = 2; }
    else if (len < 65536) { h[1] = 126; h[2] = (unsigned char)(len >> 8); h[3] = (unsigned char)len; hl = 4; }
    else { h[1] = 127; for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)(len >> (56 - 8 * i)); hl = 10; }
    struct iovec iov[2] = {{h, hl}, {payload, (size_t)len}};
    return writev_all(1, iov, len ? 2 : 1);
}

static int send_close(unsigned code, const char *reason)
{
    unsigned char p[125];
    size_t rl = strlen(reason);
    if (rl > 123) rl = 123;
    p[0] = (unsigned char)(code >> 8); p[1] = (unsigned char)code;
    memcpy(p + 2, reason, rl);
    return send_frame(1, 0x8, p, 2 + rl);
}

static void unmask(unsigned char *p, uint64_t n, const unsigned char key[4])
{
    uint64_t k8;
    unsigned char kk[8];
    memcpy(kk, key, 4); memcpy(kk + 4, key, 4);
    memcpy(&k8, kk, 8);
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= k8;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++) p[i] ^= key[i & 3];
}

static int plain_response(const char *status, const char *extra, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "Status: %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n",
                     status, strlen(body), extra);
    if (n < 0 || (size_t)n >= sizeof head) return -1;
    if (write_all(1, head, (size_t)n) < 0) return -1;
    return write_all(1, body, strlen(body));
}

static int handshake(void)
{
    const char *method = getenv("REQUEST_METHOD");
    const char *upgrade = getenv("HTTP_UPGRADE");
    const char *key = getenv("HTTP_SEC_WEBSOCKET_KEY");
    const char *version = getenv("HTTP_SEC_WEBSOCKET_VERSION");
    if ((method && strcmp(method, "GET") != 0) || !upgrade || strcasecmp(upgrade, "websocket") != 0 || !key || !*key) {
        plain_response("400 Bad Request", "",
                       "ws-echo-fast is a WebSocket echo endpoint: send a GET with 'Upgrade: websocket',\n"
                       "'Connection: Upgrade', 'Sec-WebSocket-Key' and 'Sec-WebSocket-Version: 13'.\n");
        return 0;
    }
    if (version && strcmp(version, "13") != 0) {
        plain_response("426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n", "only WebSocket version 13\n");
        return 0;
    }
    if (strlen(key) > 64) {
        plain_response("400 Bad Request", "", "Sec-WebSocket-Key too long\n");
        return 0;
    }
    char accept[32], head[256];
    ws_accept(key, accept);
    int n = snprintf(head, sizeof head,
                     "Status: 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    if (write_all(1, head, (size_t)n) < 0) return 0;
    return 1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (!handshake()) return 0;

#ifdef WS_ECHO_CORRUPT
    unsigned long every = 10, count = 0;
    {
        const char *q = getenv("QUERY_STRING");
        const char *e = q ? strstr(q, "every=") : NULL;
        if (e) { every = strtoul(e + 6, NULL, 10); if (every == 0) every = 1; }
    }
#endif

    size_t cap = 1u << 20, start = 0, end = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return 1;

    for (;;) {
        size_t avail = end - start;
        size_t need = 2;
        uint64_t len = 0;
        if (avail >= 2) {
            unsigned char *p = buf + start;
            unsigned l7 = p[1] & 0x7F;
            size_t hl = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((p[1] & 0x80) ? 4 : 0);
            need = hl;
            if (avail >= hl) {
                int fin = p[0] >> 7, opcode = p[0] & 0x0F;
                if (l7 == 126) len = (uint64_t)p[2] << 8 | p[3];
                else if (l7 == 127) { for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i]; }
                else len = l7;
                if ((p[0] & 0x70) || (opcode > 2 && opcode < 8) || opcode > 0xA) { send_close(1002, "bad frame header"); break; }
                if (!(p[1] & 0x80)) { send_close(1002, "client frames must be masked"); break; }
                if (opcode >= 8 && (!fin || len > 125)) { send_close(1002, "bad control frame"); break; }
                if (len > MAX_PAYLOAD) { send_close(1009, "frame too big"); break; }
                need = hl + (size_t)len;
                if (avail >= need) {
                    unsigned char *payload = p + hl;
                    unmask(payload, len, p + hl - 4);
                    int rc = 0;
                    if (opcode == 0x8) {
                        if (len == 1) send_close(1002, "bad close payload");
                        else send_frame(1, 0x8, payload, len >= 2 ? 2 : 0);
                        break;
                    } else if (opcode == 0x9) {
                        rc = send_frame(1, 0xA, payload, len);
                    } else if (opcode != 0xA) {
#ifdef WS_ECHO_CORRUPT
                        if (fin && ++count % every == 0 && len > 0) payload[len / 2] ^= 0x01;
#endif
                        rc = send_frame(fin, opcode, payload, len);
                    }
                    if (rc < 0) break;
                    start += need;
                    if (start == end) start = end = 0;
                    continue;
                }
            }
        }
        /* need more bytes: make room for `need` bytes of this frame plus a read chunk */
        if (start > 0 && (cap - end < MIN_READ || cap - start < need)) {
            memmove(buf, buf + start, avail);
            start = 0; end = avail;
        }
        if (cap - start < need || cap - end < MIN_READ / 4) {
            size_t ncap = cap;
            while (ncap - start < need + MIN_READ) ncap *= 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) { send_close(1011, "out of memory"); break; }
            buf = nb; cap = ncap;
        }
        ssize_t r = read(0, buf + end, cap - end);
        if (r < 0) { if (errno == EINTR) continue; break; }
        if (r == 0) break;
        end += (size_t)r;
    }
    free(buf);
    return 0;
}
