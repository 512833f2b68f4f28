/*
 * static_floor.c - the "direct" row of the static-file benchmark (Fixtures/bench/static_bench.sh):
 * the least a server can do for a keep-alive GET with readiness I/O, so the figure beside it is the
 * floor no HTTP server on this machine can go under.
 *
 * One thread, epoll (level-triggered, as Switchyard's loop), a non-blocking listener. Per readable
 * connection: one recv(2); every "\r\n\r\n" in what arrived (a request head's end, also when split
 * over two reads) is answered by one copy of a response prepared at start-up (the file's bytes
 * behind a head of the same size as a real server's: status line, Date, Server, Content-Type,
 * Content-Length, ETag, Last-Modified, Accept-Ranges), all of them in one send(2). No parsing, no
 * routing, no file system after start-up, no clock: what is left is the kernel's part of a request
 * and its response, which every server pays. A short send keeps the rest and waits for EPOLLOUT.
 *
 * Build: cc -O2 -Wall -Wextra -o static-floor Fixtures/bench/static_floor.c
 * Run:   static-floor PORT FILE   (binds 127.0.0.1:PORT; runs until killed)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FDS 65536

struct conn {
    int matched;          /* bytes of "\r\n\r\n" matched at the end of the last read */
    size_t pending;       /* bytes of `out` still to send */
    size_t sent;
    size_t capacity;
    char *out;
};

static struct conn conns[MAX_FDS];
static char *response;
static size_t response_len;

static void fail(const char *what) { perror(what); exit(1); }

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd].out);
    memset(&conns[fd], 0, sizeof conns[fd]);
}

static void reserve(struct conn *c, size_t bytes)
{
    if (c->capacity >= bytes) return;
    if (!(c->out = realloc(c->out, bytes))) fail("realloc");
    c->capacity = bytes;
}

/* Sends what is pending; returns -1 when the peer is gone. */
static int flush(int ep, int fd)
{
    struct conn *c = &conns[fd];
    while (c->pending > 0) {
        ssize_t n = send(fd, c->out + c->sent, c->pending, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.fd = fd };
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            return 0;
        }
        if (n <= 0) return -1;
        c->sent += (size_t)n;
        c->pending -= (size_t)n;
    }
    c->sent = 0;
    return 0;
}

static void readable(int ep, int fd)
{
    static char buf[16384];
    struct conn *c = &conns[fd];
    if (c->pending > 0) return;   /* the client is behind: read again once its answers are out */
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) { drop(ep, fd); return; }
    static const char end[] = "\r\n\r\n";
    size_t heads = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == end[c->matched]) {
            if (++c->matched == 4) { heads++; c->matched = 0; }
        } else {
            c->matched = buf[i] == '\r' ? 1 : 0;
        }
    }
    if (heads == 0) return;
    if (heads == 1) {
        /* The common case: straight from the prepared response, no copy. */
        ssize_t w = send(fd, response, response_len, MSG_NOSIGNAL);
        if (w == (ssize_t)response_len) return;
        if (w < 0 && errno != EAGAIN && errno != EINTR) { drop(ep, fd); return; }
        size_t done = w > 0 ? (size_t)w : 0;
        reserve(c, response_len);
        memcpy(c->out, response + done, response_len - done);
        c->pending = response_len - done;
    } else {
        /* Pipelined heads: their answers leave together, none dropped. */
        reserve(c, heads * response_len);
        for (size_t k = 0; k < heads; k++) memcpy(c->out + k * response_len, response, response_len);
        c->pending = heads * response_len;
    }
    if (flush(ep, fd) < 0) drop(ep, fd);
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: %s PORT FILE\n", argv[0]); return 2; }
    int file = open(argv[2], O_RDONLY);
    struct stat st;
    if (file < 0 || fstat(file, &st) < 0) fail(argv[2]);
    char head[512];
    int head_len = snprintf(head, sizeof head,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nETag: \"1234567890\"\r\n"
        "Last-Modified: Sun, 06 Dec 2026 00:00:00 GMT\r\nAccept-Ranges: bytes\r\n"
        "Date: Sun, 06 Dec 2026 00:00:00 GMT\r\nServer: static-floor\r\nContent-Length: %lld\r\n\r\n",
        (long long)st.st_size);
    response_len = (size_t)head_len + (size_t)st.st_size;
    if (!(response = malloc(response_len))) fail("malloc");
    memcpy(response, head, (size_t)head_len);
    if (read(file, response + head_len, (size_t)st.st_size) != st.st_size) fail("read");
    close(file);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 1024) < 0) fail("bind/listen");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls };
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (c >= MAX_FDS) { close(c); continue; }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            if (events[i].events & EPOLLOUT) {
                if (flush(ep, fd) < 0) { drop(ep, fd); continue; }
                if (conns[fd].pending == 0) {
                    struct epoll_event cev = { .events = EPOLLIN, .data.fd = fd };
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
                }
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(ep, fd);
        }
    }
}
