#include "labgate/firmware/common.hpp"

namespace labgate::firmware {

const char* to_string(InputResult r) {
  switch (r) {
    case InputResult::kAccepted:
      return "accepted";
    case InputResult::kIgnored:
      return "ignored";
    case InputResult::kMachineInUse:
      return "machine_in_use";
    case InputResult::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

const char* to_string(Indicator i) {
  switch (i) {
    case Indicator::kIdle:
      return "idle";
    case Indicator::kActive:
      return "active";
    case Indicator::kWarning:
      return "warning";
    case Indicator::kAlarm:
      return "alarm";
    case Indicator::kFault:
      return "fault";
    case Indicator::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

const char* to_string(Feedback f) {
  switch (f) {
    case Feedback::kNone:
      return "none";
    case Feedback::kGranted:
      return "granted";
    case Feedback::kDenied:
      return "denied";
  }
  return "unknown";
}

}  // namespace labgate::firmware
