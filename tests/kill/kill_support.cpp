#include "kill_support.hpp"

#include <signal.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "labgate/gateway/store/seal.hpp"
#include "labgate/gateway/store/store.hpp"
#include "must.hpp"

namespace labgate::testing::kill {

namespace st = labgate::gateway::store;
using namespace std::chrono_literals;

namespace {

// kStartLocalTime in UTC ms: the store's "today" must be the daemon's simulated day, or the
// inspections and certifications seeded here would already be due or expired.
std::int64_t start_ms() {
  auto utc = std::chrono::sys_days{std::chrono::year{2026} / 11 / 24} + 1h;  // 10:00 JST
  return std::chrono::duration_cast<std::chrono::milliseconds>(utc.time_since_epoch()).count();
}

std::unique_ptr<st::Store> open_store(const std::filesystem::path& db) {
  st::StoreOptions options;
  auto key = st::parse_site_key(kDemoSiteKey);
  if (!key.ok()) throw std::runtime_error("demo site key: " + key.error().message);
  options.site_key = key.value();
  options.time_zone = "Asia/Tokyo";
  options.clock = [] { return start_ms(); };
  options.seal_key_file = st::seal::default_key_path(db);
  auto opened = st::Store::open(db, options);
  if (!opened.ok()) throw std::runtime_error("store open: " + opened.error().message);
  return std::move(opened).value();
}

std::string hex_byte(int v) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02x", v & 0xff);
  return buf;
}

}  // namespace

Seed seed_database(const std::filesystem::path& db, int members) {
  auto store = open_store(db);
  Seed seed;
  st::NewPlan plan;
  plan.code = "staff";
  plan.name = "Staff";
  plan.windows = "24h";
  plan.holidays_allowed = true;
  plan.closure_allowed = true;
  must(store->staff().add_plan(plan, "kill-test"), "add_plan");
  for (const auto& [code, name] : std::vector<std::pair<std::string, std::string>>{
           {"laser-cutter", "Laser cutter"}, {"3d-printer", "3D printer"}, {"cnc-mill", "CNC"}}) {
    st::CertificationType type;
    type.code = code;
    type.name = name;
    type.validity_days = 365;
    must(store->staff().add_certification_type(type, "kill-test"),
         "add_certification_type " + code);
  }
  // The last few members hold no certification, so machine taps are also refused for a reason
  // the policy decides (not only "in use" or "not ready").
  const int certified = members > 4 ? members - 4 : members;
  for (int i = 1; i <= members; ++i) {
    SeededMember m;
    char no[16];
    std::snprintf(no, sizeof no, "M%04d", i);
    m.member_no = no;
    m.card_hex = "040000" + hex_byte(i);
    m.certified = i <= certified;
    st::NewMember nm;
    nm.member_no = m.member_no;
    nm.name = "Member " + std::to_string(i);
    nm.email = "m" + std::to_string(i) + "@example.org";
    nm.plan_code = "staff";
    must(store->staff().add_member(nm, "kill-test"), "add_member " + m.member_no);
    must(store->staff().approve_member(m.member_no, "kill-test"), "approve_member " + m.member_no);
    const std::vector<std::uint8_t> uid = {0x04, 0x00, 0x00, static_cast<std::uint8_t>(i)};
    must(store->staff().enroll_credential(m.member_no, "iso14443a", uid, "card", "kill-test"),
         "enroll_credential " + m.member_no);
    if (m.certified) {
      for (const char* type : {"laser-cutter", "3d-printer", "cnc-mill"}) {
        must(store->staff().grant_certification(m.member_no, type, "trainer",
                                                std::string("2026-11-01"), "kill-test"),
             "grant_certification " + m.member_no);
      }
    }
    seed.members.push_back(std::move(m));
  }
  for (int i = 0; i < 6; ++i) seed.unknown_cards.push_back("04ffee" + hex_byte(0xa0 + i));
  return seed;
}

void record_inspections(const std::filesystem::path& db) {
  auto store = open_store(db);
  for (const auto& machine : kMachines) {
    st::NewInspection in;
    in.machine_id = machine;
    in.done_on = "2026-11-24";
    in.inspector = "inspector";
    in.result = "pass";
    in.notes = "kill test";
    must(store->staff().record_inspection(in, "kill-test"), "record_inspection " + machine);
  }
}

Seed prepare_site(const std::filesystem::path& db, const std::filesystem::path& socket,
                  const std::filesystem::path& log) {
  Seed seed = seed_database(db);
  {
    auto first = start_daemon(db, socket, sim_time(std::chrono::seconds(0)), log);
    if (!first->wait_ready(20s * time_scale())) {
      throw std::runtime_error("first daemon run never became ready; see " + log.string());
    }
    first->child().signal(SIGTERM);
    if (first->child().wait(20s * time_scale()) != std::optional<int>(0)) {
      throw std::runtime_error("first daemon run did not stop cleanly; see " + log.string());
    }
  }
  record_inspections(db);
  return seed;
}

