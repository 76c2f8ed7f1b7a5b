// Open-loop paced HTTP/1.1 load client for `bench/run paced` (built by
// bench/run with cc). h2load --rps sends each connection's quota in bursts,
// so the latency it reports at a given rate is mostly its own queueing; this
// client sends requests on a fixed schedule instead and measures each one
// from the time it was *scheduled* to be sent to the end of its response
// (coordinated omission corrected, as wrk2 does): a peer that stalls is
// charged for every request that should have gone out during the stall.
//
//   paced_client HOST PORT PATH BODY_FILE TOKEN_FILE RATE SECONDS CONNECTIONS
//
// POSTs BODY_FILE (Content-Type: application/json, Accept: application/json,
// text/event-stream, `Authorization: Bearer <first line of TOKEN_FILE>`;
// TOKEN_FILE `-`: no Authorization) over CONNECTIONS keep-alive connections,
// opened before the schedule starts. Request k is due at t0 + k / RATE
// (uniform arrivals; PACED_ARRIVALS=poisson draws exponential gaps instead)
// and goes out on the connection that has been idle longest; when every
// connection is busy it waits for the first one to free up, and that wait
// counts in its latency. One epoll loop; epoll_pwait2's nanosecond timeout
// (with the thread's timer slack set to 1 ns) wakes it at the next due time.
//
// Responses are framed strictly, as far as the bench's fixed responses need:
// `HTTP/1.1 <3 digits> `, header lines `name: value`, exactly one of
// Content-Length or `Transfer-Encoding: chunked` (hex sizes, no extensions,
// no trailers). Anything else — another version, 1xx, a head without framing
// or with both, bytes after the response, a closed or reset connection, no
// response within PACED_TIMEOUT_MS — fails that request and the connection
// is replaced. A non-200 response fails its request only (a 200 with
// `Connection: close` too, or without PACED_EXPECT in its body); after
// `Connection: close` the connection is replaced.
//
// stdout, one line, `PACED_RESULT key=value ...` (times in µs), over the
// requests due after the warm-up: offered and achieved rate; p50/p90/p99/
// p99.9/max latency from the due time; the service time (from the write);
// the send delay (write - due) and how many requests `queued` for a free
// connection; the client's own `lag` (the send delay of the requests that
// had a free connection: timer wake-up and loop turn); `errors` (requests
// without a good response) and the error counters (warm-up included); the
// client's CPU per request and the time it spent runnable but waiting for a
// CPU (`client_runq_wait_ms`, /proc/self/schedstat).
// stderr: the same, readable. Exits 1 only when it could not run at all.
//
// Environment: PACED_ARRIVALS uniform|poisson (default uniform),
// PACED_WARMUP_MS (requests due in this first stretch are sent but not
// counted; default 500), PACED_TIMEOUT_MS (default 2000), PACED_EXPECT (a
// string every 200 body must contain, e.g. "result":5), PACED_SESSION (sent
// as Mcp-Session-Id), PACED_SEED (poisson; default 1).
//
// A bench tool, not product code.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum cstate { CONNECTING, IDLE, BUSY };
enum pstate { P_HEAD, P_BODY, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER };
enum failure { F_NONE, F_CONN, F_PROTO, F_TIMEOUT };

#define IN_CAP 16384
#define BODY_CAP 65536

struct conn {
  int fd;
  enum cstate state;
  int64_t since;   // connect start (CONNECTING) or request write (BUSY), ns
  long req;        // request index in flight
  size_t out_off;  // bytes of the request written so far
  enum pstate p;
  size_t remaining;  // body or chunk bytes still to come
  int status;
  int close_after;  // the response said `Connection: close`
  size_t len, pos;  // bytes in `in`, bytes of them consumed
  char in[IN_CAP];
  size_t body_len;
  char body[BODY_CAP];
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// Time this process spent runnable but waiting for a CPU (schedstat's
// second field), ns; 0 when the kernel does not report it.
static int64_t runq_wait_ns(void) {
  FILE* f = fopen("/proc/self/schedstat", "r");
  if (!f) return 0;
  long long run = 0, wait = 0;
  if (fscanf(f, "%lld %lld", &run, &wait) != 2) wait = 0;
  fclose(f);
  return wait;
}

static void die(const char* what) {
  printf("FAILED %s\n", what);
  fprintf(stderr, "paced_client: %s\n", what);
  exit(1);
}

static char* read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (!f) die("cannot open an input file");
  static char tmp[1 << 16];
  size_t n = fread(tmp, 1, sizeof tmp, f);
  if (!feof(f)) die("input file larger than 64 KiB");
  fclose(f);
  char* out = malloc(n + 1);
  if (!out) die("out of memory");
  memcpy(out, tmp, n);
  out[n] = '\0';
  *len = n;
  return out;
}

