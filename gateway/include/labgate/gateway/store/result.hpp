#pragma once
// Error values of the store. The running daemon never sees an exception from a query: every call
// returns a Result that is either a value or an Error whose kind tells the caller what to do.

#include <string>
#include <utility>
#include <variant>

namespace labgate::gateway::store {

/// What kind of failure happened, i.e. what the caller should do about it.
enum class ErrorKind {
  kBusy,  ///< SQLITE_BUSY/LOCKED past busy_timeout: another writer holds the lock; retry later
  kUnavailable,  ///< FULL, IOERR, CORRUPT, NOTADB, READONLY, CANTOPEN...: the store is unusable
  kConstraint,   ///< a UNIQUE/FOREIGN KEY/CHECK constraint refused the write: bad input
  kNotFound,     ///< the member, machine, type... named by the caller does not exist
  kInvalid,      ///< the caller's input is malformed (bad date, bad hex, empty name...)
  kConflict,     ///< the request contradicts the current state (already revoked, already closed)
  kForbidden,    ///< the declared staff account is missing or inactive, or the caller may not write
  kInternal,     ///< misuse of SQLite or a bug; should not happen
};

/// Stable lowercase name of an error kind ("busy", "unavailable", ...).
const char* to_string(ErrorKind kind);

/// A failure: its kind, the SQLite result code if any (0 otherwise) and a one-line message.
struct Error {
  ErrorKind kind{ErrorKind::kInternal};
  int sqlite_code{0};
  std::string message;

  /// True when retrying the same call later may succeed.
  bool retryable() const { return kind == ErrorKind::kBusy; }
};

/// Classifies an SQLite result code (primary or extended) into an Error with `message`.
Error error_from_sqlite(int code, std::string message);

/// Either a T or an Error (a small stand-in for C++23 std::expected).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  /// True when the call succeeded.
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  /// The value; only valid when ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  /// The error; only valid when !ok().
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result of an operation that yields nothing but success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  /// True when the call succeeded.
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  /// The error; only valid when !ok().
  const Error& error() const { return error_; }

 private:
  Error error_{};
  bool ok_{true};
};

/// Shorthand for Result<void>.
using Status = Result<void>;

}  // namespace labgate::gateway::store
