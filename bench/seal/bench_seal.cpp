// bench_seal: how long sealing takes per written row, and how long `audit verify` takes over a
// sealed log of 1,000,000 rows (issue 19: at most 10 s). The rows are access events like the
// daemon's, written on a Store with the sealing key attached, in transactions of
// --batch rows; 1 in 20 rows is an audit row, and the clock moves one epoch every --per-epoch
// rows so verify walks the key ratchet too. Then verify runs --runs times on the closed file,
// and once more after one middle row was deleted (it must be found: exit status 2 otherwise).
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <vector>

#include "labgate/gateway/store/seal.hpp"
#include "labgate/gateway/store/store.hpp"

namespace st = labgate::gateway::store;
namespace seal = labgate::gateway::store::seal;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

template <typename T>
T take(st::Result<T> r, const char* what) {
  if (!r) throw std::runtime_error(fmt::format("{}: {}", what, r.error().message));
  return std::move(r).value();
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t rows = 1'000'000;
  std::int64_t batch = 1'000;
  std::int64_t per_epoch = 50'000;
  int runs = 3;
  std::string dir_opt;
  CLI::App cli{"bench_seal: sealing cost per row and audit verify over a sealed log"};
  cli.add_option("--rows", rows, "sealed rows to write")->check(CLI::PositiveNumber);
  cli.add_option("--batch", batch, "rows per transaction")->check(CLI::PositiveNumber);
  cli.add_option("--per-epoch", per_epoch, "rows per epoch")->check(CLI::PositiveNumber);
  cli.add_option("--runs", runs, "verify runs")->check(CLI::PositiveNumber);
  cli.add_option("--dir", dir_opt, "folder for the database (default: a temporary one)");
  CLI11_PARSE(cli, argc, argv);

  const fs::path dir =
      dir_opt.empty() ? fs::temp_directory_path() / fmt::format("labgate-bench-seal-{}", ::getpid())
                      : fs::path(dir_opt);
  fs::create_directories(dir);
  const fs::path db = dir / "seal.db";
  for (const char* suffix : {"", "-wal", "-shm", ".seal-key"}) fs::remove(db.string() + suffix);
  int status = 0;
  try {
    std::int64_t now = 1'790'000'000'000;
    st::StoreOptions o;
    o.clock = [&now] { return now; };
    seal::Key k0{};
    {
      auto store = take(st::Store::open(db, o), "open");
      k0 = take(seal::setup(store->database(), seal::default_key_path(db), now,
                            seal::kDefaultPeriodMs, "bench"),
                "setup");
    }
    o.seal_key_file = seal::default_key_path(db);
    auto store = take(st::Store::open(db, o), "open sealed");
    const auto t_write = Steady::now();
    std::int64_t written = 0;
    std::int64_t audit_rows = 0;
    while (written < rows) {
      auto tx = take(st::Transaction::begin(store->database()), "begin");
      for (std::int64_t i = 0; i < batch && written < rows; ++i, ++written) {
        if (written > 0 && written % per_epoch == 0) now += seal::kDefaultPeriodMs;
        if (written % 20 == 19) {
          if (auto s =
                  st::append_audit_row(store->database(), now, "staff", "members.update",
                                       fmt::format("M{}", written % 997), R"({"status":"active"})");
              !s) {
            throw std::runtime_error(s.error().message);
          }
          ++audit_rows;
          continue;
        }
        // The daemon's row (EventLog::record_access), inserted in the batch's transaction:
        // what is measured is the seal at the commit, not one fsync per row.
        auto insert = take(store->database().prepare(
                               "INSERT INTO access_events (uuid, at_ms, seq, reader_id, door_id, "
                               "kind, decision, reason, detail) VALUES (?1, ?2, ?3, 'main-in', "
                               "'main', 'tap', ?4, ?5, '{\"technology\":\"iso14443a\"}')"),
                           "prepare");
        insert.bind(1, fmt::format("{:032x}", written))
            .bind(2, now + written)
            .bind(3, written + 1)
            .bind(4, written % 3 == 0 ? "denied" : "granted")
            .bind(5, written % 3 == 0 ? "unknown_card" : "ok");
        if (auto s = insert.run(); !s) throw std::runtime_error(s.error().message);
      }
      if (auto s = tx.commit(); !s) throw std::runtime_error(s.error().message);
    }
    const double write_s = seconds_since(t_write);
    const auto seals = take(store->database().query_int64("SELECT count(*) FROM seals"), "count");
    store.reset();
    fmt::print(
        "bench_seal: {} rows ({} access events, {} audit rows) written sealed in {:.1f} s "
        "({:.1f} us per row, insert and seal, {} rows per commit); {} seals\n",
        rows, rows - audit_rows, audit_rows, write_s, write_s * 1e6 / static_cast<double>(rows),
        batch, seals);

    st::StoreOptions ro;
    ro.database.read_only = true;
    std::vector<double> times;
    for (int r = 0; r < runs; ++r) {
      auto reader = take(st::Store::open(db, ro), "open read-only");
      const auto t = Steady::now();
      const auto v = take(seal::verify(reader->database(), k0, {}), "verify");
      times.push_back(seconds_since(t));
      fmt::print("verify run {}: {:.2f} s, {} ({} seals, {} rows)\n", r + 1, times.back(),
                 v.ok ? "ok" : "NOT OK: " + v.message, v.seals_checked, v.rows_checked);
      if (!v.ok) status = 2;
    }
    std::sort(times.begin(), times.end());
    fmt::print(
        "verify: median {:.2f} s, max {:.2f} s over {} runs (target <= 10 s at 1,000,000 "
        "rows)\n",
        times[times.size() / 2], times.back(), runs);

    {
      auto writer = take(st::Database::open(db, st::DatabaseOptions{}), "open raw");
      if (auto s = writer->execute_script(
              fmt::format("DELETE FROM access_events WHERE id = {}", rows / 2));
          !s) {
        throw std::runtime_error(s.error().message);
      }
    }
    auto reader = take(st::Store::open(db, ro), "open read-only");
    const auto t = Steady::now();
    const auto v = take(seal::verify(reader->database(), k0, {}), "verify");
    fmt::print("verify after deleting access_events row {}: {:.2f} s, {}\n", rows / 2,
               seconds_since(t), v.message);
    if (v.ok || v.findings.front().kind != seal::Kind::kDeleted) status = 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_seal: {}\n", e.what());
    status = 1;
  }
  std::error_code ec;
  if (dir_opt.empty()) fs::remove_all(dir, ec);
  return status;
}
