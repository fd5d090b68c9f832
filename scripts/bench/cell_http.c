// The ingress benchmark's server inside a cell (scripts/bench/ingress.sh),
// built static so it runs in the busybox image: HTTP/1.1 with keep-alive,
// a thread per connection. GET /sse... answers a server-sent-event stream
// (head, 200 ms, one event, end); any other request gets a 40-byte page.
// busybox httpd closes every connection and forks per request, so measuring
// through it would measure busybox, not ingress.
//
//   cell_http PORT
#define _GNU_SOURCE  // memmem
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char kPage[] = "brig ingress bench: a small static page\n";

static int send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void* serve(void* arg) {
  int fd = (int)(intptr_t)arg;
  char buf[16384];
  size_t have = 0;
  for (;;) {
    char* end = NULL;
    while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
      if (have == sizeof buf) goto out;
      ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
      if (r <= 0) goto out;
      have += (size_t)r;
    }
    const size_t used = (size_t)(end - buf) + 4;
    const int sse = have > 8 && memcmp(buf, "GET /sse", 8) == 0;
    if (sse) {
      static const char head[] =
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
          "Transfer-Encoding: chunked\r\n\r\n";
      static const char event[] = "c\r\ndata: tick\n\n\r\n0\r\n\r\n";
      if (send_all(fd, head, sizeof head - 1) != 0) goto out;
      usleep(200 * 1000);
      if (send_all(fd, event, sizeof event - 1) != 0) goto out;
    } else {
      char out[256];
      const int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                             sizeof kPage - 1, kPage);
      if (send_all(fd, out, (size_t)n) != 0) goto out;
    }
    memmove(buf, buf + used, have - used);
    have -= used;
  }
out:
  close(fd);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: cell_http PORT\n");
    return 2;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
  if (bind(s, (struct sockaddr*)&a, sizeof a) != 0 || listen(s, 512) != 0) {
    perror("cell_http: bind/listen");
    return 1;
  }
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&t, &attr, serve, (void*)(intptr_t)c) != 0) close(c);
    pthread_attr_destroy(&attr);
  }
}
