// `mcp-auth-gateway doctor --config FILE [--json]`: walks, for every
// protected route, the discovery chain an MCP client walks, and says what
// will stop a client from logging in before a user finds out.
//
//   resource   vs the listeners: scheme, host, port, trailing slash
//   PRM        both locations on the running gateway's public URL (or the
//              document built from the config when the gateway is not up)
//   AS         RFC 8414 and OIDC discovery, path-inserted and appended forms;
//              issuer echo, S256 PKCE, jwks_uri, registration path
//   JWKS       fetched (or read), a key for each configured algorithm
//   audience   resource vs the audiences the provider accepts
//   CORS       browser clients
//   upstream   every route's upstream endpoints answer an MCP initialize
//              on the path the route forwards to (proxy/admin/mcp_initialize_probe.h)
//
// A provider whose keys come from a local jwks_file has no authorization
// server to discover (the dev setup): that is reported at INFO, not as an error.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/fetch/http_fetch.h"
#include "proxy/config/config.h"

namespace mag::proxy {

enum class Severity { kOk, kInfo, kWarning, kError };
std::string_view severity_name(Severity s);  // "ok", "info", "warning", "error"

struct Finding {
  Severity severity = Severity::kInfo;
  std::string route;  // path_prefix, or "" for the whole config
  std::string check;  // stable id: "prm.path_inserted", "as.issuer", "jwks.algorithms", ...
  std::string message;
};

struct DoctorReport {
  std::string config_path;
  std::vector<Finding> findings;
  size_t count(Severity s) const;
};

// Synchronous GET used by the doctor (injectable for tests). `ca_file`: the
// provider's CA bundle for https ("" for the system store).
using DoctorFetch =
    std::function<http::FetchResult(const std::string& url, const std::string& ca_file)>;
// Synchronous request of any method (the upstream checks; injectable too);
// `options.upstream_tls` carries an https upstream's TLS settings.
using DoctorSend = std::function<http::FetchResult(const http::FetchRequest& request,
                                                   const http::FetchOptions& options)>;
// A fetch on a private event loop, with http_get's limits and a 5 s deadline.
http::FetchResult blocking_get(const std::string& url, const std::string& ca_file);
http::FetchResult blocking_request(const http::FetchRequest& request,
                                   const http::FetchOptions& options);

DoctorReport run_doctor(const config::Config& config, const DoctorFetch& fetch,
                        const DoctorSend& send);

// Discovery URLs for an issuer, in the order MCP clients try them:
// RFC 8414 path-inserted, OIDC path-inserted, OIDC appended (an issuer
// without a path has two: RFC 8414 and OIDC).
std::vector<std::string> authorization_server_metadata_urls(const std::string& issuer);

std::string format_report_text(const DoctorReport& report);
std::string format_report_json(const DoctorReport& report);

// The CLI: exit 0 without errors, 1 with errors, 2 on usage or config errors.
int doctor_main(const std::vector<std::string>& args);

}  // namespace mag::proxy
