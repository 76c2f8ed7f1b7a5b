// SSE fan-out upstream for `bench/run sse` (built by bench/run with cc), the
// C twin of bench/sse_upstream.mjs: the same three requests and the same
// event, on one epoll loop, so that the floor the proxies are compared with
// is not Node's serial write loop (which alone took 570 ms at p99 for 10 000
// streams).
//
//   GET <any path but /count>  200 text/event-stream (chunked), one comment
//                              chunk at once, then held open
//   POST /notify               writes one `notifications/message` event to
//                              every open stream, stamped with the wall clock
//                              (ms) at which the fan-out started (`t0`) and
//                              at which this stream's copy was written
//                              (`sent`); answers {"written":N,"write_ms":X}
//   GET /count                 {"open":N}
//
//   sse_upstream PORT
//
// A bench tool, not product code: requests are read only as far as the
// runner's clients need (request line, Content-Length, end of head).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum kind { READING, STREAM, CLOSING, DEAD };

struct conn {
  struct conn* next_dead;  // freed after the epoll batch that closed it
  int fd;
  enum kind kind;
  int stream_index;  // position in streams[] while kind == STREAM
  size_t len;        // bytes of the request read so far
  char in[4096];
  size_t out_len;  // bytes not yet written (a full socket buffer)
  char* out;
};

static struct conn** streams;
static int stream_count;
static int stream_cap;
static int epfd;
static struct conn* dead;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void drop_stream(struct conn* c) {
  if (c->kind != STREAM) return;
  struct conn* last = streams[--stream_count];
  streams[c->stream_index] = last;
  last->stream_index = c->stream_index;
}

// Closes now, frees after the current batch of events: a later event of the
// same batch may still name `c`.
static void close_conn(struct conn* c) {
  if (c->kind == DEAD) return;
  drop_stream(c);
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->kind = DEAD;
  c->next_dead = dead;
  dead = c;
}

static void free_dead(void) {
  while (dead) {
    struct conn* c = dead;
    dead = c->next_dead;
    free(c->out);
    free(c);
  }
}

// Writes what the socket takes; keeps the rest for EPOLLOUT. Returns -1 when
// the peer is gone.
static int send_bytes(struct conn* c, const char* data, size_t n) {
  if (c->out_len == 0) {
    ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) return -1;
    if (w < 0) w = 0;
    data += w;
    n -= (size_t)w;
    if (n == 0) return 0;
  }
  char* grown = realloc(c->out, c->out_len + n);
  if (!grown) return -1;
  c->out = grown;
  memcpy(c->out + c->out_len, data, n);
  c->out_len += n;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  return 0;
}

static void flush_out(struct conn* c) {
  ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN) {
    close_conn(c);
    return;
  }
  if (w > 0) {
    memmove(c->out, c->out + w, c->out_len - (size_t)w);
    c->out_len -= (size_t)w;
  }
  if (c->out_len == 0) {
    if (c->kind == CLOSING) {
      close_conn(c);
      return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  }
}

// One chunk of chunked transfer coding.
static int send_chunk(struct conn* c, const char* data, size_t n) {
  char buf[1024];
  int len = snprintf(buf, sizeof buf, "%zx\r\n%.*s\r\n", n, (int)n, data);
  if (len < 0 || (size_t)len >= sizeof buf) return -1;
  return send_bytes(c, buf, (size_t)len);
}

static void answer_json(struct conn* c, const char* body) {
  char buf[512];
  int len = snprintf(buf, sizeof buf,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
  c->kind = CLOSING;
  if (send_bytes(c, buf, (size_t)len) < 0 || c->out_len == 0) close_conn(c);
}

static void start_stream(struct conn* c) {
  static const char head[] =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  if (stream_count == stream_cap) {
    int cap = stream_cap ? stream_cap * 2 : 1024;
    struct conn** grown = realloc(streams, (size_t)cap * sizeof *grown);
    if (!grown) {
      close_conn(c);
      return;
    }
    streams = grown;
    stream_cap = cap;
  }
  c->kind = STREAM;
  c->stream_index = stream_count;
  streams[stream_count++] = c;
  if (send_bytes(c, head, sizeof head - 1) < 0 || send_chunk(c, ": open\n\n", 8) < 0) close_conn(c);
}

static void notify_all(struct conn* c) {
  double t0 = now_ms();
  int written = 0;
  // Iterate backwards: a failed stream is swapped with the last one.
  for (int i = stream_count - 1; i >= 0; --i) {
    struct conn* s = streams[i];
    char event[512];
    int n = snprintf(event, sizeof event,
                     "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
                     "message\",\"params\":{\"level\":\"info\",\"data\":{\"t0\":%.3f,\"sent\":%.3f}}}"
                     "\n\n",
                     t0, now_ms());
    if (send_chunk(s, event, (size_t)n) < 0) {
      close_conn(s);
    } else {
      ++written;
    }
  }
  char body[128];
  snprintf(body, sizeof body, "{\"written\":%d,\"write_ms\":%.3f}", written, now_ms() - t0);
  answer_json(c, body);
}

// Dispatches a request whose head (and, for POST, Content-Length body) is in.
static void on_request(struct conn* c, const char* head_end) {
  char method[8] = "", path[256] = "";
  if (sscanf(c->in, "%7s %255s", method, path) != 2) {
    close_conn(c);
    return;
  }
  if (strcmp(method, "GET") == 0 && strcmp(path, "/count") == 0) {
    char body[64];
    snprintf(body, sizeof body, "{\"open\":%d}", stream_count);
    answer_json(c, body);
  } else if (strcmp(method, "GET") == 0) {
    start_stream(c);
  } else if (strcmp(method, "POST") == 0 && strcmp(path, "/notify") == 0) {
    (void)head_end;
    notify_all(c);
  } else {
    static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    c->kind = CLOSING;
    if (send_bytes(c, nf, sizeof nf - 1) < 0 || c->out_len == 0) close_conn(c);
  }
}

static size_t content_length(const char* head) {
  const char* p = strcasestr(head, "\r\ncontent-length:");
  return p ? (size_t)strtoul(p + 17, NULL, 10) : 0;
}

static void on_readable(struct conn* c) {
  for (;;) {
    char scratch[4096];
    char* into = c->kind == READING ? c->in + c->len : scratch;
    size_t room = c->kind == READING ? sizeof c->in - 1 - c->len : sizeof scratch;
    if (room == 0) {
      close_conn(c);  // request head too long for this tool
      return;
    }
    ssize_t r = recv(c->fd, into, room, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
      close_conn(c);
      return;
    }
    if (r < 0) return;
    if (c->kind != READING) continue;  // streams: the client says nothing more
    c->len += (size_t)r;
    c->in[c->len] = '\0';
    char* end = strstr(c->in, "\r\n\r\n");
    if (!end) continue;
    size_t head_len = (size_t)(end + 4 - c->in);
    if (c->len < head_len + content_length(c->in)) continue;
    on_request(c, end);
    return;
  }
}

int main(int argc, char** argv) {
  int port = argc > 1 ? atoi(argv[1]) : 18087;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr*)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
    perror("sse_upstream: listen");
    return 1;
  }
  epfd = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
  fprintf(stderr, "sse upstream (C) on %d\n", port);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      struct conn* c = events[i].data.ptr;
      if (c == NULL) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn* nc = calloc(1, sizeof *nc);
          if (!nc) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (c->kind == DEAD) continue;
      if (events[i].events & EPOLLOUT) {
        flush_out(c);
        continue;  // EPOLLIN is level-triggered: it comes again if there is more
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    free_dead();
  }
}
