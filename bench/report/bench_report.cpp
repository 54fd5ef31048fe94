// bench_report: the ward report over a fiscal year of 12,000,000 sessions (docs/BENCHMARKS.md).
//
// Generates (once; the file is kept and reused while its shape matches the options) a database of
// the real schema holding FY2026 (2026-04-01 .. 2027-03-31 Asia/Tokyo): members, machines,
// inspections, trainings, machine and coworking sessions spread over the year, a few sessions
// longer than a day, and granted door events. Then times the fiscal-year report (build, and build
// plus every renderer) and a month report, each the median of --runs runs, and checks the figures
// against what was generated: any mismatch makes the exit status 2.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "labgate/gateway/report/ward_report.hpp"
#include "labgate/gateway/store/store.hpp"

namespace {

namespace st = labgate::gateway::store;
namespace rp = labgate::gateway::report;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

struct Options {
  std::int64_t sessions{12'000'000};
  std::int64_t members{10'000};
  std::int64_t machines{8};
  std::int64_t door_events{1'000'000};
  std::int64_t runs{3};
  std::string month{"2027-03"};
  std::string db{"bench-report.db"};
  bool regenerate{false};
  bool no_long_index{false};
  std::uint64_t seed{7};
};

// The partial index the report's scan of long and open sessions is written for (see the report
// header). Proposed as a schema migration; the benchmark adds it unless --no-long-index.
constexpr const char* kLongIndex =
    "CREATE INDEX IF NOT EXISTS sessions_long ON sessions(started_at_ms) "
    "WHERE ended_at_ms IS NULL OR ended_at_ms - started_at_ms > 86400000";

template <typename T>
T take(st::Result<T> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error().message);
  return std::move(r).value();
}
void check(const st::Status& s, const std::string& what) {
  if (!s) throw std::runtime_error(what + ": " + s.error().message);
}

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

std::string shape(const Options& o) {
  return fmt::format("v1 sessions={} members={} machines={} door_events={} seed={}", o.sessions,
                     o.members, o.machines, o.door_events, o.seed);
}

struct Expected {
  std::int64_t machine_sessions{0};
  std::int64_t coworking_sessions{0};
};

Expected generate(const Options& o, const rp::Period& fy) {
  fs::remove(o.db);
  fs::remove(o.db + "-wal");
  fs::remove(o.db + "-shm");
  auto store = take(st::Store::open(o.db), "open");
  auto& db = store->database();
  // Bulk load: secondary indexes of the big tables dropped and rebuilt from their own stored
  // definitions afterwards; no journal, no fsync.
  std::vector<std::string> rebuild;
  {
    auto q = take(db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND "
                             "tbl_name IN ('sessions', 'access_events') AND sql IS NOT NULL"),
                  "indexes");
    std::vector<std::string> names;
    while (take(q.step(), "indexes")) {
      names.push_back(q.column_text(0));
      rebuild.push_back(q.column_text(1));
    }
    for (const auto& n : names) check(db.execute_script("DROP INDEX \"" + n + "\""), "drop " + n);
  }
  check(db.execute_script("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
                          "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -262144;"),
        "pragmas");
  auto tx = take(st::Transaction::begin(db), "begin");
  std::mt19937_64 rng(o.seed);
  const std::int64_t before = fy.start_ms - 30 * kDayMs;
  check(db.execute_script("INSERT INTO certification_types (code, name, validity_days) VALUES "
                          "('laser', 'レーザー加工機', 365), ('printer', '3D プリンター', 365), "
                          "('cnc', 'CNC', 365)"),
        "types");
  {
    auto q = take(db.prepare("INSERT INTO machines (id, name, certification_type, session_mode, "
                             "inspection_interval_days, created_at) VALUES (?1, ?2, ?3, 'hold', "
                             "30, ?4)"),
                  "machines");
    const char* types[] = {"laser", "printer", "cnc"};
    for (std::int64_t i = 0; i < o.machines; ++i) {
      q.bind(1, fmt::format("m{:02}", i))
          .bind(2, fmt::format("機械 {}", i))
          .bind(3, types[i % 3])
          .bind(4, before);
      check(q.run(), "machine");
    }
  }
  {
    auto q = take(db.prepare("INSERT INTO inspections (machine_id, done_on, inspector, result, "
                             "next_due) VALUES (?1, ?2, 'bench', ?3, ?4)"),
                  "inspections");
    for (std::int64_t i = 0; i < o.machines; ++i) {
      std::string day = fy.first_day;
      while (day <= fy.last_day) {
        q.bind(1, fmt::format("m{:02}", i))
            .bind(2, day)
            .bind(3, rng() % 20 == 0 ? "fail" : "pass")
            .bind(4, st::add_days(day, 30));
        check(q.run(), "inspection");
        day = st::add_days(day, 28 + static_cast<std::int64_t>(rng() % 6));
      }
    }
  }
  {
    auto m = take(db.prepare("INSERT INTO members (member_no, name, status, created_at, "
                             "approved_at) VALUES (?1, ?2, 'active', ?3, ?3)"),
                  "members");
    auto c = take(db.prepare("INSERT INTO certifications (member_id, type_code, trainer, "
                             "granted_on) VALUES (?1, ?2, 'bench', ?3)"),
                  "certs");
    const char* types[] = {"laser", "printer", "cnc"};
    for (std::int64_t i = 1; i <= o.members; ++i) {
      // A third join during the year, the rest before it.
      const std::int64_t created =
          i % 3 == 0 ? fy.start_ms + static_cast<std::int64_t>(rng() % (364 * kDayMs)) : before;
      m.bind(1, fmt::format("B{:07}", i)).bind(2, fmt::format("会員 {}", i)).bind(3, created);
      check(m.run(), "member");
      c.bind(1, i).bind(2, types[i % 3]).bind(3, st::add_days(fy.first_day, i % 365));
      check(c.run(), "cert");
    }
  }
  Expected e;
  {
    auto q = take(db.prepare("INSERT INTO sessions (uuid, member_id, machine_id, kind, "
                             "started_at_ms, ended_at_ms, end_reason, measured_seconds) VALUES "
                             "(?1, ?2, ?3, ?4, ?5, ?6, 'tap_off', ?7)"),
                  "sessions");
    const std::int64_t span = fy.end_ms - fy.start_ms;
    std::vector<std::string> machine_ids;
    for (std::int64_t i = 0; i < o.machines; ++i) machine_ids.push_back(fmt::format("m{:02}", i));
    for (std::int64_t i = 0; i < o.sessions; ++i) {
      // Starts in time order over the year, the way the daemon writes them.
      const std::int64_t start = fy.start_ms + span * i / o.sessions;
      const bool coworking = rng() % 10 < 3;
      std::int64_t len = coworking ? kHourMs + static_cast<std::int64_t>(rng() % (8 * kHourMs))
                                   : 600'000 + static_cast<std::int64_t>(rng() % (4 * kHourMs));
      if (rng() % 200'000 == 0) len = 2 * kDayMs + static_cast<std::int64_t>(rng() % kDayMs);
      const auto member =
          1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(o.members));
      q.bind(1, fmt::format("{:08x}-0000-4000-8000-{:012x}", i >> 32, i)).bind(2, member);
      if (coworking) {
        q.bind_null(3).bind(4, "coworking");
        ++e.coworking_sessions;
      } else {
        q.bind(3, machine_ids[static_cast<std::size_t>(i) % machine_ids.size()]).bind(4, "machine");
        ++e.machine_sessions;
      }
      q.bind(5, start).bind(6, start + len).bind(7, len / 1000);
      check(q.run(), "session");
    }
  }
  {
    auto q =
        take(db.prepare("INSERT INTO access_events (uuid, at_ms, seq, reader_id, door_id, "
                        "member_id, kind, decision) VALUES (?1, ?2, ?3, 'main-in', 'main', ?4, "
                        "'tap_entry', 'granted')"),
             "events");
    const std::int64_t span = fy.end_ms - fy.start_ms;
    for (std::int64_t i = 0; i < o.door_events; ++i) {
      q.bind(1, fmt::format("{:08x}-0000-4000-9000-{:012x}", i >> 32, i))
          .bind(2, fy.start_ms + span * i / o.door_events)
          .bind(3, i + 1)
          .bind(4, 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(o.members)));
      check(q.run(), "event");
    }
    check(db.execute_script(fmt::format("UPDATE gateway_seq SET last_seq = {}", o.door_events)),
          "seq");
  }
  for (const auto& sql : rebuild) check(db.execute_script(sql), "rebuild index");
  check(store->set_meta("bench_report_shape", shape(o)), "meta");
  check(tx.commit(), "commit");
  check(db.execute_script("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;"), "restore");
  return e;
}

