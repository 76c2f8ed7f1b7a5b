#include "proxy/config/upstreams_loader.h"

#include <algorithm>

#include "common/tls/tls_client_context.h"
#include "proxy/config/credentials_loader.h"
#include "proxy/config/value_syntax.h"

namespace mag::config {

void UpstreamsLoader::load(const YAML::Node& node, Config* config) const {
  for (const auto& [name, field] : yaml_.read_map(node, "upstreams")) {
    const std::string path = "upstreams." + name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_host_char)) {
      yaml_.fail(field.key, path, "upstream names use letters, digits, '.', '-' and '_'");
    }
    auto fields =
        yaml_.read_map(field.value, path,
                       {"url", "endpoints", "max_connections", "connect_timeout",
                        "response_header_timeout", "idle_timeout", "host_header", "ca_file",
                        "client_cert_file", "client_key_file", "tls_server_name", "credentials"});
    auto url_field = fields.find("url");
    auto endpoints_field = fields.find("endpoints");
    if (url_field != fields.end() && endpoints_field != fields.end()) {
      yaml_.fail(endpoints_field->second.key, path,
                 "'url' and 'endpoints' are exclusive: list every address in 'endpoints'");
    }
    if (url_field == fields.end() && endpoints_field == fields.end()) {
      yaml_.fail(field.value, path, "missing required key 'url' (or 'endpoints')");
    }
    Upstream upstream;
    upstream.name = name;
    // One endpoint URL; every endpoint must carry the same base path.
    auto endpoint = [&](const YAML::Node& value, const std::string& where) {
      UpstreamEndpoint e;
      e.url = yaml_.string(value, where);
      Url url;
      std::string reason = parse_url(e.url, &url);
      if (!reason.empty()) {
        yaml_.fail(value, where,
                   "'" + e.url + "' " + reason + " (expected http(s)://host[:port][/path])");
      }
      const bool tls = url.scheme == "https";
      if (upstream.endpoints.empty()) {
        upstream.tls = tls;
      } else if (tls != upstream.tls) {
        yaml_.fail(value, where,
                   "'" + e.url + "' does not use the first endpoint's scheme: every endpoint is " +
                       (upstream.tls ? "https://" : "http://"));
      }
      e.host = url.host;
      e.port = url.port == 0 ? (tls ? 443 : 80) : url.port;
      std::string base_path = url.path;
      while (!base_path.empty() && base_path.back() == '/') base_path.pop_back();
      if (upstream.endpoints.empty()) {
        upstream.base_path = base_path;
      } else if (base_path != upstream.base_path) {
        yaml_.fail(value, where,
                   "'" + e.url + "' has the path '" + base_path + "' but the first endpoint has '" +
                       upstream.base_path + "': every endpoint serves the same path");
      }
      for (const auto& other : upstream.endpoints) {
        if (other.host == e.host && other.port == e.port) {
          yaml_.fail(value, where, "'" + e.url + "' is listed twice");
        }
      }
      upstream.endpoints.push_back(std::move(e));
    };
    if (url_field != fields.end()) {
      endpoint(url_field->second.value, path + ".url");
    } else {
      const YAML::Node list = endpoints_field->second.value;
      yaml_.require_sequence(list, path + ".endpoints");
      if (list.size() == 0) yaml_.fail(list, path + ".endpoints", "must list at least one URL");
      if (list.size() > 64) yaml_.fail(list, path + ".endpoints", "at most 64 endpoints");
      for (size_t i = 0; i < list.size(); ++i) {
        endpoint(list[i], path + ".endpoints[" + std::to_string(i) + "]");
      }
    }
    upstream.url = upstream.endpoints.front().url;
    upstream.host = upstream.endpoints.front().host;
    upstream.port = upstream.endpoints.front().port;
    if (auto f = fields.find("max_connections"); f != fields.end()) {
      upstream.max_connections =
          static_cast<size_t>(yaml_.integer(f->second.value, path + ".max_connections", 1, 100000));
    }
    auto seconds = [&](const char* key, int64_t min, int64_t max, std::chrono::milliseconds* out) {
      if (auto f = fields.find(key); f != fields.end()) {
        *out = std::chrono::seconds(yaml_.integer(f->second.value, path + "." + key, min, max));
      }
    };
    seconds("connect_timeout", 1, 300, &upstream.connect_timeout);
    seconds("response_header_timeout", 1, 3600, &upstream.response_header_timeout);
    seconds("idle_timeout", 0, 86400, &upstream.idle_timeout);
    if (auto f = fields.find("host_header"); f != fields.end()) {
      load_host_header(f->second.value, path + ".host_header", &upstream);
    }
    if (upstream.host_header != Upstream::HostHeader::kFixed) {
      upstream.host_header_value = upstream.host.find(':') != std::string::npos
                                       ? "[" + upstream.host + "]:" + std::to_string(upstream.port)
                                       : upstream.host + ":" + std::to_string(upstream.port);
    }
    load_tls(fields, path, &upstream);
    if (auto f = fields.find("credentials"); f != fields.end()) {
      CredentialsLoader(yaml_).load(f->second.value, path + ".credentials", &upstream);
    }
    config->upstreams.emplace(name, std::move(upstream));
  }
}

