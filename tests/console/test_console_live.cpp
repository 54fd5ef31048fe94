// The live page's streams served by one writer: many pages at once all get each event, a page
// that stops reading is dropped without delaying the others, and the console's threads do not
// grow with the number of pages.

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "console_site.hpp"
#include "live_hub.hpp"

using namespace labgate::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::size_t threads_of(int pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task"))
    ++n;
  return n;
}

// The console's thread count once the connection threads that handed their stream over have
// ended (they are detached: wait for the count to settle at or under `at_most`).
std::size_t settled_threads(int pid, std::size_t at_most) {
  std::size_t n = threads_of(pid);
  for (auto until = Clock::now() + 3s; n > at_most && Clock::now() < until; n = threads_of(pid))
    std::this_thread::sleep_for(20ms);
  return n;
}

std::string live_request(const Browser& b) {
  return "GET /live/events HTTP/1.1\r\nHost: x\r\nCookie: " + b.cookie + "\r\n\r\n";
}

}  // namespace

TEST_CASE(
    "console: thirty live pages at once all get a tap within 1 s, on a bounded number of "
    "threads, while one page does not read",
    "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  RawStream first(site.port(), live_request(sam));
  REQUIRE(first.read_until(": live", 5s).starts_with("HTTP/1.1 200"));
  // The subscription may still be connecting: tap until the event arrives.
  std::string got;
  for (int i = 0; i < 20 && !has(got, "\"M1\""); ++i) {
    site.daemon().cmd("tap front-in iso14443a 04000001");
    got = first.take_until("\"M1\"", 500ms);
  }
  REQUIRE(has(got, "\"M1\""));
  std::this_thread::sleep_for(300ms);  // the login's connection threads end
  const std::size_t base = threads_of(site.console_pid());

  // A page that never reads: its socket fills, the hub drops it; nobody waits for it.
  RawStream stalled(site.port(), live_request(sam));
  std::vector<std::unique_ptr<RawStream>> pages;
  for (int i = 0; i < 30; ++i) {
    pages.push_back(std::make_unique<RawStream>(site.port(), live_request(sam)));
    REQUIRE(pages.back()->take_until(": live\n\n", 5s).starts_with("HTTP/1.1 200"));
  }
  // Each stream used to keep a thread (31 more here); now they share the hub's one thread.
  const std::size_t with_pages = settled_threads(site.console_pid(), base + 2);
  INFO("threads with one page " << base << ", with 32 pages " << with_pages);
  CHECK(with_pages <= base + 2);

  const auto t0 = Clock::now();
  site.daemon().cmd("tap front-in iso14443a 04000002");
  for (auto& p : pages) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t0 + 1s - Clock::now());
    CHECK(has(p->take_until("\"M2\"", std::max(left, 1ms)), "\"M2\""));
  }
  CHECK(Clock::now() - t0 < 1s);
  CHECK(has(first.take_until("\"M2\"", 1s), "\"M2\""));
}

TEST_CASE("live hub: a reader that stops is dropped and never delays the others", "[unit]") {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  using labgate::gateway::console::LiveHub;
  using labgate::gateway::console::Request;

  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  LiveHub::Limits limits;
  limits.backlog = 4;
  limits.keep_alive = 600s;  // no comments between the events counted below
  LiveHub hub(
      ioc, [](const Request&) { return true; }, limits);

  // Browsers: plain sockets on this side. Readers count the bytes they receive.
  constexpr int kReaders = 4;
  std::vector<std::unique_ptr<tcp::socket>> browsers;
  for (int i = 0; i <= kReaders; ++i) {
    browsers.push_back(std::make_unique<tcp::socket>(ioc));
    browsers.back()->connect(acceptor.local_endpoint());
    hub.add(acceptor.accept(), Request{});
  }
  tcp::socket& stalled = *browsers.back();  // never read
  std::vector<std::atomic<std::size_t>> received(kReaders);
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] {
      char buf[65536];
      for (;;) {
        const ssize_t n = ::recv(browsers[i]->native_handle(), buf, sizeof buf, 0);
        if (n <= 0) return;
        received[i] += static_cast<std::size_t>(n);
      }
    });
  }
  for (auto until = Clock::now() + 5s; hub.clients() < kReaders + 1 && Clock::now() < until;)
    std::this_thread::sleep_for(5ms);
  REQUIRE(hub.clients() == kReaders + 1);

  // Events big enough that the stalled socket's buffers fill within a few dozen of them.
  const std::string line(256 * 1024, 'x');
  const std::size_t head =
      std::string(
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
          "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n: live\n\n")
          .size();
  const std::size_t event = line.size() + 8;  // "data: " ... "\n\n"
  auto slowest = Clock::duration::zero();
  for (int e = 1; e <= 64; ++e) {
    const auto t0 = Clock::now();
    hub.publish(line);
    for (int i = 0; i < kReaders; ++i) {
      while (received[i] < head + e * event && Clock::now() - t0 < 2s)
        std::this_thread::sleep_for(100us);
      REQUIRE(received[i] == head + e * event);
    }
    slowest = std::max(slowest, Clock::now() - t0);
  }
  INFO("slowest event to reach every reader: "
       << std::chrono::duration_cast<std::chrono::microseconds>(slowest).count() << " us");
  CHECK(slowest < 1s);
  CHECK(hub.clients() == kReaders);  // the stalled one is gone
  // Its connection was closed by the hub: after what was buffered, it ends.
  std::size_t drained = 0;
  char buf[65536];
  for (ssize_t n; (n = ::recv(stalled.native_handle(), buf, sizeof buf, 0)) > 0;)
    drained += static_cast<std::size_t>(n);
  CHECK(drained < head + 64 * event);

  hub.stop();
  for (auto& r : readers) r.join();
  CHECK(hub.clients() == 0);
}
