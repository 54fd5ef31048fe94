#pragma once
// Delivery of device events to a sink with the Reader/Input stop() guarantee: once close() has
// returned, the sink is never called again.

#include <atomic>
#include <functional>
#include <mutex>
#include <utility>

namespace labgate::drivers::sim::detail {

template <class Event>
class CallbackGate {
 public:
  using Sink = std::function<void(Event)>;

  // Recursive so that a sink may stimulate the device again, or stop it, from inside a callback.
  std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock(delivery_); }

  // Caller holds lock(). Returns false when already open.
  bool open(Sink sink) {
    if (open_) return false;
    sink_ = std::move(sink);
    open_ = true;
    return true;
  }

  // Waits for a delivery running on another thread, so nothing is called after it returns.
  void close() {
    auto guard = lock();
    open_ = false;
    // A copy held by emit() further up this thread's stack keeps the target alive.
    sink_ = nullptr;
  }

  bool is_open() const { return open_; }

  // Caller holds lock().
  bool emit(Event event) {
    if (!open_ || !sink_) return false;
    Sink sink = sink_;
    sink(std::move(event));
    return true;
  }

 private:
  std::recursive_mutex delivery_;
  std::atomic<bool> open_{false};
  Sink sink_;
};

}  // namespace labgate::drivers::sim::detail
