// mcp-auth-gateway: the command line. Runs the gateway, validates a config,
// or (development only) mints a token for the dev signing key.
#include <event2/event.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/core/c_handles.h"
#include "common/core/event_loop.h"
#include "common/core/log.h"
#include "common/core/version.h"
#include "proxy/admin/admin_server.h"
#include "proxy/admin/doctor.h"
#include "proxy/config/config.h"
#include "proxy/server/config_reload.h"
#include "proxy/server/gateway.h"
#include "proxy/tools/dev_token_cli.h"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  mcp-auth-gateway --config FILE [--log-level debug|info|warn|error]\n"
    "  mcp-auth-gateway --check-config FILE\n"
    "  mcp-auth-gateway doctor --config FILE [--json]   (checks what MCP clients will see)\n"
    "  mcp-auth-gateway dev-token [options]    (development only; --help for options)\n"
    "  mcp-auth-gateway --version\n";

bool set_log_level(const std::string& name) {
  using mag::log::Level;
  if (name == "debug")
    mag::log::set_level(Level::kDebug);
  else if (name == "info")
    mag::log::set_level(Level::kInfo);
  else if (name == "warn")
    mag::log::set_level(Level::kWarn);
  else if (name == "error")
    mag::log::set_level(Level::kError);
  else
    return false;
  return true;
}

int check_config(const std::string& path) {
  auto loaded = mag::config::load_file(path);
  if (loaded.error) {
    fprintf(stderr, "%s\n", loaded.error->message.c_str());
    return 1;
  }
  fprintf(stderr, "%s: OK (%zu route(s), %zu provider(s), %zu upstream(s))\n", path.c_str(),
          loaded.config->routes.size(), loaded.config->providers.size(),
          loaded.config->upstreams.size());
  return 0;
}

// Graceful shutdown: the first SIGTERM/SIGINT stops accepting and
// lets the exchanges in flight finish; the loop ends when none is left or
// at the drain timeout (long SSE streams are then closed by the gateway's
// destructor). A second signal stops at once.
struct StopTarget {
  event_base* base;
  mag::proxy::Gateway* gateway;
  std::chrono::milliseconds drain_timeout;
  mag::EventPtr poll;
  mag::EventPtr deadline;
  bool stopping = false;
};

void check_drained(evutil_socket_t, short, void* arg) {
  auto* target = static_cast<StopTarget*>(arg);
  if (target->gateway->active_connections() == 0) {
    mag::log::info("main", "all connections drained");
    event_base_loopexit(target->base, nullptr);
    return;
  }
  timeval tv{0, 50000};
  evtimer_add(target->poll.get(), &tv);
}

void on_drain_deadline(evutil_socket_t, short, void* arg) {
  auto* target = static_cast<StopTarget*>(arg);
  mag::log::info("main", "drain timeout: closing " +
                             std::to_string(target->gateway->active_connections()) +
                             " connection(s)");
  event_base_loopexit(target->base, nullptr);
}

void on_stop_signal(evutil_socket_t sig, short, void* arg) {
  auto* target = static_cast<StopTarget*>(arg);
  if (target->stopping) {
    mag::log::info("main", std::string("received ") + strsignal(sig) + " again, stopping now");
    event_base_loopexit(target->base, nullptr);
    return;
  }
  target->stopping = true;
  mag::log::info("main", std::string("received ") + strsignal(sig) + ", draining (up to " +
                             std::to_string(target->drain_timeout.count()) + " ms)");
  try {
    target->gateway->drain();
  } catch (const std::exception& e) {
    mag::log::error("main", std::string("drain failed: ") + e.what());
  }
  target->poll.reset(evtimer_new(target->base, check_drained, target));
  target->deadline.reset(evtimer_new(target->base, on_drain_deadline, target));
  timeval tv{static_cast<time_t>(target->drain_timeout.count() / 1000),
             static_cast<suseconds_t>((target->drain_timeout.count() % 1000) * 1000)};
  evtimer_add(target->deadline.get(), &tv);
  check_drained(-1, 0, target);
}

struct ReloadTarget {
  mag::proxy::Gateway* gateway;
  std::string path;
};

void on_reload_signal(evutil_socket_t, short, void* arg) {
  auto* target = static_cast<ReloadTarget*>(arg);
  try {
    mag::proxy::reload_config(*target->gateway, target->path);
  } catch (const std::exception& e) {
    mag::log::error("reload", std::string("reload failed: ") + e.what());
  }
}

int run(const std::string& path, const std::string& log_level_flag) {
  auto loaded = mag::config::load_file(path);
  if (loaded.error) {
    fprintf(stderr, "%s\n", loaded.error->message.c_str());
    return 1;
  }
  if (!set_log_level(log_level_flag.empty() ? loaded.config->log_level : log_level_flag)) {
    fprintf(stderr, "unknown log level '%s'\n", log_level_flag.c_str());
    return 2;
  }
  // A peer that closes early must not kill the process with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  // The first base: new_event_base() enables libevent's thread support
  // before any base exists (workers wake this loop from their threads).
  mag::EventBasePtr base(mag::new_event_base());
  if (!base) {
    fprintf(stderr, "cannot create the event loop\n");
    return 1;
  }
  mag::proxy::Gateway gateway(
      base.get(), loaded.config, [](event_base* main_loop, mag::proxy::AdminContext context) {
        return std::make_unique<mag::proxy::AdminServer>(main_loop, std::move(context));
      });
  std::string error;
  if (!gateway.start(&error)) {
    fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  StopTarget stop_target{base.get(), &gateway, loaded.config->drain_timeout, {}, {}};
  mag::EventPtr sigint(evsignal_new(base.get(), SIGINT, on_stop_signal, &stop_target));
  mag::EventPtr sigterm(evsignal_new(base.get(), SIGTERM, on_stop_signal, &stop_target));
  evsignal_add(sigint.get(), nullptr);
  evsignal_add(sigterm.get(), nullptr);
  ReloadTarget reload_target{&gateway, path};
  mag::EventPtr sighup(evsignal_new(base.get(), SIGHUP, on_reload_signal, &reload_target));
  evsignal_add(sighup.get(), nullptr);
  event_base_dispatch(base.get());
  gateway.stop_accepting();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "dev-token") {
    return mag::proxy::dev_token_main(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "doctor") {
    return mag::proxy::doctor_main(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::string config_path, log_level;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if ((a == "--config" || a == "-c") && has_value) {
      config_path = args[++i];
    } else if (a == "--check-config" && has_value) {
      return check_config(args[++i]);
    } else if (a == "--log-level" && has_value) {
      log_level = args[++i];
    } else if (a == "--version") {
      printf("mcp-auth-gateway %s\n", mag::kProjectVersion);
      return 0;
    } else if (a == "--help" || a == "-h") {
      printf("%s", kUsage);
      return 0;
    } else {
      fprintf(stderr, "unknown or incomplete argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    fprintf(stderr, "%s", kUsage);
    return 2;
  }
  return run(config_path, log_level);
}
