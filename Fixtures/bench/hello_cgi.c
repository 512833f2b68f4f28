/*
 * hello_cgi.c - the smallest useful CGI, for plain-request benchmarks (switchyard-bench compare):
 * prints a short text/plain response and exits. Statically small and dynamically linked like any
 * C CGI, so the figure is the gateway's cost plus one process start per request.
 *
 * Build: cc -O2 -Wall -Wextra -o Fixtures/bin/hello-cgi Fixtures/bench/hello_cgi.c
 */
#include <string.h>
#include <unistd.h>

int main(void)
{
    static const char reply[] = "Content-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello world\n";
    size_t off = 0, n = sizeof reply - 1;
    while (off < n) {
        ssize_t w = write(1, reply + off, n - off);
        if (w <= 0) return 1;
        off += (size_t)w;
    }
    return 0;
}
