// bench_decision: decision latency of the tap path on a large site database.
//
// Seeds a database (100,000 members, 200,000 cards, 1,000,000 past events by default), runs the
// demo site on a manual clock and feeds it card reads the way the daemon's loop does, then prints
// latency percentiles per kind of tap, an SQL statement profile of a second, shorter run, and the
// database figures. Every tap's outcome is checked against what the seeded data says it must be,
// so a fast but wrong tap path cannot pass for a fast one: any mismatch makes the exit status 2.
// docs/BENCHMARKS.md explains the figures.

#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "console_clients.hpp"
#include "labgate/drivers/sim/sim_devices.hpp"
#include "labgate/gateway/app/clock.hpp"
#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/gateway/console/password.hpp"
#include "labgate/gateway/store/store.hpp"
#include "latency.hpp"
#include "seed.hpp"
#include "stream_clients.hpp"

namespace labgate::bench::decision {
namespace {

namespace app = gateway::app;
namespace store = gateway::store;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

struct Options {
  std::int64_t members{100'000};
  std::int64_t events{1'000'000};
  std::int64_t sessions{200'000};
  std::int64_t taps{20'000};
  std::int64_t profile_taps{1'000};
  std::int64_t tap_interval_ms{1'000};
  std::uint64_t seed{42};
  std::string start{"2026-06-02 10:00"};
  std::string db;
  bool keep_db{false};
  bool seal{false};
  std::string log{"null"};
  int stream_clients{0};
  std::int64_t bookings{0};  // room bookings to seed; > 0 adds room taps
  int console_clients{0};
  int pairs{5};
  int console_nice{0};
  bool console_one_reader{false};
  std::string console;
};

double micros_between(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// Where the loop is, for the SQL profile: outside a tap (ticks, staff actions), in a tap before its
// strike/relay command (or in a tap that moves no output), or in a tap after the command.
enum class TapPhase { kOutside, kBeforeCommand, kAfterCommand };
TapPhase g_phase = TapPhase::kOutside;

const char* to_string(TapPhase p) {
  switch (p) {
    case TapPhase::kOutside:
      return "tick";
    case TapPhase::kBeforeCommand:
      return "pre";
    case TapPhase::kAfterCommand:
      return "post";
  }
  return "?";
}

// A SimOutput that remembers when it was first commanded since mark(): the instant the strike or
// relay command left the tap path, independent of where Site takes its own measurement.
class StampedOutput final : public drivers::Output {
 public:
  explicit StampedOutput(std::string id) : sim_(std::move(id)) {}
  const std::string& id() const override { return sim_.id(); }
  drivers::IoResult set(bool on) override {
    if (!first_) first_ = Steady::now();
    if (g_phase == TapPhase::kBeforeCommand) g_phase = TapPhase::kAfterCommand;
    return sim_.set(on);
  }
  bool commanded() const override { return sim_.commanded(); }
  void mark() { first_.reset(); }
  std::optional<Steady::time_point> first_set() const { return first_; }
  bool level() const { return sim_.level(); }

 private:
  drivers::sim::SimOutput sim_;
  std::optional<Steady::time_point> first_;
};

struct DoorReader {
  std::string reader;
  std::string door;
  std::shared_ptr<StampedOutput> strike;
};

struct MachineTarget {
  std::string id;
  std::string reader;
  std::string certification;
  bool tap_mode{false};
  std::shared_ptr<StampedOutput> relay;
  std::optional<std::pair<std::int64_t, int>> holder;  // member index and card, while in use
};

// Three measurements of one kind of tap.
struct Samples {
  LatencySet decision;       // Site::last_decision_micros()
  LatencySet command;        // call -> first strike/relay set() (taps that moved an output)
  LatencySet after_command;  // decision - command: what Site's hook counts after the command
  LatencySet call;           // the whole on_reader_event, durable commit included
};

struct MachineStatus {
  std::string state;
  std::string user;
};

// Per-statement figures, timed from SQLite's statement-start and profile hooks. The profile
// hook's own duration has millisecond resolution in the unix VFS, so the time is taken here.
struct SqlStats {
  LatencySet time;
  std::int64_t fullscan_steps{0};
  std::int64_t sorts{0};
  std::int64_t autoindexes{0};
};
struct SqlProfile {
  std::map<std::pair<TapPhase, std::string>, SqlStats> by_sql;
  std::map<sqlite3_stmt*, Steady::time_point> running;
};

int on_sql_trace(unsigned type, void* ctx, void* p, void* x) {
  (void)x;
  auto& profile = *static_cast<SqlProfile*>(ctx);
  auto* stmt = static_cast<sqlite3_stmt*>(p);
  if (type == SQLITE_TRACE_STMT) {
    profile.running.emplace(stmt, Steady::now());  // keeps the first start of a multi-step run
    return 0;
  }
  if (type != SQLITE_TRACE_PROFILE) return 0;
  const auto end = Steady::now();
  auto it = profile.running.find(stmt);
  if (it == profile.running.end()) return 0;
  auto& s = profile.by_sql[{g_phase, sqlite3_sql(stmt)}];
  s.time.add(std::chrono::duration<double, std::micro>(end - it->second).count());
  profile.running.erase(it);
  s.fullscan_steps += sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
  s.sorts += sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_SORT, 1);
  s.autoindexes += sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_AUTOINDEX, 1);
  return 0;
}

std::string one_line(std::string sql, std::size_t width) {
  std::string out;
  for (char c : sql) {
    if (c == '\n' || c == '\t') c = ' ';
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
  if (out.size() > width) out = out.substr(0, width - 3) + "...";
  return out;
}

std::int32_t day_number(const gateway::policy::LocalDate& d) {
  return static_cast<std::int32_t>(std::chrono::sys_days(d).time_since_epoch().count());
}

bool working_day(const gateway::policy::Calendar& cal, const gateway::policy::LocalDate& d) {
  const std::chrono::weekday wd{std::chrono::sys_days(d)};
  return wd != std::chrono::Saturday && wd != std::chrono::Sunday && !cal.is_holiday(d) &&
         !cal.in_closure(d);
}

class Bench {
 public:
  Bench(const Options& o, const gateway::config::SiteConfig& cfg, app::ManualClock& clock,
        store::Store& st, Population& pop)
      : o_(o), cfg_(cfg), clock_(clock), store_(st), pop_(pop), rng_(o.seed ^ 0x7461707321ull) {}

  void build_site() {
    site_ = std::make_unique<app::Site>(app::site_setup_from(cfg_), store_, clock_);
    for (const auto& d : cfg_.doors) {
      auto strike = std::make_shared<StampedOutput>(d.strike.id);
      site_->attach_strike(d.id, strike);
      // A room's or locker's door admits by booking or loan: its own tap category.
      const bool room = std::any_of(cfg_.rooms.begin(), cfg_.rooms.end(),
                                    [&](const auto& r) { return r.door == d.id; });
      const bool locker = std::any_of(cfg_.lockers.begin(), cfg_.lockers.end(),
                                      [&](const auto& l) { return l.door == d.id; });
      if (room && d.entry_reader && !room_) room_ = DoorReader{*d.entry_reader, d.id, strike};
      if (room || locker) continue;
      if (d.entry_reader) doors_.push_back({*d.entry_reader, d.id, strike});
      if (d.exit_reader) doors_.push_back({*d.exit_reader, d.id, strike});
    }
    for (const auto& m : cfg_.machines) {
      auto relay = std::make_shared<StampedOutput>(m.relay.id);
      site_->attach_relay(m.id, relay);
      machines_.push_back({m.id, m.reader, m.certification,
                           m.mode == gateway::config::SessionMode::kTapOnOff, relay, std::nullopt});
    }
    site_->start();
    for (const auto& m : machines_) site_->confirm(m.id, "bench staff");
    for (const auto& m : machines_) {
      if (status(m.id).state != "idle") {
        throw std::runtime_error("machine " + m.id +
                                 " is not idle after staff confirmation: " + status(m.id).state);
      }
    }
  }

  // Seeds `count` bookings of the first room: back-to-back 30-minute slots of random members,
  // half of them before the first tap and half after, written directly (the rules are the
  // store's tests' business; here only the decision's read counts).
  void seed_bookings(std::int64_t count) {
    if (!room_ || count <= 0 || cfg_.rooms.empty()) return;
    const auto& room = cfg_.rooms.front();
    early_ms_ = std::int64_t{room.rules.early_entry_minutes} * 60'000;
    const auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch())
            .count();
    first_slot_ms_ = now - now % kSlotMs - (count / 2) * kSlotMs;
    auto& db = store_.database();
    auto tx = store::Transaction::begin(db);
    if (!tx) throw std::runtime_error("bookings: " + tx.error().message);
    slot_member_.resize(static_cast<std::size_t>(count));
    for (std::int64_t k = 0; k < count; ++k) {
      const auto member =
          static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(pop_.members)));
      slot_member_[static_cast<std::size_t>(k)] = member;
      auto stmt = db.prepare(
          "INSERT INTO bookings (room_id, member_id, start_ms, end_ms, state, created_at_ms, "
          "created_by) SELECT ?1, id, ?3, ?4, 'booked', ?3, 'bench' FROM members "
          "WHERE member_no = ?2");
      if (!stmt) throw std::runtime_error("bookings: " + stmt.error().message);
      const std::int64_t start = first_slot_ms_ + k * kSlotMs;
      stmt->bind(1, room.id).bind(2, member_no(member)).bind(3, start).bind(4, start + kSlotMs);
      if (auto r = stmt->run(); !r) throw std::runtime_error("bookings: " + r.error().message);
    }
    if (auto r = tx->commit(); !r) throw std::runtime_error("bookings: " + r.error().message);
  }

  // Runs `count` taps, cycling door / unknown card / machine (/ room reader when bookings were
  // seeded), into `samples`.
  void run(std::int64_t count, std::map<std::string, Samples>& samples) {
    const int kinds = slot_member_.empty() ? 3 : 4;
    for (std::int64_t i = 0; i < count; ++i) {
      roll_day_if_late();
      if (i % kinds == 3) {
        room_tap(samples);
        clock_.advance(std::chrono::milliseconds(o_.tap_interval_ms));
        site_->tick();
        if (between_taps_) between_taps_();
        continue;
      }
      switch (i % 3) {
        case 0:
          door_tap(samples);
          break;
        case 1:
          unknown_tap(samples);
          break;
        default:
          machine_slot(samples);
          break;
      }
      clock_.advance(std::chrono::milliseconds(o_.tap_interval_ms));
      site_->tick();
      if (between_taps_) between_taps_();
    }
  }

  // Work done between taps, outside the measured calls (the admin channel's writes).
  void set_between_taps(std::function<void()> f) { between_taps_ = std::move(f); }

  app::Site& site() { return *site_; }
  std::int64_t mismatches() const { return mismatches_; }
  std::int64_t uncommitted() const { return uncommitted_; }
  std::int64_t days() const { return days_; }
  const std::map<std::string, std::int64_t>& outcomes() const { return outcomes_; }

 private:
  struct Expect {
    bool granted{false};
    std::optional<std::string> reason;  // checked when set
  };

  MachineStatus status(const std::string& machine_id) const {
    const std::string prefix = "machine " + machine_id + " ";
    for (const auto& line : site_->status_lines()) {
      if (line.rfind(prefix, 0) != 0) continue;
      MachineStatus s;
      const auto rest = line.substr(prefix.size());
      s.state = rest.substr(0, rest.find(' '));
      const auto at = rest.find("user=");
      if (at != std::string::npos) s.user = rest.substr(at + 5);
      return s;
    }
    return {};
  }

  std::int32_t today() const { return day_number(cfg_.calendar.to_local(clock_.wall()).date); }

  // Taps stay inside every plan's weekday window; at 17:00 the day ends (the closing run closes
  // open coworking sessions) and the next working day starts at 10:00.
  void roll_day_if_late() {
    const auto local = cfg_.calendar.to_local(clock_.wall());
    if (local.minute_of_day < 17 * 60) return;
    if (cfg_.site.closing_minute) {
      clock_.set(cfg_.calendar.to_sys(local.date, *cfg_.site.closing_minute));
      site_->tick();
    }
    auto next =
        gateway::policy::LocalDate(std::chrono::sys_days(local.date) + std::chrono::days(1));
    while (!working_day(cfg_.calendar, next)) {
      next = gateway::policy::LocalDate(std::chrono::sys_days(next) + std::chrono::days(1));
    }
    clock_.set(cfg_.calendar.to_sys(next, 10 * 60));
    site_->tick();
    ++days_;
  }

  void tap(const std::string& category, const std::string& reader, const drivers::Card& card,
           StampedOutput& output, const Expect& expect, std::map<std::string, Samples>& samples,
           app::TapOutcome* result = nullptr) {
    drivers::ReaderEvent ev;
    ev.kind = drivers::ReaderEvent::Kind::kCardPresent;
    ev.reader_id = reader;
    ev.card = card;
    ev.at = Steady::now();
    app::TapOutcome got;
    bool done = false;
    output.mark();
    g_phase = TapPhase::kBeforeCommand;
    const auto t0 = Steady::now();
    site_->on_reader_event(ev, [&](const app::TapOutcome& o) {
      got = o;
      done = true;
    });
    const auto t1 = Steady::now();
    g_phase = TapPhase::kOutside;
    const double decision = static_cast<double>(site_->last_decision_micros());
    const auto first = output.first_set();

    const std::string label = category + (got.granted ? " granted" : " denied");
    for (const auto& key : {category, label}) {
      auto& s = samples[key];
      s.decision.add(decision);
      s.call.add(micros_between(t0, t1));
      if (first) {
        s.command.add(micros_between(t0, *first));
        s.after_command.add(std::max(0.0, decision - micros_between(t0, *first)));
      }
    }
    ++outcomes_[category + ": " + (got.granted ? "granted " : "denied ") + got.reason];
    if (!done || got.seq <= 0) ++uncommitted_;
    if (got.granted != expect.granted || (expect.reason && got.reason != *expect.reason)) {
      if (++mismatches_ <= 10) {
        spdlog::default_logger()->flush();
        fmt::print(stderr, "MISMATCH {} on {}: expected {} {}, got {} {} ({})\n", category, reader,
                   expect.granted ? "granted" : "denied", expect.reason.value_or("*"),
                   got.granted ? "granted" : "denied", got.reason, got.detail);
      }
    }
    if (result) *result = got;
  }

  void door_tap(std::map<std::string, Samples>& samples) {
    const auto& d = doors_[rng_.below(doors_.size())];
    const auto member =
        static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(pop_.members)));
    const int which = static_cast<int>(rng_.below(kCardsPerMember));
    Expect e;
    e.granted = !card_revoked(member, which);
    e.reason = e.granted ? "granted" : "credential_revoked";
    tap("door", d.reader, member_card(member, which), *d.strike, e, samples);
  }

