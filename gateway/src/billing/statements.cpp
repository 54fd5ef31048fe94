#include "labgate/gateway/billing/statements.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "labgate/gateway/billing/render.hpp"
#include "labgate/gateway/store/statement_body.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::billing {

namespace {

using st::Error;
using st::ErrorKind;
using st::Result;
using st::Status;

#define BILLING_TRY(expr)                           \
  do {                                              \
    auto billing_try_ = (expr);                     \
    if (!billing_try_) return billing_try_.error(); \
  } while (0)

struct RateRow {
  std::string target;
  std::int64_t from_ms{0};
  std::optional<std::int64_t> until_ms;
  RateTerms terms;
};

// Every rate and plan term, read once per run: the tables are small and resolving in memory
// keeps the month query a plain ordered scan.
class RateBook {
 public:
  Status load(st::Database& db) {
    auto rates = st::BillingLedger::all_rates(db);
    if (!rates) return rates.error();
    for (auto& rate : *rates) {
      RateRow r;
      r.terms.id = rate.id;
      r.target = rate.kind == st::SessionKind::kCoworking ? std::string{kCoworkingTarget}
                                                          : rate.machine_id.value_or("");
      r.from_ms = rate.effective_from_ms;
      r.until_ms = rate.effective_until_ms;
      r.terms.unit_seconds = rate.unit_seconds;
      r.terms.price_per_unit = rate.price_per_unit;
      r.terms.idle_price_per_unit = rate.idle_price_per_unit;
      r.terms.minimum_charge = rate.minimum_charge;
      r.terms.grace_seconds = rate.grace_seconds;
      r.terms.daily_cap = rate.daily_cap;
      const std::string target = r.target;
      const auto [row, added] = by_id_.emplace(r.terms.id, std::move(r));
      if (added) by_target_[target].push_back(&row->second);
    }
    auto terms = st::BillingLedger::all_plan_terms(db);
    if (!terms) return terms.error();
    for (const auto& t : *terms) {
      terms_[{t.rate_id, t.plan_id}] = {t.discount_percent, t.included_minutes};
    }
    return {};
  }

  std::optional<RateTerms> resolve(const std::optional<std::int64_t>& rate_id,
                                   const std::string& target, std::int64_t started_ms,
                                   const std::optional<std::int64_t>& plan_id) const {
    const RateRow* row = nullptr;
    if (rate_id) {
      auto it = by_id_.find(*rate_id);
      if (it != by_id_.end()) row = &it->second;
    } else {
      auto it = by_target_.find(target);
      if (it != by_target_.end()) {
        // Rows are in effective_from order; the last one in force at the start wins.
        for (auto r = it->second.rbegin(); r != it->second.rend(); ++r) {
          if ((*r)->from_ms <= started_ms && (!(*r)->until_ms || started_ms < *(*r)->until_ms)) {
            row = *r;
            break;
          }
        }
      }
    }
    if (row == nullptr) return std::nullopt;
    RateTerms t = row->terms;
    if (plan_id) {
      auto it = terms_.find({t.id, *plan_id});
      if (it != terms_.end()) {
        t.discount_percent = it->second.first;
        t.included_minutes = it->second.second;
      }
    }
    return t;
  }

 private:
  std::unordered_map<std::int64_t, RateRow> by_id_;  // node-based: the pointers below stay valid
  std::map<std::string, std::vector<const RateRow*>, std::less<>> by_target_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::pair<std::int64_t, std::int64_t>> terms_;
};

using MemberRow = st::BillingMember;

// Each member's plan over time: a session is billed under the plan in force when it started,
// as it is under the rate in force then.
class PlanBook {
 public:
  Status load(st::Database& db, std::optional<std::int64_t> member_id) {
    return st::MemberRegistry::scan_plan_history(db, member_id, [&](st::PlanPeriod&& p) {
      by_member_[p.member_id].push_back(std::move(p));
    });
  }

  // The plan (id, code) of `m` at `at_ms`: the latest entry starting at or before it (rows come
  // oldest first, the undated first entry leading); the member row's plan without a history.
  std::pair<std::optional<std::int64_t>, std::string> at(const MemberRow& m,
                                                         std::int64_t at_ms) const {
    auto it = by_member_.find(m.id);
    if (it == by_member_.end() || it->second.empty()) return {m.plan_id, m.plan_code};
    const st::PlanPeriod* in_force = &it->second.front();
    for (const auto& p : it->second) {
      if (!p.effective_from_ms || *p.effective_from_ms <= at_ms) in_force = &p;
    }
    return {in_force->plan_id, in_force->plan_code};
  }

