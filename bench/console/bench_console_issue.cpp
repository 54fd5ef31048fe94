// bench_console_issue: issuing a large month from the console, end to end (docs/BENCHMARKS.md).
// A real labgated and labgate-console (the HTTP test fixture), a month of N members and M closed
// sessions written into labgated's database, then a manager confirms the issue over HTTP and the
// clock runs until the job page says done; meanwhile another logged-in browser requests pages
// in a loop and every latency is kept for the percentiles.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "console_site.hpp"
#include "labgate/gateway/store/database.hpp"
#include "must.hpp"

namespace st = labgate::gateway::store;
using labgate::testing::Browser;
using labgate::testing::ConsoleSite;
using labgate::testing::must;
using Steady = std::chrono::steady_clock;

namespace {

// 2026-11-01 00:00 JST and the month's length.
constexpr std::int64_t kNovBegin = 1793458800000;
constexpr std::int64_t kNovMs = 30LL * 86'400'000;

void generate(const std::string& path, std::int64_t members, std::int64_t sessions) {
  auto db = must(st::Database::open(path, {}));
  must(db->execute_script("PRAGMA synchronous = OFF; BEGIN;"));
  must(db->execute_script(
      "INSERT INTO rates (kind, machine_id, effective_from_ms, unit_seconds, price_per_unit,"
      " idle_price_per_unit, minimum_charge, grace_seconds, daily_cap, created_at_ms, created_by)"
      " VALUES ('machine', 'printer', 1790000000000, 1800, 200, NULL, 0, 120, NULL, 0, 'bench'),"
      " ('machine', 'laser', 1790000000000, 900, 600, NULL, 600, 60, 6000, 0, 'bench'),"
      " ('coworking', NULL, 1790000000000, 3600, 300, NULL, 0, 0, 1500, 0, 'bench');"));
  auto member = must(db->prepare(
      "INSERT INTO members (id, member_no, name, status, created_at) VALUES (?1, ?2, ?3, "
      "'active', 0)"));
  for (std::int64_t i = 1; i <= members; ++i) {
    member.bind(1, 1000 + i).bind(2, fmt::format("B{:06}", i)).bind(3, fmt::format("Bench {}", i));
    must(member.run());
  }
  std::mt19937_64 rng{42};
  const auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>{lo, hi}(rng);
  };
  std::vector<std::int64_t> starts(static_cast<std::size_t>(sessions));
  for (auto& v : starts) v = kNovBegin + pick(0, kNovMs - 6 * 3'600'000LL);
  std::sort(starts.begin(), starts.end());
  auto session = must(db->prepare(
      "INSERT INTO sessions (uuid, member_id, kind, machine_id, started_at_ms, ended_at_ms,"
      " end_reason, measured_seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'tap_off', ?7)"));
  const char* targets[] = {"laser", "printer", nullptr};
  for (std::int64_t i = 0; i < sessions; ++i) {
    const char* target = targets[pick(0, 2)];
    const std::int64_t dur = pick(60'000, 4 * 3'600'000LL);
    const auto start = starts[static_cast<std::size_t>(i)];
    session.bind(1, fmt::format("bench-{}", i))
        .bind(2, 1000 + pick(1, members))
        .bind(3, target ? "machine" : "coworking")
        .bind(4, target ? std::optional<std::string>(target) : std::nullopt)
        .bind(5, start)
        .bind(6, start + dur)
        .bind(7, dur / 1000);
    must(session.run());
  }
  must(db->execute_script("COMMIT; PRAGMA synchronous = FULL; ANALYZE;"));
}

std::string attr(const std::string& body, const std::string& name) {
  const auto at = body.find(name + "=\"");
  if (at == std::string::npos) return {};
  const auto from = at + name.size() + 2;
  return body.substr(from, body.find('"', from) - from);
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double ms_since(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t members = 10'000;
  std::int64_t sessions = 1'000'000;
  std::string probe = "/members?q=M";
  CLI::App app{"bench_console_issue: issue a large month from the console, end to end"};
  app.add_option("--members", members, "members with usage");
  app.add_option("--sessions", sessions, "closed sessions in November 2026");
  app.add_option("--probe", probe, "the page the other browser requests during the run");
  CLI11_PARSE(app, argc, argv);

  ConsoleSite site;
  auto t0 = Steady::now();
  generate(site.daemon().db_path(), members, sessions);
  fmt::print("seeded {} members, {} sessions in {:.0f} ms\n", members, sessions, ms_since(t0));
  site.daemon().cmd("clock set 2026-12-01 09:00");
  auto mona = site.logged_in("mona");
  auto sam = site.logged_in("sam");

  // Idle latency of the probe page first, for comparison.
  std::vector<double> idle;
  for (int i = 0; i < 50; ++i) {
    const auto t = Steady::now();
    site.get(sam, probe);
    idle.push_back(ms_since(t));
  }

  t0 = Steady::now();
  auto confirm = site.post(mona, "/statements/issue", "month=2026-11");
  const double confirm_ms = ms_since(t0);
  if (confirm.status != 200) {
    fmt::print(stderr, "confirmation refused ({}): {}\n", confirm.status, confirm.body);
    return 1;
  }
  const auto expected = attr(confirm.body, "data-members");
  const auto expected_total = attr(confirm.body, "data-total");
  fmt::print("confirmation page: {} members, {} yen, {:.0f} ms\n", expected,
             attr(confirm.body, "data-total"), confirm_ms);

  std::atomic<bool> running{true};
  std::vector<double> during;
  std::thread other([&] {
    auto b = site.logged_in("sam");
    while (running) {
      const auto t = Steady::now();
      const auto r = site.get(b, probe);
      during.push_back(ms_since(t));
      if (r.status != 200) fmt::print(stderr, "probe answered {}\n", r.status);
    }
  });
  t0 = Steady::now();
  const auto start = site.post(
      mona, "/statements/issue",
      "month=2026-11&confirm=1&expected=" + expected + "&expected_total=" + expected_total);
  const std::string job = start.header("location");
  std::string body;
  for (;;) {
    body = site.get(mona, job).body;
    if (body.find(R"(data-stage="running")") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double issue_ms = ms_since(t0);
  running = false;
  other.join();
  fmt::print("issue: {} (issued {}, total {} yen) in {:.0f} ms end to end\n",
             attr(body, "data-stage"), attr(body, "data-issued"), attr(body, "data-total"),
             issue_ms);
  // labgated's own account of the issue: billing on the snapshot, waiting for and holding the
  // write lock (the time taps' writes could wait).
  {
    const auto log = site.daemon().log();
    const auto at = log.find("statements.issue 2026-11:");
    if (at != std::string::npos) {
      fmt::print("labgated: {}\n", log.substr(at, log.find('\n', at) - at));
    }
  }
  if (attr(body, "data-stage") != "done") {
    const auto at = body.find(R"(id="job-error")");
    fmt::print("job error: {}\n", at == std::string::npos ? body : body.substr(at, 300));
    const auto log = site.daemon().log();
    fmt::print("labgated log (tail):\n{}\n", log.substr(log.size() > 3000 ? log.size() - 3000 : 0));
  }
  fmt::print("probe {} idle: p50 {:.1f} ms p99 {:.1f} ms (n={})\n", probe, pct(idle, 50),
             pct(idle, 99), idle.size());
  fmt::print("probe {} during the issue: p50 {:.1f} ms p99 {:.1f} ms max {:.1f} ms (n={})\n", probe,
             pct(during, 50), pct(during, 99), pct(during, 100), during.size());
  return attr(body, "data-stage") == "done" ? 0 : 2;
}
