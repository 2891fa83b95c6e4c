#pragma once
// Subject and key syntax shared by every Backbone implementation (backbone.hpp, "Subjects").
#include <string_view>

namespace sb::backbone {

/// No whitespace, control characters or DEL (queue-group names follow this rule).
inline bool printable(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') return false;
  }
  return true;
}

/// Non-empty tokens separated by '.', no whitespace or control characters, no wildcard tokens.
inline bool valid_subject(std::string_view s) {
  if (s.empty() || !printable(s)) return false;
  for (std::size_t start = 0;;) {
    const std::size_t dot = s.find('.', start);
    const std::string_view token = s.substr(start, dot - start);
    if (token.empty() || token == "*" || token == ">") return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace sb::backbone