 private:
  std::unordered_map<std::int64_t, std::vector<st::PlanPeriod>> by_member_;
};

// A session row as read from the month scan, before its rate is resolved.
using RawSession = st::UsageSession;

struct RawSale {
  std::int64_t member_id{0};
  SaleItem item;
};

// What read_month gathers besides the sessions; `member_id` (one member's month) adds
// "member_id = ?3" to each query and uses the member index.
struct MonthData {
  std::vector<RawSession> sessions;  // unless read_month was given a SessionSink
  std::vector<RawSale> sales;
  std::unordered_map<std::int64_t, Review> reviews;
};

// Where read_month puts the month's sessions: into `out.sessions`, or each to this as it is read
// (the reviews are read before them).
using SessionSink = std::function<void(RawSession&&)>;

// Rooms are billed by their bookings' start; lockers by the month's local days.
Status read_month(st::Database& db, const MonthRange& month,
                  const std::optional<std::int64_t>& member_id, MonthData& out,
                  const SessionSink& on_session = {}) {
  BILLING_TRY(st::BillingLedger::scan_usage_reviews(
      db, month.begin_ms, month.end_ms, member_id, [&](st::SessionReview&& r) {
        out.reviews[r.session_id] = {r.billed_seconds, std::move(r.reviewer)};
      }));
  BILLING_TRY(st::BillingLedger::scan_usage_sessions(
      db, month.begin_ms, month.end_ms, member_id,
      on_session ? on_session : SessionSink{[&](st::UsageSession&& s) {
        out.sessions.push_back(std::move(s));
      }}));
  const auto to_sale = [&](st::UsageSale&& s) {
    out.sales.push_back(
        {s.member_id, SaleItem{s.id, std::move(s.item_code), std::move(s.item_name), s.quantity,
                               s.unit_price, s.at_ms, s.day_pass,
                               parse_tax_class(s.tax_class).value_or(TaxClass::kStandard)}});
  };
  BILLING_TRY(
      st::BillingLedger::scan_usage_sales(db, month.begin_ms, month.end_ms, member_id, to_sale));
  // Rooms and lockers bill as lines of their own items (docs/BOOKINGS.md).
  return st::Bookings::scan_usage(db, month.begin_ms, month.end_ms, month.month + "-01",
                                  month.month + "-31", member_id, to_sale);
}

// The statement names the plan in force at the end of the month.
StatementInput make_input(const MemberRow& m, const MonthRange& month, const PlanBook& plans) {
  StatementInput in;
  in.member_no = m.member_no;
  in.name = m.name;
  in.plan = plans.at(m, month.end_ms - 1).second;
  in.month = month.month;
  return in;
}

// Built in place at the end of the member's list: this runs once per session of the month.
void add_session(StatementInput& in, RawSession&& r, const MemberRow& m, const RateBook& book,
                 const PlanBook& plans, const MonthData& data) {
  SessionUsage& u = in.sessions.emplace_back();
  u.id = r.id;
  if (r.kind == st::SessionKind::kCoworking) {
    u.target = kCoworkingTarget;
  } else if (r.machine_id) {
    u.target = std::move(*r.machine_id);
  }
  u.started_at_ms = r.started_at_ms;
  u.ended_at_ms = r.ended_at_ms;
  u.busy_seconds = r.busy_seconds;
  u.rate = book.resolve(r.rate_id, u.target, r.started_at_ms, plans.at(m, r.started_at_ms).first);
  if (!data.reviews.empty()) {
    auto it = data.reviews.find(r.id);
    if (it != data.reviews.end()) u.review = it->second;
  }
}

Result<StatementInput> load_member_by_row(st::Database& db, const MemberRow& m,
                                          const MonthRange& month) {
  RateBook book;
  BILLING_TRY(book.load(db));
  PlanBook plans;
  BILLING_TRY(plans.load(db, m.id));
  MonthData data;
  BILLING_TRY(read_month(db, month, m.id, data));
  StatementInput in = make_input(m, month, plans);
  in.sessions.reserve(data.sessions.size());
  for (auto& r : data.sessions) add_session(in, std::move(r), m, book, plans, data);
  for (auto& s : data.sales) in.sales.push_back(std::move(s.item));
  return in;
}

}  // namespace

Result<const date::time_zone*> find_zone(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return Error{ErrorKind::kInvalid, 0, fmt::format("unknown time zone '{}'", name)};
  }
}

Result<MonthRange> month_range(std::string_view month, const date::time_zone* tz) {
  auto bad = [&] {
    return Error{ErrorKind::kInvalid, 0, fmt::format("bad month '{}': expected YYYY-MM", month)};
  };
  if (month.size() != 7 || month[4] != '-') return bad();
  int y = 0;
  unsigned m = 0;
  for (std::size_t i = 0; i < 7; ++i) {
    if (i == 4) continue;
    if (month[i] < '0' || month[i] > '9') return bad();
    if (i < 4) {
      y = y * 10 + (month[i] - '0');
    } else {
      m = m * 10 + static_cast<unsigned>(month[i] - '0');
    }
  }
  if (m < 1 || m > 12 || y < 1970) return bad();
  const date::year_month first{date::year{y}, date::month{m}};
  const date::year_month next = first + date::months{1};
  auto midnight = [&](date::year_month ym) {
    const date::local_days day{ym / date::day{1}};
    const date::zoned_time<std::chrono::milliseconds> z{tz, day, date::choose::earliest};
    return z.get_sys_time().time_since_epoch().count();
  };
  return MonthRange{std::string{month}, midnight(first), midnight(next)};
}