// ---------------------------------------------------------------- globals
static struct sockaddr_in addr;
static int ep;
static struct conn* conns;
static int nconn;
static int* idle_q;  // FIFO of idle connection indices (longest idle first)
static int idle_head, idle_count;
static char* request;
static size_t request_len;
static const char* expect;
static int64_t timeout_ns;
static int64_t* sched;  // due time of each request, ns
static int64_t* lat;    // response end - due; -1: failed or not sent
static int64_t* svc;    // response end - write
static int64_t* delay;  // write - due
static long total, next_req, queued_upto;
static unsigned char* was_queued;  // waited for a free connection
static long err_status, err_conn, err_proto, err_timeout;

static void idle_push(int i) {
  idle_q[(idle_head + idle_count) % nconn] = i;
  ++idle_count;
}

static int idle_pop(void) {
  int i = idle_q[idle_head];
  idle_head = (idle_head + 1) % nconn;
  --idle_count;
  return i;
}

static void idle_remove(int i) {
  int kept = 0;
  for (int j = 0; j < idle_count; ++j) {
    int v = idle_q[(idle_head + j) % nconn];
    if (v != i) idle_q[(idle_head + kept++) % nconn] = v;
  }
  idle_count = kept;
}

static void watch(int i, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)i};
  if (epoll_ctl(ep, op, conns[i].fd, &ev) != 0) die("epoll_ctl failed");
}

static void open_conn(int i) {
  struct conn* c = &conns[i];
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) die("socket() failed");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr*)&addr, sizeof addr) != 0 && errno != EINPROGRESS)
    die("connect() failed");
  c->state = CONNECTING;
  c->since = now_ns();
  c->len = c->pos = 0;
  watch(i, EPOLLOUT | EPOLLIN, EPOLL_CTL_ADD);
}

// The request in flight on `i` (if any) fails with `why`; the connection is
// replaced by a fresh one.
static void fail_conn(int i, enum failure why) {
  struct conn* c = &conns[i];
  if (why == F_CONN) ++err_conn;
  if (why == F_PROTO) ++err_proto;
  if (why == F_TIMEOUT) ++err_timeout;
  if (err_conn > 1000) die("more than 1000 connection errors");
  if (c->state == IDLE) idle_remove(i);
  close(c->fd);  // also removes it from the epoll set
  open_conn(i);
}

