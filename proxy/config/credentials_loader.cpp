#include "proxy/config/credentials_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "proxy/config/header_names.h"
#include "proxy/config/oauth_client_loader.h"

namespace mag::config {
namespace {

// Closes the descriptor it owns.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// RFC 9110 §5.6.2 tchar, without '_': a server that folds '_' and '-'
// alike (WSGI, CGI) would read a client's `X-API-Key` as the gateway's
// `X_API_Key`.
bool is_name_char(unsigned char ch) {
  return std::isalnum(ch) ||
         std::string_view("!#$%&'*+-.^`|~").find(static_cast<char>(ch)) != std::string_view::npos;
}

}  // namespace

std::string credential_value_error(std::string_view value) {
  if (value.empty()) return "must not be empty";
  if (value.size() > kMaxCredentialValueBytes) {
    return "is longer than " + std::to_string(kMaxCredentialValueBytes) + " bytes";
  }
  for (const char c : value) {
    const auto ch = static_cast<unsigned char>(c);
    if (ch < 0x20 || ch == 0x7f) return "contains a control character (CR, LF, NUL, TAB, ...)";
  }
  if (value.front() == ' ' || value.back() == ' ') {
    return "has leading or trailing whitespace";
  }
  return "";
}

bool read_credential_file(const std::string& file, std::string* content, std::string* error) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (a reload would hang).
  const FileDescriptor fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    *error = "cannot open '" + file + "': " + std::strerror(errno);
    return false;
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    *error = "'" + file + "' is not a regular file";
    return false;
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = "cannot read '" + file + "': " + std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxCredentialFileBytes) {
      *error =
          "'" + file + "' is larger than " + std::to_string(kMaxCredentialFileBytes) + " bytes";
      return false;
    }
  }
  *content = std::move(text);
  return true;
}

bool read_credential_value(const std::string& file, std::string* value, std::string* error) {
  std::string content;
  if (!read_credential_file(file, &content, error)) return false;
  if (content.ends_with('\n')) {
    content.pop_back();
    if (content.ends_with('\r')) content.pop_back();
  }
  if (content.empty()) {
    *error = "the file is empty";
    return false;
  }
  *value = std::move(content);
  return true;
}

void CredentialsLoader::load(const YAML::Node& node, const std::string& path,
                             Upstream* upstream) const {
  auto fields = yaml_.read_map(node, path, {"headers", "client_credentials", "token_exchange"});
  if (fields.empty()) {
    yaml_.fail(node, path,
               "expected at least one of 'headers', 'client_credentials', 'token_exchange'");
  }
  auto cc = fields.find("client_credentials");
  auto te = fields.find("token_exchange");
  if (cc != fields.end() && te != fields.end()) {
    yaml_.fail(te->second.key, path,
               "'client_credentials' and 'token_exchange' are exclusive: the upstream gets one "
               "token");
  }
  if (auto it = fields.find("headers"); it != fields.end()) {
    upstream->credential_headers = headers(it->second.value, path + ".headers");
  }
  const OAuthClientLoader oauth(yaml_);
  if (cc != fields.end()) {
    upstream->client_credentials =
        oauth.load_client_credentials(cc->second.value, path + ".client_credentials");
  }
  if (te != fields.end()) {
    upstream->token_exchange =
        oauth.load_token_exchange(te->second.value, path + ".token_exchange");
  }
  if (cc == fields.end() && te == fields.end()) return;
  for (const auto& header : upstream->credential_headers) {
    if (lower_ascii(header.name) == "authorization") {
      const std::string block = cc != fields.end() ? "client_credentials" : "token_exchange";
      yaml_.fail(fields.find("headers")->second.value, path + ".headers." + header.name,
                 "'" + block + "' sets Authorization: remove the static Authorization header");
    }
  }
}

std::vector<CredentialHeader> CredentialsLoader::headers(const YAML::Node& node,
                                                         const std::string& headers_path) const {
  std::vector<CredentialHeader> headers;
  const auto entries = yaml_.read_map(node, headers_path);
  if (entries.empty()) yaml_.fail(node, headers_path, "must name at least one header");
  if (entries.size() > 64) yaml_.fail(node, headers_path, "at most 64 headers");
  for (const auto& [name, field] : entries) {
    const std::string where = headers_path + "." + name;
    const std::string checked_name = header_name(field.key, name, where);
    CredentialHeader header;
    if (field.value.IsMap()) {
      header = from_file(field.value, where);
    } else {
      header.value = yaml_.string(field.value, where);
      check_value(field.value, where, header.value);
    }
    header.name = checked_name;
    for (const auto& other : headers) {
      if (lower_ascii(other.name) == lower_ascii(header.name)) {
        yaml_.fail(field.key, where, "header '" + name + "' is listed twice (names ignore case)");
      }
    }
    headers.push_back(std::move(header));
  }
  return headers;
}

std::string CredentialsLoader::header_name(const YAML::Node& key, const std::string& name,
                                           const std::string& path) const {
  if (name.find('_') != std::string::npos) {
    yaml_.fail(key, path,
               "'" + name +
                   "': header names with '_' are refused (servers that fold '_' into "
                   "'-' would read a client's header as this one)");
  }
  if (name.empty() || name.size() > 256 || !std::all_of(name.begin(), name.end(), [](char ch) {
        return is_name_char(static_cast<unsigned char>(ch));
      })) {
    yaml_.fail(key, path, "'" + name + "' is not a header name (RFC 9110 token)");
  }
  if (is_gateway_owned_header(name) || lower_ascii(name).starts_with("x-forwarded-")) {
    yaml_.fail(key, path, "'" + name + "' is a header the gateway must not overwrite");
  }
  return name;
}

CredentialHeader CredentialsLoader::from_file(const YAML::Node& node,
                                              const std::string& path) const {
  auto fields = yaml_.read_map(node, path, {"file", "prefix"});
  auto file = fields.find("file");
  if (file == fields.end()) yaml_.fail(node, path, "missing required key 'file'");
  CredentialHeader header;
  header.file = yaml_.file_path(file->second.value, path + ".file");
  std::string prefix;
  if (auto p = fields.find("prefix"); p != fields.end()) {
    prefix = yaml_.string(p->second.value, path + ".prefix");
    header.prefixed = !prefix.empty();
  }
  std::string content, error;
  if (!read_credential_value(header.file, &content, &error)) {
    yaml_.fail(file->second.value, path + ".file", error);
  }
  header.value = prefix + content;
  check_value(file->second.value, path + ".file", header.value);
  return header;
}

void CredentialsLoader::check_value(const YAML::Node& node, const std::string& path,
                                    std::string_view value) const {
  if (std::string reason = credential_value_error(value); !reason.empty()) {
    yaml_.fail(node, path, "the value " + reason + " (the value is a secret: not shown)");
  }
}

}  // namespace mag::config
