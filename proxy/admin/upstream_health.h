// Upstream health for /ready when `admin.ready_checks_upstreams` is true.
//
// Every `interval` (5 s), on the admin listener's event loop (the main
// loop), a TCP connect to every endpoint of every upstream a route uses,
// each bounded by `connect_timeout` (2 s); the connection is closed as soon
// as it is established. A TCP connect rather than an MCP initialize: it
// costs the upstream no session (a probe every few seconds would otherwise
// fill its session table and its logs) and it answers the question /ready
// asks, "can requests reach it now"; `doctor` does the full MCP check.
//
// Never blocks the loop (connects and name resolution are asynchronous);
// states() may be called from any thread. An upstream is down when none of
// its endpoints accepted in the latest round; before the first round ends
// it is "not checked yet", which is not ready either.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/core/c_handles.h"
#include "proxy/config/config.h"

struct evdns_base;

namespace mag::proxy {

class UpstreamHealth {
 public:
  struct EndpointState {
    std::string upstream;
    std::string url;
    bool checked = false;  // a round has ended for it
    bool up = false;
    std::string error;  // why not up
  };
  // The config to probe, read at every round (a reload takes effect at the
  // next one); null or ready_checks_upstreams false: nothing is probed.
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;

  UpstreamHealth(event_base* base, ConfigSource source,
                 std::chrono::milliseconds interval = std::chrono::seconds(5),
                 std::chrono::milliseconds connect_timeout = std::chrono::seconds(2));
  ~UpstreamHealth();
  UpstreamHealth(const UpstreamHealth&) = delete;
  UpstreamHealth& operator=(const UpstreamHealth&) = delete;

  // Starts the rounds (the first one at once).
  void start();
  // Ends the rounds and the probes in flight.
  void stop();

  std::vector<EndpointState> states() const;

 private:
  struct Probe;
  struct DnsDeleter {
    void operator()(evdns_base* dns) const noexcept;
  };

  static void on_tick(evutil_socket_t, short, void* arg) noexcept;
  static void on_deadline(evutil_socket_t, short, void* arg) noexcept;
  void start_round();
  void finish(Probe* probe, bool up, std::string error);
  void end_round();

  event_base* base_;
  ConfigSource source_;
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds connect_timeout_;
  mutable std::mutex mutex_;
  std::vector<EndpointState> states_;  // guarded by mutex_
  std::vector<EndpointState> round_;   // the round in progress (loop thread only)
  std::vector<std::unique_ptr<Probe>> probes_;
  std::unique_ptr<evdns_base, DnsDeleter> dns_;
  EventPtr tick_;
  EventPtr deadline_;
};

}  // namespace mag::proxy