static void send_request(int i, long k, int64_t now) {
  struct conn* c = &conns[i];
  c->state = BUSY;
  c->req = k;
  c->since = now;
  c->p = P_HEAD;
  c->status = 0;
  c->close_after = 0;
  c->body_len = 0;
  c->len = c->pos = 0;
  delay[k] = now - sched[k];
  was_queued[k] = k < queued_upto;
  ssize_t n = send(c->fd, request, request_len, MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN) {
    fail_conn(i, F_CONN);
    return;
  }
  c->out_off = n < 0 ? 0 : (size_t)n;
  if (c->out_off < request_len) watch(i, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
}

// Sends every request that is due while a connection is idle.
static void dispatch(int64_t now) {
  while (next_req < total && sched[next_req] <= now) {
    if (idle_count == 0) {
      // Everything due now waits for a connection: remember how far, to
      // count how many requests queued behind busy connections.
      long due = queued_upto > next_req ? queued_upto : next_req;
      while (due < total && sched[due] <= now) ++due;
      if (due > queued_upto) queued_upto = due;
      return;
    }
    send_request(idle_pop(), next_req, now);
    ++next_req;
  }
}

static int body_add(struct conn* c, const char* p, size_t n) {
  if (c->body_len + n > BODY_CAP) return -1;
  memcpy(c->body + c->body_len, p, n);
  c->body_len += n;
  return 0;
}

// The head in c->in[c->pos, end): status line and framing headers.
static int parse_head(struct conn* c, const char* end) {
  const char* p = c->in + c->pos;
  if (end - p < 13 || memcmp(p, "HTTP/1.1 ", 9) != 0) return -1;
  for (int d = 9; d < 12; ++d)
    if (p[d] < '0' || p[d] > '9') return -1;
  if (p[12] != ' ') return -1;
  c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  if (c->status < 200) return -1;  // no 1xx expected
  const char* line = (const char*)memmem(p, (size_t)(end - p), "\r\n", 2) + 2;
  int have_cl = 0, chunked = 0, other_te = 0;
  size_t cl = 0;
  while (line < end) {
    const char* eol = memmem(line, (size_t)(end - line), "\r\n", 2);
    if (!eol) return -1;
    const char* colon = memchr(line, ':', (size_t)(eol - line));
    if (!colon || colon == line) return -1;
    for (const char* q = line; q < colon; ++q)
      if (*q == ' ' || *q == '\t') return -1;  // also refuses obs-fold
    const char* v = colon + 1;
    const char* ve = eol;
    while (v < ve && (*v == ' ' || *v == '\t')) ++v;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) --ve;
    const size_t name_len = (size_t)(colon - line), vlen = (size_t)(ve - v);
    if (name_len == 14 && strncasecmp(line, "content-length", 14) == 0) {
      if (have_cl || vlen == 0 || vlen > 9) return -1;
      cl = 0;
      for (const char* q = v; q < ve; ++q) {
        if (*q < '0' || *q > '9') return -1;
        cl = cl * 10 + (size_t)(*q - '0');
      }
      have_cl = 1;
    } else if (name_len == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
      if (vlen == 7 && strncasecmp(v, "chunked", 7) == 0 && !chunked)
        chunked = 1;
      else
        other_te = 1;
    } else if (name_len == 10 && strncasecmp(line, "connection", 10) == 0) {
      if (memmem(v, vlen, "close", 5) || memmem(v, vlen, "Close", 5)) c->close_after = 1;
    }
    line = eol + 2;
  }
  if (other_te || have_cl == chunked) return -1;  // exactly one framing
  if (have_cl) {
    c->p = P_BODY;
    c->remaining = cl;
  } else {
    c->p = P_CHUNK_SIZE;
  }
  return 0;
}

// Consumes what c->in holds. 1: the response is complete, 0: more bytes
// needed, -1: not a response this client accepts.
static int parse(struct conn* c) {
  for (;;) {
    char* p = c->in + c->pos;
    size_t avail = c->len - c->pos;
    switch (c->p) {
      case P_HEAD: {
        char* end = memmem(p, avail, "\r\n\r\n", 4);
        if (!end) return c->len == IN_CAP ? -1 : 0;
        if (parse_head(c, end + 2) != 0) return -1;
        c->pos = (size_t)(end + 4 - c->in);
        if (c->p == P_BODY && c->remaining == 0) return 1;
        break;
      }
      case P_BODY:
      case P_CHUNK_DATA: {
        size_t take = avail < c->remaining ? avail : c->remaining;
        if (body_add(c, p, take) != 0) return -1;
        c->pos += take;
        c->remaining -= take;
        if (c->remaining > 0) return 0;
        if (c->p == P_BODY) return 1;
        c->p = P_CHUNK_CRLF;
        break;
      }
      case P_CHUNK_SIZE: {
        char* eol = memmem(p, avail, "\r\n", 2);
        if (!eol) return avail > 16 ? -1 : 0;
        if (eol == p || eol - p > 8) return -1;
        size_t size = 0;
        for (char* q = p; q < eol; ++q) {
          int d = (*q >= '0' && *q <= '9')   ? *q - '0'
                  : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10
                  : (*q >= 'A' && *q <= 'F') ? *q - 'A' + 10
                                             : -1;
          if (d < 0) return -1;  // extensions included
          size = size * 16 + (size_t)d;
        }
        c->pos = (size_t)(eol + 2 - c->in);
        c->remaining = size;
        c->p = size ? P_CHUNK_DATA : P_TRAILER;
        break;
      }
      case P_CHUNK_CRLF:
      case P_TRAILER:
        if (avail < 2) return 0;
        if (p[0] != '\r' || p[1] != '\n') return -1;  // trailers included
        c->pos += 2;
        if (c->p == P_TRAILER) return 1;
        c->p = P_CHUNK_SIZE;
        break;
    }
  }
}

