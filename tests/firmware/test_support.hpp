#pragma once
// Helpers shared by the firmware tests: readable Catch2 output for the enums and comparisons of
// fixed vectors with plain lists.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "labgate/firmware/door_controller.hpp"
#include "labgate/firmware/machine_interlock.hpp"

namespace labgate::firmware::test {

/// Milliseconds literal-ish helper: ms(5000).
inline Millis ms(long long v) {
  return Millis{v};
}

/// Copies a fixed vector into a std::vector for comparison with a braced list.
template <typename T, std::size_t N>
std::vector<T> list(const FixedVector<T, N>& v) {
  return std::vector<T>(v.begin(), v.end());
}

}  // namespace labgate::firmware::test

namespace Catch {

#define LABGATE_ENUM_STRING_MAKER(E)                                            \
  template <>                                                                   \
  struct StringMaker<E> {                                                       \
    static std::string convert(E e) { return labgate::firmware::to_string(e); } \
  };

LABGATE_ENUM_STRING_MAKER(labgate::firmware::InputResult)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::Indicator)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::Feedback)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::DoorState)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::DoorEvent)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::DoorContact)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::UnlockCause)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::DoorConfigError)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::MachineState)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::MachineConfigError)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::OutOfServiceReason)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::EndReason)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::MachineEventKind)
LABGATE_ENUM_STRING_MAKER(labgate::firmware::MachineAlarmKind)

#undef LABGATE_ENUM_STRING_MAKER

template <typename S>
struct StringMaker<labgate::firmware::Transition<S>> {
  static std::string convert(const labgate::firmware::Transition<S>& t) {
    return std::string("[") + labgate::firmware::to_string(t.from) + "] -> [" +
           labgate::firmware::to_string(t.to) + "] @" + std::to_string(t.at.count());
  }
};

template <>
struct StringMaker<labgate::firmware::MachineEvent> {
  static std::string convert(const labgate::firmware::MachineEvent& e) {
    return std::string("{") + labgate::firmware::to_string(e.kind) +
           " member=" + std::to_string(e.member) + " at=" + std::to_string(e.at.count()) +
           " started=" + std::to_string(e.started_at.count()) +
           " reason=" + labgate::firmware::to_string(e.reason) + "}";
  }
};

template <>
struct StringMaker<labgate::firmware::MachineAlarm> {
  static std::string convert(const labgate::firmware::MachineAlarm& a) {
    return std::string("{") + labgate::firmware::to_string(a.kind) +
           (a.raised ? " raised" : " cleared") + " member=" + std::to_string(a.member) +
           " at=" + std::to_string(a.at.count()) + "}";
  }
};

}  // namespace Catch
