#pragma once
// Enrollment at a reader: staff arm a reader for a member, and the next card presented there is
// bound to that member (store::StaffRegistry::enroll_credential) instead of being decided on.
// Runs on the loop thread only; time comes from the daemon's Clock so a manual clock drives
// timeouts.

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::app {

/// Pending and finished enrollments, one slot per reader.
class Enrollments {
 public:
  /// Longest wait a command may ask for.
  static constexpr std::chrono::seconds kMaxTimeout{600};
  /// Wait when the command gives none.
  static constexpr std::chrono::seconds kDefaultTimeout{30};

  /// `readers`: the reader ids that may be armed. `clock` must outlive this object.
  Enrollments(std::set<std::string> readers, Clock& clock);

  /// Control command `enroll <reader> <member_no> [timeout_s] [actor]`: arms the reader
  /// (replacing any earlier slot of that reader) and returns "ok armed <reader>", or "err ...".
  std::string arm_command(const std::vector<std::string>& args);
  /// Control command `enroll-status <reader>`: "ok waiting", "ok enrolled <member> <tech>
  /// credential=<id>", "err timeout", "err <store error>" or "err not armed <reader>".
  std::string status_command(const std::vector<std::string>& args);

  /// Control command `enroll-cancel <reader>`: a waiting slot stops waiting ("ok cancelled");
  /// "err not armed <reader>" when there is none, "err finished" when it is done already.
  std::string cancel_command(const std::vector<std::string>& args);

  /// Site card interceptor: takes the card when its reader is armed and not expired, enrolls it
  /// in `store`, answers `done` (outcome reason "enrolled" or "enroll_failed") and returns true.
  bool intercept(const drivers::ReaderEvent& event, store::Store& store, Site::TapDone& done);

 private:
  enum class State { kWaiting, kEnrolled, kFailed, kTimeout, kCancelled };
  struct Slot {
    std::string member_no;
    std::string actor;
    std::chrono::milliseconds deadline{0};
    State state{State::kWaiting};
    std::string result;  // reply line once finished
  };
  void expire(Slot& slot) const;

  std::set<std::string> readers_;
  Clock& clock_;
  std::map<std::string, Slot> slots_;
};

}  // namespace labgate::gateway::app
