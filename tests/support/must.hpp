#pragma once
// must(): the value of a store call that a test needs to succeed. A failure throws, which fails
// the running test case with the store's message (and outside a test case, stops the fixture).

#include <stdexcept>
#include <string>
#include <utility>

#include "labgate/gateway/store/result.hpp"

namespace labgate::testing {

/// The value of `r`; throws std::runtime_error("<what>: <message>") when it failed.
template <typename T>
T must(gateway::store::Result<T> r, const std::string& what = "store call") {
  if (!r.ok()) throw std::runtime_error(what + ": " + r.error().message);
  return std::move(r).value();
}

/// Throws std::runtime_error("<what>: <message>") when `s` failed.
inline void must(const gateway::store::Status& s, const std::string& what = "store call") {
  if (!s.ok()) throw std::runtime_error(what + ": " + s.error().message);
}

}  // namespace labgate::testing
