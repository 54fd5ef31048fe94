#pragma once
// A minimal expected-style result until the toolchain has std::expected (C++23).

#include <stdexcept>
#include <utility>
#include <variant>

namespace labgate::gateway::policy {

/// Either a value of type T or an error of type E. Accessing the wrong alternative throws
/// std::logic_error: it is a programming error, never a consequence of bad input.
template <class T, class E>
class Result {
 public:
  /// A successful result.
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
  /// A failed result.
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit on purpose

  /// True when the result holds a value.
  bool has_value() const noexcept { return v_.index() == 0; }
  /// Same as has_value().
  explicit operator bool() const noexcept { return has_value(); }

  /// The value; throws std::logic_error when the result holds an error.
  const T& value() const& {
    if (!has_value()) throw std::logic_error("Result::value() called on an error");
    return std::get<0>(v_);
  }
  /// The value, moved out; throws std::logic_error when the result holds an error.
  T&& value() && {
    if (!has_value()) throw std::logic_error("Result::value() called on an error");
    return std::get<0>(std::move(v_));
  }
  /// The error; throws std::logic_error when the result holds a value.
  const E& error() const& {
    if (has_value()) throw std::logic_error("Result::error() called on a value");
    return std::get<1>(v_);
  }

  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, E> v_;
};

}  // namespace labgate::gateway::policy