void UpstreamsLoader::load_tls(const std::map<std::string, Field>& fields, const std::string& path,
                               Upstream* upstream) const {
  auto file = [&](const char* key, std::string* out) -> const Field* {
    auto f = fields.find(key);
    if (f == fields.end()) return nullptr;
    if (!upstream->tls) {
      yaml_.fail(f->second.key, path + "." + key,
                 std::string("'") + key + "' needs an https:// upstream");
    }
    *out = yaml_.file_path(f->second.value, path + "." + key);
    return &f->second;
  };
  const Field* ca = file("ca_file", &upstream->ca_file);
  const Field* cert = file("client_cert_file", &upstream->client_cert_file);
  const Field* key = file("client_key_file", &upstream->client_key_file);
  if ((cert == nullptr) != (key == nullptr)) {
    const Field* given = cert ? cert : key;
    yaml_.fail(given->key, path,
               "'client_cert_file' and 'client_key_file' go together (mTLS): set both or neither");
  }
  if (auto f = fields.find("tls_server_name"); f != fields.end()) {
    if (!upstream->tls) {
      yaml_.fail(f->second.key, path + ".tls_server_name",
                 "'tls_server_name' needs an https:// upstream");
    }
    const std::string name = yaml_.non_empty_string(f->second.value, path + ".tls_server_name");
    if (!tls::is_ip_literal(name) && !std::all_of(name.begin(), name.end(), is_host_char)) {
      yaml_.fail(f->second.value, path + ".tls_server_name",
                 "expected a host name or an IP address, got '" + name + "'");
    }
    upstream->tls_server_name = name;
  }
  if (!upstream->tls) return;
  std::string error;
  upstream->tls_context = http::UpstreamTls::create({.ca_file = upstream->ca_file,
                                                     .client_cert_file = upstream->client_cert_file,
                                                     .client_key_file = upstream->client_key_file,
                                                     .server_name = upstream->tls_server_name},
                                                    &error);
  if (!upstream->tls_context) {
    // The file the error names (the key for a mismatch), else the CA bundle.
    const Field* where = ca;
    if (key && error.find(upstream->client_key_file) != std::string::npos) {
      where = key;
    } else if (cert && error.find(upstream->client_cert_file) != std::string::npos) {
      where = cert;
    }
    if (where) yaml_.fail(where->value, path, error);
    yaml_.fail(fields.begin()->second.key, path, error);
  }
}

void UpstreamsLoader::load_host_header(const YAML::Node& node, const std::string& path,
                                       Upstream* upstream) const {
  const std::string value = yaml_.string(node, path);
  if (value == "upstream") {
    upstream->host_header = Upstream::HostHeader::kUpstream;
  } else if (value == "client") {
    upstream->host_header = Upstream::HostHeader::kClient;
  } else if (check_host_port(value).empty() ||
             (!value.empty() && std::all_of(value.begin(), value.end(), is_host_char))) {
    // host:port, [v6]:port or a bare name: nothing that could split a header.
    upstream->host_header = Upstream::HostHeader::kFixed;
    upstream->host_header_value = value;
  } else {
    yaml_.fail(node, path,
               "expected 'upstream', 'client' or a host[:port] to send, got '" + value + "'");
  }
}

}  // namespace mag::config
