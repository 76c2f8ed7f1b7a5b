#include "proxy/admin/upstream_health.h"

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/util.h>

#include <set>

#include "common/core/event_loop.h"
#include "common/core/log.h"

namespace mag::proxy {

struct UpstreamHealth::Probe {
  UpstreamHealth* owner = nullptr;
  size_t index = 0;  // in round_
  BufferEventPtr bev;

  static void on_event(bufferevent* bev, short what, void* arg) noexcept {
    auto* probe = static_cast<Probe*>(arg);
    try {
      if (what & BEV_EVENT_CONNECTED) return probe->owner->finish(probe, true, "");
      std::string error = "connection failed";
      if (const int dns_error = bufferevent_socket_get_dns_error(bev)) {
        error = std::string("cannot resolve: ") + evutil_gai_strerror(dns_error);
      } else if (const int err = EVUTIL_SOCKET_ERROR()) {
        error = std::string("cannot connect: ") + evutil_socket_error_to_string(err);
      }
      probe->owner->finish(probe, false, std::move(error));
    } catch (...) {
      log::error("admin", "exception in upstream probe callback");
    }
  }
};

void UpstreamHealth::DnsDeleter::operator()(evdns_base* dns) const noexcept {
  evdns_base_free(dns, 0);  // the probes' bufferevents are gone first
}

UpstreamHealth::UpstreamHealth(event_base* base, ConfigSource source,
                               std::chrono::milliseconds interval,
                               std::chrono::milliseconds connect_timeout)
    : base_(base),
      source_(std::move(source)),
      interval_(interval),
      connect_timeout_(connect_timeout),
      tick_(event_new(base, -1, EV_PERSIST, &UpstreamHealth::on_tick, this)),
      deadline_(event_new(base, -1, 0, &UpstreamHealth::on_deadline, this)) {}

UpstreamHealth::~UpstreamHealth() {
  stop();
}

void UpstreamHealth::start() {
  if (!tick_ || !deadline_) return;
  const timeval every = to_timeval(interval_);
  event_add(tick_.get(), &every);
  event_active(tick_.get(), EV_TIMEOUT, 0);
}

void UpstreamHealth::stop() {
  if (tick_) event_del(tick_.get());
  if (deadline_) event_del(deadline_.get());
  probes_.clear();
  dns_.reset();
}

std::vector<UpstreamHealth::EndpointState> UpstreamHealth::states() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return states_;
}

void UpstreamHealth::on_tick(evutil_socket_t, short, void* arg) noexcept {
  try {
    static_cast<UpstreamHealth*>(arg)->start_round();
  } catch (...) {
    log::error("admin", "exception starting upstream probes");
  }
}

void UpstreamHealth::on_deadline(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<UpstreamHealth*>(arg);
  try {
    for (auto& probe : self->probes_) {
      if (probe) self->round_[probe->index].error = "connect timeout";
    }
    self->probes_.clear();
    self->end_round();
  } catch (...) {
    log::error("admin", "exception in upstream probe deadline");
  }
}

void UpstreamHealth::start_round() {
  if (!probes_.empty()) return;  // the previous round is still within its deadline
  auto config = source_ ? source_() : nullptr;
  round_.clear();
  if (!config || !config->admin.ready_checks_upstreams) {
    std::lock_guard<std::mutex> lock(mutex_);
    states_.clear();
    return;
  }
  std::set<std::string> used;
  for (const auto& route : config->routes) used.insert(route.upstream);
  for (const auto& name : used) {
    auto it = config->upstreams.find(name);
    if (it == config->upstreams.end()) continue;
    for (const auto& endpoint : it->second.endpoints) {
      round_.push_back({name, endpoint.url, false, false, "connect did not finish"});
      if (!dns_) dns_.reset(evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS));
      if (!dns_) {
        // Without an asynchronous resolver the connect would resolve on this loop.
        round_.back().error = "no DNS resolver";
        continue;
      }
      auto probe = std::make_unique<Probe>();
      probe->owner = this;
      probe->index = round_.size() - 1;
      // Deferred callbacks: none runs inside bufferevent_socket_connect_hostname.
      probe->bev.reset(
          bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS));
      if (!probe->bev) {
        round_.back().error = "out of memory";
        continue;
      }
      bufferevent_setcb(probe->bev.get(), nullptr, nullptr, &Probe::on_event, probe.get());
      if (bufferevent_socket_connect_hostname(probe->bev.get(), dns_.get(), AF_UNSPEC,
                                              endpoint.host.c_str(), endpoint.port) != 0) {
        round_.back().error = "cannot start connecting";
        continue;
      }
      probes_.push_back(std::move(probe));
    }
  }
  if (probes_.empty()) return end_round();
  const timeval limit = to_timeval(connect_timeout_);
  event_add(deadline_.get(), &limit);
}

void UpstreamHealth::finish(Probe* probe, bool up, std::string error) {
  EndpointState& state = round_[probe->index];
  state.up = up;
  state.error = std::move(error);
  for (auto& p : probes_) {
    if (p.get() == probe) p.reset();  // frees the bufferevent (allowed in its callback)
  }
  for (const auto& p : probes_) {
    if (p) return;
  }
  probes_.clear();
  event_del(deadline_.get());
  end_round();
}

void UpstreamHealth::end_round() {
  for (auto& state : round_) state.checked = true;
  std::lock_guard<std::mutex> lock(mutex_);
  states_ = round_;
}

}  // namespace mag::proxy
