// The YAML loader: hostile-input screening, then a schema walk that turns the
// yaml-cpp node tree into a Config, then cross-reference validation and the
// derived fields. Every error carries file:line:column and the key path.
#include "proxy/config.h"

#include <http_parser.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "common/http/hop_by_hop.h"

namespace mag::config {
namespace {

constexpr size_t kMaxFileBytes = 1024 * 1024;
// Far beyond any real config; bounds the work a crafted file can cause.
constexpr size_t kMaxNodes = 100000;

constexpr std::array<std::string_view, 10> kAllowedAlgorithms = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};

// Thrown inside the loader only; load_string turns it into a LoadError.
struct LoadFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string position(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source + ":1:1";
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// ---- screening of the raw bytes -------------------------------------------

// Returns the length of the UTF-8 sequence at s[i], or 0 when it is invalid
// (overlong forms, surrogates and code points above U+10FFFF included).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t len = 0;
  uint32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// YAML files are text: refuse NUL, other control characters and invalid
// UTF-8 up front (yaml-cpp would turn binary junk into a scalar, or guess a
// UTF-16 encoding from a stray BOM).
void screen_bytes(const std::string& source, std::string_view text) {
  if (text.size() > kMaxFileBytes) {
    throw LoadFailure(source + ": file is larger than " + std::to_string(kMaxFileBytes) + " bytes");
  }
  size_t line = 1, column = 1;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::string where = source + ":" + std::to_string(line) + ":" + std::to_string(column);
    if (c == '\n') {
      ++line;
      column = 1;
      ++i;
      continue;
    }
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7F) {
      throw LoadFailure(
          where + ": control character 0x" + std::string(1, "0123456789abcdef"[c >> 4]) +
          std::string(1, "0123456789abcdef"[c & 15]) + " is not allowed (is this a binary file?)");
    }
    const size_t len = utf8_sequence_length(text, i);
    if (len == 0) throw LoadFailure(where + ": invalid UTF-8 (is this a binary file?)");
    i += len;
    ++column;
  }
}

// A first pass over the parser events: counts documents and nodes and
// refuses anchors and aliases (an alias bomb expands exponentially when the
// tree is walked; a config never needs them).
class Screener : public YAML::EventHandler {
 public:
  explicit Screener(const std::string& source) : source_(source) {}
  int documents = 0;

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents > 1) {
      throw LoadFailure(position(source_, mark) +
                        ": more than one YAML document ('---'): a config file holds exactly one");
    }
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { node(mark, anchor); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    throw LoadFailure(position(source_, mark) + ": YAML aliases ('*name') are not supported");
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    node(mark, anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    node(mark, anchor);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    node(mark, anchor);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      throw LoadFailure(position(source_, mark) + ": YAML anchors ('&name') are not supported");
    }
    if (++nodes_ > kMaxNodes) {
      throw LoadFailure(position(source_, mark) + ": too many nodes (more than " +
                        std::to_string(kMaxNodes) + ")");
    }
  }
  const std::string& source_;
  size_t nodes_ = 0;
};

// ---- small helpers ---------------------------------------------------------

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

bool has_control_or_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c <= 0x20 || c == 0x7F;
  });
}

// RFC 6750 scope-token: %x21 / %x23-5B / %x5D-7E.
bool is_scope_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
  });
}

bool parse_port(std::string_view digits, uint16_t* port) {
  if (digits.empty() || digits.size() > 5) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  if (value == 0 || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

// "host:port" or "[v6]:port"; returns an empty string when fine, else the reason.
std::string check_host_port(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return "expected host:port, e.g. 127.0.0.1:8000";
  std::string_view host = address.substr(0, colon);
  uint16_t port = 0;
  if (!parse_port(address.substr(colon + 1), &port)) {
    return "expected host:port with a port in 1..65535";
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    const bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
    return ok ? "" : "invalid IPv6 address in brackets";
  }
  if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_char)) {
    return "expected host:port (IPv6 in brackets: [::1]:8000)";
  }
  return "";
}

struct Url {
  std::string scheme, host, authority, path;
  uint16_t port = 0;  // 0 when absent
};

// Splits an absolute http(s) URL with http_parser_parse_url. Refuses
// userinfo, query, fragment, whitespace and control characters. Returns the
// reason on failure.
std::string parse_url(std::string_view text, Url* url) {
  if (has_control_or_space(text)) return "must not contain spaces or control characters";
  if (text.find('#') != std::string_view::npos) return "must not have a fragment ('#')";
  if (text.find('?') != std::string_view::npos) return "must not have a query ('?')";
  if (text.find('@') != std::string_view::npos) return "must not contain userinfo ('@')";
  http_parser_url parsed;
  http_parser_url_init(&parsed);
  if (http_parser_parse_url(text.data(), text.size(), 0, &parsed) != 0 ||
      !(parsed.field_set & (1 << UF_SCHEMA)) || !(parsed.field_set & (1 << UF_HOST))) {
    return "is not an absolute URL";
  }
  auto field = [&](int f) {
    return std::string(text.substr(parsed.field_data[f].off, parsed.field_data[f].len));
  };
  url->scheme = field(UF_SCHEMA);
  if (url->scheme != "http" && url->scheme != "https") {
    return "must start with http:// or https://";
  }
  url->host = field(UF_HOST);
  if (url->host.empty()) return "has no host";
  if (parsed.field_set & (1 << UF_PORT)) {
    if (!parse_port(field(UF_PORT), &url->port)) return "has an invalid port";
  }
  url->path = (parsed.field_set & (1 << UF_PATH)) ? field(UF_PATH) : "";
  const size_t authority_start = url->scheme.size() + 3;  // "://"
  const size_t authority_end = text.find('/', authority_start);
  url->authority = std::string(text.substr(authority_start, authority_end - authority_start));
  return "";
}

// ---- the schema walk -------------------------------------------------------

struct Field {
  YAML::Node key;
  YAML::Node value;
};

