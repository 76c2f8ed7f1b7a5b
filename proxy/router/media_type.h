// A media type as RFC 9110 §8.3.1 writes it, read by its grammar and nothing
// more lenient:
//
//   media-type = type "/" subtype parameters
//   parameters = *( OWS ";" OWS [ parameter ] )
//   parameter  = token "=" ( token / quoted-string )
//
// No whitespace around "=" (RFC 9110 §5.6.6), quoted-pairs unescaped, empty
// parameters (";;") allowed as the grammar allows them. A list of media
// types (a comma-joined field) is not a media type. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_message.h"

namespace mag::proxy {

struct MediaTypeParameter {
  std::string name;   // lower case (parameter names are case-insensitive)
  std::string value;  // as sent, quoted-pairs unescaped, quotes removed
};

struct MediaType {
  std::string type;                            // lower case
  std::string subtype;                         // lower case
  std::vector<MediaTypeParameter> parameters;  // in field order, empty ones left out
};

// nullopt when `field_value` is not exactly one media type by the grammar
// above (leading and trailing whitespace of the field value is ignored).
std::optional<MediaType> parse_media_type(std::string_view field_value);

// True for `application/json` with no parameter or with exactly one, a
// `charset` whose value is `utf-8` (names and values compared
// case-insensitively; "utf8" and every other charset are not UTF-8 here).
bool is_plain_json(const MediaType& media_type);

// True when `headers` has exactly one Content-Type and its media type is
// `text/event-stream` in any case (RFC 9110 §8.3.1), parameters ignored:
// how an SSE client decides the framing of a response.
bool is_event_stream(const http::HeaderMap& headers);

}  // namespace mag::proxy
