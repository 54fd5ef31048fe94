// bench_outbox: how fast the outbox drains through MqttLink + OutboxDrainer into a real local
// mosquitto, and the latency from enqueue to broker acknowledgement, next to a bare Paho
// publisher (same broker, same run, same QoS and window) as the ceiling.
//
//   bench_outbox [--rows 20000] [--window 256] [--rate 1000] [--seconds 3]

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "labgate/gateway/mqtt/link.hpp"
#include "labgate/gateway/mqtt/outbox_drainer.hpp"
#include "processes.hpp"

namespace mq = labgate::gateway::mqtt;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const std::string kTopic = "labgate/v1/bench/gw1/door/front/event";

std::string payload_for(std::int64_t seq) {
  // About the size of a real door event.
  return R"({"event_id":"0123456789abcdef0123456789abcdef","seq":)" + std::to_string(seq) +
         R"(,"time":"2024-05-01T03:04:05.678Z","site":"bench","gateway":"gw1","door":"front",)"
         R"("kind":"granted","member":"m-1234","credential":"a1b2c3d4e5f6a7b8","reader":"r1"})";
}

// An outbox in memory that remembers when each row was enqueued and marked.
class MemoryOutbox : public mq::OutboxSource {
 public:
  void add(std::size_t n) {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t seq = next_++;
      rows_.emplace(seq, mq::OutboxRow{seq, kTopic, payload_for(seq), false});
      enqueued_[seq] = now;
    }
  }
  std::vector<mq::OutboxRow> fetch_unsent(std::int64_t after, std::size_t limit) override {
    std::vector<mq::OutboxRow> out;
    for (auto it = rows_.upper_bound(after); it != rows_.end() && out.size() < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  void mark_sent(const std::vector<std::int64_t>& seqs) override {
    const auto now = Clock::now();
    for (auto s : seqs) {
      rows_.erase(s);
      marked_[s] = now;
    }
  }
  std::size_t unsent() const { return rows_.size(); }
  const std::map<std::int64_t, Clock::time_point>& enqueued() const { return enqueued_; }
  const std::map<std::int64_t, Clock::time_point>& marked() const { return marked_; }

 private:
  std::map<std::int64_t, mq::OutboxRow> rows_;
  std::map<std::int64_t, Clock::time_point> enqueued_;
  std::map<std::int64_t, Clock::time_point> marked_;
  std::int64_t next_{1};
};

bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
               std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    io.restart();
    io.run_for(5ms);
  }
  return true;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[idx];
}