  // The member of the booking at `at_ms`, or -1.
  std::int64_t booked_member(std::int64_t at_ms) const {
    if (at_ms < first_slot_ms_) return -1;
    const auto k = static_cast<std::size_t>((at_ms - first_slot_ms_) / kSlotMs);
    return k < slot_member_.size() ? slot_member_[k] : -1;
  }

  // Half the time the member whose booking runs now, half someone at random.
  void room_tap(std::map<std::string, Samples>& samples) {
    const auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch())
            .count();
    const std::int64_t current = booked_member(now);
    const std::int64_t next = booked_member(now + early_ms_);
    std::int64_t member = current;
    if (member < 0 || rng_.below(2) == 0) {
      member = static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(pop_.members)));
    }
    const int which = static_cast<int>(rng_.below(kCardsPerMember));
    Expect e;
    if (card_revoked(member, which)) {
      e.reason = "credential_revoked";
    } else if (member == current || member == next) {
      e.granted = true;
      e.reason = "granted";
    } else {
      e.reason = "outside_booking";
    }
    tap("room", room_->reader, member_card(member, which), *room_->strike, e, samples);
  }

  void unknown_tap(std::map<std::string, Samples>& samples) {
    Expect e;
    e.granted = false;
    e.reason = "unknown_credential";
    const auto card = unknown_card(rng_.next());
    if (machines_.empty() || rng_.below(5) != 0) {
      const auto& d = doors_[rng_.below(doors_.size())];
      tap("unknown card", d.reader, card, *d.strike, e, samples);
    } else {
      auto& m = machines_[rng_.below(machines_.size())];
      tap("unknown card", m.reader, card, *m.relay, e, samples);
    }
  }

  bool cert_valid(std::int64_t member, const std::string& type, std::int32_t day) {
    if (type.empty()) return true;
    const CertFact* c = pop_.cert(member, type);
    return c && !c->revoked && c->granted_day <= day && c->expires_day >= day;
  }

  void machine_slot(std::map<std::string, Samples>& samples) {
    for (std::size_t attempt = 0; attempt < machines_.size(); ++attempt) {
      auto& m = machines_[next_machine_++ % machines_.size()];
      auto st = status(m.id);
      if (st.state == "awaiting_checkoff" || st.state == "startup") {
        site_->confirm(m.id, "bench staff");
        st = status(m.id);
      }
      if (st.state == "idle") {
        m.holder.reset();
        machine_start(m, samples);
        return;
      }
      if (st.state == "in_use" && m.tap_mode && m.holder && st.user == member_no(m.holder->first)) {
        Expect e;
        e.granted = true;
        e.reason = "session_ended";
        tap("machine tap-off", m.reader, member_card(m.holder->first, m.holder->second), *m.relay,
            e, samples);
        m.holder.reset();
        return;
      }
    }
    // Every machine is taken (cards lying on them, grace running): someone tries anyway.
    auto& m = machines_[next_machine_++ % machines_.size()];
    const auto member =
        static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(pop_.members)));
    Expect e;
    e.granted = false;
    tap("machine busy", m.reader, member_card(member, 0), *m.relay, e, samples);
  }

  void machine_start(MachineTarget& m, std::map<std::string, Samples>& samples) {
    std::int64_t member = 0;
    std::size_t type = 0;
    for (; type < pop_.cert_types.size(); ++type) {
      if (pop_.cert_types[type] == m.certification) break;
    }
    // Mostly members trained on this machine (some expired or revoked), some who are not.
    if (type < pop_.holders.size() && !pop_.holders[type].empty() && rng_.below(10) < 7) {
      member = pop_.holders[type][rng_.below(pop_.holders[type].size())];
    } else {
      member = static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(pop_.members)));
    }
    const int which = static_cast<int>(rng_.below(kCardsPerMember));
    const auto day = today();
    Expect e;
    e.granted = !card_revoked(member, which) && cert_valid(member, m.certification, day);
    if (e.granted) e.reason = "granted";
    app::TapOutcome got;
    tap("machine start", m.reader, member_card(member, which), *m.relay, e, samples, &got);
    if (got.granted) {
      m.holder = std::make_pair(member, which);
      if (type < pop_.cert_types.size() && pop_.cert_renew_by_use[type]) {
        CertFact* c = pop_.cert(member, m.certification);
        if (c) {
          c->expires_day = std::max(c->expires_day,
                                    day + static_cast<std::int32_t>(pop_.cert_validity_days[type]));
        }
      }
    }
    if (!m.tap_mode) {
      // Card-stays machines: the card comes off the reader; the session ends after the grace.
      drivers::ReaderEvent ev;
      ev.kind = drivers::ReaderEvent::Kind::kCardRemoved;
      ev.reader_id = m.reader;
      ev.at = Steady::now();
      const auto t0 = Steady::now();
      site_->on_reader_event(ev);
      if (got.granted) samples["machine card removed"].call.add(micros_between(t0, Steady::now()));
    }
  }

  const Options& o_;
  const gateway::config::SiteConfig& cfg_;
  app::ManualClock& clock_;
  store::Store& store_;
  Population& pop_;
  SplitMix64 rng_;
  std::unique_ptr<app::Site> site_;
  std::vector<DoorReader> doors_;
  std::optional<DoorReader> room_;
  static constexpr std::int64_t kSlotMs = 30 * 60'000;
  std::int64_t first_slot_ms_{0};
  std::int64_t early_ms_{0};
  std::vector<std::int64_t> slot_member_;  // member index of each seeded slot
  std::vector<MachineTarget> machines_;
  std::size_t next_machine_{0};
  std::int64_t mismatches_{0};
  std::int64_t uncommitted_{0};
  std::int64_t days_{1};
  std::map<std::string, std::int64_t> outcomes_;
  std::function<void()> between_taps_;
};

