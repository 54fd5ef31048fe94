// bench_console_search: the console's member search (StaffRegistry::search_members, one page of
// 51 rows as GET /members asks) over --members members of the real schema. Times number-prefix,
// name-part and empty queries separately and prints p50/p95/max of each; the target (issue 13)
// is p95 <= 100 ms at 100,000 members. The query only: the HTTP layer adds well under 1 ms on
// loopback.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "labgate/gateway/store/store.hpp"

namespace {

namespace st = labgate::gateway::store;
using Steady = std::chrono::steady_clock;

const std::vector<std::string> kFamily = {"Sato",     "Suzuki",   "Takahashi", "Tanaka",    "Ito",
                                          "Watanabe", "Yamamoto", "Nakamura",  "Kobayashi", "Kato"};
const std::vector<std::string> kGiven = {"Aiko", "Haruto", "Yui",  "Sota", "Mei",
                                         "Ren",  "Hina",   "Yuto", "Rin",  "Minato"};

template <typename T>
T take(st::Result<T> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error().message);
  return std::move(r).value();
}

void generate(st::Store& store, std::int64_t members, std::mt19937_64& rng) {
  auto& db = store.database();
  if (auto s = db.execute_script("BEGIN"); !s) throw std::runtime_error(s.error().message);
  auto stmt = take(db.prepare("INSERT INTO members (member_no, name, email, status, created_at) "
                              "VALUES (?1, ?2, '', 'active', 0)"),
                   "prepare");
  for (std::int64_t i = 1; i <= members; ++i) {
    const std::string name = kFamily[rng() % kFamily.size()] + " " + kGiven[rng() % kGiven.size()] +
                             " " + std::to_string(rng() % 100000);
    stmt.bind(1, fmt::format("M{:06}", i)).bind(2, name);
    if (auto s = stmt.run(); !s) throw std::runtime_error(s.error().message);
  }
  if (auto s = db.execute_script("COMMIT"); !s) throw std::runtime_error(s.error().message);
}

struct Figures {
  double p50, p95, max;
};

Figures time_queries(st::Store& store, const std::vector<std::string>& queries) {
  std::vector<double> ms;
  for (const auto& q : queries) {
    const auto t0 = Steady::now();
    auto rows = take(store.staff().search_members(q, 51, 0), "search");
    ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
    if (rows.size() > 51) throw std::runtime_error("more than a page");
  }
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double p) { return ms[static_cast<std::size_t>(p * (ms.size() - 1))]; };
  return {at(0.5), at(0.95), ms.back()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"bench_console_search: the console's member search"};
  std::int64_t members = 100000;
  int queries = 200;
  std::string path = "bench-console-search.db";
  cli.add_option("--members", members, "members to generate");
  cli.add_option("--queries", queries, "queries of each kind");
  cli.add_option("--db", path, "database file (regenerated)");
  CLI11_PARSE(cli, argc, argv);

  std::filesystem::remove(path);
  st::StoreOptions options;
  options.site_key = st::SiteKey{};
  auto store = take(st::Store::open(path, options), "open");
  std::mt19937_64 rng(13);
  const auto g0 = Steady::now();
  generate(*store, members, rng);
  fmt::print("generated {} members in {:.1f} s\n", members,
             std::chrono::duration<double>(Steady::now() - g0).count());

  std::vector<std::string> by_number, by_name, empty(static_cast<std::size_t>(queries));
  for (int i = 0; i < queries; ++i) {
    by_number.push_back(fmt::format("M{:04}", rng() % (members / 100 + 1)));
    by_name.push_back(kGiven[rng() % kGiven.size()] + " " + std::to_string(rng() % 100));
  }
  for (const auto& [label, list] : {std::pair{"number prefix", &by_number},
                                    std::pair{"name part", &by_name}, std::pair{"empty", &empty}}) {
    const auto f = time_queries(*store, *list);
    fmt::print("{:<14} {} queries: p50 {:.2f} ms  p95 {:.2f} ms  max {:.2f} ms\n", label,
               list->size(), f.p50, f.p95, f.max);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return 0;
}
