// bench_outbox: how fast the outbox drains through MqttLink + OutboxDrainer into a real local
// mosquitto, and the latency from enqueue to broker acknowledgement, next to a bare Paho
// publisher (same broker, same run, same QoS and window) as the ceiling.
//
//   bench_outbox [--rows 20000] [--window 256] [--rate 1000] [--seconds 3]
//   bench_outbox --store-backlog 1000000 [--window 256]
//
// --store-backlog: the daemon's own drain path end to end. N events are committed through the
// real store::Store (event row + outbox row per transaction, as the tap path writes them) while
// no broker runs; then the broker starts, a subscriber connects, and labgated's
// StoreOutboxSource + OutboxDrainer + MqttLink drain the SQLite outbox until the subscriber has
// every event; the run checks count and order and prints the rate, the file sizes and memory.

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
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "broker.hpp"
#include "labgate/gateway/app/mqtt_bridge.hpp"
#include "labgate/gateway/mqtt/link.hpp"
#include "labgate/gateway/mqtt/outbox_drainer.hpp"
#include "labgate/gateway/store/store.hpp"

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

// Resident set size of this process, kB (0 when unknown).
long rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

std::uintmax_t file_size_or_zero(const std::filesystem::path& p) {
  std::error_code ec;
  auto n = std::filesystem::file_size(p, ec);
  return ec ? 0 : n;
}

// Counts what a QoS 1 subscriber receives and checks that the first delivery of each seq
// comes in order, with no gap (re-deliveries of an earlier seq are duplicates, not errors).
class OrderedCounter : public mqtt::callback {
 public:
  void message_arrived(mqtt::const_message_ptr msg) override {
    const std::string& p = msg->get_payload_str();
    const auto at = p.find("\"seq\":");
    if (at == std::string::npos) {
      ++malformed_;
      return;
    }
    const std::int64_t seq = std::stoll(p.substr(at + 6, 20));
    if (seq <= last_) {
      ++duplicates_;
    } else if (seq == last_ + 1) {
      last_ = seq;
      received_.store(static_cast<std::size_t>(seq));
    } else {
      ++gaps_;
      last_ = seq;
    }
  }
  std::size_t received() const { return received_.load(); }
  std::size_t gaps() const { return gaps_.load(); }
  std::size_t duplicates() const { return duplicates_.load(); }
  std::size_t malformed() const { return malformed_.load(); }

 private:
  std::int64_t last_{0};  // only the Paho callback thread touches it
  std::atomic<std::size_t> received_{0};
  std::atomic<std::size_t> gaps_{0};
  std::atomic<std::size_t> duplicates_{0};
  std::atomic<std::size_t> malformed_{0};
};

