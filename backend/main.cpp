// mcp-add-server: an unauthenticated MCP Streamable HTTP server with one
// tool, `add`. Meant to listen where only the gateway can reach it.
//
//   mcp-add-server --listen 127.0.0.1:9000 [--path /mcp] [--sse] [--log-level info]
//
// Prints "listening on HOST:PORT" to stderr once bound (port 0 picks a free
// port; tests read the real one from that line). SIGINT/SIGTERM exit 0.
#include <event2/event.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "backend/json_block_cache.h"
#include "backend/mcp_endpoint.h"
#include "backend/mcp_http_handler.h"
#include "common/core/c_handles.h"
#include "common/core/log.h"
#include "common/core/version.h"
#include "common/http/http_server.h"

namespace {

constexpr size_t kMaxBodyBytes = 1 << 20;
constexpr const char* kVersion = mag::kProjectVersion;

struct Options {
  std::string listen = "127.0.0.1:9000";
  std::string path = "/mcp";
  bool sse = false;
  bool rebinding_protection = true;
  std::vector<std::string> allowed_hosts;
  mag::log::Level level = mag::log::Level::kInfo;
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: mcp-add-server [--listen HOST:PORT] [--path /mcp] [--sse]\n"
               "                      [--log-level debug|info|warn|error]\n"
               "  --listen     address to bind (default 127.0.0.1:9000; port 0 = any free)\n"
               "  --path       the MCP endpoint path (default /mcp)\n"
               "  --sse        answer requests with SSE streams and allow GET streams\n"
               "  --log-level  default info\n"
               "  --allowed-host NAME  accept this Host / Origin host (repeatable); turns\n"
               "               on DNS-rebinding protection for any listen address\n"
               "  --no-dns-rebinding-protection  do not check Host / Origin (they are\n"
               "               checked by default when listening on a loopback address)\n");
}

bool parse_level(std::string_view name, mag::log::Level* level) {
  using mag::log::Level;
  if (name == "debug")
    *level = Level::kDebug;
  else if (name == "info")
    *level = Level::kInfo;
  else if (name == "warn")
    *level = Level::kWarn;
  else if (name == "error")
    *level = Level::kError;
  else
    return false;
  return true;
}

// 0: run; 1: exit 0 (help/version); 2: usage error.
int parse_args(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](const char** out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 1;
    } else if (arg == "--version") {
      std::printf("mcp-add-server %s\n", kVersion);
      return 1;
    } else if (arg == "--sse") {
      options->sse = true;
    } else if (arg == "--no-dns-rebinding-protection") {
      options->rebinding_protection = false;
    } else if (arg == "--allowed-host" && value(&v) && v[0] != '\0') {
      options->allowed_hosts.emplace_back(v);
    } else if (arg == "--listen" && value(&v)) {
      options->listen = v;
    } else if (arg == "--path" && value(&v) && v[0] == '/') {
      options->path = v;
    } else if (arg == "--log-level" && value(&v) && parse_level(v, &options->level)) {
    } else {
      std::fprintf(stderr, "mcp-add-server: bad or incomplete argument: %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  return 0;
}

void on_signal(evutil_socket_t, short, void* base) noexcept {
  event_base_loopexit(static_cast<event_base*>(base), nullptr);
}

void on_sweep(evutil_socket_t, short, void* endpoint) noexcept {
  try {
    const size_t n = static_cast<mag::backend::McpEndpoint*>(endpoint)->expire_idle();
    if (n) mag::log::info("backend", std::to_string(n) + " idle session(s) expired");
  } catch (...) {
  }
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// Hosts a local server answers to (MCP transports: servers MUST validate
// Origin; a browser page on another site must not reach a local server).
std::vector<std::string> allowed_hosts(const Options& options) {
  if (!options.rebinding_protection) return {};
  std::string host;
  uint16_t port = 0;
  std::vector<std::string> hosts = options.allowed_hosts;
  if (hosts.empty() && mag::http::split_host_port(options.listen, &host, &port) &&
      is_loopback(host)) {
    hosts = {"localhost", "127.0.0.1", "[::1]"};
  }
  return hosts;
}

int run(const Options& options) {
  mag::log::set_level(options.level);
  mag::backend::json_block_cache::install();  // single-threaded process
  std::signal(SIGPIPE, SIG_IGN);
  mag::EventBasePtr base(event_base_new());
  if (!base) {
    mag::log::error("backend", "event_base_new failed");
    return 1;
  }
  mag::backend::EndpointOptions endpoint_options;
  endpoint_options.path = options.path;
  endpoint_options.sse = options.sse;
  endpoint_options.server_version = kVersion;
  endpoint_options.allowed_hosts = allowed_hosts(options);
  mag::backend::McpEndpoint endpoint(endpoint_options);

  mag::http::ServerOptions server_options;
  server_options.limits.max_body_bytes = kMaxBodyBytes;
  // Declared after the endpoint: destroyed first, so stream handlers detach
  // from sessions that still exist.
  mag::http::HttpServer server(
      base.get(), mag::backend::make_mcp_handler_factory(endpoint, kMaxBodyBytes), server_options);
  std::string error;
  if (!server.listen(options.listen, &error)) {
    mag::log::error("backend", "cannot listen on " + options.listen + ": " + error);
    return 1;
  }
  std::string host;
  uint16_t port = 0;
  mag::http::split_host_port(options.listen, &host, &port);
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::fprintf(stderr, "listening on %s:%u\n", host.c_str(), static_cast<unsigned>(server.port()));
  std::fflush(stderr);
  mag::log::info("backend", "MCP endpoint " + options.path + (options.sse ? " (SSE)" : ""));

  mag::EventPtr sigint(evsignal_new(base.get(), SIGINT, &on_signal, base.get()));
  mag::EventPtr sigterm(evsignal_new(base.get(), SIGTERM, &on_signal, base.get()));
  mag::EventPtr sweep(event_new(base.get(), -1, EV_PERSIST, &on_sweep, &endpoint));
  const timeval sweep_interval{60, 0};
  if (!sigint || !sigterm || !sweep || event_add(sigint.get(), nullptr) != 0 ||
      event_add(sigterm.get(), nullptr) != 0 || event_add(sweep.get(), &sweep_interval) != 0) {
    mag::log::error("backend", "cannot install signal handlers");
    return 1;
  }
  event_base_dispatch(base.get());
  mag::log::info("backend", "shutting down");
  server.stop_accepting();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  switch (parse_args(argc, argv, &options)) {
    case 1:
      return 0;
    case 2:
      return 2;
    default:
      break;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mcp-add-server: %s\n", e.what());
    return 1;
  }
}
