// SSE fan-out load client for `bench/run sse` (built by bench/run with cc):
// holds COUNT concurrent `GET` event streams open, one TCP connection each
// (like COUNT MCP clients), on one epoll loop, then measures when the
// upstream's one notification reaches each of them. C rather than Node so
// that the client's own processing of 10 000 arrivals (a few µs each) does
// not dominate the latency it measures.
//
//   sse_clients HOST PORT PATH COUNT [TOKEN]
//
// stdout, one line each:
//   OPEN <n> <seconds>   every stream got `200 text/event-stream` and its first bytes
//   RESULT {json}        latencies (ms) of the notification, from the wall-clock
//                        stamps the upstream put in it: `t0` (it started the
//                        fan-out) and `sent` (it wrote this stream's copy), to
//                        the arrival here
// Exits 1 when a stream fails to open or not every stream got the event.
// Environment: SSE_OPEN_CONCURRENCY (connects in flight, default 200),
// SSE_TIMEOUT_S (wait for the notification, default 60).
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
#include <time.h>
#include <unistd.h>

enum state { CONNECTING, HEAD, OPENING, WAITING, DONE };

struct conn {
  int fd;
  enum state state;
  size_t len;
  char buf[1024];
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char* what) {
  printf("FAILED %s\n", what);
  fprintf(stderr, "sse_clients: %s\n", what);
  exit(1);
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double pick(double* v, int n, double q) {
  int i = (int)(q * n);
  if (i >= n) i = n - 1;
  return n ? v[i] : -1;
}

// The number after `key` in `text` when it is complete (followed by , or }).
static int find_number(const char* text, const char* key, double* out) {
  const char* p = strstr(text, key);
  if (!p) return 0;
  p += strlen(key);
  char* end = NULL;
  *out = strtod(p, &end);
  return end != p && (*end == ',' || *end == '}');
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: sse_clients HOST PORT PATH COUNT [TOKEN]\n");
    return 2;
  }
  const char* host = argv[1];
  const int port = atoi(argv[2]);
  const char* path = argv[3];
  const int count = atoi(argv[4]);
  const char* token = argc > 5 ? argv[5] : NULL;
  const int concurrency =
      getenv("SSE_OPEN_CONCURRENCY") ? atoi(getenv("SSE_OPEN_CONCURRENCY")) : 200;
  const int timeout_s = getenv("SSE_TIMEOUT_S") ? atoi(getenv("SSE_TIMEOUT_S")) : 60;

  char request[4096];
  int request_len = snprintf(request, sizeof request,
                             "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
                             "Cache-Control: no-cache\r\n%s%s%s\r\n",
                             path, host, port, token ? "Authorization: Bearer " : "",
                             token ? token : "", token ? "\r\n" : "");
  if (request_len <= 0 || request_len >= (int)sizeof request) die("request too long");

  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("HOST must be an IPv4 address");

  struct conn* conns = calloc((size_t)count, sizeof *conns);
  double* from_t0 = calloc((size_t)count, sizeof(double));
  double* from_sent = calloc((size_t)count, sizeof(double));
  if (!conns || !from_t0 || !from_sent) die("out of memory");
  int ep = epoll_create1(0);
  int started = 0, opened = 0, received = 0, in_flight = 0;
  const double t_start = now_ms();
  double deadline = 0;

  for (;;) {
    while (started < count && in_flight < concurrency) {
      struct conn* c = &conns[started];
      c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (c->fd < 0) die("socket() failed (open-file limit?)");
      int one = 1;
      setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(c->fd, (struct sockaddr*)&addr, sizeof addr) != 0 && errno != EINPROGRESS)
        die("connect() failed");
      struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)started};
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
      ++started;
      ++in_flight;
    }
    struct epoll_event events[512];
    int n = epoll_wait(ep, events, 512, 1000);
    if (n < 0 && errno != EINTR) die("epoll_wait failed");
    const double arrived = now_ms();
    for (int i = 0; i < n; ++i) {
      struct conn* c = &conns[events[i].data.u32];
      if (c->state == CONNECTING) {
        if (!(events[i].events & EPOLLOUT) || (events[i].events & (EPOLLERR | EPOLLHUP)))
          die("connection refused or reset while connecting");
        if (write(c->fd, request, (size_t)request_len) != request_len)
          die("request not sent whole");
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = events[i].data.u32};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->state = HEAD;
        continue;
      }
      for (;;) {
        char chunk[4096];
        ssize_t got = read(c->fd, chunk, sizeof chunk);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (got <= 0) {
          if (c->state == DONE) break;
          die(got == 0 ? "stream closed by the server" : "read error");
        }
        if (c->state == DONE) continue;
        // Keep the last bytes only: what we look for is short.
        const size_t got_n = (size_t)got;
        if (got_n >= sizeof c->buf / 2) {
          const size_t keep = sizeof c->buf / 2;
          memcpy(c->buf, chunk + got_n - keep, keep);
          c->len = keep;
        } else {
          if (c->len + got_n >= sizeof c->buf) {  // drop the oldest bytes
            const size_t drop = c->len + got_n - (sizeof c->buf - 1);
            memmove(c->buf, c->buf + drop, c->len - drop);
            c->len -= drop;
          }
          memcpy(c->buf + c->len, chunk, got_n);
          c->len += got_n;
        }
        c->buf[c->len] = '\0';
        if (c->state == HEAD) {
          char* end = strstr(c->buf, "\r\n\r\n");
          if (!end) continue;
          if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0 ||
              !strcasestr(c->buf, "\r\ncontent-type: text/event-stream"))
            die("unexpected response head");
          end += 4;
          c->len = strlen(end);
          memmove(c->buf, end, c->len + 1);
          c->state = OPENING;
        }
        if (c->state == OPENING) {
          char* open = strstr(c->buf, ": open");
          if (!open) continue;
          open += 6;
          c->len = strlen(open);
          memmove(c->buf, open, c->len + 1);
          c->state = WAITING;
          --in_flight;
          if (++opened == count) {
            printf("OPEN %d %.1f\n", opened, (now_ms() - t_start) / 1e3);
            fflush(stdout);
            deadline = now_ms() + timeout_s * 1e3;
          }
        }
        if (c->state == WAITING) {
          double t0, sent;
          if (find_number(c->buf, "\"t0\":", &t0) && find_number(c->buf, "\"sent\":", &sent)) {
            from_t0[received] = arrived - t0;
            from_sent[received] = arrived - sent;
            ++received;
            c->state = DONE;
          }
        }
      }
    }
    if (received == count || (deadline > 0 && now_ms() > deadline)) break;
  }
  qsort(from_t0, (size_t)received, sizeof(double), cmp_double);
  qsort(from_sent, (size_t)received, sizeof(double), cmp_double);
  printf(
      "RESULT {\"streams\":%d,\"received\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
      "\"hop_p50_ms\":%.2f,\"hop_p99_ms\":%.2f}\n",
      count, received, pick(from_t0, received, 0.5), pick(from_t0, received, 0.99),
      received ? from_t0[received - 1] : -1, pick(from_sent, received, 0.5),
      pick(from_sent, received, 0.99));
  fflush(stdout);
  return received == count ? 0 : 1;
}
