// Hot reload: SIGHUP re-reads the config file. A file that fails to load or
// validate is refused (reason in the log, mag_config_reloads_total{result=
// "failure"}) and the running config keeps serving.
#pragma once

#include <string>

#include "proxy/server/gateway.h"

namespace mag::proxy {

// Loads `path` and hands it to `gateway`. True when the new config serves.
bool reload_config(Gateway& gateway, const std::string& path);

}  // namespace mag::proxy