class Loader {
 public:
  Loader(std::string source, std::filesystem::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  Config load(const std::string& text);

 private:
  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& message) const {
    throw LoadFailure(position(source_, mark) + ": " + (path.empty() ? "" : path + ": ") + message);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& path,
                         const std::string& message) const {
    fail(node.Mark(), path, message);
  }

  static std::string kind(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return "a map";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Scalar:
        return "a string";
      default:
        return "nothing (null)";
    }
  }

  std::map<std::string, Field> read_map(const YAML::Node& node, const std::string& path,
                                        std::initializer_list<std::string_view> allowed) const;
  std::map<std::string, Field> read_map(const YAML::Node& node, const std::string& path) const;
  std::string string(const YAML::Node& node, const std::string& path) const;
  std::string non_empty_string(const YAML::Node& node, const std::string& path) const;
  std::vector<std::string> string_list(const YAML::Node& node, const std::string& path) const;
  std::vector<std::string> scope_list(const YAML::Node& node, const std::string& path) const;
  int64_t integer(const YAML::Node& node, const std::string& path, int64_t min, int64_t max) const;
  std::string file_path(const YAML::Node& node, const std::string& path) const;
  void require_sequence(const YAML::Node& node, const std::string& path) const;

  void load_listeners(const YAML::Node& node, Config* config) const;
  void load_providers(const YAML::Node& node, Config* config) const;
  Provider load_provider(const std::string& name, const YAML::Node& node,
                         const std::string& path) const;
  void load_token_policy(const std::map<std::string, Field>& fields, const std::string& path,
                         Provider* provider) const;
  void load_upstreams(const YAML::Node& node, Config* config) const;
  void load_host_header(const YAML::Node& node, const std::string& path, Upstream* upstream) const;
  void load_routes(const YAML::Node& node, Config* config) const;
  Route load_route(const YAML::Node& node, const std::string& path, const Config& config) const;
  RouteAuth load_route_auth(const YAML::Node* node, const YAML::Node& route_node,
                            const std::string& path, const Config& config) const;
  void load_cors(const YAML::Node& node, Config* config) const;
  void load_access_log(const YAML::Node& node, Config* config) const;

  std::string source_;
  std::filesystem::path base_dir_;
};

std::map<std::string, Field> Loader::read_map(const YAML::Node& node,
                                              const std::string& path) const {
  if (!node.IsMap()) fail(node, path, "expected a map, got " + kind(node));
  std::map<std::string, Field> fields;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) fail(key, path, "map keys must be plain strings");
    const std::string name = key.Scalar();
    const std::string key_path = path.empty() ? name : path + "." + name;
    auto [existing, inserted] = fields.emplace(name, Field{key, it->second});
    if (!inserted) {
      fail(key, key_path,
           "duplicate key (first defined at line " +
               std::to_string(existing->second.key.Mark().line + 1) + ")");
    }
  }
  return fields;
}

