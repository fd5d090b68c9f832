// HTTPS keep-alive load through an HTTP proxy (CONNECT + TLS), or directly:
// no Debian tool does that, so scripts/bench/warden.sh builds this one.
//
//   https_load [-x PROXY_HOST:PORT] [-i SOURCE_ADDR] -k CA_FILE -c CONNS -d SECONDS -w WARMUP
//              HOST PORT SNI PATH
//
// Each of CONNS threads opens one connection (through the proxy with
// CONNECT SNI:PORT when -x is given), completes a verified TLS handshake
// for SNI, then sends GET PATH requests one after another on it (keep-alive)
// until WARMUP + SECONDS have passed. Requests that finish during the first
// WARMUP seconds are not counted. Prints one JSON line: requests, seconds,
// req_per_s, p50_us, p99_us, errors, connections.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1 << 21)

static const char *proxy_host, *source, *ca_file, *host, *sni, *path;
static int proxy_port, port, conns = 16;
static double seconds = 10, warmup = 1;
static SSL_CTX *ctx;
static double t_start;

struct worker {
  pthread_t thread;
  uint32_t *samples;  // latencies in µs of the counted requests
  size_t n, cap;
  int errors;
  int connected;
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(const char *h, int p) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
  if (inet_pton(AF_INET, h, &a.sin_addr) != 1) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (source) {
    struct sockaddr_in s = {.sin_family = AF_INET};
    inet_pton(AF_INET, source, &s.sin_addr);
    if (bind(fd, (struct sockaddr *)&s, sizeof s) != 0) { close(fd); return -1; }
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
  return fd;
}

// Reads a proxy's CONNECT answer up to the blank line; 0 if it was a 200.
static int read_connect_reply(int fd) {
  char buf[4096];
  size_t n = 0;
  while (n < sizeof buf - 1) {
    ssize_t r = recv(fd, buf + n, 1, 0);
    if (r <= 0) return -1;
    n += (size_t)r;
    buf[n] = 0;
    if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0) break;
  }
  return strncmp(buf, "HTTP/1.1 200", 12) == 0 || strncmp(buf, "HTTP/1.0 200", 12) == 0 ? 0 : -1;
}

// Reads one response (head + Content-Length body) from ssl; 0 on a 200.
static int read_response(SSL *ssl, char *buf, size_t cap, size_t *carry) {
  size_t n = *carry;
  char *end = NULL;
  for (;;) {
    buf[n] = 0;
    if ((end = strstr(buf, "\r\n\r\n"))) break;
    if (n >= cap - 1) return -1;
    int r = SSL_read(ssl, buf + n, (int)(cap - 1 - n));
    if (r <= 0) return -1;
    n += (size_t)r;
  }
  size_t head = (size_t)(end - buf) + 4;
  const char *cl = strcasestr(buf, "\r\ncontent-length:");
  if (!cl || cl > end) return -1;
  size_t body = strtoul(cl + 17, NULL, 10);
  int ok = strncmp(buf, "HTTP/1.1 200", 12) == 0;
  size_t have = n - head;
  while (have < body) {
    char sink[16384];
    size_t want = body - have < sizeof sink ? body - have : sizeof sink;
    int r = SSL_read(ssl, sink, (int)want);
    if (r <= 0) return -1;
    have += (size_t)r;
  }
  // Bytes past this response (pipelining is not used, so normally none).
  size_t extra = have - body;
  memmove(buf, buf + n - extra, extra);
  *carry = extra;
  return ok ? 0 : -1;
}

static void *run(void *arg) {
  struct worker *w = arg;
  int fd = proxy_host ? dial(proxy_host, proxy_port) : dial(host, port);
  if (fd < 0) { w->errors++; return NULL; }
  if (proxy_host) {
    char req[512];
    int len = snprintf(req, sizeof req, "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n", sni, port, sni, port);
    if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len || read_connect_reply(fd) != 0) {
      w->errors++;
      close(fd);
      return NULL;
    }
  }
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, sni);
  SSL_set1_host(ssl, sni);
  if (SSL_connect(ssl) != 1) {
    w->errors++;
    ERR_print_errors_fp(stderr);
    SSL_free(ssl);
    close(fd);
    return NULL;
  }
  w->connected = 1;
  char req[1024];
  int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: brig-https-load\r\n\r\n", path, sni);
  static __thread char buf[65536];
  size_t carry = 0;
  const double stop = t_start + warmup + seconds;
  for (;;) {
    double t0 = now();
    if (t0 >= stop) break;
    if (SSL_write(ssl, req, len) != len || read_response(ssl, buf, sizeof buf, &carry) != 0) {
      w->errors++;
      break;
    }
    double t1 = now();
    if (t1 >= t_start + warmup && t1 < stop && w->n < w->cap) w->samples[w->n++] = (uint32_t)((t1 - t0) * 1e6);
  }
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  return NULL;
}

static int cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void usage(void) {
  fprintf(stderr, "usage: https_load [-x PROXY_HOST:PORT] [-i SOURCE] -k CA_FILE [-c CONNS] [-d SECONDS] [-w WARMUP] "
                  "HOST PORT SNI PATH\n");
  exit(2);
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "x:i:k:c:d:w:")) != -1) {
    switch (opt) {
      case 'x': {
        char *colon = strrchr(optarg, ':');
        if (!colon) usage();
        *colon = 0;
        proxy_host = optarg;
        proxy_port = atoi(colon + 1);
        break;
      }
      case 'i': source = optarg; break;
      case 'k': ca_file = optarg; break;
      case 'c': conns = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 'w': warmup = atof(optarg); break;
      default: usage();
    }
  }
  if (argc - optind != 4 || !ca_file || conns < 1 || conns > 1024 || seconds <= 0) usage();
  host = argv[optind];
  port = atoi(argv[optind + 1]);
  sni = argv[optind + 2];
  path = argv[optind + 3];

  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
    fprintf(stderr, "https_load: cannot load %s\n", ca_file);
    return 1;
  }
  static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);

  struct worker *ws = calloc((size_t)conns, sizeof *ws);
  t_start = now();
  for (int i = 0; i < conns; i++) {
    ws[i].cap = MAX_SAMPLES / (size_t)conns;
    ws[i].samples = malloc(ws[i].cap * sizeof(uint32_t));
    pthread_create(&ws[i].thread, NULL, run, &ws[i]);
  }
  size_t total = 0;
  int errors = 0, connected = 0;
  for (int i = 0; i < conns; i++) {
    pthread_join(ws[i].thread, NULL);
    total += ws[i].n;
    errors += ws[i].errors;
    connected += ws[i].connected;
  }
  uint32_t *all = malloc((total + 1) * sizeof *all);
  size_t k = 0;
  for (int i = 0; i < conns; i++) {
    memcpy(all + k, ws[i].samples, ws[i].n * sizeof *all);
    k += ws[i].n;
  }
  qsort(all, total, sizeof *all, cmp);
  uint32_t p50 = total ? all[(total - 1) / 2] : 0, p99 = total ? all[(size_t)((total - 1) * 0.99)] : 0;
  printf("{\"requests\": %zu, \"seconds\": %.3f, \"req_per_s\": %.0f, \"p50_us\": %u, \"p99_us\": %u, "
         "\"errors\": %d, \"connections\": %d}\n",
         total, seconds, total / seconds, p50, p99, errors, connected);
  return 0;
}