void print_tables(const std::map<std::string, Samples>& samples) {
  static const std::vector<std::string> kOrder = {"door",
                                                  "door granted",
                                                  "door denied",
                                                  "unknown card",
                                                  "machine start",
                                                  "machine start granted",
                                                  "machine start denied",
                                                  "machine tap-off",
                                                  "machine busy",
                                                  "machine card removed",
                                                  "room",
                                                  "room granted",
                                                  "room denied"};
  const auto table = [&](const char* title, LatencySet Samples::*member) {
    fmt::print("\n{}\n{}\n", title, format_header("tap"));
    for (const auto& key : kOrder) {
      auto it = samples.find(key);
      if (it == samples.end() || (it->second.*member).size() == 0) continue;
      fmt::print("{}\n", format_row(key, (it->second.*member).summary()));
    }
  };
  table("Decision latency, Site::last_decision_micros() (card read -> strike/relay command)",
        &Samples::decision);
  table("Card read -> first strike/relay set() call, taps that moved an output", &Samples::command);
  table("Site hook minus command: time the hook counts after the output command was issued",
        &Samples::after_command);
  table("Whole on_reader_event() call, durable commit (synchronous=FULL) included", &Samples::call);
}

// --console-clients: the decision's p99 without and with a real labgate-console whose browsers
// hold the live page's stream open, alternated in pairs so that the machine's load drifts over
// both alike. The admin channel runs (and is pumped) in both halves; only the console differs.
int compare_console(const Options& o, const gateway::config::SiteConfig& cfg, store::Store& st,
                    Bench& bench, const fs::path& dir) {
  const std::string login = "bench-console";
  const std::string password = "bench console pass phrase";
  const auto hash = gateway::console::hash_password(password);
  if (!hash) throw std::runtime_error("cannot hash the console password");
  if (auto a = st.staff().add_staff_account({login, "bench", "staff", true, 0}, "bench"); !a) {
    throw std::runtime_error("staff account: " + a.error().message);
  }
  if (auto p = st.staff().set_staff_password_hash(login, *hash, "bench"); !p) {
    throw std::runtime_error("staff password: " + p.error().message);
  }
  // The console reads the same site file labgated would: the benchmark's (the demo site).
  const fs::path config = dir / "console-site.toml";
  {
    std::FILE* f = std::fopen(config.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + config.string());
    std::string text(gateway::config::embedded_demo_config());
    // The demo site with the run's own site key in place of the published one.
    const std::string mark = "\nkey = \"";
    const auto at = text.find(mark);
    if (at == std::string::npos) throw std::runtime_error("demo config has no site key");
    std::string hex;
    for (const auto b : cfg.site.key) hex += fmt::format("{:02x}", b);
    text.replace(at + mark.size(), hex.size(), hex);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    fs::permissions(config, fs::perms::owner_read | fs::perms::owner_write);
  }
  const auto sock = dir / fmt::format("bench-console-{}.sock", ::getpid());
  StreamClients channel(bench.site(), sock.string(), 0);
  bench.set_between_taps([&channel] { channel.pump(); });
  const auto p99 = [](const std::map<std::string, Samples>& m, const char* key) {
    auto it = m.find(key);
    return it == m.end() ? 0.0 : it->second.decision.summary().p99 / 1000.0;
  };
  std::vector<double> door_without, door_with, machine_without, machine_with;
  std::uint64_t fewest_lines = UINT64_MAX;
  fmt::print("\nconsole comparison: {} pairs of {} taps, without then with {} console clients\n",
             o.pairs, o.taps, o.console_clients);
  fmt::print("{:>4}  {:>12} {:>12}  {:>15} {:>15}  {:>10}\n", "pair", "door p99 w/o", "door p99 w/",
             "machine p99 w/o", "machine p99 w/", "min lines");
  for (int pair = 1; pair <= o.pairs; ++pair) {
    std::map<std::string, Samples> without;
    bench.run(o.taps, without);
    std::map<std::string, Samples> with;
    std::uint64_t lines = 0;
    {
      ConsoleClients console(o.console, config, st.database().path(), sock.string(),
                             o.console_nice);
      console.open(o.console_clients, login, password, o.console_one_reader);
      // The console's own subscription to the channel, before the taps.
      const auto until = Steady::now() + std::chrono::seconds(10);
      while (channel.subscribers() < 1) {
        if (Steady::now() > until) throw std::runtime_error("the console did not subscribe");
        channel.pump();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      bench.run(o.taps, with);
      // Let the last lines reach the browsers before counting them.
      for (int i = 0; i < 200; ++i) {
        channel.pump();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      lines = console.close();
    }
    fewest_lines = std::min(fewest_lines, lines);
    door_without.push_back(p99(without, "door"));
    door_with.push_back(p99(with, "door"));
    machine_without.push_back(p99(without, "machine start"));
    machine_with.push_back(p99(with, "machine start"));
    fmt::print("{:>4}  {:>9.3f} ms {:>9.3f} ms  {:>12.3f} ms {:>12.3f} ms  {:>10}\n", pair,
               door_without.back(), door_with.back(), machine_without.back(), machine_with.back(),
               lines);
    std::fflush(stdout);
  }
  bench.set_between_taps({});
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const auto n = v.size();
    return n == 0 ? 0.0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  std::vector<double> door_ratio, machine_ratio;
  for (std::size_t i = 0; i < door_with.size(); ++i) {
    door_ratio.push_back(door_without[i] > 0 ? door_with[i] / door_without[i] : 0);
    machine_ratio.push_back(machine_without[i] > 0 ? machine_with[i] / machine_without[i] : 0);
  }
  fmt::print(
      "median p99: door {:.3f} ms without, {:.3f} ms with (median of pair ratios {:.2f}); "
      "machine start {:.3f} ms without, {:.3f} ms with (median of pair ratios {:.2f})\n",
      median(door_without), median(door_with), median(door_ratio), median(machine_without),
      median(machine_with), median(machine_ratio));
  fmt::print("fewest stream lines a console client read in a pair: {}\n", fewest_lines);
  std::error_code ec;
  fs::remove(config, ec);
  fs::remove(dir / "console.log", ec);
  if (fewest_lines == 0) {
    fmt::print(stderr, "FAIL: a console client read no line of the live stream\n");
    return 2;
  }
  return 0;
}

void print_sql_profile(const SqlProfile& profile) {
  std::vector<std::pair<std::string, const SqlStats*>> rows;
  for (const auto& [key, s] : profile.by_sql) {
    rows.emplace_back(fmt::format("{:<4}  {}", to_string(key.first), one_line(key.second, 100)),
                      &s);
  }
  std::vector<std::pair<double, std::size_t>> order;
  std::vector<LatencySummary> sums;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    sums.push_back(rows[i].second->time.summary());
    // Heaviest first: the statements that cost the tap path most in total.
    double total = 0;
    for (double v : rows[i].second->time.samples()) total += v;
    order.emplace_back(total, i);
  }
  std::sort(order.rbegin(), order.rend());
  fmt::print(
      "\nSQL statements during the profiled run, heaviest first (ms). Phase: pre = in a tap before "
      "its output command (or in a tap that moved no output), post = in a tap after it, tick = "
      "ticks and staff actions\n");
  fmt::print("{:>7} {:>8} {:>8} {:>8} {:>9} {:>9} {:>6} {:>7}  {}\n", "count", "total", "p50",
             "p99", "max", "fullscan", "sorts", "autoidx", "phase statement");
  for (const auto& [total, i] : order) {
    const auto& s = *rows[i].second;
    fmt::print("{:>7} {:>8.1f} {:>8.3f} {:>8.3f} {:>8.3f} {:>9} {:>6} {:>7}  {}\n", sums[i].count,
               total / 1000.0, sums[i].p50 / 1000.0, sums[i].p99 / 1000.0, sums[i].max / 1000.0,
               s.fullscan_steps, s.sorts, s.autoindexes, rows[i].first);
  }
}

std::uintmax_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : n;
}

