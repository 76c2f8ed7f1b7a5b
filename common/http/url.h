// One parser for absolute http(s) URLs, shared by the config loader and the
// fetch client. It splits and validates; each caller decides what it accepts
// beyond that (the config refuses queries and fragments, the fetch client
// sends the query and drops the fragment) and words its own errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mag::http {

// Why a URL was refused, in the order the checks run: bytes first, then the
// shape (scheme "://" host [":" port]), then the scheme, then the port value.
enum class UrlError {
  kNone,
  kSpaceOrControl,  // a byte <= 0x20 or 0x7f
  kNotAbsolute,     // no alphabetic "scheme://", a bad host, or a port not digits <= 65535
  kUserinfo,        // '@' in the authority (credentials end up in logs)
  kScheme,          // a scheme other than http or https (or not in lower case, if so asked)
  kPort,            // port 0, or more than five digits
};

struct Url {
  std::string scheme;                   // "http" / "https", lower-cased
  std::string host;                     // as written; IPv6 without brackets
  std::string authority;                // as written, between "://" and the path, query or fragment
  uint16_t port = 0;                    // as written; 0 when absent
  std::string path;                     // from the first '/' of the path; empty when there is none
  std::optional<std::string> query;     // after '?', without it
  std::optional<std::string> fragment;  // after '#', without it

  // The written port, else 80 for http and 443 for https.
  uint16_t effective_port() const;
};

// How the scheme may be written: RFC 3986 makes it case-insensitive; the
// config accepts only the lower-case spelling.
enum class SchemeCase { kAny, kLowerOnly };

// Parses `text` into `out` (left untouched on failure). Bytes >= 0x80 are
// accepted in the path, query and fragment, never in the host.
UrlError parse_absolute_url(std::string_view text, Url* out,
                            SchemeCase scheme_case = SchemeCase::kAny);

}  // namespace mag::http
