#include "proxy/config/access_log_loader.h"

namespace mag::config {

void AccessLogLoader::load(const YAML::Node& node, Config* config) const {
  if (node.IsScalar() && (node.Scalar() == "off" || node.Scalar() == "false")) {
    config->access_log.enabled = false;
    return;
  }
  auto fields = yaml_.read_map(node, "access_log", {"path", "format", "identity", "identity_key"});
  if (auto it = fields.find("path"); it != fields.end()) {
    const std::string raw = yaml_.string(it->second.value, "access_log.path");
    config->access_log.path =
        raw.empty() || raw == "-" ? raw : yaml_.file_path(it->second.value, "access_log.path");
  }
  if (auto it = fields.find("format"); it != fields.end()) {
    config->access_log.format = yaml_.string(it->second.value, "access_log.format");
    if (config->access_log.format != "json" && config->access_log.format != "text") {
      yaml_.fail(it->second.value, "access_log.format",
                 "'" + config->access_log.format + "' is not one of json, text");
    }
  }
  // `identity: MODE` (sub and client_id) or `identity: {sub: MODE, client_id: MODE}`.
  AccessLog& access_log = config->access_log;
  if (auto it = fields.find("identity"); it != fields.end()) {
    auto mode = [&](const YAML::Node& value, const std::string& path) {
      std::string name = yaml_.string(value, path);
      if (name != "plain" && name != "hash" && name != "omit") {
        yaml_.fail(value, path, "'" + name + "' is not one of plain, hash, omit");
      }
      return name;
    };
    const YAML::Node& value = it->second.value;
    if (value.IsMap()) {
      auto per_field = yaml_.read_map(value, "access_log.identity", {"sub", "client_id"});
      if (auto f = per_field.find("sub"); f != per_field.end()) {
        access_log.identity_sub = mode(f->second.value, "access_log.identity.sub");
      }
      if (auto f = per_field.find("client_id"); f != per_field.end()) {
        access_log.identity_client_id = mode(f->second.value, "access_log.identity.client_id");
      }
    } else if (value.IsScalar()) {
      access_log.identity_sub = access_log.identity_client_id = mode(value, "access_log.identity");
    } else {
      yaml_.fail(value, "access_log.identity",
                 "expected plain, hash, omit or a map {sub, client_id}, got " + yaml_.kind(value));
    }
  }
  if (auto it = fields.find("identity_key"); it != fields.end()) {
    // A short key could be found by trying keys against a known subject.
    constexpr size_t kMinKeyBytes = 16;
    access_log.identity_key = yaml_.string(it->second.value, "access_log.identity_key");
    if (access_log.identity_key.size() < kMinKeyBytes) {
      yaml_.fail(it->second.value, "access_log.identity_key",
                 "must be at least 16 bytes (e.g. the output of `openssl rand -hex 32`)");
    }
    // Refused rather than ignored: the operator believes identities are hashed.
    if (access_log.identity_sub != "hash" && access_log.identity_client_id != "hash") {
      yaml_.fail(it->second.key, "access_log.identity_key",
                 "is only used with identity: hash, and no field is hashed");
    }
  }
}

}  // namespace mag::config