std::map<std::string, Field> Loader::read_map(
    const YAML::Node& node, const std::string& path,
    std::initializer_list<std::string_view> allowed) const {
  auto fields = read_map(node, path);
  for (const auto& [name, field] : fields) {
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string message = "unknown key '" + name + "'";
    std::string_view best;
    size_t best_distance = 3;  // only suggest near misses
    for (std::string_view candidate : allowed) {
      const size_t d = edit_distance(name, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    if (!best.empty()) {
      message += " (did you mean '" + std::string(best) + "'?)";
    } else {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      message += " (expected one of: " + join(names, ", ") + ")";
    }
    fail(field.key, path, message);
  }
  return fields;
}

std::string Loader::string(const YAML::Node& node, const std::string& path) const {
  if (!node.IsScalar()) fail(node, path, "expected a string, got " + kind(node));
  std::string expanded, error;
  if (!expand_env(node.Scalar(), &expanded, &error)) fail(node, path, error);
  return expanded;
}

std::string Loader::non_empty_string(const YAML::Node& node, const std::string& path) const {
  std::string value = string(node, path);
  if (value.empty()) fail(node, path, "must not be empty");
  return value;
}

void Loader::require_sequence(const YAML::Node& node, const std::string& path) const {
  if (!node.IsSequence()) fail(node, path, "expected a list, got " + kind(node));
}

std::vector<std::string> Loader::string_list(const YAML::Node& node,
                                             const std::string& path) const {
  require_sequence(node, path);
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    out.push_back(non_empty_string(node[i], path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::vector<std::string> Loader::scope_list(const YAML::Node& node, const std::string& path) const {
  require_sequence(node, path);
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    std::string scope = string(node[i], item_path);
    if (!is_scope_token(scope)) {
      fail(node[i], item_path,
           "invalid scope '" + scope +
               "' (one token: no spaces, quotes, backslashes or non-ASCII characters)");
    }
    if (std::find(out.begin(), out.end(), scope) == out.end()) out.push_back(std::move(scope));
  }
  return out;
}

int64_t Loader::integer(const YAML::Node& node, const std::string& path, int64_t min,
                        int64_t max) const {
  const std::string text = string(node, path);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const bool complete = end == text.data() + text.size();
  if (!(ec == std::errc() || ec == std::errc::result_out_of_range) || !complete) {
    fail(node, path, "expected an integer, got '" + text + "'");
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    fail(node, path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return value;
}

std::string Loader::file_path(const YAML::Node& node, const std::string& path) const {
  const std::filesystem::path file = non_empty_string(node, path);
  if (file.is_absolute() || base_dir_.empty()) return file.string();
  return (base_dir_ / file).lexically_normal().string();
}

void Loader::load_listeners(const YAML::Node& node, Config* config) const {
  require_sequence(node, "listeners");
  if (node.size() == 0) fail(node, "listeners", "at least one listener is required");
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = "listeners[" + std::to_string(i) + "]";
    auto fields =
        read_map(node[i], path,
                 {"address", "tls", "allowed_origins", "allowed_hosts", "request_body_timeout"});
    Listener listener;
    // Slow-body defence (H1-43; docs/configuration.md): seconds, 0 = none.
    if (auto it = fields.find("request_body_timeout"); it != fields.end()) {
      listener.request_body_timeout =
          std::chrono::seconds(integer(it->second.value, path + ".request_body_timeout", 0, 3600));
    }
    if (auto it = fields.find("allowed_origins"); it != fields.end()) {
      listener.allowed_origins = string_list(it->second.value, path + ".allowed_origins");
      for (size_t j = 0; j < listener.allowed_origins.size(); ++j) {
        const std::string& origin = listener.allowed_origins[j];
        Url url;
        std::string reason = origin == "*" || origin == "null" ? "" : parse_url(origin, &url);
        if (reason.empty() && !url.path.empty()) reason = "must be an origin (no path)";
        if (!reason.empty()) {
          fail(
              it->second.value[j], path + ".allowed_origins[" + std::to_string(j) + "]",
              "'" + origin + "' " + reason + " (expected \"*\", \"null\" or scheme://host[:port])");
        }
      }
    }
    if (auto it = fields.find("allowed_hosts"); it != fields.end()) {
      listener.allowed_hosts = string_list(it->second.value, path + ".allowed_hosts");
      for (size_t j = 0; j < listener.allowed_hosts.size(); ++j) {
        const std::string& host = listener.allowed_hosts[j];
        if (host != "*" &&
            (has_control_or_space(host) || host.find_first_of("/?#@\\,") != std::string::npos)) {
          fail(it->second.value[j], path + ".allowed_hosts[" + std::to_string(j) + "]",
               "'" + host + "' is not a host or host:port");
        }
      }
    }
    auto address = fields.find("address");
    if (address == fields.end()) fail(node[i], path, "missing required key 'address'");
    listener.address = string(address->second.value, path + ".address");
    if (auto reason = check_host_port(listener.address); !reason.empty()) {
      fail(address->second.value, path + ".address", "'" + listener.address + "': " + reason);
    }
    if (auto tls = fields.find("tls"); tls != fields.end()) {
      const std::string tls_path = path + ".tls";
      auto tls_fields = read_map(tls->second.value, tls_path, {"certificate", "private_key"});
      auto cert = tls_fields.find("certificate");
      auto key = tls_fields.find("private_key");
      if (cert == tls_fields.end() || key == tls_fields.end()) {
        fail(tls->second.value, tls_path, "both 'certificate' and 'private_key' are required");
      }
      listener.tls_certificate = file_path(cert->second.value, tls_path + ".certificate");
      listener.tls_private_key = file_path(key->second.value, tls_path + ".private_key");
    }
    config->listeners.push_back(std::move(listener));
  }
}

Provider Loader::load_provider(const std::string& name, const YAML::Node& node,
                               const std::string& path) const {
  auto fields = read_map(node, path,
                         {"issuer", "jwks_uri", "jwks_file", "audiences", "algorithms",
                          "clock_skew", "jwks_refresh", "ca_file", "token_type", "required_claims",
                          "max_lifetime", "require_exp", "token_cache_size"});
  Provider provider;
  provider.name = name;
  auto issuer = fields.find("issuer");
  if (issuer == fields.end()) fail(node, path, "missing required key 'issuer'");
  provider.issuer = non_empty_string(issuer->second.value, path + ".issuer");
  if (has_control_or_space(provider.issuer)) {
    fail(issuer->second.value, path + ".issuer", "must not contain spaces or control characters");
  }

  auto uri = fields.find("jwks_uri");
  auto file = fields.find("jwks_file");
  if (uri != fields.end() && file != fields.end()) {
    fail(node, path,
         "exactly one of 'jwks_uri' and 'jwks_file' may be set (or neither, to discover "
         "jwks_uri from the issuer)");
  }
  if (uri == fields.end() && file == fields.end()) {
    // Discovery from the issuer's metadata: the issuer must be a URL we may fetch.
    Url url;
    if (auto reason = parse_url(provider.issuer, &url); !reason.empty()) {
      fail(issuer->second.value, path + ".issuer",
           "without jwks_uri or jwks_file the issuer must be an http(s) URL for discovery: '" +
               provider.issuer + "' " + reason);
    }
    const bool loopback = provider.issuer.starts_with("http://localhost") ||
                          provider.issuer.starts_with("http://127.0.0.1");
    if (!provider.issuer.starts_with("https://") && !loopback) {
      fail(issuer->second.value, path + ".issuer",
           "discovery needs an https issuer (http only for localhost/127.0.0.1)");
    }
  }
  if (uri != fields.end()) {
    provider.jwks_uri = non_empty_string(uri->second.value, path + ".jwks_uri");
    Url url;
    if (auto reason = parse_url(provider.jwks_uri, &url); !reason.empty()) {
      fail(uri->second.value, path + ".jwks_uri", "'" + provider.jwks_uri + "' " + reason);
    }
  } else if (file != fields.end()) {
    provider.jwks_file = file_path(file->second.value, path + ".jwks_file");
  }

  if (auto it = fields.find("audiences"); it != fields.end()) {
    provider.audiences = string_list(it->second.value, path + ".audiences");
  }
  if (auto it = fields.find("algorithms"); it != fields.end()) {
    const std::string algs_path = path + ".algorithms";
    require_sequence(it->second.value, algs_path);
    if (it->second.value.size() == 0) fail(it->second.value, algs_path, "must not be empty");
    provider.algorithms.clear();
    for (size_t i = 0; i < it->second.value.size(); ++i) {
      const YAML::Node item = it->second.value[i];
      const std::string item_path = algs_path + "[" + std::to_string(i) + "]";
      const std::string alg = string(item, item_path);
      if (alg == "none" || alg == "None" || alg == "NONE") {
        fail(item, item_path, "algorithm 'none' is refused: it would accept unsigned tokens");
      }
      if (alg.size() >= 2 && (alg[0] == 'H' || alg[0] == 'h') && (alg[1] == 'S' || alg[1] == 's')) {
        fail(item, item_path,
             "symmetric algorithm '" + alg +
                 "' is refused: with a public JWKS the public key would act as an HMAC "
                 "secret (algorithm confusion)");
      }
      if (std::find(kAllowedAlgorithms.begin(), kAllowedAlgorithms.end(), alg) ==
          kAllowedAlgorithms.end()) {
        fail(item, item_path,
             "unknown algorithm '" + alg +
                 "' (allowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, "
                 "EdDSA)");
      }
      if (std::find(provider.algorithms.begin(), provider.algorithms.end(), alg) ==
          provider.algorithms.end()) {
        provider.algorithms.push_back(alg);
      }
    }
  }
  if (auto it = fields.find("clock_skew"); it != fields.end()) {
    provider.clock_skew =
        std::chrono::seconds(integer(it->second.value, path + ".clock_skew", 0, 600));
  }
  if (auto it = fields.find("jwks_refresh"); it != fields.end()) {
    provider.jwks_refresh =
        std::chrono::seconds(integer(it->second.value, path + ".jwks_refresh", 10, 86400));
  }
  if (auto it = fields.find("token_cache_size"); it != fields.end()) {
    provider.token_cache_size =
        static_cast<size_t>(integer(it->second.value, path + ".token_cache_size", 0, 1000000));
  }
  load_token_policy(fields, path, &provider);
  return provider;
}

void Loader::load_token_policy(const std::map<std::string, Field>& fields, const std::string& path,
                               Provider* provider) const {
  if (auto it = fields.find("ca_file"); it != fields.end()) {
    provider->ca_file = file_path(it->second.value, path + ".ca_file");
  }
  if (auto it = fields.find("token_type"); it != fields.end()) {
    provider->token_type = string(it->second.value, path + ".token_type");
    if (provider->token_type != "jwt" && provider->token_type != "at+jwt" &&
        provider->token_type != "any") {
      fail(it->second.value, path + ".token_type",
           "'" + provider->token_type + "' is not one of jwt, at+jwt, any");
    }
  }
  if (auto it = fields.find("required_claims"); it != fields.end()) {
    provider->required_claims = string_list(it->second.value, path + ".required_claims");
    for (const auto& claim : provider->required_claims) {
      if (claim.empty()) fail(it->second.value, path + ".required_claims", "empty claim name");
    }
  }
  if (auto it = fields.find("max_lifetime"); it != fields.end()) {
    provider->max_lifetime =
        std::chrono::seconds(integer(it->second.value, path + ".max_lifetime", 60, 31536000));
  }
  if (auto it = fields.find("require_exp"); it != fields.end()) {
    const std::string value = string(it->second.value, path + ".require_exp");
    if (value != "true" && value != "false") {
      fail(it->second.value, path + ".require_exp", "must be true or false");
    }
    provider->require_exp = value == "true";
  }
}

void Loader::load_providers(const YAML::Node& node, Config* config) const {
  for (const auto& [name, field] : read_map(node, "providers")) {
    const std::string path = "providers." + name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_host_char)) {
      fail(field.key, path, "provider names use letters, digits, '.', '-' and '_'");
    }
    config->providers.emplace(name, load_provider(name, field.value, path));
  }
}

void Loader::load_upstreams(const YAML::Node& node, Config* config) const {
  for (const auto& [name, field] : read_map(node, "upstreams")) {
    const std::string path = "upstreams." + name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_host_char)) {
      fail(field.key, path, "upstream names use letters, digits, '.', '-' and '_'");
    }
    auto fields = read_map(field.value, path,
                           {"url", "endpoints", "max_connections", "connect_timeout",
                            "response_header_timeout", "idle_timeout", "host_header"});
    auto url_field = fields.find("url");
    auto endpoints_field = fields.find("endpoints");
    if (url_field != fields.end() && endpoints_field != fields.end()) {
      fail(endpoints_field->second.key, path,
           "'url' and 'endpoints' are exclusive: list every address in 'endpoints'");
    }
    if (url_field == fields.end() && endpoints_field == fields.end()) {
      fail(field.value, path, "missing required key 'url' (or 'endpoints')");
    }
    Upstream upstream;
    upstream.name = name;
    // One endpoint URL; every endpoint must carry the same base path.
    auto endpoint = [&](const YAML::Node& value, const std::string& where) {
      UpstreamEndpoint e;
      e.url = string(value, where);
      Url url;
      std::string reason = parse_url(e.url, &url);
      if (reason.empty() && url.scheme != "http") {
        reason = "must be http:// (the gateway talks plain HTTP/1.1 to upstreams)";
      }
      if (!reason.empty()) {
        fail(value, where, "'" + e.url + "' " + reason + " (expected http://host:port[/path])");
      }
      e.host = url.host;
      e.port = url.port == 0 ? 80 : url.port;
      std::string base_path = url.path;
      while (!base_path.empty() && base_path.back() == '/') base_path.pop_back();
      if (upstream.endpoints.empty()) {
        upstream.base_path = base_path;
      } else if (base_path != upstream.base_path) {
        fail(value, where,
             "'" + e.url + "' has the path '" + base_path + "' but the first endpoint has '" +
                 upstream.base_path + "': every endpoint serves the same path");
      }
      for (const auto& other : upstream.endpoints) {
        if (other.host == e.host && other.port == e.port) {
          fail(value, where, "'" + e.url + "' is listed twice");
        }
      }
      upstream.endpoints.push_back(std::move(e));
    };
    if (url_field != fields.end()) {
      endpoint(url_field->second.value, path + ".url");
    } else {
      const YAML::Node list = endpoints_field->second.value;
      require_sequence(list, path + ".endpoints");
      if (list.size() == 0) fail(list, path + ".endpoints", "must list at least one URL");
      if (list.size() > 64) fail(list, path + ".endpoints", "at most 64 endpoints");
      for (size_t i = 0; i < list.size(); ++i) {
        endpoint(list[i], path + ".endpoints[" + std::to_string(i) + "]");
      }
    }
    upstream.url = upstream.endpoints.front().url;
    upstream.host = upstream.endpoints.front().host;
    upstream.port = upstream.endpoints.front().port;
    if (auto f = fields.find("max_connections"); f != fields.end()) {
      upstream.max_connections =
          static_cast<size_t>(integer(f->second.value, path + ".max_connections", 1, 100000));
    }
    auto seconds = [&](const char* key, int64_t min, int64_t max, std::chrono::milliseconds* out) {
      if (auto f = fields.find(key); f != fields.end()) {
        *out = std::chrono::seconds(integer(f->second.value, path + "." + key, min, max));
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
    config->upstreams.emplace(name, std::move(upstream));
  }
}

void Loader::load_host_header(const YAML::Node& node, const std::string& path,
                              Upstream* upstream) const {
  const std::string value = string(node, path);
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
    fail(node, path, "expected 'upstream', 'client' or a host[:port] to send, got '" + value + "'");
  }
}

RouteAuth Loader::load_route_auth(const YAML::Node* node, const YAML::Node& route_node,
                                  const std::string& path, const Config& config) const {
  RouteAuth auth;
  const YAML::Node& where = node ? *node : route_node;
  if (node && node->IsScalar()) {
    const std::string value = string(*node, path);
    if (value != "none") fail(*node, path, "expected 'none' or a map, got '" + value + "'");
    auth.enabled = false;
    return auth;
  }
  std::map<std::string, Field> fields;
  if (node) {
    fields = read_map(*node, path, {"providers", "scopes", "tools", "methods", "allow_missing"});
  }

  if (auto it = fields.find("providers"); it != fields.end()) {
    const YAML::Node list = it->second.value;
    auth.providers = string_list(list, path + ".providers");
    if (auth.providers.empty()) fail(list, path + ".providers", "must not be empty");
    for (size_t i = 0; i < auth.providers.size(); ++i) {
      if (!config.providers.count(auth.providers[i])) {
        fail(list[i], path + ".providers[" + std::to_string(i) + "]",
             "unknown provider '" + auth.providers[i] + "'");
      }
    }
  } else if (config.providers.size() == 1) {
    auth.providers.push_back(config.providers.begin()->first);
  } else {
    fail(where, path,
         config.providers.empty()
             ? "auth is enabled but no providers are configured (use 'auth: none' to disable it)"
             : "several providers are configured: list this route's in 'providers'");
  }

  if (auto it = fields.find("scopes"); it != fields.end()) {
    auth.scopes = scope_list(it->second.value, path + ".scopes");
  }
  // `name: [scopes]` or `name: deny`; "*" is the default for unlisted names.
  auto load_rules = [&](const char* key, std::map<std::string, std::vector<std::string>>* scoped,
                        std::vector<std::string>* denied) {
    auto it = fields.find(key);
    if (it == fields.end()) return;
    for (const auto& [name, field] : read_map(it->second.value, path + "." + key)) {
      const std::string rule_path = path + "." + key + "." + name;
      if (name.empty() || has_control_or_space(name)) fail(field.key, rule_path, "invalid name");
      if (field.value.IsScalar()) {
        if (string(field.value, rule_path) != "deny") {
          fail(field.value, rule_path, "expected a list of scopes or 'deny'");
        }
        denied->push_back(name);
        continue;
      }
      scoped->emplace(name, scope_list(field.value, rule_path));
    }
  };
  load_rules("tools", &auth.tools, &auth.denied_tools);
  load_rules("methods", &auth.methods, &auth.denied_methods);
  if (auto it = fields.find("allow_missing"); it != fields.end()) {
    const std::string value = string(it->second.value, path + ".allow_missing");
    if (value != "true" && value != "false") {
      fail(it->second.value, path + ".allow_missing", "expected true or false");
    }
    auth.allow_missing = value == "true";
  }
  return auth;
}

Route Loader::load_route(const YAML::Node& node, const std::string& path,
                         const Config& config) const {
  auto fields = read_map(node, path,
                         {"path_prefix", "upstream", "resource", "resource_name", "auth",
                          "claim_to_headers", "forward_payload_header", "timeouts"});
  Route route;
  // Per-route overrides of the upstream's timeouts: same names, same ranges.
  if (auto it = fields.find("timeouts"); it != fields.end()) {
    const std::string where = path + ".timeouts";
    auto timeouts = read_map(it->second.value, where,
                             {"connect_timeout", "response_header_timeout", "idle_timeout"});
    auto seconds = [&](const char* key, int64_t min, int64_t max,
                       std::optional<std::chrono::milliseconds>* out) {
      if (auto f = timeouts.find(key); f != timeouts.end()) {
        *out = std::chrono::seconds(integer(f->second.value, where + "." + key, min, max));
      }
    };
    seconds("connect_timeout", 1, 300, &route.timeouts.connect_timeout);
    seconds("response_header_timeout", 1, 3600, &route.timeouts.response_header_timeout);
    seconds("idle_timeout", 0, 86400, &route.timeouts.idle_timeout);
  }
  // Identity headers (issue 4, JWT-CLM-16): validated names only, so nothing
  // odd reaches the upstream, and never a field the gateway or the HTTP
  // framing owns (overwriting Host, Content-Length or a hop-by-hop field
  // would change how the upstream reads the request).
  std::vector<std::string> identity_names;  // lower case, to refuse duplicates
  auto header_name = [&](const YAML::Node& value, const std::string& where) {
    std::string name = non_empty_string(value, where);
    const bool token =
        name.size() <= 256 && std::all_of(name.begin(), name.end(), [](unsigned char ch) {
          return std::isalnum(ch) || ch == '-' || ch == '_';
        });
    if (!token) {
      fail(value, where, "'" + name + "' is not a header name (letters, digits, '-', '_')");
    }
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    static constexpr std::string_view kReserved[] = {
        // framing, routing and credentials
        "host", "authorization", "content-length", "transfer-encoding", "content-type",
        "content-encoding", "expect", "cookie",
        // MCP and the gateway's own fields
        "origin", "accept", "last-event-id", "mcp-session-id", "mcp-protocol-version", "forwarded",
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "x-request-id"};
    if (std::find(std::begin(kReserved), std::end(kReserved), lower) != std::end(kReserved) ||
        std::ranges::find(http::kHopByHopFields, lower) != http::kHopByHopFields.end()) {
      fail(value, where, "'" + name + "' is a header the gateway must not overwrite");
    }
    if (std::find(identity_names.begin(), identity_names.end(), lower) != identity_names.end()) {
      fail(value, where, "header '" + name + "' is already used by this route");
    }
    identity_names.push_back(lower);
    return name;
  };
  if (auto it = fields.find("claim_to_headers"); it != fields.end()) {
    for (const auto& [claim, field] : read_map(it->second.value, path + ".claim_to_headers")) {
      const std::string where = path + ".claim_to_headers." + claim;
      if (claim.empty() || claim.size() > 256 || has_control_or_space(claim)) {
        fail(field.key, where, "invalid claim name");
      }
      route.claim_to_headers.push_back({claim, header_name(field.value, where)});
    }
  }
  if (auto it = fields.find("forward_payload_header"); it != fields.end()) {
    route.forward_payload_header = header_name(it->second.value, path + ".forward_payload_header");
  }

  auto prefix = fields.find("path_prefix");
  if (prefix == fields.end()) fail(node, path, "missing required key 'path_prefix'");
  route.path_prefix = string(prefix->second.value, path + ".path_prefix");
  const auto& p = route.path_prefix;
  if (p.empty() || p.front() != '/') {
    fail(prefix->second.value, path + ".path_prefix", "must start with '/'");
  }
  if (has_control_or_space(p) || p.find_first_of("?#\\%") != std::string::npos ||
      p.find("//") != std::string::npos) {
    fail(prefix->second.value, path + ".path_prefix",
         "must be a plain path (no spaces, '?', '#', '%', '\\' or '//')");
  }
  if (p.size() > 1 && p.back() == '/') {
    fail(prefix->second.value, path + ".path_prefix",
         "must not end with '/' (write '" + p.substr(0, p.size() - 1) +
             "': it matches that path and everything below it)");
  }

  auto upstream = fields.find("upstream");
  if (upstream == fields.end()) fail(node, path, "missing required key 'upstream'");
  route.upstream = string(upstream->second.value, path + ".upstream");
  if (!config.upstreams.count(route.upstream)) {
    fail(upstream->second.value, path + ".upstream", "unknown upstream '" + route.upstream + "'");
  }

  const auto auth = fields.find("auth");
  route.auth = load_route_auth(auth == fields.end() ? nullptr : &auth->second.value, node,
                               path + ".auth", config);

  if (auto name = fields.find("resource_name"); name != fields.end()) {
    route.resource_name = non_empty_string(name->second.value, path + ".resource_name");
  }

  auto resource = fields.find("resource");
  if (resource == fields.end()) {
    if (route.auth.enabled) {
      fail(node, path,
           "missing required key 'resource' (the public URL of this route, e.g. "
           "https://gateway.example.com" +
               route.path_prefix + "; required when auth is enabled)");
    }
    return route;
  }
  route.resource = non_empty_string(resource->second.value, path + ".resource");
  Url url;
  if (auto reason = parse_url(route.resource, &url); !reason.empty()) {
    fail(resource->second.value, path + ".resource", "'" + route.resource + "' " + reason);
  }
  // RFC 9728 §3.1: insert the well-known segment between the authority and
  // the path; an origin-only resource ("https://h" or "https://h/") maps to the root.
  const std::string resource_path = url.path == "/" ? "" : url.path;
  route.metadata_path = "/.well-known/oauth-protected-resource" + resource_path;
  route.resource_metadata_url = url.scheme + "://" + url.authority + route.metadata_path;
  return route;
}

void Loader::load_routes(const YAML::Node& node, Config* config) const {
  require_sequence(node, "routes");
  if (node.size() == 0) fail(node, "routes", "at least one route is required");
  std::map<std::string, size_t> prefixes, metadata_paths;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = "routes[" + std::to_string(i) + "]";
    Route route = load_route(node[i], path, *config);
    if (auto [it, inserted] = prefixes.emplace(route.path_prefix, i); !inserted) {
      fail(node[i]["path_prefix"], path + ".path_prefix",
           "duplicate path_prefix '" + route.path_prefix + "' (also routes[" +
               std::to_string(it->second) + "])");
    }
    if (route.auth.enabled) {
      if (auto [it, inserted] = metadata_paths.emplace(route.metadata_path, i); !inserted) {
        fail(node[i]["resource"], path + ".resource",
             "resource '" + route.resource + "' has the same metadata path '" +
                 route.metadata_path + "' as routes[" + std::to_string(it->second) +
                 "]: give each protected route its own resource path");
      }
    }
    // Every route strips every route's identity headers (JWT-CLM-16): a
    // client must not reach an upstream with X-MCP-Subject through a public
    // route either.
    for (const auto& mapping : route.claim_to_headers) {
      config->identity_header_names.push_back(mapping.header);
    }
    if (!route.forward_payload_header.empty()) {
      config->identity_header_names.push_back(route.forward_payload_header);
    }
    config->routes.push_back(std::move(route));
  }
}

// `access_log: off`, or a map {path, format, identity, identity_key}.
void Loader::load_access_log(const YAML::Node& node, Config* config) const {
  if (node.IsScalar() && (node.Scalar() == "off" || node.Scalar() == "false")) {
    config->access_log.enabled = false;
    return;
  }
  auto fields = read_map(node, "access_log", {"path", "format", "identity", "identity_key"});
  if (auto it = fields.find("path"); it != fields.end()) {
    const std::string raw = string(it->second.value, "access_log.path");
    config->access_log.path =
        raw.empty() || raw == "-" ? raw : file_path(it->second.value, "access_log.path");
  }
  if (auto it = fields.find("format"); it != fields.end()) {
    config->access_log.format = string(it->second.value, "access_log.format");
    if (config->access_log.format != "json" && config->access_log.format != "text") {
      fail(it->second.value, "access_log.format",
           "'" + config->access_log.format + "' is not one of json, text");
    }
  }
  // `identity: MODE` (sub and client_id) or `identity: {sub: MODE, client_id: MODE}`.
  AccessLog& access_log = config->access_log;
  if (auto it = fields.find("identity"); it != fields.end()) {
    auto mode = [&](const YAML::Node& value, const std::string& path) {
      std::string name = string(value, path);
      if (name != "plain" && name != "hash" && name != "omit") {
        fail(value, path, "'" + name + "' is not one of plain, hash, omit");
      }
      return name;
    };
    const YAML::Node& value = it->second.value;
    if (value.IsMap()) {
      auto per_field = read_map(value, "access_log.identity", {"sub", "client_id"});
      if (auto f = per_field.find("sub"); f != per_field.end()) {
        access_log.identity_sub = mode(f->second.value, "access_log.identity.sub");
      }
      if (auto f = per_field.find("client_id"); f != per_field.end()) {
        access_log.identity_client_id = mode(f->second.value, "access_log.identity.client_id");
      }
    } else if (value.IsScalar()) {
      access_log.identity_sub = access_log.identity_client_id = mode(value, "access_log.identity");
    } else {
      fail(value, "access_log.identity",
           "expected plain, hash, omit or a map {sub, client_id}, got " + kind(value));
    }
  }
  if (auto it = fields.find("identity_key"); it != fields.end()) {
    // A short key could be found by trying keys against a known subject.
    constexpr size_t kMinKeyBytes = 16;
    access_log.identity_key = string(it->second.value, "access_log.identity_key");
    if (access_log.identity_key.size() < kMinKeyBytes) {
      fail(it->second.value, "access_log.identity_key",
           "must be at least 16 bytes (e.g. the output of `openssl rand -hex 32`)");
    }
    // Refused rather than ignored: the operator believes identities are hashed.
    if (access_log.identity_sub != "hash" && access_log.identity_client_id != "hash") {
      fail(it->second.key, "access_log.identity_key",
           "is only used with identity: hash, and no field is hashed");
    }
  }
}

void Loader::load_cors(const YAML::Node& node, Config* config) const {
  auto fields = read_map(node, "cors", {"allowed_origins"});
  auto origins = fields.find("allowed_origins");
  if (origins == fields.end()) return;
  const YAML::Node list = origins->second.value;
  config->cors.allowed_origins = string_list(list, "cors.allowed_origins");
  for (size_t i = 0; i < config->cors.allowed_origins.size(); ++i) {
    const std::string& origin = config->cors.allowed_origins[i];
    if (origin == "*") continue;
    Url url;
    std::string reason = parse_url(origin, &url);
    if (reason.empty() && !url.path.empty()) reason = "must be an origin (no path)";
    if (!reason.empty()) {
      fail(list[i], "cors.allowed_origins[" + std::to_string(i) + "]",
           "'" + origin + "' " + reason + " (expected \"*\" or scheme://host[:port])");
    }
  }
}

Config Loader::load(const std::string& text) {
  screen_bytes(source_, text);
  {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    Screener screener(source_);
    while (parser.HandleNextDocument(screener)) {
    }
    if (screener.documents == 0) {
      throw LoadFailure(source_ +
                        ":1:1: the file is empty: expected a map with listeners, providers, "
                        "upstreams and routes");
    }
  }
  const std::vector<YAML::Node> documents = YAML::LoadAll(text);
  if (documents.size() != 1) {
    throw LoadFailure(source_ + ":1:1: expected exactly one YAML document");
  }
  const YAML::Node root = documents.front();
  if (!root.IsMap()) {
    fail(root, "",
         "the top level must be a map with listeners, providers, upstreams and routes, got " +
             kind(root));
  }
  auto fields = read_map(root, "",
                         {"listeners", "admin", "providers", "upstreams", "routes", "cors",
                          "log_level", "access_log", "authz", "drain_timeout", "workers"});

  Config config;
  config.source = source_;
  auto need = [&](const char* key) -> const YAML::Node& {
    auto it = fields.find(key);
    if (it == fields.end()) fail(root, "", std::string("missing required key '") + key + "'");
    return it->second.value;
  };
  load_listeners(need("listeners"), &config);
  if (auto it = fields.find("admin"); it != fields.end()) {
    auto admin = read_map(it->second.value, "admin", {"address"});
    if (auto address = admin.find("address"); address != admin.end()) {
      config.admin.address = string(address->second.value, "admin.address");
      config.admin.address_configured = true;
      if (auto reason = check_host_port(config.admin.address);
          !config.admin.address.empty() && !reason.empty()) {
        fail(address->second.value, "admin.address", "'" + config.admin.address + "': " + reason);
      }
      for (const auto& listener : config.listeners) {
        if (listener.address == config.admin.address) {
          fail(address->second.value, "admin.address",
               "'" + config.admin.address +
                   "' is also a public listener; the admin interface "
                   "must have an address of its own");
        }
      }
    }
  }
  if (auto it = fields.find("access_log"); it != fields.end()) {
    load_access_log(it->second.value, &config);
  }
  if (auto it = fields.find("providers"); it != fields.end()) {
    load_providers(it->second.value, &config);
  }
  load_upstreams(need("upstreams"), &config);
  load_routes(need("routes"), &config);
  if (auto it = fields.find("authz"); it != fields.end()) {
    auto authz = read_map(
        it->second.value, "authz",
        {"session_idle_timeout", "max_sessions", "stream_expiry_grace", "max_inspected_body"});
    if (auto f = authz.find("session_idle_timeout"); f != authz.end()) {
      config.authz.session_idle_timeout =
          std::chrono::seconds(integer(f->second.value, "authz.session_idle_timeout", 10, 604800));
    }
    if (auto f = authz.find("max_sessions"); f != authz.end()) {
      config.authz.max_sessions =
          static_cast<size_t>(integer(f->second.value, "authz.max_sessions", 1, 10000000));
    }
    if (auto f = authz.find("stream_expiry_grace"); f != authz.end()) {
      config.authz.stream_expiry_grace =
          std::chrono::seconds(integer(f->second.value, "authz.stream_expiry_grace", 0, 3600));
    }
    if (auto f = authz.find("max_inspected_body"); f != authz.end()) {
      config.authz.max_inspected_body =
          static_cast<size_t>(integer(f->second.value, "authz.max_inspected_body", 1024, 16 << 20));
    }
  }
  config.cors.allowed_origins = {"*"};
  if (auto it = fields.find("cors"); it != fields.end()) load_cors(it->second.value, &config);
  if (auto it = fields.find("drain_timeout"); it != fields.end()) {
    config.drain_timeout =
        std::chrono::seconds(integer(it->second.value, "drain_timeout", 0, 3600));
  }
  if (auto it = fields.find("workers"); it != fields.end()) {
    config.workers = static_cast<size_t>(integer(it->second.value, "workers", 0, 64));
  }
  if (auto it = fields.find("log_level"); it != fields.end()) {
    config.log_level = string(it->second.value, "log_level");
    static constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
    if (std::find(std::begin(kLevels), std::end(kLevels), config.log_level) == std::end(kLevels)) {
      fail(it->second.value, "log_level",
           "'" + config.log_level + "' is not one of debug, info, warn, error");
    }
  }
  return config;
}

// yaml-cpp's parser messages are terse; add the likely cause for the two
// mistakes people make most: `${...}` inside a flow collection (YAML ends a
// plain scalar at `{` there) and tabs used for indentation.
std::string parse_error_hint(const std::string& text, const std::string& message,
                             const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  std::istringstream lines(text);
  std::string line;
  for (int i = 0; i <= mark.line && std::getline(lines, line); ++i) {
    const size_t indent_end = line.find_first_not_of(" \t");
    if (line.substr(0, indent_end).find('\t') != std::string::npos) {
      return " (line " + std::to_string(i + 1) +
             " is indented with a tab: YAML allows only spaces for indentation)";
    }
  }
  if (line.find("${") != std::string::npos && line.find_first_of("[{") != std::string::npos) {
    return " (inside [ ] or { }, quote values that use ${...}: \"${VAR}\")";
  }
  if (message == "bad file") return " (nested too deeply?)";
  return "";
}

std::string base_dir_of(const std::string& source_name) {
  if (source_name.empty() || source_name.front() == '<') return "";
  return std::filesystem::path(source_name).parent_path().string();
}

LoadResult load_with_base(const std::string& yaml, const std::string& source_name,
                          const std::string& base_dir) {
  LoadResult result;
  try {
    Loader loader(source_name, base_dir);
    result.config = std::make_shared<const Config>(loader.load(yaml));
  } catch (const LoadFailure& e) {
    result.error = LoadError{e.what()};
  } catch (const YAML::Exception& e) {
    result.error = LoadError{position(source_name, e.mark) + ": " + e.msg +
                             parse_error_hint(yaml, e.msg, e.mark)};
  } catch (const std::exception& e) {
    result.error = LoadError{source_name + ": " + e.what()};
  }
  return result;
}

}  // namespace

