#include "common/fetch/https_fetch.h"

#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <charconv>
#include <optional>

#include "common/core/c_handles.h"
#include "common/core/log.h"
#include "common/core/socket_peer.h"
#include "common/fetch/fetch_completion.h"
#include "common/http/http1_codec.h"
#include "common/tls/tls_client_context.h"

namespace mag::http {
namespace {

constexpr std::string_view kLog = "tls";

struct DnsDeleter {
  // fail_requests = 0: the bufferevent (freed first) no longer waits on it.
  void operator()(evdns_base* d) const noexcept { evdns_base_free(d, 0); }
};
using DnsPtr = std::unique_ptr<evdns_base, DnsDeleter>;

class HttpsFetch final : public Fetch, public Http1Parser::Callbacks {
 public:
  HttpsFetch(event_base* base, FetchOptions options, std::function<void(FetchResult)> done)
      : base_(base),
        options_(std::move(options)),
        parser_(Http1Parser::Mode::kResponse, *this,
                CodecLimits{.max_request_line = 8 * 1024,
                            .max_head_bytes = 64 * 1024,
                            .max_header_count = 200,
                            .max_body_bytes = 0}),
        completion_(base, options_.max_body_bytes, std::move(done), [this] { bev_.reset(); }) {}

  ~HttpsFetch() override {
    bev_.reset();  // before the DNS base it may be resolving with
    dns_.reset();
  }

  void start(const ParsedUrl& url, const FetchRequest& request) {
    if (!completion_.usable()) return;  // nothing can be reported; done never runs
    const std::string host =
        url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    host_ = url.host;
    where_ = host + ":" + std::to_string(url.port);
    std::string error;
    SslPtr ssl;
    if (options_.upstream_tls) {
      ssl = options_.upstream_tls->new_connection(url.host, nullptr, &error);
    } else {
      ctx_ = tls::make_client_context(options_.ca_file, &error);
      ssl = ctx_ ? tls::make_client_session(ctx_.get(), url.host, &error) : nullptr;
    }
    if (!ssl) return completion_.fail_later(FetchError::kTls, std::move(error));
    // BEV_OPT_CLOSE_ON_FREE: the bufferevent owns the SSL from here on.
    bev_.reset(bufferevent_openssl_socket_new(base_, -1, ssl.get(), BUFFEREVENT_SSL_CONNECTING,
                                              BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS));
    if (!bev_) return completion_.fail_later(FetchError::kInvalid, "out of memory");
    ssl.release();
    bufferevent_setcb(bev_.get(), &HttpsFetch::on_read, nullptr, &HttpsFetch::on_event, this);
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);

    RequestHead head = request_head(request, url.path_and_query);
    if (!head.headers.has("Host")) head.headers.add("Host", url.port == 443 ? host : where_);
    if (!request.body.empty()) {
      head.headers.add("Content-Length", std::to_string(request.body.size()));
    }
    const std::string text = serialize_request_head(head);
    bufferevent_write(bev_.get(), text.data(), text.size());
    bufferevent_write(bev_.get(), request.body.data(), request.body.size());
    parser_.set_request_method(request.method);

    if (connect(url) != 0) {
      return completion_.fail_later(FetchError::kInvalid, "cannot start connecting to " + where_);
    }
    completion_.arm_deadline(options_.timeout);
  }

  // Http1Parser::Callbacks
  // The parser calls these from inside feed(): failures are recorded and
  // acted on by check_progress() once feed() has returned.
  void on_response_head(ResponseHead&& head) override {
    if (!completion_.take_head(head)) failure_ = "too large";
  }
  void on_body(std::string_view data) override {
    if (failure_) return;
    if (!completion_.take_body(data)) failure_ = "too large";
  }
  void on_message_complete() override { complete_ = true; }