std::string cpu_model() {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) return "unknown";
  char line[512];
  std::string model = "unknown";
  while (std::fgets(line, sizeof line, f)) {
    std::string s(line);
    if (s.rfind("model name", 0) == 0) {
      model = s.substr(s.find(':') + 2);
      if (!model.empty() && model.back() == '\n') model.pop_back();
      break;
    }
  }
  std::fclose(f);
  return model;
}

int run(const Options& o) {
  if (o.log == "null") {
    // Messages are still formatted (their cost is part of the tap path) but go nowhere.
    auto logger = std::make_shared<spdlog::logger>("labgated",
                                                   std::make_shared<spdlog::sinks::null_sink_mt>());
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  } else if (o.log == "off") {
    spdlog::set_level(spdlog::level::off);
  } else {
    spdlog::set_default_logger(spdlog::stderr_logger_mt("labgated"));
  }

  auto loaded = gateway::config::load_config_string(gateway::config::embedded_demo_config(),
                                                    "demo-site.toml");
  if (!loaded.has_value()) {
    fmt::print(stderr, "demo configuration: {}\n", gateway::config::to_string(loaded.error()));
    return 1;
  }
  gateway::config::SiteConfig cfg = loaded.value();
  if (o.console_clients > 0) {
    // labgate-console refuses the demo site's published key in a config file: the run gets a
    // key of its own (the figures do not depend on it).
    std::random_device urandom;
    for (auto& b : cfg.site.key) b = static_cast<std::uint8_t>(urandom());
  }

  std::chrono::system_clock::time_point start;
  if (!app::parse_time(o.start, cfg.site.timezone, start)) {
    fmt::print(stderr, "bad --start '{}'\n", o.start);
    return 1;
  }
  const auto local = cfg.calendar.to_local(start);
  if (!working_day(cfg.calendar, local.date) || local.minute_of_day < 9 * 60 ||
      local.minute_of_day >= 17 * 60) {
    fmt::print(stderr, "--start must be a working day between 09:00 and 17:00 local time\n");
    return 1;
  }
  app::ManualClock clock(start);

  fs::path dir;
  fs::path db_path;
  if (o.db.empty()) {
    dir = fs::temp_directory_path() / fmt::format("labgate-bench-decision-{}", ::getpid());
    fs::create_directories(dir);
    db_path = dir / "bench.db";
  } else {
    db_path = o.db;
    if (fs::exists(db_path)) {
      fmt::print(stderr, "{} exists; the benchmark seeds a new database\n", db_path.string());
      return 1;
    }
  }
  const auto cleanup = [&] {
    if (o.keep_db) return;
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", ".seal-key"}) {
      fs::remove(fs::path(db_path.string() + suffix), ec);
    }
    if (!dir.empty()) fs::remove(dir, ec);
  };

  store::StoreOptions so;
  so.site_key = cfg.site.key;
  so.time_zone = cfg.site.timezone;
  so.database.busy_timeout = cfg.store.busy_timeout;
  so.clock = [&clock] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
        .count();
  };
  auto opened = store::Store::open(db_path, so);
  if (!opened.ok()) {
    fmt::print(stderr, "store: {}\n", opened.error().message);
    cleanup();
    return 1;
  }
  auto& st = *opened.value();

  int status = 0;
  try {
    fmt::print("bench_decision: {} members, {} cards, {} past events, {} past sessions\n",
               o.members, o.members * kCardsPerMember, o.events, o.sessions);
    fmt::print("machine: {} CPUs, {}\n", ::sysconf(_SC_NPROCESSORS_ONLN), cpu_model());
    std::fflush(stdout);

    SeedOptions so2;
    so2.members = o.members;
    so2.events = o.events;
    so2.sessions = o.sessions;
    so2.first_day = local.date;
    so2.first_day_ms = so.clock();
    so2.seed = o.seed;
    Population pop;
    const auto seeded = seed_database(st, cfg, so2, pop);
    fmt::print(
        "seeding: {:.1f} s (setup {:.2f}, members {:.1f}, credentials {:.1f}, certifications "
        "{:.1f}, sessions {:.1f}, events+outbox {:.1f}, indexes {:.1f}, checkpoint {:.1f})\n",
        seeded.total_s, seeded.setup_s, seeded.members_s, seeded.credentials_s,
        seeded.certifications_s, seeded.sessions_s, seeded.events_s, seeded.indexes_s,
        seeded.checkpoint_s);
    std::fflush(stdout);

    // --seal: the seeded rows sealed by `audit setup`, then every row the taps write sealed at
    // its commit, as labgated does (issue 19's before/after comparison: run with and without).
    std::unique_ptr<store::seal::Sealer> sealer;
    if (o.seal) {
      const auto t_seal = Steady::now();
      const auto key_file = store::seal::default_key_path(db_path);
      auto k0 = store::seal::setup(st.database(), key_file, so.clock(),
                                   store::seal::kDefaultPeriodMs, "bench");
      if (!k0) throw std::runtime_error("audit setup: " + k0.error().message);
      auto state = store::seal::load_key_state(key_file);
      if (!state) throw std::runtime_error(state.error().message);
      sealer = std::make_unique<store::seal::Sealer>(st.database(), key_file, *state, so.clock);
      fmt::print("sealing: on (audit setup sealed the seeded rows in {:.1f} s)\n",
                 std::chrono::duration<double>(Steady::now() - t_seal).count());
    } else {
      fmt::print("sealing: off\n");
    }

    Bench bench(o, cfg, clock, st, pop);
    bench.build_site();
    if (o.bookings > 0) {
      const auto t_book = Steady::now();
      bench.seed_bookings(o.bookings);
      fmt::print("bookings: {} of room {} seeded in {:.1f} s\n", o.bookings,
                 cfg.rooms.empty() ? "-" : cfg.rooms.front().id,
                 std::chrono::duration<double>(Steady::now() - t_book).count());
    }

    std::map<std::string, Samples> samples;
    const auto t_run = Steady::now();
    bench.run(o.taps, samples);
    const double run_s = std::chrono::duration<double>(Steady::now() - t_run).count();
    fmt::print(
        "\n{} taps in {:.1f} s ({:.0f} taps/s, ticks and staff actions included), {} site "
        "day(s), {} ms of site time per tap\n",
        o.taps, run_s, static_cast<double>(o.taps) / run_s, bench.days(), o.tap_interval_ms);
    print_tables(samples);
    std::fflush(stdout);

    if (o.stream_clients > 0) {
      // The same taps again with subscribers on the admin channel's live stream.
      const auto sock = (dir.empty() ? db_path.parent_path() : dir) /
                        fmt::format("bench-admin-{}.sock", ::getpid());
      StreamClients clients(bench.site(), sock.string(), o.stream_clients);
      bench.set_between_taps([&clients] { clients.pump(); });
      std::map<std::string, Samples> streamed;
      const auto t_stream = Steady::now();
      bench.run(o.taps, streamed);
      const double stream_s = std::chrono::duration<double>(Steady::now() - t_stream).count();
      bench.set_between_taps({});
      const auto rep = clients.finish();
      fmt::print("\nwith {} stream clients on the admin channel: {} taps in {:.1f} s\n",
                 rep.clients, o.taps, stream_s);
      print_tables(streamed);
      fmt::print("\nStream: commit -> line read by a subscriber\n{}\n", format_header("stream"));
      fmt::print("{}\n", format_row("every line", rep.commit_to_receipt.summary()));
      fmt::print("lines per subscriber {}, fewest read {}, subscribers dropped {}\n", rep.published,
                 rep.received_min, rep.dropped);
      if (rep.dropped > 0 || rep.received_min < rep.published) {
        fmt::print(stderr, "FAIL: a stream client lost lines\n");
        status = 2;
      }
      std::fflush(stdout);
    }

    if (o.console_clients > 0) {
      if (const int r =
              compare_console(o, cfg, st, bench, dir.empty() ? db_path.parent_path() : dir);
          r != 0) {
        status = r;
      }
    }

    if (o.profile_taps > 0) {
      SqlProfile profile;
      sqlite3* handle = st.database().handle();
      // Zero the counters the measured run left in the cached statements.
      for (sqlite3_stmt* s = sqlite3_next_stmt(handle, nullptr); s;
           s = sqlite3_next_stmt(handle, s)) {
        for (int op : {SQLITE_STMTSTATUS_FULLSCAN_STEP, SQLITE_STMTSTATUS_SORT,
                       SQLITE_STMTSTATUS_AUTOINDEX}) {
          (void)sqlite3_stmt_status(s, op, 1);
        }
      }
      sqlite3_trace_v2(handle, SQLITE_TRACE_STMT | SQLITE_TRACE_PROFILE, on_sql_trace, &profile);
      std::map<std::string, Samples> profiled;
      bench.run(o.profile_taps, profiled);
      sqlite3_trace_v2(handle, 0, nullptr, nullptr);
      fmt::print("\nprofiled run: {} more taps with the SQLite profile hook on", o.profile_taps);
      print_sql_profile(profile);
    }

    fmt::print("\noutcomes:\n");
    for (const auto& [what, n] : bench.outcomes()) fmt::print("  {:>7}  {}\n", n, what);

    auto& db = st.database();
    const auto count = [&db](const char* sql) {
      auto v = db.query_int64(sql);
      return v.ok() ? v.value() : -1;
    };
    const std::int64_t last_seq = st.events().last_seq().ok() ? st.events().last_seq().value() : -1;
    const std::int64_t outbox_rows = count("SELECT count(*) FROM outbox");
    const std::int64_t outbox_max = count("SELECT max(seq) FROM outbox");
    fmt::print("\ndatabase: {:.1f} MiB (+ WAL {:.1f} MiB)\n",
               static_cast<double>(file_size_or_zero(db_path)) / (1 << 20),
               static_cast<double>(file_size_or_zero(db_path.string() + "-wal")) / (1 << 20));
    for (const char* table : {"members", "credentials", "certifications", "sessions",
                              "access_events", "outbox", "audit_log"}) {
      fmt::print("  {:<16} {:>9} rows\n", table,
                 count(fmt::format("SELECT count(*) FROM {}", table).c_str()));
    }
    fmt::print("  last seq {}; unsent outbox rows {}\n", last_seq,
               count("SELECT count(*) FROM outbox WHERE sent_at_ms IS NULL"));

    // The run is only worth its figures if every tap came to the right answer and was recorded.
    if (bench.mismatches() > 0) {
      fmt::print(stderr, "FAIL: {} taps did not come to the expected decision\n",
                 bench.mismatches());
      status = 2;
    }
    if (bench.uncommitted() > 0) {
      fmt::print(stderr, "FAIL: {} taps were not committed\n", bench.uncommitted());
      status = 2;
    }
    if (bench.site().faulted() || bench.site().pending_writes() > 0) {
      fmt::print(stderr, "FAIL: site faulted or writes pending\n");
      status = 2;
    }
    if (outbox_rows != last_seq || outbox_max != last_seq) {
      fmt::print(stderr, "FAIL: sequence not gapless: {} outbox rows, max seq {}, last seq {}\n",
                 outbox_rows, outbox_max, last_seq);
      status = 2;
    }
    bench.site().stop();
    if (status == 0)
      fmt::print("\nchecks: every tap decided as expected and committed; seq gapless\n");
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_decision: {}\n", e.what());
    status = 1;
  }
  opened.value().reset();
  cleanup();
  return status;
}

}  // namespace
}  // namespace labgate::bench::decision