std::string month_of(std::int64_t ms, const date::time_zone* tz) {
  const date::zoned_time<std::chrono::milliseconds> z{
      tz, date::sys_time<std::chrono::milliseconds>{std::chrono::milliseconds{ms}}};
  const date::year_month_day ymd{date::floor<date::days>(z.get_local_time())};
  return fmt::format("{:04}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()));
}

Result<StatementInput> load_member_month(st::Database& db, std::string_view member_no,
                                         const MonthRange& month) {
  auto m = st::BillingLedger::billing_member(db, member_no);
  if (!m) return m.error();
  if (!*m) return Error{ErrorKind::kNotFound, 0, fmt::format("unknown member '{}'", member_no)};
  return load_member_by_row(db, **m, month);
}

namespace {

// The members of one shard (member id modulo the shards), each session added to its member's
// statement as it arrives: the month is never held twice (as rows, then as statements), which
// at 10^6 sessions would be a few hundred MB more for the process to fault in.
class MonthShard {
 public:
  MonthShard(const MonthRange& month, const std::unordered_map<std::int64_t, MemberRow>& members,
             const RateBook& book, const PlanBook& plans, const MonthData& data)
      : month_(month), members_(members), book_(book), plans_(plans), data_(data) {}

  void add(RawSession&& r) {
    const std::size_t k = slot_of(r.member_id);
    add_session(inputs_[k], std::move(r), *member_of_[k], book_, plans_, data_);
  }
  void add(RawSale&& s) { inputs_[slot_of(s.member_id)].sales.push_back(std::move(s.item)); }
  std::vector<StatementInput>& inputs() { return inputs_; }

 private:
  std::size_t slot_of(std::int64_t member_id) {
    auto [it, inserted] = slot_.try_emplace(member_id, inputs_.size());
    if (inserted) {
      auto m = members_.find(member_id);
      const MemberRow* row = nullptr;
      if (m != members_.end()) {
        row = &m->second;
      } else {
        row = &deleted_.emplace_back(MemberRow{member_id, fmt::format("#{}", member_id),
                                               "(deleted member)", std::nullopt, ""});
      }
      member_of_.push_back(row);
      inputs_.push_back(make_input(*row, month_, plans_));
    }
    return it->second;
  }

  const MonthRange& month_;
  const std::unordered_map<std::int64_t, MemberRow>& members_;
  const RateBook& book_;
  const PlanBook& plans_;
  const MonthData& data_;  // its reviews, read before the sessions
  std::unordered_map<std::int64_t, std::size_t> slot_;
  std::vector<StatementInput> inputs_;
  std::vector<const MemberRow*> member_of_;
  std::deque<MemberRow> deleted_;  // stable addresses for member_of_
};

// Batches of sessions from the reading thread to one shard's thread. Bounded, so a reader that
// outruns its shards waits instead of holding the month in the queue.
class SessionQueue {
 public:
  void push(std::vector<RawSession>&& batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [&] { return batches_.size() < kMaxBatches; });
    batches_.push_back(std::move(batch));
    ready_.notify_one();
  }
  // False once closed and drained.
  bool pop(std::vector<RawSession>& batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !batches_.empty() || closed_; });
    if (batches_.empty()) return false;
    batch = std::move(batches_.front());
    batches_.pop_front();
    room_.notify_one();
    return true;
  }
  void close() {
    const std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    ready_.notify_all();
  }

 private:
  static constexpr std::size_t kMaxBatches = 16;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<std::vector<RawSession>> batches_;
  bool closed_{false};
};

}  // namespace

Result<std::size_t> load_month(st::Database& db, const MonthRange& month,
                               const std::function<void(StatementInput&&)>& sink) {
  RateBook book;
  BILLING_TRY(book.load(db));
  PlanBook plans;
  BILLING_TRY(plans.load(db, std::nullopt));
  std::unordered_map<std::int64_t, MemberRow> members;
  BILLING_TRY(st::BillingLedger::scan_billing_members(
      db, [&](st::BillingMember&& m) { members.emplace(m.id, std::move(m)); }));
  // This thread reads the rows (SQLite's part, one connection and one snapshot); two threads
  // each build the statements of half the members, so the reading never waits for them.
  constexpr std::size_t kShards = 2;
  constexpr std::size_t kBatch = 4096;
  const auto shard_of = [](std::int64_t member_id) {
    return static_cast<std::size_t>(member_id & 1);  // two's complement: 0 or 1, negatives too
  };
  MonthData data;
  std::vector<MonthShard> shards;
  shards.reserve(kShards);
  for (std::size_t i = 0; i < kShards; ++i) shards.emplace_back(month, members, book, plans, data);
  std::array<SessionQueue, kShards> queues;
  std::array<std::vector<RawSession>, kShards> pending;
  std::vector<std::thread> builders;
  for (std::size_t i = 0; i < kShards; ++i) {
    builders.emplace_back([&, i] {
      std::vector<RawSession> batch;
      while (queues[i].pop(batch)) {
        for (auto& r : batch) shards[i].add(std::move(r));
      }
    });
  }
  const Status read = read_month(db, month, std::nullopt, data, [&](RawSession&& r) {
    const std::size_t i = shard_of(r.member_id);
    pending[i].push_back(std::move(r));
    if (pending[i].size() == kBatch) {
      queues[i].push(std::move(pending[i]));
      pending[i] = {};
      pending[i].reserve(kBatch);
    }
  });
  for (std::size_t i = 0; i < kShards; ++i) {
    if (!pending[i].empty()) queues[i].push(std::move(pending[i]));
    queues[i].close();
  }
  for (auto& t : builders) t.join();
  if (!read) return read.error();
  for (auto& s : data.sales) shards[shard_of(s.member_id)].add(std::move(s));
  std::vector<StatementInput*> all;
  for (auto& shard : shards) {
    for (auto& in : shard.inputs()) all.push_back(&in);
  }
  std::sort(all.begin(), all.end(), [](const StatementInput* a, const StatementInput* b) {
    return a->member_no < b->member_no;
  });
  for (StatementInput* in : all) sink(std::move(*in));
  return all.size();
}