static void on_readable(int i) {
  struct conn* c = &conns[i];
  if (c->pos > 0) {
    memmove(c->in, c->in + c->pos, c->len - c->pos);
    c->len -= c->pos;
    c->pos = 0;
  }
  ssize_t got = read(c->fd, c->in + c->len, IN_CAP - c->len);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (got <= 0 || c->state != BUSY) {  // closed, reset, or bytes nobody asked for
    fail_conn(i, got > 0 ? F_PROTO : F_CONN);
    return;
  }
  const int64_t end = now_ns();
  c->len += (size_t)got;
  int r = parse(c);
  if (r == 0) return;
  if (r < 0 || c->pos != c->len || c->out_off != request_len) {
    fail_conn(i, F_PROTO);
    return;
  }
  const long k = c->req;
  if (c->status != 200) {
    ++err_status;
  } else if (c->close_after) {
    ++err_proto;  // keep-alive connections expected
  } else if (expect && !memmem(c->body, c->body_len, expect, strlen(expect))) {
    ++err_proto;
  } else {
    lat[k] = end - sched[k];
    svc[k] = end - c->since;
  }
  if (c->close_after) {
    fail_conn(i, F_NONE);  // counted above
    return;
  }
  c->state = IDLE;
  c->len = c->pos = 0;
  idle_push(i);
}

static void on_writable(int i) {
  struct conn* c = &conns[i];
  if (c->state == CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      fail_conn(i, F_CONN);
      return;
    }
    c->state = IDLE;
    watch(i, EPOLLIN, EPOLL_CTL_MOD);
    idle_push(i);
    return;
  }
  if (c->state != BUSY || c->out_off == request_len) return;
  ssize_t n = send(c->fd, request + c->out_off, request_len - c->out_off, MSG_NOSIGNAL);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    fail_conn(i, F_CONN);
    return;
  }
  c->out_off += (size_t)n;
  if (c->out_off == request_len) watch(i, EPOLLIN, EPOLL_CTL_MOD);
}

static int cmp_i64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return x < y ? -1 : x > y;
}

// Nearest rank, in µs.
static double pct(const int64_t* v, long n, double q) {
  if (n == 0) return -1;
  long i = (long)ceil(q * (double)n) - 1;
  if (i < 0) i = 0;
  if (i >= n) i = n - 1;
  return (double)v[i] / 1e3;
}

// The measured (index >= first) values of `src` that are >= 0, sorted.
static long collect(const int64_t* src, long first, int64_t* out) {
  long n = 0;
  for (long k = first; k < total; ++k)
    if (src[k] >= 0) out[n++] = src[k];
  qsort(out, (size_t)n, sizeof *out, cmp_i64);
  return n;
}

