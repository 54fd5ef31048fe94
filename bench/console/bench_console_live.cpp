// bench_console_live: how long a tap takes to reach a browser on the console's live page. A real
// labgated (standard cast, manual clock) and a real labgate-console, as the console's HTTP tests
// run them; taps go in through labgated's control socket (the simulated readers), and N logged-in
// clients hold GET /live/events open. The first client times each tap's event line.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "console_site.hpp"

namespace {

using Steady = std::chrono::steady_clock;
using labgate::testing::ConsoleSite;
using labgate::testing::RawStream;

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::string row(const std::string& label, const std::vector<double>& ms) {
  return fmt::format("{:<34} {:>6} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f}", label, ms.size(),
                     pct(ms, 50), pct(ms, 90), pct(ms, 99), pct(ms, 100));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"bench_console_live: tap -> the console's live stream, over real processes"};
  int taps = 1000;
  int clients = 20;
  int gap_ms = 0;
  cli.add_option("--taps", taps, "measured taps")->check(CLI::Range(1, 100000));
  cli.add_option("--clients", clients, "browsers holding the live stream open (>= 1)")
      ->check(CLI::Range(1, 200));
  cli.add_option("--gap-ms", gap_ms, "pause between a receipt and the next tap")
      ->check(CLI::Range(0, 10000));
  CLI11_PARSE(cli, argc, argv);
  try {
    ConsoleSite site({"--log-level", "warn"});
    std::vector<std::unique_ptr<RawStream>> streams;
    for (int i = 0; i < clients; ++i) {
      auto b = site.logged_in(i % 2 ? "sam" : "dina");
      streams.push_back(std::make_unique<RawStream>(
          site.port(),
          "GET /live/events HTTP/1.1\r\nHost: bench\r\nCookie: " + b.cookie + "\r\n\r\n"));
      const auto head = streams.back()->take_until(": live\n", std::chrono::seconds(10));
      if (!head.starts_with("HTTP/1.1 200")) throw std::runtime_error("live stream refused");
    }
    RawStream& timed = *streams.front();
    std::atomic<bool> stop{false};
    std::vector<std::thread> drains;
    for (std::size_t i = 1; i < streams.size(); ++i) {
      // The other browsers only hold the page open: read and drop each event as it comes.
      drains.emplace_back([&stop, s = streams[i].get()] {
        while (!stop.load()) s->take_until("\n\n", std::chrono::milliseconds(50));
      });
    }
    // The console subscribes to labgated's channel on its own thread: tap until it follows.
    const std::string topic = R"("topic":"labgate/v1/test/gw-test/door/front/event")";
    bool following = false;
    for (int i = 0; i < 50 && !following; ++i) {
      site.daemon().cmd("tap front-in iso14443a 04000001");
      following = !timed.take_until(topic, std::chrono::milliseconds(200)).empty();
    }
    if (!following) throw std::runtime_error("the live stream shows no tap");
    // Forget what is still in flight.
    while (!timed.take_until("\n\n", std::chrono::milliseconds(300)).empty()) {
    }

    // Each tap names its member in the event line: M1 and M2 alternate at the front door's
    // entry and exit readers, so consecutive lines differ and none is mistaken for another.
    const char* cards[] = {"04000001", "04000002"};
    const char* members[] = {"\"M1\"", "\"M2\""};
    const char* readers[] = {"front-in", "front-out"};
    std::vector<double> sent_ms;
    std::vector<double> acked_ms;
    int missed = 0;
    const auto t_all = Steady::now();
    for (int i = 0; i < taps; ++i) {
      const int who = i % 2;
      const std::string line = fmt::format("tap {} iso14443a {}", readers[(i / 2) % 2], cards[who]);
      const auto t0 = Steady::now();
      site.daemon().cmd(line);
      const auto t_ack = Steady::now();
      if (timed.take_until(members[who], std::chrono::seconds(5)).empty()) {
        ++missed;
        continue;
      }
      const auto t1 = Steady::now();
      sent_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      acked_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t_ack).count());
      if (gap_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    }
    const double wall = std::chrono::duration<double>(Steady::now() - t_all).count();
    stop = true;
    for (auto& t : drains) t.join();

    fmt::print("bench_console_live: {} taps, {} live-stream clients, {:.1f} s\n", taps, clients,
               wall);
    fmt::print("{:<34} {:>6} {:>9} {:>9} {:>9} {:>9}\n", "ms", "count", "p50", "p90", "p99", "max");
    fmt::print("{}\n", row("tap sent -> event line received", sent_ms));
    fmt::print("{}\n", row("tap acknowledged -> line received", acked_ms));
    fmt::print("missed (no line within 5 s): {}\n", missed);
    return missed == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_console_live: %s\n", e.what());
    return 1;
  }
}