// A bare Paho async_client: QoS 1, the same window, no loop, no outbox.
double bare_paho_rate(const std::string& uri, std::size_t rows, std::size_t window) {
  mqtt::async_client client(uri, "bench-bare-paho", mqtt::create_options(MQTTVERSION_3_1_1, 65535),
                            nullptr);
  client.connect(mqtt::connect_options_builder().clean_session(true).max_inflight(1024).finalize())
      ->wait();
  struct Listener : mqtt::iaction_listener {
    std::mutex m;
    std::condition_variable cv;
    std::size_t done{0};
    std::size_t failed{0};
    void on_success(const mqtt::token&) override { bump(false); }
    void on_failure(const mqtt::token&) override { bump(true); }
    void bump(bool fail) {
      std::lock_guard<std::mutex> lock(m);
      ++done;
      if (fail) ++failed;
      cv.notify_all();
    }
  } listener;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < rows; ++i) {
    {
      std::unique_lock<std::mutex> lock(listener.m);
      listener.cv.wait(lock, [&] { return i - listener.done < window; });
    }
    client.publish(mqtt::make_message(kTopic, payload_for(static_cast<std::int64_t>(i)), 1, false),
                   nullptr, listener);
  }
  {
    std::unique_lock<std::mutex> lock(listener.m);
    listener.cv.wait(lock, [&] { return listener.done == rows; });
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  client.disconnect()->wait();
  if (listener.failed != 0) std::fprintf(stderr, "bare paho: %zu failed\n", listener.failed);
  return static_cast<double>(rows) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Outbox drain benchmark against a local mosquitto"};
  std::size_t rows = 20000;
  std::size_t window = 256;
  int rate = 1000;
  int seconds = 3;
  app.add_option("--rows", rows, "backlog size");
  app.add_option("--window", window, "drainer window (and bare Paho window)");
  app.add_option("--rate", rate, "rows/s enqueued in the latency run");
  app.add_option("--seconds", seconds, "duration of the latency run");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  labgate::testing::MosquittoBroker broker;
  broker.start();

  // 1. Ceiling: bare Paho.
  const double paho_rate = bare_paho_rate(broker.uri(), rows, window);

  // 2. Backlog drain after an outage: the broker is down while the backlog builds.
  broker.stop();
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  mq::LinkConfig cfg;
  cfg.server_uri = broker.uri();
  cfg.site = "bench";
  cfg.gateway = "gw1";
  cfg.first_connect_retry_min = 100ms;
  cfg.first_connect_retry_max = 200ms;
  mq::MqttLink link(io, cfg);
  MemoryOutbox outbox;
  mq::DrainerConfig dcfg;
  dcfg.window = window;
  mq::OutboxDrainer drainer(io, link, outbox, dcfg);
  link.start();
  drainer.start();
  outbox.add(rows);
  drainer.notify();
  run_until(
      io, [] { return false; }, 300ms);
  broker.start();
  if (!run_until(
          io, [&] { return link.connected(); }, 20s)) {
    std::fprintf(stderr, "no connection\n");
    return 1;
  }
  const auto t0 = Clock::now();
  if (!run_until(
          io, [&] { return outbox.unsent() == 0; }, 120s)) {
    std::fprintf(stderr, "backlog did not drain\n");
    return 1;
  }
  const double drain_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double drain_rate = static_cast<double>(rows) / drain_secs;

  // 3. Latency at a steady rate: rows enqueued in small batches every 5 ms, with notify().
  std::map<std::int64_t, Clock::time_point> acked;
  drainer.set_ack_observer([&](std::int64_t seq) { acked[seq] = Clock::now(); });
  const std::int64_t first_seq = static_cast<std::int64_t>(rows) + 1;
  const auto total = static_cast<std::size_t>(rate) * static_cast<std::size_t>(seconds);
  std::size_t added = 0;
  boost::asio::steady_timer pacer(io);
  const auto start = Clock::now();
  std::function<void()> pace = [&] {
    const auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const auto due = std::min(total, static_cast<std::size_t>(elapsed * rate));
    if (due > added) {
      outbox.add(due - added);
      added = due;
      drainer.notify();
    }
    if (added < total) {
      pacer.expires_after(5ms);
      pacer.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) pace();
      });
    }
  };
  pace();
  run_until(
      io, [&] { return added == total && outbox.unsent() == 0; },
      std::chrono::seconds(seconds + 30));
  std::vector<double> ack_ms;
  std::vector<double> mark_ms;
  for (const auto& [seq, t] : outbox.enqueued()) {
    if (seq < first_seq) continue;
    if (auto it = acked.find(seq); it != acked.end()) {
      ack_ms.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
    }
    if (auto it = outbox.marked().find(seq); it != outbox.marked().end()) {
      mark_ms.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
    }
  }

  std::printf("bench_outbox: %zu-row backlog, window %zu, QoS 1, mosquitto on 127.0.0.1\n", rows,
              window);
  std::printf("  bare Paho publisher            : %8.0f msgs/s\n", paho_rate);
  std::printf("  outbox drain after outage      : %8.0f rows/s (%.2f s, %.0f%% of bare Paho)\n",
              drain_rate, drain_secs, 100.0 * drain_rate / paho_rate);
  std::printf("  steady %d rows/s for %d s, %zu rows:\n", rate, seconds, ack_ms.size());
  std::printf("    enqueue -> broker ack        : p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              percentile(ack_ms, 0.5), percentile(ack_ms, 0.99), percentile(ack_ms, 1.0));
  std::printf("    enqueue -> marked sent       : p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              percentile(mark_ms, 0.5), percentile(mark_ms, 0.99), percentile(mark_ms, 1.0));
  std::printf("  drainer: published %llu, re-sent %llu, rewinds %llu\n",
              static_cast<unsigned long long>(drainer.stats().published),
              static_cast<unsigned long long>(drainer.stats().resent),
              static_cast<unsigned long long>(drainer.stats().rewinds));
  drainer.stop();
  link.stop();
  run_until(
      io, [] { return false; }, 200ms);
  return ack_ms.size() == total ? 0 : 1;
}