double seconds_since(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

// CPU time of this process: on a shared machine the wall clock also counts other people's jobs.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run(const Options& o) {
  const auto fy = take(rp::fiscal_year_period(2026, "Asia/Tokyo"), "period");
  const auto month = take(rp::month_period(o.month, "Asia/Tokyo"), "month");
  bool fresh = o.regenerate || !fs::exists(o.db);
  if (!fresh) {
    auto store = take(st::Store::open(o.db), "open");
    fresh = take(store->meta("bench_report_shape"), "meta") != std::optional<std::string>(shape(o));
  }
  if (fresh) {
    fmt::print("generating {} ({})...\n", o.db, shape(o));
    std::fflush(stdout);
    const auto t0 = Steady::now();
    generate(o, fy);
    fmt::print("generated in {:.1f} s\n", seconds_since(t0));
  } else {
    fmt::print("reusing {} ({})\n", o.db, shape(o));
  }
  auto store = take(st::Store::open(o.db), "open");
  auto& db = store->database();
  if (o.no_long_index) {
    check(db.execute_script("DROP INDEX IF EXISTS sessions_long"), "drop sessions_long");
  } else {
    check(db.execute_script(kLongIndex), "sessions_long");
  }
  const auto file_mb = static_cast<double>(fs::file_size(o.db)) / 1e6;
  const auto sessions = take(db.query_int64("SELECT COUNT(*) FROM sessions"), "count");
  const auto machine =
      take(db.query_int64("SELECT COUNT(*) FROM sessions WHERE kind = 'machine'"), "count machine");
  fmt::print("database: {:.0f} MB, {} sessions ({} machine), sessions_long index: {}\n", file_mb,
             sessions, machine, o.no_long_index ? "no" : "yes");

  rp::ReportOptions ro;
  ro.as_of_ms = fy.end_ms + 60 * kDayMs;
  int status = 0;
  auto time_report = [&](const rp::Period& p, const char* name) {
    std::vector<double> build_s, total_s, cpu_s;
    rp::WardReport last;
    for (std::int64_t i = 0; i < o.runs; ++i) {
      const auto t0 = Steady::now();
      const double c0 = cpu_seconds();
      auto r = take(rp::build_ward_report(*store, p, ro), "report");
      cpu_s.push_back(cpu_seconds() - c0);
      build_s.push_back(seconds_since(t0));
      std::size_t bytes = rp::render_json(r).size() + rp::render_html(r).size();
      for (const auto& c : rp::render_csv(r)) bytes += c.content.size();
      total_s.push_back(seconds_since(t0));
      if (bytes == 0) status = 2;
      last = std::move(r);
    }
    fmt::print(
        "{:<12} {:>8}: build median {:.2f} s wall (runs: {:.2f}), {:.2f} s CPU; with rendering "
        "{:.2f} s wall | machine "
        "sessions {}, machine hours {}, coworking sessions {}, member-hours {}, peak {}, unique "
        "users {}\n",
        name, p.label, median(build_s), fmt::join(build_s, ", "), median(cpu_s), median(total_s),
        last.machine_sessions(), rp::format_hours(last.machine_ms()), last.coworking.sessions,
        rp::format_hours(last.coworking.ms), last.coworking.peak_occupancy, last.unique_users);
    return last;
  };
  const auto year = time_report(fy, "fiscal year");
  if (year.machine_sessions() != machine || year.coworking.sessions != sessions - machine ||
      year.months.size() != 12) {
    fmt::print("MISMATCH: the fiscal-year report does not count every generated session\n");
    status = 2;
  }
  const auto m = time_report(month, "month");
  std::int64_t from_year = 0;
  for (const auto& row : year.months) {
    if (row.month == o.month) from_year = row.machine_ms;
  }
  if (m.machine_ms() != from_year) {
    fmt::print("MISMATCH: month machine time {} differs from the fiscal year's row {}\n",
               m.machine_ms(), from_year);
    status = 2;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_report: ward report over a fiscal year of sessions"};
  app.add_option("--sessions", o.sessions, "sessions in FY2026 (default 12,000,000)");
  app.add_option("--members", o.members, "members (default 10,000)");
  app.add_option("--machines", o.machines, "machines (default 8)");
  app.add_option("--door-events", o.door_events, "granted door events (default 1,000,000)");
  app.add_option("--runs", o.runs, "runs per report; the median is reported (default 3)");
  app.add_option("--month", o.month, "month report to time (default 2027-03)");
  app.add_option("--db", o.db, "database file, kept and reused (default bench-report.db)");
  app.add_flag("--regenerate", o.regenerate, "rebuild the database even if it matches");
  app.add_flag("--no-long-index", o.no_long_index, "time without the proposed sessions_long index");
  app.add_option("--seed", o.seed, "random seed");
  CLI11_PARSE(app, argc, argv);
  if (o.sessions < 1 || o.members < 1 || o.machines < 1 || o.runs < 1 || o.door_events < 0) {
    fmt::print(stderr, "bench_report: counts must be positive\n");
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_report: {}\n", e.what());
    return 1;
  }
}
