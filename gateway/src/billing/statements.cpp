#include "labgate/gateway/billing/statements.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "labgate/gateway/billing/render.hpp"
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
    auto rates = db.prepare(
        "SELECT id, kind, machine_id, effective_from_ms, effective_until_ms, unit_seconds, "
        "price_per_unit, idle_price_per_unit, minimum_charge, grace_seconds, daily_cap "
        "FROM rates ORDER BY effective_from_ms, id");
    if (!rates) return rates.error();
    for (;;) {
      auto row = rates->step();
      if (!row) return row.error();
      if (!*row) break;
      RateRow r;
      r.terms.id = rates->column_int64(0);
      r.target = rates->column_text(1) == "coworking" ? std::string{kCoworkingTarget}
                                                      : rates->column_text(2);
      r.from_ms = rates->column_int64(3);
      r.until_ms = rates->column_opt_int64(4);
      r.terms.unit_seconds = rates->column_int64(5);
      r.terms.price_per_unit = rates->column_int64(6);
      r.terms.idle_price_per_unit = rates->column_opt_int64(7);
      r.terms.minimum_charge = rates->column_int64(8);
      r.terms.grace_seconds = rates->column_int64(9);
      r.terms.daily_cap = rates->column_opt_int64(10);
      by_target_[r.target].push_back(r.terms.id);
      by_id_.emplace(r.terms.id, std::move(r));
    }
    auto terms = db.prepare(
        "SELECT rate_id, plan_id, discount_percent, included_minutes FROM rate_plan_terms");
    if (!terms) return terms.error();
    for (;;) {
      auto row = terms->step();
      if (!row) return row.error();
      if (!*row) break;
      terms_[{terms->column_int64(0), terms->column_int64(1)}] = {terms->column_int64(2),
                                                                  terms->column_int64(3)};
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
        // Ids are in effective_from order; the last one in force at the start wins.
        for (auto id = it->second.rbegin(); id != it->second.rend(); ++id) {
          const RateRow& r = by_id_.at(*id);
          if (r.from_ms <= started_ms && (!r.until_ms || started_ms < *r.until_ms)) {
            row = &r;
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
  std::unordered_map<std::int64_t, RateRow> by_id_;
  std::map<std::string, std::vector<std::int64_t>, std::less<>> by_target_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::pair<std::int64_t, std::int64_t>> terms_;
};

struct MemberRow {
  std::int64_t id{0};
  std::string member_no;
  std::string name;
  std::optional<std::int64_t> plan_id;
  std::string plan;
};

constexpr const char* kMemberColumns =
    "SELECT m.id, m.member_no, m.name, m.plan_id, COALESCE(p.code, '') FROM members m "
    "LEFT JOIN plans p ON p.id = m.plan_id ";

MemberRow read_member(const st::Statement& s) {
  return {s.column_int64(0), s.column_text(1), s.column_text(2), s.column_opt_int64(3),
          s.column_text(4)};
}

// A session row as read from the month scan, before its rate is resolved.
struct RawSession {
  std::int64_t id{0};
  std::int64_t member_id{0};
  std::string target;
  std::int64_t started_ms{0};
  std::optional<std::int64_t> ended_ms;
  std::optional<std::int64_t> busy;
  std::optional<std::int64_t> rate_id;
};

struct RawSale {
  std::int64_t member_id{0};
  SaleItem item;
};

// Both loaders share the SQL shape; `one_member` adds "member_id = ?3" and uses the member index.
struct MonthData {
  std::vector<RawSession> sessions;
  std::vector<RawSale> sales;
  std::unordered_map<std::int64_t, Review> reviews;
};

Status read_month(st::Database& db, std::int64_t begin_ms, std::int64_t end_ms,
                  const std::optional<std::int64_t>& member_id, MonthData& out) {
  const std::string filter = member_id ? " AND member_id = ?3" : "";
  auto sessions = db.prepare(
      "SELECT id, member_id, kind, machine_id, started_at_ms, ended_at_ms, busy_seconds, rate_id "
      "FROM sessions WHERE started_at_ms >= ?1 AND started_at_ms < ?2" +
      filter + " ORDER BY started_at_ms, id");
  if (!sessions) return sessions.error();
  sessions->bind(1, begin_ms).bind(2, end_ms);
  if (member_id) sessions->bind(3, *member_id);
  for (;;) {
    auto row = sessions->step();
    if (!row) return row.error();
    if (!*row) break;
    RawSession r;
    r.id = sessions->column_int64(0);
    r.member_id = sessions->column_int64(1);
    r.target = sessions->column_text(2) == "coworking" ? std::string{kCoworkingTarget}
                                                       : sessions->column_text(3);
    r.started_ms = sessions->column_int64(4);
    r.ended_ms = sessions->column_opt_int64(5);
    r.busy = sessions->column_opt_int64(6);
    r.rate_id = sessions->column_opt_int64(7);
    out.sessions.push_back(std::move(r));
  }
  const std::string rv_filter = member_id ? " AND s.member_id = ?3" : "";
  auto reviews = db.prepare(
      "SELECT rv.session_id, rv.billed_seconds, rv.reviewer FROM session_reviews rv "
      "JOIN sessions s ON s.id = rv.session_id "
      "WHERE s.started_at_ms >= ?1 AND s.started_at_ms < ?2" +
      rv_filter);
  if (!reviews) return reviews.error();
  reviews->bind(1, begin_ms).bind(2, end_ms);
  if (member_id) reviews->bind(3, *member_id);
  for (;;) {
    auto row = reviews->step();
    if (!row) return row.error();
    if (!*row) break;
    out.reviews[reviews->column_int64(0)] = {reviews->column_int64(1), reviews->column_text(2)};
  }
  const std::string sale_filter = member_id ? " AND s.member_id = ?3" : "";
  auto sales = db.prepare(
      "SELECT s.id, s.member_id, s.item_code, COALESCE(p.name, s.item_code), s.quantity, "
      "s.unit_price, s.at_ms, COALESCE(p.day_pass, 0) FROM sales s "
      "LEFT JOIN price_list p ON p.code = s.item_code "
      "WHERE s.at_ms >= ?1 AND s.at_ms < ?2" +
      sale_filter + " ORDER BY s.at_ms, s.id");
  if (!sales) return sales.error();
  sales->bind(1, begin_ms).bind(2, end_ms);
  if (member_id) sales->bind(3, *member_id);
  for (;;) {
    auto row = sales->step();
    if (!row) return row.error();
    if (!*row) break;
    RawSale r;
    r.member_id = sales->column_int64(1);
    r.item.id = sales->column_int64(0);
    r.item.item_code = sales->column_text(2);
    r.item.item_name = sales->column_text(3);
    r.item.quantity = sales->column_int64(4);
    r.item.unit_price = sales->column_int64(5);
    r.item.at_ms = sales->column_int64(6);
    r.item.day_pass = sales->column_bool(7);
    out.sales.push_back(std::move(r));
  }
  return {};
}

Status read_month(st::Database& db, const MonthRange& month,
                  const std::optional<std::int64_t>& member_id, MonthData& out) {
  return read_month(db, month.begin_ms, month.end_ms, member_id, out);
}

// The month in two time halves, the later one on `helper` in its own thread. Rows come out in
// the single query's order: both queries order by start (then id), and the halves do not overlap.
Status read_month_split(st::Database& db, st::Database& helper, const MonthRange& month,
                        MonthData& out) {
  const std::int64_t mid = month.begin_ms + (month.end_ms - month.begin_ms) / 2;
  MonthData later;
  Status later_status;
  std::thread reader(
      [&] { later_status = read_month(helper, mid, month.end_ms, std::nullopt, later); });
  Status first_status = read_month(db, month.begin_ms, mid, std::nullopt, out);
  reader.join();
  if (!first_status) return first_status;
  if (!later_status) return later_status;
  out.sessions.reserve(out.sessions.size() + later.sessions.size());
  std::move(later.sessions.begin(), later.sessions.end(), std::back_inserter(out.sessions));
  std::move(later.sales.begin(), later.sales.end(), std::back_inserter(out.sales));
  out.reviews.merge(later.reviews);
  return {};
}

StatementInput make_input(const MemberRow& m, const MonthRange& month) {
  StatementInput in;
  in.member_no = m.member_no;
  in.name = m.name;
  in.plan = m.plan;
  in.month = month.month;
  return in;
}

void add_session(StatementInput& in, const RawSession& r, const MemberRow& m, const RateBook& book,
                 const MonthData& data) {
  SessionUsage u;
  u.id = r.id;
  u.target = r.target;
  u.started_at_ms = r.started_ms;
  u.ended_at_ms = r.ended_ms;
  u.busy_seconds = r.busy;
  u.rate = book.resolve(r.rate_id, r.target, r.started_ms, m.plan_id);
  if (!data.reviews.empty()) {
    auto it = data.reviews.find(r.id);
    if (it != data.reviews.end()) u.review = it->second;
  }
  in.sessions.push_back(std::move(u));
}

Result<std::optional<MemberRow>> member_by(st::Database& db, std::string_view where,
                                           const std::function<void(st::Statement&)>& bind) {
  auto stmt = db.prepare(std::string{kMemberColumns} + std::string{where});
  if (!stmt) return stmt.error();
  bind(*stmt);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<MemberRow>{};
  auto m = read_member(*stmt);
  stmt->reset();
  return std::optional<MemberRow>{std::move(m)};
}

Result<StatementInput> load_member_by_row(st::Database& db, const MemberRow& m,
                                          const MonthRange& month) {
  RateBook book;
  BILLING_TRY(book.load(db));
  MonthData data;
  BILLING_TRY(read_month(db, month, m.id, data));
  StatementInput in = make_input(m, month);
  in.sessions.reserve(data.sessions.size());
  for (const auto& r : data.sessions) add_session(in, r, m, book, data);
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
  auto m = member_by(db, "WHERE m.member_no = ?1", [&](st::Statement& s) { s.bind(1, member_no); });
  if (!m) return m.error();
  if (!*m) return Error{ErrorKind::kNotFound, 0, fmt::format("unknown member '{}'", member_no)};
  return load_member_by_row(db, **m, month);
}

namespace {

Result<std::size_t> deliver_month(st::Database& db, const MonthRange& month, const RateBook& book,
                                  MonthData& data, std::size_t workers,
                                  const std::function<void(StatementInput&&)>& sink) {
  // Bucket the start-ordered rows by member in O(n): a per-member query loop would cost one
  // index seek per member and an ORDER BY member_id a sort of the whole month.
  std::unordered_map<std::int64_t, std::size_t> slot;
  std::vector<std::int64_t> member_ids;
  std::vector<std::size_t> session_count;
  auto slot_of = [&](std::int64_t member_id) {
    auto [it, inserted] = slot.try_emplace(member_id, member_ids.size());
    if (inserted) {
      member_ids.push_back(member_id);
      session_count.push_back(0);
    }
    return it->second;
  };
  std::vector<std::uint32_t> session_slot(data.sessions.size());
  for (std::size_t i = 0; i < data.sessions.size(); ++i) {
    const std::size_t k = slot_of(data.sessions[i].member_id);
    session_slot[i] = static_cast<std::uint32_t>(k);
    ++session_count[k];
  }
  for (const auto& s : data.sales) slot_of(s.member_id);
  if (member_ids.empty()) return std::size_t{0};

  std::unordered_map<std::int64_t, MemberRow> members;
  members.reserve(member_ids.size());
  {
    auto stmt = db.prepare(std::string{kMemberColumns});
    if (!stmt) return stmt.error();
    for (;;) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      const std::int64_t id = stmt->column_int64(0);
      if (slot.count(id) != 0) members.emplace(id, read_member(*stmt));
    }
  }
  std::vector<StatementInput> inputs(member_ids.size());
  for (std::size_t k = 0; k < member_ids.size(); ++k) {
    auto it = members.find(member_ids[k]);
    MemberRow m = it != members.end() ? it->second
                                      : MemberRow{member_ids[k], fmt::format("#{}", member_ids[k]),
                                                  "(deleted member)", std::nullopt, ""};
    inputs[k] = make_input(m, month);
    inputs[k].sessions.reserve(session_count[k]);
  }
  static const MemberRow kNoMember{};
  std::vector<const MemberRow*> member_of(member_ids.size(), &kNoMember);
  for (std::size_t k = 0; k < member_ids.size(); ++k) {
    const auto it = members.find(member_ids[k]);
    if (it != members.end()) member_of[k] = &it->second;
  }
  // Each worker fills the members of its own slots (k % workers), so no two threads touch the
  // same input, and each member's sessions stay in scan order.
  auto fill = [&](std::size_t worker) {
    for (std::size_t i = 0; i < data.sessions.size(); ++i) {
      const std::size_t k = session_slot[i];
      if (k % workers != worker) continue;
      add_session(inputs[k], data.sessions[i], *member_of[k], book, data);
    }
  };
  if (workers > 1) {
    std::vector<std::thread> threads;
    for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(fill, w);
    fill(0);
    for (auto& t : threads) t.join();
  } else {
    fill(0);
  }
  data.sessions.clear();
  data.sessions.shrink_to_fit();
  for (auto& s : data.sales) inputs[slot.at(s.member_id)].sales.push_back(std::move(s.item));

  std::vector<std::size_t> order(inputs.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return inputs[a].member_no < inputs[b].member_no;
  });
  for (const std::size_t k : order) sink(std::move(inputs[k]));
  return inputs.size();
}

}  // namespace

