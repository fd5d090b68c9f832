// DNS load on warden's resolver over UDP: scripts/bench/warden.sh builds it.
//
//   dns_load -i SOURCE_ADDR -s SERVER_ADDR -p PORT -n QUERIES -w WINDOW -d MAX_SECONDS NAME
//
// Keeps up to WINDOW queries (A NAME, RD set, distinct ids) in flight from
// one socket bound to SOURCE_ADDR until QUERIES have been answered or
// MAX_SECONDS have passed; a query unanswered for 1 s is counted lost and its
// slot reused. Prints one JSON line: sent, answered, lost, seconds,
// answers_per_s, p50_us, p99_us, rcode (of the last answer).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *source = "127.0.0.2", *server = "127.0.0.1";
  int port = 53, window = 64, opt;
  long queries = 100000;
  double max_seconds = 20;
  while ((opt = getopt(argc, argv, "i:s:p:n:w:d:")) != -1) {
    switch (opt) {
      case 'i': source = optarg; break;
      case 's': server = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'n': queries = atol(optarg); break;
      case 'w': window = atoi(optarg); break;
      case 'd': max_seconds = atof(optarg); break;
      default: fprintf(stderr, "usage: dns_load -i SRC -s SERVER -p PORT -n QUERIES -w WINDOW -d SECONDS NAME\n"); return 2;
    }
  }
  // A power of two: ids stay congruent to their slot across the 16-bit wrap.
  if (optind >= argc || window < 1 || window > 4096 || (window & (window - 1)) || queries < 1) {
    fprintf(stderr, "dns_load: a NAME, a window that is a power of two up to 4096 and at least one query are needed\n");
    return 2;
  }
  // The query, with its id bytes rewritten per send.
  unsigned char q[300] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t qlen = 12;
  for (const char *label = argv[optind]; *label;) {
    const char *dot = strchr(label, '.');
    size_t n = dot ? (size_t)(dot - label) : strlen(label);
    if (n == 0 || n > 63 || qlen + n + 6 > sizeof q) { fprintf(stderr, "dns_load: bad name\n"); return 2; }
    q[qlen++] = (unsigned char)n;
    memcpy(q + qlen, label, n);
    qlen += n;
    label += n + (dot ? 1 : 0);
  }
  q[qlen++] = 0;
  q[qlen++] = 0; q[qlen++] = 1;  // A
  q[qlen++] = 0; q[qlen++] = 1;  // IN

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (fd < 0 || inet_pton(AF_INET, source, &src.sin_addr) != 1 || inet_pton(AF_INET, server, &dst.sin_addr) != 1 ||
      bind(fd, (struct sockaddr *)&src, sizeof src) != 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
    perror("dns_load: socket");
    return 1;
  }
  // Slot i carries ids i, i + window, ...: an answer names its slot.
  double *sent_at = calloc((size_t)window, sizeof *sent_at);
  uint16_t *ids = calloc((size_t)window, sizeof *ids);
  uint32_t *lat = malloc((size_t)queries * sizeof *lat);
  if (!sent_at || !ids || !lat) return 1;
  long sent = 0, answered = 0, lost = 0;
  int rcode = -1;
  uint16_t next_id = 0;
  const double start = now();
  for (;;) {
    const double t = now();
    if (answered >= queries || t - start > max_seconds) break;
    for (int i = 0; i < window; ++i) {
      if (sent_at[i] != 0 && t - sent_at[i] < 1.0) continue;
      if (sent_at[i] != 0) ++lost;
      if (sent - lost - answered >= queries - answered) { sent_at[i] = 0; continue; }
      ids[i] = (uint16_t)(next_id++ / window * window + i);
      q[0] = (unsigned char)(ids[i] >> 8);
      q[1] = (unsigned char)ids[i];
      if (send(fd, q, qlen, 0) == (ssize_t)qlen) {
        sent_at[i] = now();
        ++sent;
      }
    }
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    unsigned char r[1500];
    ssize_t n;
    while ((n = recv(fd, r, sizeof r, MSG_DONTWAIT)) >= 12) {
      const uint16_t id = (uint16_t)(r[0] << 8 | r[1]);
      const int i = id % window;
      if (sent_at[i] == 0 || ids[i] != id) continue;  // late, or an answer to a slot since reused
      if (answered < queries) lat[answered++] = (uint32_t)((now() - sent_at[i]) * 1e6);
      rcode = r[3] & 0x0f;
      sent_at[i] = 0;
    }
  }
  const double secs = now() - start;
  qsort(lat, (size_t)answered, sizeof *lat, cmp);
  printf("{\"sent\": %ld, \"answered\": %ld, \"lost\": %ld, \"seconds\": %.3f, \"answers_per_s\": %.0f, "
         "\"p50_us\": %u, \"p99_us\": %u, \"rcode\": %d}\n",
         sent, answered, lost, secs, answered / secs, answered ? lat[answered / 2] : 0,
         answered ? lat[(size_t)(answered * 0.99)] : 0, rcode);
  return answered > 0 ? 0 : 1;
}