std::string sim_time(std::chrono::seconds offset) {
  const auto total = 10 * 3600 + offset.count();
  if (offset.count() < 0 || total >= 24 * 3600) {
    throw std::runtime_error("simulated time leaves the test day");
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "2026-11-24 %02d:%02d:%02d", static_cast<int>(total / 3600),
                static_cast<int>(total / 60 % 60), static_cast<int>(total % 60));
  return buf;
}

std::string log_tail(const std::filesystem::path& log, std::size_t lines) {
  const std::string text = read_file(log);
  std::size_t start = text.size();
  for (std::size_t n = 0; n <= lines; ++n) {
    if (start == 0) return text;
    start = text.rfind('\n', start - 1);
    if (start == std::string::npos) return text;
  }
  return text.substr(start + 1);
}

int time_scale() {
#ifdef LABGATE_KILL_SANITIZED
  return 3;
#else
  return 1;
#endif
}

std::unique_ptr<Daemon> start_daemon(const std::filesystem::path& db,
                                     const std::filesystem::path& socket,
                                     const std::string& start_local,
                                     const std::filesystem::path& log,
                                     const std::vector<std::string>& extra_args) {
  auto daemon = std::make_unique<Daemon>(DemoSite{db, socket, log});
  daemon->set_extra_args(extra_args);
  daemon->spawn(start_local);
  return daemon;
}

bool confirm_machines(Daemon& daemon) {
  for (const auto& m : kMachines) {
    if (daemon.request("confirm " + m) != "ok confirm " + m) return false;
  }
  return true;
}

std::optional<Ack> parse_ack(const std::string& reader, const std::string& reply) {
  // No std::regex: g++ 12 warns inside <regex> under the sanitizers (-Wmaybe-uninitialized).
  std::vector<std::string> words;
  std::size_t pos = 0;
  while (pos < reply.size()) {
    auto end = reply.find(' ', pos);
    if (end == std::string::npos) end = reply.size();
    if (end == pos) return std::nullopt;  // doubled or trailing space: not a reply we know
    words.push_back(reply.substr(pos, end - pos));
    pos = end + 1;
  }
  if (words.size() < 5 || words.size() > 6 || words[0] != "ok") return std::nullopt;
  if (words[1] != "granted" && words[1] != "denied") return std::nullopt;
  Ack a;
  a.reader = reader;
  a.granted = words[1] == "granted";
  a.target = words[2];
  a.member = words[3];
  a.reason = words[4];
  if (words.size() == 6) {
    const std::string& s = words[5];
    if (s.size() <= 4 || s.compare(0, 4, "seq=") != 0) return std::nullopt;
    for (std::size_t i = 4; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
    }
    a.seq = std::stoll(s.substr(4));
  }
  return a;
}

std::string target_of_reader(const std::string& reader) {
  if (reader == "main-in" || reader == "main-out") return "main";
  if (reader == "lab-in") return "fablab";
  return reader;  // each machine's reader carries the machine's id
}

ReadOnlyDb::ReadOnlyDb(const std::filesystem::path& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("open " + path.string() + ": " + msg);
  }
}

ReadOnlyDb::~ReadOnlyDb() {
  sqlite3_close(db_);
}

std::vector<ReadOnlyDb::Row> ReadOnlyDb::rows(const std::string& sql,
                                              const std::vector<std::int64_t>& params) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error("prepare '" + sql + "': " + sqlite3_errmsg(db_));
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    sqlite3_bind_int64(stmt, static_cast<int>(i + 1), params[i]);
  }
  std::vector<Row> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    Row row;
    for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
      const auto* text = sqlite3_column_text(stmt, c);
      if (text == nullptr) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(reinterpret_cast<const char*>(text)));
      }
    }
    out.push_back(std::move(row));
  }
  std::string err = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db_);
  sqlite3_finalize(stmt);
  if (!err.empty()) throw std::runtime_error("step '" + sql + "': " + err);
  return out;
}

std::int64_t ReadOnlyDb::integer(const std::string& sql, const std::vector<std::int64_t>& params) {
  auto r = rows(sql, params);
  if (r.empty() || r[0].empty()) throw std::runtime_error("no row: " + sql);
  return r[0][0] ? std::stoll(*r[0][0]) : 0;
}

std::string ReadOnlyDb::text(const std::string& sql) {
  auto r = rows(sql);
  if (r.empty() || r[0].empty()) throw std::runtime_error("no row: " + sql);
  return r[0][0].value_or("");
}

WriteLock::WriteLock(const std::filesystem::path& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("open " + path.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  char* err = nullptr;
  if (sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("BEGIN EXCLUSIVE: " + msg);
  }
}

WriteLock::~WriteLock() {
  release();
}

void WriteLock::release() {
  if (db_ == nullptr) return;
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db_);
  db_ = nullptr;
}

}  // namespace labgate::testing::kill