Result<std::size_t> load_month(st::Database& db, const MonthRange& month,
                               const std::function<void(StatementInput&&)>& sink) {
  RateBook book;
  BILLING_TRY(book.load(db));
  MonthData data;
  BILLING_TRY(read_month(db, month, std::nullopt, data));
  return deliver_month(db, month, book, data, 1, sink);
}

Result<std::size_t> load_month(st::Database& db, st::Database& helper, const MonthRange& month,
                               const std::function<void(StatementInput&&)>& sink) {
  // One connection must never be used from two threads at once.
  if (&helper == &db) return load_month(db, month, sink);
  if (helper.path() != db.path()) {
    return Error{ErrorKind::kInvalid, 0, "load_month: the helper connection is to another file"};
  }
  RateBook book;
  BILLING_TRY(book.load(db));
  MonthData data;
  BILLING_TRY(read_month_split(db, helper, month, data));
  return deliver_month(db, month, book, data, 2, sink);
}

Result<Statement> member_statement(st::Database& db, std::string_view member_no,
                                   std::string_view month, const date::time_zone* tz) {
  auto range = month_range(month, tz);
  if (!range) return range.error();
  auto in = load_member_month(db, member_no, *range);
  if (!in) return in.error();
  return Engine{tz}.bill(*in);
}