int main(int argc, char** argv) {
  if (argc != 9) {
    fprintf(stderr,
            "usage: paced_client HOST PORT PATH BODY_FILE TOKEN_FILE|- RATE SECONDS CONNECTIONS\n");
    return 2;
  }
  const char* host = argv[1];
  const int port = atoi(argv[2]);
  const char* path = argv[3];
  const double rate = atof(argv[6]);
  const double seconds = atof(argv[7]);
  nconn = atoi(argv[8]);
  if (port <= 0 || rate <= 0 || seconds <= 0 || nconn <= 0) die("bad arguments");
  const char* arrivals = getenv("PACED_ARRIVALS") ? getenv("PACED_ARRIVALS") : "uniform";
  const int poisson = strcmp(arrivals, "poisson") == 0;
  if (!poisson && strcmp(arrivals, "uniform") != 0) die("PACED_ARRIVALS: uniform or poisson");
  const double warmup_s = (getenv("PACED_WARMUP_MS") ? atof(getenv("PACED_WARMUP_MS")) : 500) / 1e3;
  timeout_ns =
      (int64_t)((getenv("PACED_TIMEOUT_MS") ? atof(getenv("PACED_TIMEOUT_MS")) : 2000) * 1e6);
  expect = getenv("PACED_EXPECT") && *getenv("PACED_EXPECT") ? getenv("PACED_EXPECT") : NULL;
  const char* session = getenv("PACED_SESSION");

  size_t body_len, token_len = 0;
  char* body = read_file(argv[4], &body_len);
  char* token = NULL;
  if (strcmp(argv[5], "-") != 0) {
    token = read_file(argv[5], &token_len);
    token[strcspn(token, "\r\n")] = '\0';
    if (!*token) die("empty token file");
  }
  request = malloc(body_len + 4096 + (token ? strlen(token) : 0));
  if (!request) die("out of memory");
  int head_len =
      sprintf(request,
              "POST %s HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s%s%s%s"
              "Content-Type: application/json\r\n"
              "Accept: application/json, text/event-stream\r\n"
              "Content-Length: %zu\r\n\r\n",
              path, host, port, token ? "Authorization: Bearer " : "", token ? token : "",
              token ? "\r\n" : "", session && *session ? "Mcp-Session-Id: " : "",
              session && *session ? session : "", session && *session ? "\r\n" : "", body_len);
  memcpy(request + head_len, body, body_len);
  request_len = (size_t)head_len + body_len;

  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("HOST must be an IPv4 address");

  // The schedule. Warm-up requests first; they are sent but not counted.
  const long warm = (long)ceil(rate * warmup_s);
  total = warm + (long)llround(rate * seconds);
  sched = malloc((size_t)total * sizeof *sched);
  lat = malloc((size_t)total * sizeof *lat);
  svc = malloc((size_t)total * sizeof *svc);
  delay = malloc((size_t)total * sizeof *delay);
  was_queued = calloc((size_t)total, 1);
  int64_t* sorted = malloc((size_t)total * sizeof *sorted);
  conns = calloc((size_t)nconn, sizeof *conns);
  idle_q = calloc((size_t)nconn, sizeof *idle_q);
  if (!sched || !lat || !svc || !delay || !sorted || !conns || !idle_q || !was_queued)
    die("out of memory");
  for (long k = 0; k < total; ++k) lat[k] = svc[k] = delay[k] = -1;

  // Wake-ups at the due time, not up to 50 µs later (the default slack).
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");

  // Every connection open before the clock starts.
  for (int i = 0; i < nconn; ++i) open_conn(i);
  const int64_t connect_deadline = now_ns() + 5000000000LL;
  while (idle_count < nconn) {
    struct epoll_event events[256];
    int n = epoll_wait(ep, events, 256, 100);
    for (int e = 0; e < n; ++e) {
      const uint32_t i = events[e].data.u32;
      if (conns[i].state != CONNECTING) die("bytes before any request");
      if (events[e].events & (EPOLLERR | EPOLLHUP)) die("connection refused");
      on_writable((int)i);
    }
    if (now_ns() > connect_deadline) die("connections not open within 5 s");
  }

  const int64_t t0 = now_ns() + 1000000;
  uint64_t seed = getenv("PACED_SEED") ? strtoull(getenv("PACED_SEED"), NULL, 10) : 1;
  double t = 0;
  for (long k = 0; k < total; ++k) {
    if (poisson) {
      // xorshift64*, uniform in (0, 1]: exponential gaps of mean 1 / rate.
      seed ^= seed >> 12, seed ^= seed << 25, seed ^= seed >> 27;
      const double u = (double)((seed * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
      sched[k] = t0 + (int64_t)(t * 1e9);
      t += -log(1.0 - u) / rate;
    } else {
      sched[k] = t0 + (int64_t)((double)k * 1e9 / rate);
    }
  }
  const int64_t give_up = sched[total - 1] + timeout_ns + 5000000000LL;
  const int64_t runq_wait_start = runq_wait_ns();

  for (;;) {
    int64_t now = now_ns();
    dispatch(now);
    int busy = 0;
    for (int i = 0; i < nconn; ++i) {
      struct conn* c = &conns[i];
      if (c->state == IDLE) continue;
      if (now - c->since > timeout_ns) {
        fail_conn(i, c->state == BUSY ? F_TIMEOUT : F_CONN);
        continue;
      }
      busy += c->state == BUSY;
    }
    if (next_req == total && busy == 0) break;
    if (now > give_up) break;
    // Sleep until the next request is due (if a connection is free to send
    // it) or 100 ms (timeouts are checked at least that often).
    int64_t wait_ns = 100000000;
    if (next_req < total && idle_count > 0 && sched[next_req] - now < wait_ns)
      wait_ns = sched[next_req] - now;
    const struct timespec wait = {.tv_sec = 0, .tv_nsec = wait_ns > 0 ? wait_ns : 0};
    struct epoll_event events[256];
    int n = epoll_pwait2(ep, events, 256, &wait, NULL);
    if (n < 0 && errno != EINTR) die("epoll_pwait2 failed");
    for (int e = 0; e < n; ++e) {
      const uint32_t i = events[e].data.u32;
      const uint32_t ev = events[e].events;
      if (conns[i].state == CONNECTING || ((ev & EPOLLOUT) && !(ev & EPOLLIN))) {
        on_writable((int)i);
        continue;
      }
      if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable((int)i);
      if ((ev & EPOLLOUT) && conns[i].state == BUSY) on_writable((int)i);
    }
  }

  const double runq_wait_ms = (double)(runq_wait_ns() - runq_wait_start) / 1e6;

  // Report over the measured requests (those due after the warm-up).
  long measured = total - warm, ok = 0, unsent = total - next_req, queued = 0;
  int64_t last_end = sched[warm];
  for (long k = warm; k < total; ++k) {
    queued += was_queued[k];
    if (lat[k] < 0) continue;
    ++ok;
    if (sched[k] + lat[k] > last_end) last_end = sched[k] + lat[k];
  }
  const double window_s = (double)(last_end - sched[warm]) / 1e9;
  const double achieved = window_s > 0 ? (double)ok / window_s : 0;
  long n = collect(lat, warm, sorted);
  double p50 = pct(sorted, n, .5), p90 = pct(sorted, n, .9), p99 = pct(sorted, n, .99),
         p999 = pct(sorted, n, .999), mx = pct(sorted, n, 1);
  n = collect(svc, warm, sorted);
  double s50 = pct(sorted, n, .5), s99 = pct(sorted, n, .99), smx = pct(sorted, n, 1);
  n = collect(delay, warm, sorted);
  double d50 = pct(sorted, n, .5), d99 = pct(sorted, n, .99), dmx = pct(sorted, n, 1);
  // The client's own lag: the send delay of requests that had a free
  // connection when they were due (timer wake-up and loop turn only).
  for (long k = warm; k < total; ++k)
    if (was_queued[k]) delay[k] = -1;
  n = collect(delay, warm, sorted);
  double l50 = pct(sorted, n, .5), l99 = pct(sorted, n, .99), lmx = pct(sorted, n, 1);
  const long errors = measured - ok;
  // The client's own CPU (it shares the cores with the peer).
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                        (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  const double cpu_per_req = next_req ? cpu_us / (double)next_req : 0;
  printf(
      "PACED_RESULT arrivals=%s offered_rps=%.0f achieved_rps=%.0f sent=%ld requests=%ld ok=%ld "
      "connections=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f "
      "svc_p50_us=%.0f svc_p99_us=%.0f svc_max_us=%.0f "
      "delay_p50_us=%.0f delay_p99_us=%.0f delay_max_us=%.0f queued=%ld "
      "lag_p50_us=%.0f lag_p99_us=%.0f lag_max_us=%.0f "
      "errors=%ld err_status=%ld err_conn=%ld err_proto=%ld err_timeout=%ld unsent=%ld "
      "client_cpu_us_per_req=%.1f client_runq_wait_ms=%.1f\n",
      arrivals, rate, achieved, next_req, measured, ok, nconn, p50, p90, p99, p999, mx, s50, s99,
      smx, d50, d99, dmx, queued, l50, l99, lmx, errors, err_status, err_conn, err_proto,
      err_timeout, unsent, cpu_per_req, runq_wait_ms);
  fprintf(stderr,
          "paced_client: %s arrivals at %.0f req/s over %d connections, %.1f s (+%.1f s warm-up): "
          "%ld/%ld ok, achieved %.0f req/s\n"
          "  latency from the schedule  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f µs\n"
          "  service (write to end)     p50 %.1f  p99 %.1f  max %.1f µs\n"
          "  send delay (write - due)   p50 %.1f  p99 %.1f  max %.1f µs; %ld waited for a "
          "free connection\n"
          "  client lag (the others)    p50 %.1f  p99 %.1f  max %.1f µs; client waited %.1f ms "
          "for a CPU\n"
          "  errors (warm-up included): status %ld, connection %ld, protocol %ld, timeout %ld, "
          "unsent %ld; client CPU %.1f µs/request\n",
          arrivals, rate, nconn, seconds, warmup_s, ok, measured, achieved, p50, p90, p99, p999, mx,
          s50, s99, smx, d50, d99, dmx, queued, l50, l99, lmx, runq_wait_ms, err_status, err_conn,
          err_proto, err_timeout, unsent, cpu_per_req);
  return 0;
}
