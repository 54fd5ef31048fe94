#pragma once
// Helpers for the driver tests: an event loop on its own thread, and the test kit's line client,
// event recorder, temp dirs and bounded waiting.

#include <boost/asio.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "process.hpp"
#include "recorder.hpp"

namespace labgate::drivers::test {

using namespace std::chrono_literals;

using labgate::testing::LineClient;
using labgate::testing::Recorder;
using labgate::testing::TempDir;
using labgate::testing::wait_until;

/// Runs an io_context on a thread of its own, as the daemon's loop.
class LoopThread {
 public:
  explicit LoopThread(boost::asio::io_context& io)
      : io_(io), guard_(boost::asio::make_work_guard(io)), thread_([this] { io_.run(); }) {}
  ~LoopThread() { stop(); }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  /// Runs `f` on the loop and returns its result.
  template <class F>
  auto call(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    if (result.wait_for(5s) != std::future_status::ready) {
      throw std::runtime_error("loop did not run the call");
    }
    return result.get();
  }

  void stop() {
    if (!thread_.joinable()) return;
    guard_.reset();
    io_.stop();
    thread_.join();
  }

 private:
  boost::asio::io_context& io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace labgate::drivers::test