Result<std::vector<Statement>> month_statements(st::Database& db, std::string_view month,
                                                const date::time_zone* tz) {
  auto range = month_range(month, tz);
  if (!range) return range.error();
  Engine engine{tz};
  std::vector<Statement> out;
  auto n = load_month(db, *range, [&](StatementInput&& in) { out.push_back(engine.bill(in)); });
  if (!n) return n.error();
  if (out.empty()) {
    return Error{ErrorKind::kNotFound, 0, fmt::format("no usage in {}", month)};
  }
  return out;
}

Result<IssueReport> issue_statements(st::Database& db, const IssueRequest& request,
                                     const date::time_zone* tz) {
  auto range = month_range(request.month, tz);
  if (!range) return range.error();
  if (request.actor.empty()) return Error{ErrorKind::kInvalid, 0, "an actor is required"};
  if (request.now_ms < range->end_ms) {
    return Error{ErrorKind::kConflict, 0,
                 fmt::format("{} has not ended yet (it ends {}): statements are issued for past "
                             "months only",
                             request.month, Engine{tz}.local_iso(range->end_ms))};
  }
  // Immediate: the month is read and frozen under the write lock, so nothing can slip in between.
  auto tx = st::Transaction::begin(db);
  if (!tx) return tx.error();

  std::vector<Statement> statements;
  std::vector<std::int64_t> member_ids;
  Engine engine{tz};
  if (request.member_no) {
    auto m = member_by(db, "WHERE m.member_no = ?1",
                       [&](st::Statement& s) { s.bind(1, *request.member_no); });
    if (!m) return m.error();
    if (!*m) {
      return Error{ErrorKind::kNotFound, 0, fmt::format("unknown member '{}'", *request.member_no)};
    }
    auto in = load_member_by_row(db, **m, *range);
    if (!in) return in.error();
    statements.push_back(engine.bill(*in));
    member_ids.push_back((*m)->id);
  } else {
    auto n =
        load_month(db, *range, [&](StatementInput&& in) { statements.push_back(engine.bill(in)); });
    if (!n) return n.error();
    if (statements.empty()) {
      return Error{ErrorKind::kNotFound, 0,
                   fmt::format("no usage in {}: nothing to issue", request.month)};
    }
    auto ids = db.prepare("SELECT id FROM members WHERE member_no = ?1");
    if (!ids) return ids.error();
    for (const auto& s : statements) {
      ids->bind(1, s.member_no);
      auto row = ids->step();
      if (!row) return row.error();
      member_ids.push_back(*row ? ids->column_int64(0) : -1);
      ids->reset();
    }
  }

  std::set<std::int64_t> already;
  {
    auto stmt = db.prepare("SELECT member_id FROM statements WHERE month = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, request.month);
    for (;;) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      already.insert(stmt->column_int64(0));
    }
  }

  IssueReport report;
  for (std::size_t i = 0; i < statements.size(); ++i) {
    const Statement& s = statements[i];
    std::string reason;
    if (member_ids[i] < 0) {
      reason = "the member no longer exists";
    } else if (already.count(member_ids[i]) != 0) {
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
    const std::string body = to_json(s);
    const std::string digest = sha256_hex(body);
    auto insert = db.prepare(
        "INSERT INTO statements (member_id, month, issued_at_ms, issued_by, total, sha256, "
        "body_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!insert) return insert.error();
    insert->bind(1, member_ids[i])
        .bind(2, request.month)
        .bind(3, request.now_ms)
        .bind(4, request.actor)
        .bind(5, s.total)
        .bind(6, digest)
        .bind(7, body);
    BILLING_TRY(insert->run());
    const std::int64_t statement_id = db.last_insert_rowid();
    auto entry = db.prepare(
        "INSERT INTO account_entries (member_id, at_ms, amount, kind, reference, actor) "
        "VALUES (?1, ?2, ?3, 'statement', ?4, ?5)");
    if (!entry) return entry.error();
    entry->bind(1, member_ids[i])
        .bind(2, request.now_ms)
        .bind(3, -s.total)
        .bind(4, request.month)
        .bind(5, request.actor);
    BILLING_TRY(entry->run());
    const nlohmann::ordered_json detail = {{"month", request.month},
                                           {"statement_id", statement_id},
                                           {"total", s.total},
                                           {"sha256", digest}};
    BILLING_TRY(st::append_audit_row(db, request.now_ms, request.actor, "statement_issue",
                                     s.member_no, detail.dump()));
    report.issued.push_back({statement_id, s.member_no, s.total, digest});
  }
  BILLING_TRY(tx->commit());
  return report;
}

Result<std::vector<IssuedRow>> list_statements(st::Database& db,
                                               const std::optional<std::string>& month) {
  auto stmt = db.prepare(
      "SELECT s.id, m.member_no, m.name, s.month, s.issued_at_ms, s.issued_by, s.total, s.sha256 "
      "FROM statements s JOIN members m ON m.id = s.member_id "
      "WHERE ?1 IS NULL OR s.month = ?1 ORDER BY s.month, m.member_no");
  if (!stmt) return stmt.error();
  stmt->bind(1, month);
  std::vector<IssuedRow> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({stmt->column_int64(0), stmt->column_text(1), stmt->column_text(2),
                   stmt->column_text(3), stmt->column_int64(4), stmt->column_text(5),
                   stmt->column_int64(6), stmt->column_text(7)});
  }
  return out;
}

Result<std::optional<std::string>> issued_body(st::Database& db, std::string_view member_no,
                                               std::string_view month) {
  auto stmt = db.prepare(
      "SELECT s.body_json FROM statements s JOIN members m ON m.id = s.member_id "
      "WHERE m.member_no = ?1 AND s.month = ?2");
  if (!stmt) return stmt.error();
  stmt->bind(1, member_no).bind(2, month);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>{};
  std::string body = stmt->column_text(0);
  stmt->reset();
  return std::optional<std::string>{std::move(body)};
}

Result<std::int64_t> unbilled_total(st::Database& db, std::int64_t member_id, std::int64_t now_ms,
                                    const date::time_zone* tz) {
  auto m = member_by(db, "WHERE m.id = ?1", [&](st::Statement& s) { s.bind(1, member_id); });
  if (!m) return m.error();
  if (!*m) return Error{ErrorKind::kNotFound, 0, fmt::format("unknown member id {}", member_id)};
  std::optional<std::int64_t> first;
  for (const char* sql : {"SELECT MIN(started_at_ms) FROM sessions WHERE member_id = ?1",
                          "SELECT MIN(at_ms) FROM sales WHERE member_id = ?1"}) {
    auto stmt = db.prepare(sql);
    if (!stmt) return stmt.error();
    stmt->bind(1, member_id);
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row && !stmt->is_null(0)) {
      const std::int64_t v = stmt->column_int64(0);
      first = first ? std::min(*first, v) : v;
    }
    stmt->reset();
  }
  if (!first) return std::int64_t{0};
  std::set<std::string> issued;
  {
    auto stmt = db.prepare("SELECT month FROM statements WHERE member_id = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, member_id);
    for (;;) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      issued.insert(stmt->column_text(0));
    }
  }
  const std::string last_month = month_of(std::max(now_ms, *first), tz);
  auto range = month_range(month_of(*first, tz), tz);
  if (!range) return range.error();
  Engine engine{tz};
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
