// HTTP server on libevent bufferevents: accepts connections (cleartext or
// TLS), serves each with the HTTP/1.1 or the HTTP/2 codec and hands every
// request to a ServerStreamHandler made by the application's factory.
// Responses stream: head, then body pieces as they come.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/server_options.h"
#include "common/http/server_stream.h"

namespace mag::http {

class HttpServer {
 public:
  HttpServer(event_base* base, HandlerFactory factory, ServerOptions options = {});
  ~HttpServer();  // closes every connection; handlers get on_reset()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "host:port" ("127.0.0.1:0" binds a free port, "[::1]:8000", "0.0.0.0:8000").
  bool listen(const std::string& address, std::string* error);
  uint16_t port() const;
  void stop_accepting();
  // Graceful shutdown: stop accepting; idle connections close now, HTTP/1.1
  // exchanges in flight end with "Connection: close", HTTP/2 connections get
  // GOAWAY and close once their streams are done.
  void drain();
  // SIGHUP: re-reads the certificate and key (new connections use them;
  // open ones keep theirs). On failure nothing changes. A cleartext listener
  // becomes TLS (or the reverse) only by re-binding, not here: false.
  bool reload_tls(const std::string& certificate, const std::string& private_key,
                  std::string* error);
  size_t active_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses "host:port" / "[v6]:port"; false on anything else.
bool split_host_port(std::string_view address, std::string* host, uint16_t* port);

// Whether `address` ("host:port", port not 0) could be bound by a socket
// without SO_REUSEPORT right now (SO_REUSEADDR set, as listen() sets it):
// false, with the reason, when something already listens there. Used before
// binding several SO_REUSEPORT sockets, which would otherwise silently share
// a port with another process of the same user.
bool probe_bind(const std::string& address, std::string* error);

}  // namespace mag::http
