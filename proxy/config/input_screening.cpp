#include "proxy/config/input_screening.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <sstream>
#include <string_view>

#include "proxy/config/load_failure.h"

namespace mag::config {
namespace {

// Far beyond any real config; bounds the work a crafted file can cause.
constexpr size_t kMaxNodes = 100000;

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

}  // namespace

void screen_input(const std::string& source, const std::string& text) {
  screen_bytes(source, text);
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  Screener screener(source);
  while (parser.HandleNextDocument(screener)) {
  }
  if (screener.documents == 0) {
    throw LoadFailure(source +
                      ":1:1: the file is empty: expected a map with listeners, providers, "
                      "upstreams and routes");
  }
}

}  // namespace mag::config
