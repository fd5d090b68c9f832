/* Opens N CONNECT tunnels through an HTTP proxy, completes a TLS handshake
 * inside each (so a TLS-passthrough proxy sees a real ClientHello with SNI),
 * then holds them idle until SIGTERM or HOLD seconds pass.
 * scripts/bench/warden.sh uses it to measure warden's memory per idle tunnel.
 *
 *   idle_tunnels PROXY_IP PROXY_PORT HOST PORT N HOLD_SECONDS [SOURCE_IP]
 *
 * Prints "opened O failed F" (and the first error) on stdout once all N were
 * tried, then waits. Every socket operation has a 10 s timeout, the whole
 * opening phase at most 300 s, and it gives up after 50 failures in a row.
 * Build: cc -O2 -o idle_tunnels idle_tunnels.c -lssl -lcrypto
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char first_error[256];

static void note(const char *what) {
  if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", what);
}

static int open_tunnel(SSL_CTX *ctx, const struct sockaddr_in *proxy, const char *src, const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { note(strerror(errno)); return -1; }
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (src) {
    struct sockaddr_in local = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &local.sin_addr);
    if (bind(fd, (const struct sockaddr *)&local, sizeof local) != 0) { note("bind failed"); close(fd); return -1; }
  }
  if (connect(fd, (const struct sockaddr *)proxy, sizeof *proxy) != 0) {
    char m[200];
    snprintf(m, sizeof m, "connect to proxy: %s", strerror(errno));
    note(m);
    close(fd);
    return -1;
  }
  char req[512];
  int n = snprintf(req, sizeof req, "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n", host, port, host, port);
  if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) { note("sending CONNECT failed"); close(fd); return -1; }
  /* Read the response head byte by byte so no tunnel bytes are consumed. */
  char head[2048];
  size_t len = 0;
  while (len < sizeof head - 1) {
    ssize_t r = recv(fd, head + len, 1, 0);
    if (r <= 0) break;
    len++;
    if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0) break;
  }
  head[len] = 0;
  if (strncmp(head, "HTTP/1.1 200", 12) != 0 && strncmp(head, "HTTP/1.0 200", 12) != 0) {
    char m[200];
    snprintf(m, sizeof m, "CONNECT answered: %.120s", len ? strtok(head, "\r") : "(nothing)");
    note(m);
    close(fd);
    return -1;
  }
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, host);
  if (SSL_connect(ssl) != 1) {
    char m[200];
    snprintf(m, sizeof m, "TLS handshake in the tunnel failed: %s", ERR_error_string(ERR_get_error(), NULL));
    note(m);
    SSL_free(ssl);
    close(fd);
    return -1;
  }
  /* Keep the socket, drop the TLS state: SSL_free sends nothing. */
  SSL_free(ssl);
  return fd;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s PROXY_IP PROXY_PORT HOST PORT N HOLD_SECONDS [SOURCE_IP]\n", argv[0]);
    return 2;
  }
  struct sockaddr_in proxy = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &proxy.sin_addr) != 1) { fprintf(stderr, "bad proxy address %s\n", argv[1]); return 2; }
  const char *host = argv[3];
  const int port = atoi(argv[4]), n = atoi(argv[5]), hold = atoi(argv[6]);
  const char *src = argc > 7 ? argv[7] : NULL;
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);

  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* load generator: the bench checks nothing here */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  const time_t deadline = time(NULL) + 300;
  int opened = 0, failed = 0, in_a_row = 0;
  for (int i = 0; i < n && !stop && time(NULL) < deadline && in_a_row < 50; i++) {
    if (open_tunnel(ctx, &proxy, src, host, port) >= 0) {
      opened++;
      in_a_row = 0;
    } else {
      failed++;
      in_a_row++;
    }
  }
  printf("opened %d failed %d%s%s\n", opened, failed, first_error[0] ? " first_error: " : "", first_error);
  fflush(stdout);
  for (int t = 0; t < hold && !stop; t++) sleep(1);
  return opened == n ? 0 : 1;
}