Result<Statement> member_statement(st::Database& db, std::string_view member_no,
                                   std::string_view month, const date::time_zone* tz,
                                   const TaxPolicy& tax) {
  auto range = month_range(month, tz);
  if (!range) return range.error();
  auto in = load_member_month(db, member_no, *range);
  if (!in) return in.error();
  return Engine{tz, tax}.bill(*in);
}

Status require_started(const MonthRange& month, std::int64_t now_ms, const date::time_zone* tz) {
  if (now_ms >= month.begin_ms) return {};
  return Error{ErrorKind::kInvalid, 0,
               fmt::format("{} has not started yet (today is {}): a future month has no "
                           "statement; check the year and month",
                           month.month, Engine{tz}.local_date(now_ms))};
}

Result<StatementView> view_statement(st::Database& db, std::string_view member_no,
                                     std::string_view month, std::int64_t now_ms,
                                     const date::time_zone* tz, const TaxPolicy& tax) {
  auto range = month_range(month, tz);
  if (!range) return range.error();
  BILLING_TRY(require_started(*range, now_ms, tz));
  auto in = load_member_month(db, member_no, *range);
  if (!in) return in.error();
  StatementView view;
  view.statement = Engine{tz, tax}.bill(*in);
  auto rows = st::BillingLedger::list_statements(db, std::string{month});
  if (!rows) return rows.error();
  for (auto& r : *rows) {
    if (r.member_no == member_no) view.issued = std::move(r);
  }
  const Engine engine{tz};
  if (view.issued) {
    view.state = StatementState::kIssued;
    const std::string at = engine.local_iso(view.issued->issued_at_ms);
    view.standing = fmt::format("issued on {} {} by {} (sha256 {})", at.substr(0, 10),
                                at.substr(11, 8), view.issued->issued_by, view.issued->sha256);
  } else if (now_ms < range->end_ms) {
    view.state = StatementState::kProvisional;
    view.standing = "provisional: the month is still running";
  } else {
    view.state = StatementState::kUnissued;
    view.standing = "not issued yet: the month has ended (issuing freezes it)";
  }
  return view;
}

Result<std::vector<Statement>> month_statements(st::Database& db, std::string_view month,
                                                const date::time_zone* tz, const TaxPolicy& tax) {
  auto range = month_range(month, tz);
  if (!range) return range.error();
  Engine engine{tz, tax};
  std::vector<Statement> out;
  auto n = load_month(db, *range, [&](StatementInput&& in) { out.push_back(engine.bill(in)); });
  if (!n) return n.error();
  if (out.empty()) {
    return Error{ErrorKind::kNotFound, 0, fmt::format("no usage in {}", month)};
  }
  return out;
}

