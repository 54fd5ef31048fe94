// Substring checks on daemon replies and log text, shared by the suites that read them (a unity
// build compiles several of those files as one unit, where file-local copies would clash).
#pragma once

#include <string>

namespace labgate::testing {

/// True when `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// True when `text` begins with `prefix`.
inline bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

}  // namespace labgate::testing
