#pragma once
// Small value types shared by the firmware controllers. Everything here is header-only or plain
// enums: the firmware layer links only the standard library, never allocates and never throws.

#include <array>
#include <chrono>
#include <cstddef>

namespace labgate::firmware {

/// Monotonic time in milliseconds since an arbitrary epoch. The caller injects it on every call;
/// the controllers never read a clock themselves.
using Millis = std::chrono::milliseconds;

/// What a controller did with one input.
enum class InputResult {
  kAccepted,      ///< the input was acted upon (possibly only reported)
  kIgnored,       ///< the input means nothing in the current state; outputs are unchanged
  kMachineInUse,  ///< a machine grant refused because another member holds the machine
  kUnavailable,   ///< a machine grant refused: startup, check-off, out of service, fire, fault
};

/// Steady state an LED (and a steady tone, if any) should show until the next call.
enum class Indicator {
  kIdle,         ///< locked door / idle machine
  kActive,       ///< door released / machine powered for a session or finishing a job
  kWarning,      ///< machine session ending (grace): warning beeps run
  kAlarm,        ///< held open, forced open, fire alarm
  kFault,        ///< the system cannot decide (store or reader down)
  kUnavailable,  ///< machine waits for staff (startup, check-off) or is out of service
};

/// One-shot feedback for the person at the reader: a short beep pattern and LED flash.
enum class Feedback {
  kNone,     ///< nothing to signal
  kGranted,  ///< access granted
  kDenied,   ///< access denied or refused
};

/// Stable lowercase name of a result ("accepted", "ignored", ...).
const char* to_string(InputResult r);
/// Stable lowercase name of an indicator ("idle", "active", ...).
const char* to_string(Indicator i);
/// Stable lowercase name of a feedback ("none", "granted", "denied").
const char* to_string(Feedback f);

/// One state change of a controller, as `change_state()` recorded it. The gateway logs it as
/// "[from] -> [to]" using the state enum's to_string().
template <typename State>
struct Transition {
  State from{};
  State to{};
  Millis at{};

  friend bool operator==(const Transition&, const Transition&) = default;
};

/// A vector with a fixed capacity and no allocation. push_back() on a full vector drops the
/// value and sets overflowed(); the controllers size their vectors so this cannot happen.
template <typename T, std::size_t N>
class FixedVector {
 public:
  /// Appends `value`; returns false (and remembers the overflow) when full.
  bool push_back(const T& value) {
    if (size_ == N) {
      overflowed_ = true;
      return false;
    }
    items_[size_++] = value;
    return true;
  }
  /// Number of stored values.
  std::size_t size() const { return size_; }
  /// True when nothing is stored.
  bool empty() const { return size_ == 0; }
  /// Maximum number of values.
  static constexpr std::size_t capacity() { return N; }
  /// True when a push_back() was dropped.
  bool overflowed() const { return overflowed_; }
  /// Value at `i`; `i` must be below size().
  const T& operator[](std::size_t i) const { return items_[i]; }
  /// Iteration over the stored values.
  const T* begin() const { return items_.data(); }
  /// End of the stored values.
  const T* end() const { return items_.data() + size_; }
  /// Removes every value.
  void clear() {
    size_ = 0;
    overflowed_ = false;
  }

  friend bool operator==(const FixedVector& a, const FixedVector& b) {
    if (a.size_ != b.size_ || a.overflowed_ != b.overflowed_) return false;
    for (std::size_t i = 0; i < a.size_; ++i) {
      if (!(a.items_[i] == b.items_[i])) return false;
    }
    return true;
  }

 private:
  std::array<T, N> items_{};
  std::size_t size_{0};
  bool overflowed_{false};
};

}  // namespace labgate::firmware