namespace {

using IssueClock = std::chrono::steady_clock;

std::int64_t ms_between(IssueClock::time_point a, IssueClock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

// CPU time of the calling thread, in ms: against the wall times it shows how much of them the
// thread waited for a core (the console and its users share the two cores with issuing).
std::int64_t thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// A member's bill as issuing prepares it outside the write lock: the statement (without its
// lines once they are rendered: the final transaction needs only the totals and the reasons to
// refuse) and its packed body, the JSON's digest and compressed bytes. An empty body marks a
// member that is refused or already issued, which needs none.
struct PreparedStatement {
  Statement statement;
  std::int64_t member_id{-1};  // -1: the member row is gone
  st::PackedBody body;
};

// What one pass of issuing read, billed and rendered on one read snapshot.
struct PreparedMonth {
  std::vector<PreparedStatement> members;  // member_no order
  // Members with nothing in the month: member_no and id.
  std::vector<std::pair<std::string, std::int64_t>> without_usage;
  std::set<std::int64_t> already;  // ids of members issued before the snapshot
  std::int64_t max_session_id{0};
  std::string inputs;  // BillingLedger::month_inputs_digest at the snapshot
};

// The bodies one issue stored. Those no statement refers to when the issue returns (it was
// refused or failed, or an earlier pass billed data that changed) are dropped again, so a failed
// issue leaves nothing behind; a body is dropped only while unreferenced, whoever stored it.
class StoredBodies {
 public:
  explicit StoredBodies(st::Database& db) : db_(db) {}
  StoredBodies(const StoredBodies&) = delete;
  StoredBodies& operator=(const StoredBodies&) = delete;
  ~StoredBodies() {
    if (auto dropped = drop(); !dropped) {
      spdlog::warn("statements.issue: {} statement bodies left unreferenced: {}", fresh_.size(),
                   dropped.error().message);
    }
  }

  void add(std::vector<std::string>&& written) {
    fresh_.insert(fresh_.end(), std::make_move_iterator(written.begin()),
                  std::make_move_iterator(written.end()));
  }
  // After the final commit: these are referenced now and stay.
  void keep(const std::vector<IssuedStatement>& issued) {
    std::set<std::string_view> referenced;
    for (const auto& i : issued) referenced.insert(i.sha256);
    std::erase_if(fresh_, [&](const std::string& h) { return referenced.count(h) != 0; });
  }

 private:
  // Short transactions, as for writing them: a body is about 50 kB at 100 lines a member.
  Status drop() {
    constexpr std::size_t kPerTransaction = 50;
    while (!fresh_.empty()) {
      auto tx = st::Transaction::begin(db_);
      if (!tx) return tx.error();
      const std::size_t n = std::min(kPerTransaction, fresh_.size());
      for (std::size_t i = fresh_.size() - n; i < fresh_.size(); ++i) {
        BILLING_TRY(st::BillingLedger::drop_unreferenced_body(db_, fresh_[i]));
      }
      BILLING_TRY(tx->commit());
      fresh_.resize(fresh_.size() - n);
    }
    return {};
  }

  st::Database& db_;
  std::vector<std::string> fresh_;
};

// Stores the rendered bodies ahead of the transaction that writes the statements, in
// transactions of about `request.body_batch_bytes`: each holds the write lock for a small part of
// a tap's busy timeout, and the final transaction
// writes only the small rows and refers to the bodies by sha256. It runs while the members are
// still being billed (the disk works while the CPUs render), but a transaction only begins once
// its whole batch is rendered, never to wait for the renderers with the lock held.
class BodyWriter {
 public:
  BodyWriter(st::Database& db, const IssueRequest& request, StoredBodies& stored,
             IssueTiming& timing)
      : db_(db), request_(request), stored_(stored), timing_(timing) {}

  // Stores the bodies of members [from, to) in one transaction and frees them: the final
  // transaction needs only their digests.
  Status write(std::vector<PreparedStatement>& members, std::size_t from, std::size_t to) {
    if (!relaxed_) {
      // These commits need not reach the disk each on its own: in WAL mode the final
      // transaction's commit (synchronous=FULL again) syncs the log up to and including it, so
      // the issued month is exactly as durable as before, and a body lost to a power cut is
      // one no statement refers to. Without it the disk syncs for every batch.
      // Nor checkpointed by SQLite every 1000 pages (a copy and a sync each): this writer
      // checkpoints itself every kCheckpointBytes, between batches, and restore() once more.
      BILLING_TRY(db_.execute_script("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0"));
      relaxed_ = true;
    }
    auto tx = st::Transaction::begin(db_);
    if (!tx) return tx.error();
    const auto locked = IssueClock::now();
    std::vector<std::string> written;
    std::size_t bytes = 0;
    for (std::size_t i = from; i < to; ++i) {
      const PreparedStatement& p = members[i];
      if (p.body.bytes.empty()) continue;
      auto fresh = st::BillingLedger::put_statement_body(db_, p.body);
      if (!fresh) return fresh.error();
      if (*fresh) written.push_back(p.body.sha256);
      bytes += p.body.bytes.size();
    }
    BILLING_TRY(tx->commit());
    const auto held = ms_between(locked, IssueClock::now());
    stored_.add(std::move(written));
    for (std::size_t i = from; i < to; ++i) std::string{}.swap(members[i].body.bytes);
    bytes_ += bytes;
    ++timing_.body_batches;
    timing_.bodies_ms += held;
    timing_.body_lock_max_ms = std::max(timing_.body_lock_max_ms, held);
    timing_.stored_mb = static_cast<std::int64_t>(bytes_ >> 20);
    if (request_.after_body_batch) request_.after_body_batch();
    // Copy the log into the file now and then while the renderers still work: this thread would
    // only wait for them, and the checkpoint before the final transaction is then a short one.
    if (bytes_ - checkpointed_ >= kCheckpointBytes) {
      BILLING_TRY(checkpoint());
      checkpointed_ = bytes_;
    }
    return {};
  }
  std::size_t batch_bytes() const { return std::max<std::size_t>(request_.body_batch_bytes, 1); }
  // Before the final transaction, and on every way out.
  Status restore() {
    if (!relaxed_) return {};
    BILLING_TRY(db_.execute_script("PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=1000"));
    relaxed_ = false;
    // The bodies are in the log but not yet on the disk: a checkpoint now syncs the log and
    // copies it into the file without the write lock (a passive one lets writers go on), where
    // the final commit would otherwise sync those tens of MB holding it.
    return checkpoint();
  }
  ~BodyWriter() {
    if (auto s = restore(); !s) spdlog::warn("statements.issue: {}", s.error().message);
  }

 private:
  static constexpr std::size_t kCheckpointBytes = 8u << 20;

  // Passive: it copies what no reader still needs and never takes the write lock.
  Status checkpoint() {
    const auto t0 = IssueClock::now();
    BILLING_TRY(db_.execute_script("PRAGMA wal_checkpoint(PASSIVE)"));
    timing_.checkpoint_ms += ms_between(t0, IssueClock::now());
    return {};
  }

  st::Database& db_;
  const IssueRequest& request_;
  StoredBodies& stored_;
  IssueTiming& timing_;
  std::size_t bytes_{0};
  std::size_t checkpointed_{0};  // bytes_ at the last checkpoint
  bool relaxed_{false};
};

// Bills and renders on two threads while the calling thread stores the bodies: members are
// independent, and on a month of 10^4 members and 10^6 sessions the engine, the JSON bodies and
// their storing are most of issuing's time.
Status bill_and_render(std::vector<StatementInput>& inputs, std::vector<PreparedStatement>& out,
                       const date::time_zone* tz, const TaxPolicy& tax,
                       const std::set<std::int64_t>& already, IssueTiming& timing,
                       BodyWriter& writer) {
  out.resize(inputs.size());
  struct Spent {
    IssueClock::duration engine{}, render{}, pack{};
    std::size_t json_bytes{0};
    std::int64_t cpu_ms{0};
  };
  std::mutex mutex;
  std::condition_variable rendered;
  std::vector<char> ready(inputs.size(), 0);  // guarded by mutex
  Status failed;                              // guarded by mutex: a worker's error
  std::atomic<bool> stop{false};
  const auto work = [&](std::size_t first, std::size_t step, Spent& spent) {
    const std::int64_t cpu0 = thread_cpu_ms();
    const Engine engine{tz, tax};
    st::BodyPacker packer;
    // One JSON buffer per thread, reused: only the packed bytes are kept, so the month's few
    // hundred MB of JSON are never all in memory at once.
    std::string json;
    for (std::size_t i = first; i < inputs.size() && !stop.load(); i += step) {
      PreparedStatement& p = out[i];
      const auto t0 = IssueClock::now();
      p.statement = engine.bill(inputs[i]);
      // Free the inputs as we go: at 10^6 sessions they are a few hundred MB.
      inputs[i] = StatementInput{};
      const auto t1 = IssueClock::now();
      spent.engine += t1 - t0;
      Statement& s = p.statement;
      if (p.member_id >= 0 && already.count(p.member_id) == 0 && s.open_sessions.empty() &&
          s.held_for_review.empty()) {
        json.clear();
        append_json(json, s);
        const auto t2 = IssueClock::now();
        auto packed = packer.pack(json);
        spent.render += t2 - t1;
        spent.pack += IssueClock::now() - t2;
        spent.json_bytes += json.size();
        if (!packed) {
          const std::lock_guard<std::mutex> lock(mutex);
          if (failed) failed = packed.error();
          stop = true;
          rendered.notify_one();
          return;
        }
        p.body = std::move(*packed);
      }
      std::vector<StatementLine>{}.swap(s.lines);
      {
        const std::lock_guard<std::mutex> lock(mutex);
        ready[i] = 1;
      }
      rendered.notify_one();
    }
    spent.cpu_ms = thread_cpu_ms() - cpu0;
  };
  const std::size_t workers = inputs.size() > 64 ? 2 : 1;
  std::vector<Spent> spent(workers);
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back(work, w, workers, std::ref(spent[w]));
  }
  // Members in order, a batch at a time once all of it is rendered.
  Status status;
  for (std::size_t next = 0; next < out.size();) {
    std::size_t end = next;
    {
      std::unique_lock<std::mutex> lock(mutex);
      std::size_t bytes = 0;
      for (;;) {
        while (end < out.size() && ready[end] != 0 && bytes < writer.batch_bytes()) {
          bytes += out[end].body.bytes.size();
          ++end;
        }
        if (!failed || bytes >= writer.batch_bytes() || end == out.size()) break;
        rendered.wait(lock);
      }
      if (!failed) status = failed;
    }
    if (!status) break;
    status = writer.write(out, next, end);
    if (!status) {
      stop = true;
      break;
    }
    next = end;
  }
  for (auto& t : threads) t.join();
  const auto ms = [](IssueClock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::size_t json_bytes = 0;
  for (const auto& w : spent) {
    timing.engine_ms += ms(w.engine);
    timing.render_ms += ms(w.render);
    timing.pack_ms += ms(w.pack);
    timing.workers_cpu_ms += w.cpu_ms;
    json_bytes += w.json_bytes;
  }
  timing.json_mb += static_cast<std::int64_t>(json_bytes >> 20);
  return status;
}

// One pass's billing, on a read snapshot of `db` that is released before returning: the write
// lock is taken only afterwards, for as long as the rows take to write.
Result<PreparedMonth> prepare_issue(st::Database& db, const IssueRequest& request,
                                    const MonthRange& range, const date::time_zone* tz,
                                    const TaxPolicy& tax, IssueTiming& timing, BodyWriter& writer) {
  const auto t0 = IssueClock::now();
  const std::int64_t cpu0 = thread_cpu_ms();
  PreparedMonth out;
  std::vector<StatementInput> inputs;
  std::vector<std::int64_t> member_ids;
  {
    // Deferred: a read snapshot, taken at the first read, so the digest and the bill agree.
    auto snapshot = st::Transaction::begin(db, st::Transaction::Mode::kDeferred);
    if (!snapshot) return snapshot.error();
    auto max_id = st::BillingLedger::max_session_id(db);
    if (!max_id) return max_id.error();
    out.max_session_id = *max_id;
    auto inputs_digest =
        st::BillingLedger::month_inputs_digest(db, range.begin_ms, range.end_ms, *max_id);
    if (!inputs_digest) return inputs_digest.error();
    out.inputs = std::move(*inputs_digest);
    auto issued = st::BillingLedger::members_with_statement(db, request.month);
    if (!issued) return issued.error();
    out.already.insert(issued->begin(), issued->end());
    if (request.member_no) {
      auto m = st::BillingLedger::billing_member(db, *request.member_no);
      if (!m) return m.error();
      if (!*m) {
        return Error{ErrorKind::kNotFound, 0,
                     fmt::format("unknown member '{}'", *request.member_no)};
      }
      auto in = load_member_by_row(db, **m, range);
      if (!in) return in.error();
      inputs.push_back(std::move(*in));
      member_ids.push_back((*m)->id);
    } else {
      auto n = load_month(db, range, [&](StatementInput&& in) { inputs.push_back(std::move(in)); });
      if (!n) return n.error();
      if (inputs.empty()) {
        return Error{ErrorKind::kNotFound, 0,
                     fmt::format("no usage in {}: nothing to issue", request.month)};
      }
      // One scan of the members instead of a lookup per statement.
      std::unordered_map<std::string, std::int64_t> id_of;
      std::set<std::string> with_usage;
      for (const auto& in : inputs) with_usage.insert(in.member_no);
      BILLING_TRY(st::BillingLedger::scan_billing_members(db, [&](st::BillingMember&& m) {
        if (with_usage.count(m.member_no) != 0) {
          id_of.emplace(m.member_no, m.id);
        } else {
          out.without_usage.emplace_back(m.member_no, m.id);
        }
      }));
      for (const auto& in : inputs) {
        const auto it = id_of.find(in.member_no);
        member_ids.push_back(it == id_of.end() ? -1 : it->second);
      }
    }
    snapshot->rollback();  // a read: nothing to commit, and no seal to run
  }
  timing.load_ms += ms_between(t0, IssueClock::now());
  timing.load_cpu_ms += thread_cpu_ms() - cpu0;
  out.members.resize(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) out.members[i].member_id = member_ids[i];
  BILLING_TRY(bill_and_render(inputs, out.members, tz, tax, out.already, timing, writer));
  return out;
}

}  // namespace

Result<IssueReport> issue_statements(st::Database& db, const IssueRequest& request,
                                     const date::time_zone* tz, const TaxPolicy& tax) {
  auto range = month_range(request.month, tz);
  if (!range) return range.error();
  if (request.actor.label.empty()) return Error{ErrorKind::kInvalid, 0, "an actor is required"};
  if (request.now_ms < range->end_ms) {
    return Error{ErrorKind::kConflict, 0,
                 fmt::format("{} has not ended yet (it ends {}): statements are issued for past "
                             "months only",
                             request.month, Engine{tz}.local_iso(range->end_ms))};
  }
  // Billing a month of 10^6 sessions takes seconds. Under the write lock, every tap's journal
  // write would wait for it (and past the busy timeout the site faults, machines off), so the
  // bill is made on a read snapshot, and the lock is held only to check that nothing it read
  // has changed since and to write the rows. A change in between (a rate, a review, a sale, a
  // member's plan) makes the pass start again.
  constexpr int kPasses = 3;
  // Declared before every transaction below, so that it drops the unreferenced bodies after
  // they have rolled back or committed.
  StoredBodies stored(db);
  IssueTiming timing;
  BodyWriter writer(db, request, stored, timing);
  for (int pass = 1;; ++pass) {
    const auto t0 = IssueClock::now();
    auto prepared = prepare_issue(db, request, *range, tz, tax, timing, writer);
    if (!prepared) return prepared.error();
    BILLING_TRY(writer.restore());
    const auto t1 = IssueClock::now();
    timing.bill_ms += ms_between(t0, t1);
    auto tx = st::Transaction::begin(db);
    if (!tx) return tx.error();
    const auto t2 = IssueClock::now();
    auto inputs = st::BillingLedger::month_inputs_digest(db, range->begin_ms, range->end_ms,
                                                         prepared->max_session_id);
    if (!inputs) return inputs.error();
    if (*inputs != prepared->inputs) {
      tx->rollback();
      if (pass == kPasses) {
        return Error{ErrorKind::kConflict, 0,
                     fmt::format("the billing data of {} kept changing while it was being issued "
                                 "(rates, reviews, sales or members); nothing was issued, try "
                                 "again",
                                 request.month)};
      }
      continue;
    }
    // Read again under the lock: another issue may have committed since the snapshot.
    auto issued = st::BillingLedger::members_with_statement(db, request.month);
    if (!issued) return issued.error();
    const auto checked = IssueClock::now();
    const std::set<std::int64_t> already(issued->begin(), issued->end());

    IssueReport report;
    std::vector<const PreparedStatement*> to_write;
    for (const auto& p : prepared->members) {
      const Statement& s = p.statement;
      std::string reason;
      if (p.member_id < 0) {
        reason = "the member no longer exists";
      } else if (already.count(p.member_id) != 0) {
        if (!request.member_no) {
          report.already_issued.push_back(s.member_no);
          continue;
        }
        reason = fmt::format("a statement for {} was already issued", request.month);
      } else if (!s.open_sessions.empty()) {
        reason = fmt::format("{} open session(s) in {} (first: {}); close them first",
                             s.open_sessions.size(), request.month, s.open_sessions[0].session_id);
      } else if (!s.held_for_review.empty()) {
        reason = fmt::format(
            "{} session(s) longer than 24 h held for review in {} (first: {}); review them first",
            s.held_for_review.size(), request.month, s.held_for_review[0].session_id);
      }
      if (!reason.empty()) {
        if (request.member_no) {
          return Error{
              ErrorKind::kConflict, 0,
              fmt::format("statement for {} {} refused: {}", s.member_no, request.month, reason)};
        }
        report.refused.push_back({s.member_no, std::move(reason)});
        continue;
      }
      to_write.push_back(&p);
    }
    // Every member is accounted for: those without a line, an open or a held session are named
    // too, so a manager sees who got nothing and why.
    for (const auto& [no, id] : prepared->without_usage) {
      (already.count(id) != 0 ? report.already_issued : report.no_usage).push_back(no);
    }
    if (request.whole_month && !report.refused.empty()) {
      std::string who;
      for (const auto& r : report.refused) {
        who += fmt::format("{}{}: {}", who.empty() ? "" : "; ", r.member_no, r.reason);
      }
      return Error{ErrorKind::kConflict, 0,
                   fmt::format("{} cannot be issued as a whole; nothing was issued: {}",
                               request.month, who)};
    }
    // Nothing left to write (another run issued it meanwhile) is no surprise worth refusing: the
    // report says "already issued".
    if (request.expected && !to_write.empty()) {
      std::int64_t total = 0;
      for (const auto* p : to_write) total += p->statement.total;
      const auto members = static_cast<std::int64_t>(to_write.size());
      if (members != request.expected->members || total != request.expected->total) {
        return Error{ErrorKind::kConflict, 0,
                     fmt::format("{} changed since it was confirmed ({} members, {} yen); it now "
                                 "comes to {} members, {} yen; nothing was issued, confirm again",
                                 request.month, request.expected->members, request.expected->total,
                                 members, total)};
      }
    }
    for (const auto* p : to_write) {
      const Statement& s = p->statement;
      auto statement_id = st::BillingLedger::record_statement(
          db, {p->member_id, s.member_no, request.month, request.now_ms, request.actor, s.total,
               p->body.sha256});
      if (!statement_id) return statement_id.error();
      report.issued.push_back({*statement_id, s.member_no, s.total, p->body.sha256});
    }
    std::sort(report.already_issued.begin(), report.already_issued.end());
    std::sort(report.no_usage.begin(), report.no_usage.end());
    const auto written = IssueClock::now();
    BILLING_TRY(tx->commit());
    stored.keep(report.issued);
    const auto committed = IssueClock::now();
    timing.wait_ms = ms_between(t1, t2);
    timing.locked_ms = ms_between(t2, committed);
    timing.check_ms = ms_between(t2, checked);
    timing.commit_ms = ms_between(written, committed);
    timing.passes = pass;
    report.timing = timing;
    return report;
  }
}

Result<std::vector<IssuedRow>> list_statements(st::Database& db,
                                               const std::optional<std::string>& month) {
  return st::BillingLedger::list_statements(db, month);
}

Result<std::optional<std::string>> issued_body(st::Database& db, std::string_view member_no,
                                               std::string_view month) {
  return st::BillingLedger::statement_body(db, member_no, month);
}

Result<std::int64_t> unbilled_total(st::Database& db, std::int64_t member_id, std::int64_t now_ms,
                                    const date::time_zone* tz, const TaxPolicy& tax) {
  auto m = st::BillingLedger::billing_member(db, member_id);
  if (!m) return m.error();
  if (!*m) return Error{ErrorKind::kNotFound, 0, fmt::format("unknown member id {}", member_id)};
  auto earliest = st::BillingLedger::first_usage_ms(db, member_id);
  if (!earliest) return earliest.error();
  if (!*earliest) return std::int64_t{0};
  const std::optional<std::int64_t>& first = *earliest;
  auto months = st::BillingLedger::issued_months(db, member_id);
  if (!months) return months.error();
  const std::set<std::string> issued(months->begin(), months->end());
  const std::string last_month = month_of(std::max(now_ms, *first), tz);
  auto range = month_range(month_of(*first, tz), tz);
  if (!range) return range.error();
  Engine engine{tz, tax};
  std::int64_t total = 0;
  // Months are walked oldest first; a member normally has one or two unissued months, each one
  // indexed query on (member_id, started_at_ms).
  for (;;) {
    if (issued.count(range->month) == 0) {
      auto in = load_member_by_row(db, **m, *range);
      if (!in) return in.error();
      if (!in->sessions.empty() || !in->sales.empty()) total += engine.bill(*in).total;
    }
    if (range->month >= last_month) break;
    range = month_range(month_of(range->end_ms, tz), tz);
    if (!range) return range.error();
  }
  return total;
}

}  // namespace labgate::gateway::billing
