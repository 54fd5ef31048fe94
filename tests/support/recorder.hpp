#pragma once
// A thread-safe recorder of the events a device or transport reports, with bounded waiting.

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "process.hpp"

namespace labgate::testing {

/// Collects events from any thread.
template <class Event>
class Recorder {
 public:
  std::function<void(Event)> sink() {
    return [this](Event e) {
      std::lock_guard lk(mutex_);
      events_.push_back(std::move(e));
    };
  }
  std::vector<Event> events() const {
    std::lock_guard lk(mutex_);
    return events_;
  }
  std::size_t size() const {
    std::lock_guard lk(mutex_);
    return events_.size();
  }
  bool wait_for_count(std::size_t n,
                      std::chrono::milliseconds timeout = std::chrono::seconds(3)) const {
    return wait_until([&] { return size() >= n; }, timeout, std::chrono::milliseconds(2));
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Event> events_;
};

}  // namespace labgate::testing