bool expand_env(const std::string& in, std::string* out, std::string* error) {
  std::string result;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size() || (in[i + 1] != '$' && in[i + 1] != '{')) {
      result += in[i];
      continue;
    }
    if (in[i + 1] == '$') {
      result += '$';
      ++i;
      continue;
    }
    const size_t close = in.find('}', i + 2);
    if (close == std::string::npos) {
      *error = "unterminated '${' (write '$$' for a literal '$')";
      return false;
    }
    const std::string body = in.substr(i + 2, close - i - 2);
    const size_t separator = body.find(":-");
    const std::string name = body.substr(0, separator);
    const bool valid_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                            std::all_of(name.begin(), name.end(), [](char c) {
                              return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                            });
    if (!valid_name) {
      *error =
          "invalid variable reference '${" + body + "}' (expected ${NAME} or ${NAME:-default})";
      return false;
    }
    const char* value = std::getenv(name.c_str());
    if (value && *value) {
      result += value;
    } else if (separator != std::string::npos) {
      result += body.substr(separator + 2);
    } else if (value) {
      // Set but empty, no default: keep the empty value; validation decides.
    } else {
      *error = "environment variable '" + name + "' is not set (use ${" + name +
               ":-default} to give a default)";
      return false;
    }
    i = close;
  }
  *out = std::move(result);
  return true;
}

LoadResult load_string(const std::string& yaml, const std::string& source_name) {
  return load_with_base(yaml, source_name, base_dir_of(source_name));
}

LoadResult load_file(const std::string& path) {
  LoadResult result;
  try {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      result.error = LoadError{path + ": cannot open the file"};
      return result;
    }
    std::string text;
    std::array<char, 65536> buffer;
    while (file.read(buffer.data(), buffer.size()) || file.gcount() > 0) {
      text.append(buffer.data(), static_cast<size_t>(file.gcount()));
      if (text.size() > kMaxFileBytes) {
        result.error =
            LoadError{path + ": file is larger than " + std::to_string(kMaxFileBytes) + " bytes"};
        return result;
      }
    }
    if (file.bad()) {
      result.error = LoadError{path + ": read error"};
      return result;
    }
    // Absolute, so that resolved file paths survive a later chdir.
    const std::string base = std::filesystem::absolute(path).parent_path().string();
    return load_with_base(text, path, base);
  } catch (const std::exception& e) {
    result.error = LoadError{path + ": " + e.what()};
    return result;
  }
}

}  // namespace mag::config
