#pragma once
// Helpers shared by the libnfc-over-pty tests: emulator fixture, event recorder.

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/drivers/pn532_emu/emulator.hpp"
#include "process.hpp"

namespace nfc_test {

using namespace std::chrono_literals;
using labgate::drivers::Clock;
using labgate::drivers::ReaderEvent;

/// libnfc must not scan serial ports or read a system device list in tests.
inline void quiet_libnfc() {
  ::setenv("LIBNFC_AUTO_SCAN", "false", 1);
  ::setenv("LIBNFC_INTRUSIVE_SCAN", "false", 1);
  ::setenv("LIBNFC_LOG_LEVEL", "0", 0);
}

/// An in-process emulator whose frames still cross a real pty.
struct EmuFixture {
  // libnfc connstrings must not contain ':', and the temp dir's name has none.
  explicit EmuFixture(const std::string& tag)
      : dir("labgate-nfc-" + tag), emu({(dir / "pn532").string(), "", false, ""}) {
    quiet_libnfc();
    std::string error;
    if (!emu.start(error)) throw std::runtime_error(error);
  }
  ~EmuFixture() { emu.stop(); }
  std::string run(const std::string& line) { return emu.execute(line); }

  labgate::testing::TempDir dir;
  labgate::drivers::pn532_emu::Emulator emu;
};

/// Records reader events and waits for conditions on them (bounded polling via a condvar).
class EventLog {
 public:
  labgate::drivers::ReaderSink sink() {
    return [this](ReaderEvent e) {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(e));
      cv_.notify_all();
    };
  }
  /// Waits until an event of `kind` arrives at index >= `from`; returns its index or -1.
  int wait_for(ReaderEvent::Kind kind, std::size_t from, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    int found = -1;
    cv_.wait_for(lock, timeout, [&] {
      for (std::size_t i = from; i < events_.size(); ++i) {
        if (events_[i].kind == kind) {
          found = static_cast<int>(i);
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return events_.size();
  }
  ReaderEvent at(std::size_t i) const {
    std::lock_guard lock(mutex_);
    return events_.at(i);
  }
  std::vector<ReaderEvent> all() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::size_t count(ReaderEvent::Kind kind) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (auto& e : events_) n += e.kind == kind;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<ReaderEvent> events_;
};

inline long long ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

}  // namespace nfc_test
