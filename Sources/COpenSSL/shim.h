// Debian's OpenSSL 3 (libssl-dev) for the TLS transport. Many of libssl's calls are function-like
// macros over SSL_ctrl/SSL_CTX_ctrl that Swift cannot import; these inline wrappers expose the
// few the server needs under plain C signatures.
#ifndef SWITCHYARD_COPENSSL_SHIM_H
#define SWITCHYARD_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/conf.h>

static inline int sy_ssl_ctx_set_min_proto(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int sy_ssl_ctx_set_max_proto(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
static inline int sy_ssl_ctx_get_min_proto(SSL_CTX *ctx) { return (int)SSL_CTX_get_min_proto_version(ctx); }
static inline long sy_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long sy_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline long sy_ssl_ctx_set_read_ahead(SSL_CTX *ctx, int yes) { return SSL_CTX_set_read_ahead(ctx, yes); }
static inline int sy_ssl_ctx_set_tlsext_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *)) {
    return (int)SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}
static inline int sy_ssl_ctx_set_tlsext_servername_arg(SSL_CTX *ctx, void *arg) {
    return (int)SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}
static inline int sy_ssl_ctx_add_extra_chain_cert(SSL_CTX *ctx, X509 *x509) {
    return (int)SSL_CTX_add_extra_chain_cert(ctx, x509);
}
static inline int sy_ssl_ctx_set_num_tickets(SSL_CTX *ctx, size_t n) { return SSL_CTX_set_num_tickets(ctx, n); }

/* Option and mode bits: macros of uint64 / long width that Swift imports unevenly. */
/* TLS 1.3 session tickets: a resumption with a ticket in the first half of its lifetime issues no
 * new ticket (lighttpd never renews a ticket made with its current key; OpenSSL by default sends a
 * fresh one on every resumption, an ASN.1 encoding plus AES and HMAC each time). A ticket past half
 * its lifetime is replaced, so a client that keeps resuming never falls off the end into a full
 * handshake. */
static inline SSL_TICKET_RETURN sy_ticket_decrypted(SSL *s, SSL_SESSION *ss, const unsigned char *name,
                                                    size_t nameLength, SSL_TICKET_STATUS status, void *arg) {
    (void)name; (void)nameLength; (void)arg;
    switch (status) {
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW: {
        time_t issued = SSL_SESSION_get_time(ss);
        long lifetime = SSL_SESSION_get_timeout(ss);
        if (time(NULL) - issued < lifetime / 2) {
            SSL_set_num_tickets(s, 0);
            return SSL_TICKET_RETURN_USE;
        }
        return SSL_TICKET_RETURN_USE_RENEW;
    }
    case SSL_TICKET_EMPTY:
    case SSL_TICKET_NO_DECRYPT: return SSL_TICKET_RETURN_IGNORE_RENEW;
    default: return SSL_TICKET_RETURN_ABORT;
    }
}
static inline int sy_ssl_ctx_reuse_fresh_tickets(SSL_CTX *ctx) {
    return SSL_CTX_set_session_ticket_cb(ctx, NULL, sy_ticket_decrypted, NULL);
}
static inline uint64_t sy_ssl_op_no_renegotiation(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t sy_ssl_op_cipher_server_preference(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }
static inline uint64_t sy_ssl_op_ignore_unexpected_eof(void) { return SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline uint64_t sy_ssl_op_no_compression(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t sy_ssl_op_no_ticket(void) { return SSL_OP_NO_TICKET; }
static inline uint64_t sy_ssl_op_enable_ktls(void) { return SSL_OP_ENABLE_KTLS; }

/* Kernel TLS: whether OpenSSL handed the session's keys to the kernel for sending / receiving. */
static inline int sy_ssl_ktls_send(SSL *ssl) { BIO *b = SSL_get_wbio(ssl); return b != NULL && BIO_get_ktls_send(b); }
static inline int sy_ssl_ktls_recv(SSL *ssl) { BIO *b = SSL_get_rbio(ssl); return b != NULL && BIO_get_ktls_recv(b); }
static inline long sy_ssl_mode_partial_moving(void) {
    return SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS;
}
static inline int sy_tls1_2_version(void) { return TLS1_2_VERSION; }
static inline int sy_tls1_3_version(void) { return TLS1_3_VERSION; }
static inline int sy_tlsext_name_type_host_name(void) { return TLSEXT_NAMETYPE_host_name; }
static inline int sy_ssl_tlsext_err_ok(void) { return SSL_TLSEXT_ERR_OK; }
static inline int sy_ssl_tlsext_err_noack(void) { return SSL_TLSEXT_ERR_NOACK; }
static inline int sy_ssl_tlsext_err_alert_fatal(void) { return SSL_TLSEXT_ERR_ALERT_FATAL; }
static inline unsigned int sy_ssl_conf_flag_file(void) { return SSL_CONF_FLAG_FILE; }
static inline unsigned int sy_ssl_conf_flag_server(void) { return SSL_CONF_FLAG_SERVER; }
static inline unsigned int sy_ssl_conf_flag_certificate(void) { return SSL_CONF_FLAG_CERTIFICATE; }
static inline unsigned int sy_ssl_conf_flag_show_errors(void) { return SSL_CONF_FLAG_SHOW_ERRORS; }
static inline int sy_ssl_sess_cache_server(void) { return SSL_SESS_CACHE_SERVER; }
static inline int sy_ssl_sess_cache_client(void) { return SSL_SESS_CACHE_CLIENT; }
static inline int sy_ssl_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }

/* ALPN: the server's list (wire form) stays owned by the Swift TLSContext that installs it. */
typedef struct { const unsigned char *wire; unsigned int length; } sy_alpn_list;

static inline int sy_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                 const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    const sy_alpn_list *list = (const sy_alpn_list *)arg;
    unsigned char *selected = NULL;
    unsigned char length = 0;
    if (list == NULL || list->length == 0) return SSL_TLSEXT_ERR_NOACK;
    if (SSL_select_next_proto(&selected, &length, list->wire, list->length, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;   /* no common protocol: go on without ALPN, as lighttpd does */
    *out = selected;
    *outlen = length;
    return SSL_TLSEXT_ERR_OK;
}

static inline void sy_ssl_ctx_set_alpn(SSL_CTX *ctx, sy_alpn_list *list) {
    SSL_CTX_set_alpn_select_cb(ctx, sy_alpn_select, list);
}
#endif