int main(int argc, char** argv) {
  labgate::bench::decision::Options o;
  CLI::App cli{"Decision latency of the labgate tap path on a large database"};
  cli.add_option("--members", o.members, "members to seed (2 cards each)")
      ->check(CLI::PositiveNumber);
  cli.add_option("--events", o.events, "past access events to seed")->check(CLI::NonNegativeNumber);
  cli.add_option("--sessions", o.sessions, "past sessions to seed")->check(CLI::NonNegativeNumber);
  cli.add_option("--taps", o.taps, "measured taps")->check(CLI::PositiveNumber);
  cli.add_option("--profile-taps", o.profile_taps, "extra taps with the SQL profile hook (0: none)")
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--tap-interval-ms", o.tap_interval_ms, "site time between taps")
      ->check(CLI::PositiveNumber);
  cli.add_option("--seed", o.seed, "random seed");
  cli.add_option("--start", o.start, "first tap, site local time (a working day)");
  cli.add_option("--db", o.db, "database file to create (default: a temporary directory)");
  cli.add_flag("--keep-db", o.keep_db, "keep the database file afterwards");
  cli.add_flag("--seal", o.seal,
               "seal the record as labgated does (audit setup, then a seal per written row)");
  cli.add_option("--log", o.log, "labgated log output: null (formatted, discarded), off, stderr")
      ->check(CLI::IsMember({"null", "off", "stderr"}));
  cli.add_option("--bookings", o.bookings,
                 "room bookings to seed (the demo's first room); adds taps at its reader")
      ->check(CLI::NonNegativeNumber);
  cli.add_option("--stream-clients", o.stream_clients,
                 "then the same taps again with this many live-stream subscribers on the admin "
                 "channel (0: none)")
      ->check(CLI::Range(0, 64));
  cli.add_option("--console-clients", o.console_clients,
                 "then --pairs pairs of runs without and with a labgate-console and this many "
                 "browsers holding its live stream open (0: none)")
      ->check(CLI::Range(0, 200));
  cli.add_option("--pairs", o.pairs, "pairs for --console-clients")->check(CLI::Range(1, 50));
  cli.add_option("--console-nice", o.console_nice,
                 "start the console at this nice level (as a unit's Nice=)")
      ->check(CLI::Range(0, 19));
  cli.add_flag("--console-one-reader", o.console_one_reader,
               "read every console client's stream on one thread instead of one thread each");
#ifdef LABGATE_CONSOLE_PATH
  o.console = LABGATE_CONSOLE_PATH;
#endif
  cli.add_option("--console", o.console, "the labgate-console binary")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  if (o.console_clients > 0 && o.console.empty()) {
    fmt::print(stderr, "--console-clients needs --console\n");
    return 1;
  }
  return labgate::bench::decision::run(o);
}