int store_backlog(std::size_t n, std::size_t window) {
  namespace store = labgate::gateway::store;
  labgate::testing::TempDir dir;
  const auto db_path = dir.path() / "outbox.db";
  store::StoreOptions so;
  so.site_key =
      store::parse_site_key("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
          .value();
  auto opened = store::Store::open(db_path, so);
  if (!opened.ok()) {
    std::fprintf(stderr, "store: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& db = *opened.value();

  // 1. The outage: every event committed through the store while no broker exists. The fill
  // is not what is measured, so its commits skip fsync; the drain below runs with the store's
  // own synchronous=FULL, as labgated does.
  (void)db.database().execute_script("PRAGMA synchronous=OFF;");
  const auto fill0 = Clock::now();
  const std::int64_t base_ms = 1'700'000'000'000;
  for (std::size_t i = 1; i <= n; ++i) {
    store::AccessEvent e;
    e.uuid = "bench-" + std::to_string(i);
    e.at_ms = base_ms + static_cast<std::int64_t>(i);
    e.kind = "tap_entry";
    e.decision = store::Decision::kGranted;
    e.reason = "ok";
    auto r = db.events().record_access(e, kTopic, false,
                                       [](std::int64_t seq) { return payload_for(seq); });
    if (!r.ok()) {
      std::fprintf(stderr, "record_access %zu: %s\n", i, r.error().message.c_str());
      return 1;
    }
  }
  const double fill_secs = std::chrono::duration<double>(Clock::now() - fill0).count();
  (void)db.database().execute_script("PRAGMA synchronous=FULL; PRAGMA wal_checkpoint(TRUNCATE);");
  const auto unsent0 = db.events().unsent_count();
  const auto db_bytes = file_size_or_zero(db_path);

  // 2. The broker returns; a subscriber is in place before the gateway reconnects. Unlimited
  // broker queues so a slow subscriber cannot make mosquitto drop QoS 1 messages.
  labgate::testing::MosquittoBroker broker("max_inflight_messages 0\n");
  broker.start();
  mqtt::async_client observer(broker.uri(), "bench-observer");
  OrderedCounter counter;
  observer.set_callback(counter);
  observer.connect(mqtt::connect_options_builder().clean_session(true).finalize())->wait();
  observer.subscribe(kTopic, 1)->wait();

  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  mq::LinkConfig cfg;
  cfg.server_uri = broker.uri();
  cfg.site = "bench";
  cfg.gateway = "gw1";
  mq::MqttLink link(io, cfg);
  labgate::gateway::app::StoreOutboxSource source(db,
                                                  [] { return std::int64_t{1'800'000'000'000}; });
  mq::DrainerConfig dcfg;
  dcfg.window = window;
  mq::OutboxDrainer drainer(io, link, source, dcfg);
  const long rss0 = rss_kb();
  long rss_peak = rss0;
  link.start();
  if (!run_until(
          io, [&] { return link.connected(); }, 20s)) {
    std::fprintf(stderr, "no connection\n");
    return 1;
  }
  const auto t0 = Clock::now();
  drainer.start();
  std::size_t last_report = 0;
  auto last_rss = Clock::now();
  const bool complete = run_until(
      io,
      [&] {
        if (Clock::now() - last_rss > 1s) {
          last_rss = Clock::now();
          rss_peak = std::max(rss_peak, rss_kb());
          const auto got = counter.received();
          if (got / 100000 != last_report / 100000) {
            std::fprintf(stderr, "  ... %zu received (%.0f/s)\n", got,
                         static_cast<double>(got) /
                             std::chrono::duration<double>(Clock::now() - t0).count());
            last_report = got;
          }
        }
        return counter.received() >= n || counter.gaps() > 0;
      },
      std::chrono::minutes(30));
  const double drain_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  rss_peak = std::max(rss_peak, rss_kb());
  // Let the last acknowledgements be marked, then check the store agrees.
  run_until(
      io, [&] { return drainer.stats().marked >= n; }, 30s);
  const auto unsent1 = db.events().unsent_count();
  drainer.stop();
  link.stop();
  run_until(
      io, [] { return false; }, 200ms);
  observer.disconnect()->wait();

  std::printf("bench_outbox --store-backlog: %zu events through store::Store, window %zu, QoS 1\n",
              n, window);
  std::printf("  fill (broker absent, synchronous=OFF) : %.1f s (%.0f events/s)\n", fill_secs,
              static_cast<double>(n) / fill_secs);
  std::printf("  database after the fill               : %.1f MB (%lld unsent outbox rows)\n",
              static_cast<double>(db_bytes) / 1e6,
              static_cast<long long>(unsent0.ok() ? unsent0.value() : -1));
  std::printf("  drain until the subscriber had all    : %.1f s, %.0f events/s\n", drain_secs,
              static_cast<double>(counter.received()) / drain_secs);
  std::printf("  subscriber: %zu in order, %zu gaps, %zu duplicates, %zu malformed\n",
              counter.received(), counter.gaps(), counter.duplicates(), counter.malformed());
  std::printf("  store after the drain                 : %lld unsent, marked %llu\n",
              static_cast<long long>(unsent1.ok() ? unsent1.value() : -1),
              static_cast<unsigned long long>(drainer.stats().marked));
  std::printf("  RSS: %ld kB before the drain, peak %ld kB during it\n", rss0, rss_peak);
  std::printf("  drainer: published %llu, re-sent %llu, rewinds %llu\n",
              static_cast<unsigned long long>(drainer.stats().published),
              static_cast<unsigned long long>(drainer.stats().resent),
              static_cast<unsigned long long>(drainer.stats().rewinds));
  const bool ok = complete && counter.received() == n && counter.gaps() == 0 && unsent1.ok() &&
                  unsent1.value() == 0;
  return ok ? 0 : 2;
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
  std::size_t store_rows = 0;
  app.add_option("--store-backlog", store_rows,
                 "commit this many events through the real Store with the broker down, then "
                 "time the drain into a subscriber (other runs skipped)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  if (store_rows > 0) return store_backlog(store_rows, window);

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