 private:
  int connect(const ParsedUrl& url) {
    if (tls::is_ip_literal(url.host)) {
      sockaddr_storage ss{};
      int len = sizeof ss;
      const std::string text = url.host.find(':') != std::string::npos
                                   ? "[" + url.host + "]:" + std::to_string(url.port)
                                   : url.host + ":" + std::to_string(url.port);
      if (evutil_parse_sockaddr_port(text.c_str(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        return -1;
      return bufferevent_socket_connect(bev_.get(), reinterpret_cast<sockaddr*>(&ss), len);
    }
    dns_.reset(evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS));
    if (!dns_) return -1;
    return bufferevent_socket_connect_hostname(bev_.get(), dns_.get(), AF_UNSPEC, url.host.c_str(),
                                               url.port);
  }

  static void on_read(bufferevent* bev, void* arg) noexcept {
    auto* self = static_cast<HttpsFetch*>(arg);
    try {
      self->read_available(bufferevent_get_input(bev));
    } catch (...) {
      log::error(kLog, "exception in HTTPS fetch read callback");
    }
  }

  static void on_event(bufferevent*, short what, void* arg) noexcept {
    auto* self = static_cast<HttpsFetch*>(arg);
    try {
      self->handle_event(what);
    } catch (...) {
      log::error(kLog, "exception in HTTPS fetch event callback");
    }
  }

  void read_available(evbuffer* input) {
    while (evbuffer_get_length(input) > 0) {
      const size_t len = evbuffer_get_contiguous_space(input);
      const char* data = reinterpret_cast<const char*>(evbuffer_pullup(input, len));
      const size_t used = parser_.feed(data, len);
      evbuffer_drain(input, used);
      if (check_progress()) return;  // finished (maybe destroyed): touch nothing
      if (used == 0) break;
    }
  }

  // True when the exchange ended (this object may be gone).
  bool check_progress() {
    if (failure_) {
      fail(FetchError::kTooLarge, *failure_);
      return true;
    }
    if (parser_.failed()) {
      fail(FetchError::kProtocol, "malformed HTTP response: " + parser_.error_message());
      return true;
    }
    if (complete_) {
      completion_.succeed();
      return true;
    }
    return false;
  }

  // BEV_EVENT_CONNECTED comes once the TLS handshake is done: an EOF or an
  // error before it is a DNS, connect or TLS failure, told apart here.
  void handle_event(short what) {
    if (what & BEV_EVENT_CONNECTED) {
      handshake_done_ = true;
      return;
    }
    if (what & BEV_EVENT_EOF) {
      if (!handshake_done_) {
        return fail(FetchError::kTls,
                    "TLS failure with " + where_ +
                        ": the server closed the connection during the handshake");
      }
      parser_.feed_eof();
      if (check_progress()) return;
      return fail(FetchError::kProtocol, "connection closed before the response was complete");
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
      if (const int dns_error = bufferevent_socket_get_dns_error(bev_.get())) {
        return fail(FetchError::kDns, "DNS failure: cannot resolve host '" + host_ + "' (" +
                                          evutil_gai_strerror(dns_error) + ")");
      }
      std::string tls_detail;
      while (unsigned long e = bufferevent_get_openssl_error(bev_.get())) {
        // Library 0: libevent's own note of an SSL_ERROR_* code (SSL_ERROR_SYSCALL
        // for a socket error), not an OpenSSL error; the socket error says more.
        if (ERR_GET_LIB(e) == 0) continue;
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!tls_detail.empty()) tls_detail += "; ";
        tls_detail += buf;
      }
      if (!tls_detail.empty()) {
        return fail(FetchError::kTls, "TLS failure with " + where_ + ": " + tls_detail);
      }
      const int err = EVUTIL_SOCKET_ERROR();
      const std::string detail = err ? evutil_socket_error_to_string(err) : "connection failed";
      if (!socket_has_peer(bufferevent_getfd(bev_.get()))) {
        return fail(FetchError::kConnect,
                    "connect failed: cannot connect to " + where_ + " (" + detail + ")");
      }
      fail(handshake_done_ ? FetchError::kProtocol : FetchError::kTls,
           (handshake_done_ ? "connection error with " : "TLS failure with ") + where_ + ": " +
               detail);
    }
  }

  void fail(FetchError kind, std::string error) { completion_.fail(kind, std::move(error)); }

  event_base* base_;
  FetchOptions options_;
  Http1Parser parser_;
  SslCtxPtr ctx_;
  DnsPtr dns_;
  BufferEventPtr bev_;
  std::optional<std::string> failure_;
  bool complete_ = false;
  bool handshake_done_ = false;
  std::string host_;   // as in the URL, for messages
  std::string where_;  // host:port, for messages
  // Last: destroyed first, so its deadline cannot fire into a half-gone fetch.
  FetchCompletion completion_;
};

}  // namespace

std::unique_ptr<Fetch> https_request(event_base* base, const ParsedUrl& url,
                                     const FetchRequest& request, const FetchOptions& options,
                                     std::function<void(FetchResult)> done) {
  auto fetch = std::make_unique<HttpsFetch>(base, options, std::move(done));
  fetch->start(url, request);
  return fetch;
}

}  // namespace mag::http
