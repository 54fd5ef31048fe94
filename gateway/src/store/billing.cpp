// Billing data kept by staff: rates, accounts, the price list, sales and reviews of long sessions.
// Each write is one transaction with its audit row. The billing engine only reads these tables,
// so every rule that keeps an issued statement unchanged is enforced here, at write time.
#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "labgate/gateway/store/store.hpp"
#include "labgate/gateway/store/tap_reads.hpp"
#include "rows.hpp"

namespace labgate::gateway::store {

namespace {

using namespace rows;  // NOLINT: shared private helpers

using json = nlohmann::ordered_json;

constexpr std::int64_t kDaySeconds = 86400;

json opt(const std::optional<std::int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

std::chrono::sys_time<std::chrono::milliseconds> sys_ms(std::int64_t ms) {
  return std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms));
}

// Local time of `ms` in `tz`; UTC when the zone cannot be loaded (BillingLedger::open already
// checked it).
date::local_time<std::chrono::milliseconds> local_of(std::int64_t ms, const std::string& tz) {
  try {
    return date::make_zoned(tz, sys_ms(ms)).get_local_time();
  } catch (const std::exception&) {
    return date::local_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms));
  }
}

std::string local_month(std::int64_t ms, const std::string& tz) {
  return date::format("%Y-%m", date::floor<date::days>(local_of(ms, tz)));
}

// [begin, end) in ms of a local "YYYY-MM" month; an empty span for text that is no month.
std::pair<std::int64_t, std::int64_t> month_span(const std::string& month, const std::string& tz) {
  int y = 0;
  unsigned m = 0;
  if (month.size() != 7 || std::sscanf(month.c_str(), "%4d-%2u", &y, &m) != 2 || m < 1 || m > 12) {
    return {0, 0};
  }
  const auto at = [&](date::year_month ym) -> std::int64_t {
    const date::local_days day{ym / date::day{1}};
    std::chrono::sys_seconds sys;
    try {
      sys = date::make_zoned(tz, date::local_seconds{day}, date::choose::earliest).get_sys_time();
    } catch (const std::exception&) {
      sys = std::chrono::sys_seconds{day.time_since_epoch()};
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(sys.time_since_epoch()).count();
  };
  const date::year_month ym{date::year{y}, date::month{m}};
  return {at(ym), at(ym + date::months{1})};
}

// "2026-11-01" at local midnight, "2026-11-01 14:30" otherwise: how a manager wrote it.
std::string local_when(std::int64_t ms, const std::string& tz) {
  const auto local = local_of(ms, tz);
  const auto day = date::floor<date::days>(local);
  if (local == day) return date::format("%F", day);
  return date::format("%F %R", date::floor<std::chrono::minutes>(local));
}

// "3h 05m 10s" for messages.
std::string human_seconds(std::int64_t s) {
  const std::int64_t h = s / 3600;
  const std::int64_t m = (s % 3600) / 60;
  const std::int64_t sec = s % 60;
  if (h > 0) return fmt::format("{}h {:02}m {:02}s", h, m, sec);
  if (m > 0) return fmt::format("{}m {:02}s", m, sec);
  return fmt::format("{}s", sec);
}

// True when `member_id` has an issued statement for `month`.
Result<bool> statement_issued(Database& db, std::int64_t member_id, std::string_view month) {
  auto stmt = db.prepare("SELECT 1 FROM statements WHERE member_id = ?1 AND month = ?2");
  if (!stmt) return stmt.error();
  stmt->bind(1, member_id).bind(2, month);
  auto row = stmt->step();
  if (!row) return row.error();
  const bool found = *row;
  stmt->reset();
  return found;
}

Status load_terms(Database& db, Rate& rate) {
  auto stmt = db.prepare(
      "SELECT t.plan_id, p.code, t.discount_percent, t.included_minutes FROM rate_plan_terms t "
      "JOIN plans p ON p.id = t.plan_id WHERE t.rate_id = ?1 ORDER BY p.code");
  if (!stmt) return stmt.error();
  stmt->bind(1, rate.id);
  auto terms = collect<RatePlanTerm>(*stmt, [](const Statement& s) {
    return RatePlanTerm{s.column_int64(0), s.column_text(1), s.column_int64(2), s.column_int64(3)};
  });
  if (!terms) return terms.error();
  rate.plan_terms = std::move(*terms);
  return {};
}

json rate_json(const Rate& r) {
  json terms = json::array();
  for (const auto& t : r.plan_terms) {
    terms.push_back({{"plan", t.plan_code},
                     {"discount_percent", t.discount_percent},
                     {"included_minutes", t.included_minutes}});
  }
  return {{"rate_id", r.id},
          {"target", r.target()},
          {"effective_from_ms", r.effective_from_ms},
          {"unit_seconds", r.unit_seconds},
          {"price_per_unit", r.price_per_unit},
          {"idle_price_per_unit", opt(r.idle_price_per_unit)},
          {"minimum_charge", r.minimum_charge},
          {"grace_seconds", r.grace_seconds},
          {"daily_cap", opt(r.daily_cap)},
          {"plan_terms", terms},
          {"note", r.note}};
}

// Contradictions a manager can see from the terms alone, before touching the database.
Status check_rate_terms(const NewRate& r, const std::string& target) {
  if (r.kind == SessionKind::kMachine && (!r.machine_id || r.machine_id->empty())) {
    return invalid("a machine rate needs a machine id");
  }
  if (r.kind == SessionKind::kCoworking && r.machine_id) {
    return invalid("a coworking rate has no machine id");
  }
  if (r.unit_seconds <= 0) {
    return invalid(fmt::format("rate for {}: the unit must be longer than 0 seconds (got {})",
                               target, r.unit_seconds));
  }
  if (r.price_per_unit < 0) {
    return invalid(fmt::format("rate for {}: price {} is negative", target, r.price_per_unit));
  }
  if (r.idle_price_per_unit) {
    if (*r.idle_price_per_unit < 0) {
      return invalid(
          fmt::format("rate for {}: idle price {} is negative", target, *r.idle_price_per_unit));
    }
    if (r.kind == SessionKind::kCoworking) {
      return invalid("an idle price applies only to machines with a busy input, not coworking");
    }
    if (r.price_per_unit == 0) {
      return invalid(fmt::format(
          "rate for {}: idle price {} without a (busy) price: set a price per unit above 0", target,
          *r.idle_price_per_unit));
    }
    if (*r.idle_price_per_unit > r.price_per_unit) {
      return invalid(fmt::format(
          "rate for {}: idle price {} is above the (busy) price {}: idle time would cost more "
          "than work",
          target, *r.idle_price_per_unit, r.price_per_unit));
    }
  }
  if (r.minimum_charge < 0) {
    return invalid(
        fmt::format("rate for {}: minimum charge {} is negative", target, r.minimum_charge));
  }
  if (r.grace_seconds < 0) {
    return invalid(fmt::format("rate for {}: grace {}s is negative", target, r.grace_seconds));
  }
  if (r.grace_seconds >= kDaySeconds) {
    return invalid(fmt::format(
        "rate for {}: grace {} must be shorter than 24 h (longer sessions are held for review)",
        target, human_seconds(r.grace_seconds)));
  }
  if (r.daily_cap) {
    if (*r.daily_cap < 0) {
      return invalid(fmt::format("rate for {}: daily cap {} is negative", target, *r.daily_cap));
    }
    if (r.minimum_charge > *r.daily_cap) {
      return invalid(fmt::format("rate for {}: minimum charge {} exceeds the daily cap {}", target,
                                 r.minimum_charge, *r.daily_cap));
    }
  }
  for (std::size_t i = 0; i < r.plan_terms.size(); ++i) {
    const auto& t = r.plan_terms[i];
    if (t.plan_code.empty()) return invalid("a plan term needs a plan code");
    if (t.discount_percent < 0 || t.discount_percent > 100) {
      return invalid(fmt::format("rate for {}: discount {}% for plan {} is outside 0..100", target,
                                 t.discount_percent, t.plan_code));
    }
    if (t.included_minutes < 0) {
      return invalid(fmt::format("rate for {}: included minutes {} for plan {} are negative",
                                 target, t.included_minutes, t.plan_code));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (r.plan_terms[j].plan_code == t.plan_code) {
        return invalid(
            fmt::format("rate for {}: plan {} has two sets of terms", target, t.plan_code));
      }
    }
  }
  return {};
}

constexpr std::string_view kSaleSelect =
    "SELECT sa.id, sa.member_id, m.member_no, sa.item_code, sa.quantity, sa.unit_price, "
    "sa.at_ms, sa.note, sa.actor, sa.tax_class FROM sales sa JOIN members m ON m.id = "
    "sa.member_id ";

Sale read_sale(const Statement& s) {
  return Sale{s.column_int64(0), s.column_int64(1), s.column_text(2),  s.column_text(3),
              s.column_int64(4), s.column_int64(5), s.column_int64(6), s.column_text(7),
              s.column_text(8),  s.column_text(9)};
}

constexpr std::string_view kPriceSelect =
    "SELECT code, name, unit, price, day_pass, active, tax_class FROM price_list ";

PriceItem read_price(const Statement& s) {
  return PriceItem{s.column_text(0), s.column_text(1), s.column_text(2), s.column_int64(3),
                   s.column_bool(4), s.column_bool(5), s.column_text(6)};
}

Result<std::optional<PriceItem>> price_item(Database& db, std::string_view code) {
  auto stmt = db.prepare(std::string(kPriceSelect) + "WHERE code = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, code);
  return first<PriceItem>(*stmt, read_price);
}

}  // namespace

// ---- rates ----

Result<std::vector<IssuedStatementRef>> BillingLedger::statements_reached(
    SessionKind kind, std::optional<std::string> machine_id, std::int64_t from_ms,
    std::optional<std::int64_t> until_ms) {
  const std::string& tz = options().time_zone;
  auto months = db_->prepare("SELECT DISTINCT month FROM statements WHERE month >= ?1 ORDER BY 1");
  if (!months) return months.error();
  months->bind(1, local_month(from_ms, tz));
  auto issued = collect<std::string>(*months, [](const Statement& s) { return s.column_text(0); });
  if (!issued) return issued.error();
  // Only members who used the target inside the span in an issued month would see a different
  // statement; the others' statements do not mention this rate at all.
  auto stmt = db_->prepare(
      "SELECT DISTINCT m.member_no FROM sessions s JOIN statements st ON st.member_id = "
      "s.member_id AND st.month = ?1 JOIN members m ON m.id = s.member_id WHERE s.kind = ?2 AND "
      "s.machine_id IS ?3 AND s.started_at_ms >= ?4 AND s.started_at_ms < ?5 ORDER BY 1");
  if (!stmt) return stmt.error();
  const std::string kind_text = kind == SessionKind::kCoworking ? "coworking" : "machine";
  std::vector<IssuedStatementRef> out;
  for (const auto& month : *issued) {
    const auto [begin, end] = month_span(month, tz);
    const std::int64_t lo = std::max(begin, from_ms);
    const std::int64_t hi = until_ms ? std::min(end, *until_ms) : end;
    if (lo >= hi) continue;
    stmt->bind(1, month).bind(2, kind_text).bind(3, machine_id).bind(4, lo).bind(5, hi);
    auto members = collect<std::string>(*stmt, [](const Statement& s) { return s.column_text(0); });
    if (!members) return members.error();
    for (auto& m : *members) out.push_back({std::move(m), month});
  }
  return out;
}

Status BillingLedger::check_reach(SessionKind kind, const std::optional<std::string>& machine_id,
                                  std::int64_t from_ms, std::optional<std::int64_t> until_ms,
                                  const std::string& what, std::int64_t now) {
  const std::string& tz = options().time_zone;
  const bool past = from_ms < now;
  auto reached = statements_reached(kind, machine_id, from_ms, until_ms);
  if (!reached) return reached.error();
  if (!reached->empty()) {
    std::string names;
    std::set<std::string> months;
    for (const auto& r : *reached) {
      if (!names.empty()) names += ", ";
      names += fmt::format("{} ({})", r.member_no, r.month);
      months.insert(r.month);
    }
    std::string month_list;
    for (const auto& m : months) month_list += (month_list.empty() ? "" : ", ") + m;
    return conflict(fmt::format(
        "{} reaches into {}, already issued: it would change the issued statement(s) of {}{}; "
        "an issued statement never changes (correct it with an account adjustment)",
        what, month_list, names, past ? "; it also starts in the past" : ""));
  }
  if (past) {
    return conflict(fmt::format(
        "{} starts in the past (now is {}): a rate change applies only to sessions that start "
        "after it (use a later date, or now)",
        what, local_when(now, tz)));
  }
  return {};
}

Result<Rate> BillingLedger::write_rate(const NewRate& rate, const Actor& actor,
                                       std::string_view action, const std::optional<Rate>& before) {
  const std::string target =
      rate.kind == SessionKind::kCoworking ? "coworking" : rate.machine_id.value_or("");
  LABGATE_TRY(check_rate_terms(rate, target));
  LABGATE_TRY(check_text(rate.note, "rate note", text::Field::kNote));
  LABGATE_TRY(require_text(actor.name(), "actor"));
  const std::int64_t now = now_ms();
  const std::int64_t from = rate.effective_from_ms.value_or(now);
  const std::string& tz = options().time_zone;
  if (rate.kind == SessionKind::kMachine) {
    auto m = reads_->machine(*rate.machine_id);
    if (!m) return m.error();
    if (!*m) return not_found(fmt::format("unknown machine '{}'", *rate.machine_id));
    if (rate.idle_price_per_unit && !(*m)->busy_input) {
      return invalid(fmt::format(
          "rate for {}: idle price {} on a machine without a busy input: it could never apply "
          "(every session would pay the full price); leave the idle price out",
          target, *rate.idle_price_per_unit));
    }
  }
  // Plan ids in the order given; every plan must exist before anything is written.
  std::vector<std::int64_t> plan_ids;
  for (const auto& t : rate.plan_terms) {
    auto stmt = db_->prepare("SELECT id FROM plans WHERE code = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, t.plan_code);
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) {
      return not_found(fmt::format("rate for {}: unknown plan '{}'", target, t.plan_code));
    }
    plan_ids.push_back(stmt->column_int64(0));
    stmt->reset();
  }
  const std::string kind = rate.kind == SessionKind::kCoworking ? "coworking" : "machine";
  const std::optional<std::string> machine_id =
      rate.kind == SessionKind::kMachine ? rate.machine_id : std::nullopt;
  std::optional<Rate> later;
  {
    auto stmt = db_->prepare(std::string(kRateSelect) +
                             "WHERE kind = ?1 AND machine_id IS ?2 AND effective_from_ms >= ?3 "
                             "ORDER BY effective_from_ms LIMIT 1");
    if (!stmt) return stmt.error();
    stmt->bind(1, kind).bind(2, machine_id).bind(3, from);
    auto found = first<Rate>(*stmt, read_rate);
    if (!found) return found.error();
    later = std::move(*found);
  }
  // A replaced rate's own span counts too: withdrawing it changes what that span bills.
  const std::int64_t reach_from =
      before && action == "rate_replace" ? std::min(from, before->effective_from_ms) : from;
  const std::optional<std::int64_t> reach_until =
      later ? std::optional<std::int64_t>(later->effective_from_ms) : std::nullopt;
  LABGATE_TRY(check_reach(rate.kind, machine_id, reach_from, reach_until,
                          fmt::format("rate for {} from {}", target, local_when(from, tz)), now));
  // A replacement fills the gap its predecessor left: it ends where the next rate starts
  // (replace_rate already checked that it starts before it).
  const bool replacing = action == "rate_replace";
  std::optional<std::int64_t> until;
  if (later && replacing) {
    until = later->effective_from_ms;
  } else if (later) {
    return conflict(fmt::format(
        "rate for {} from {} overlaps rate {} which starts {}: replace or withdraw rate {} "
        "instead",
        target, local_when(from, tz), later->id, local_when(later->effective_from_ms, tz),
        later->id));
  }
  // Rates that would still be in force at `from`: the open-ended one (or one ending after it)
  // ends where the new one begins.
  std::optional<std::int64_t> superseded;
  {
    auto stmt = db_->prepare(
        "SELECT id FROM rates WHERE kind = ?1 AND machine_id IS ?2 AND effective_from_ms < ?3 "
        "AND (effective_until_ms IS NULL OR effective_until_ms > ?3) "
        "ORDER BY effective_from_ms DESC LIMIT 1");
    if (!stmt) return stmt.error();
    stmt->bind(1, kind).bind(2, machine_id).bind(3, from);
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) superseded = stmt->column_int64(0);
    stmt->reset();
  }
  if (superseded) {
    auto stmt = db_->prepare("UPDATE rates SET effective_until_ms = ?2 WHERE id = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, *superseded).bind(2, from);
    LABGATE_TRY(stmt->run());
  }
  auto insert = db_->prepare(
      "INSERT INTO rates (kind, machine_id, effective_from_ms, effective_until_ms, unit_seconds, "
      "price_per_unit, idle_price_per_unit, minimum_charge, grace_seconds, daily_cap, note, "
      "created_at_ms, created_by, id) VALUES (?1, ?2, ?3, ?14, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
      "?11, ?12, ?13)");
  if (!insert) return insert.error();
  insert->bind(1, kind)
      .bind(2, machine_id)
      .bind(3, from)
      .bind(4, rate.unit_seconds)
      .bind(5, rate.price_per_unit)
      .bind(6, rate.idle_price_per_unit)
      .bind(7, rate.minimum_charge)
      .bind(8, rate.grace_seconds)
      .bind(9, rate.daily_cap)
      .bind(10, rate.note)
      .bind(11, now)
      .bind(12, actor.name())
      // A replacement keeps the id of the rate it replaces (NULL: a new id).
      .bind(13, replacing && before ? std::optional<std::int64_t>(before->id) : std::nullopt)
      .bind(14, until);
  LABGATE_TRY(insert->run());
  const std::int64_t id = db_->last_insert_rowid();
  for (std::size_t i = 0; i < rate.plan_terms.size(); ++i) {
    auto stmt = db_->prepare(
        "INSERT INTO rate_plan_terms (rate_id, plan_id, discount_percent, included_minutes) "
        "VALUES (?1, ?2, ?3, ?4)");
    if (!stmt) return stmt.error();
    stmt->bind(1, id)
        .bind(2, plan_ids[i])
        .bind(3, rate.plan_terms[i].discount_percent)
        .bind(4, rate.plan_terms[i].included_minutes);
    LABGATE_TRY(stmt->run());
  }
  auto out = this->rate(id);
  if (!out) return out.error();
  json detail = rate_json(**out);
  detail["superseded_rate_id"] = opt(superseded);
  if (before) detail["before"] = rate_json(*before);
  LABGATE_TRY(audit(actor, action, target, detail.dump()));
  return std::move(**out);
}

Result<Rate> BillingLedger::set_rate(const NewRate& rate, const Actor& actor) {
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  // The declared account first: a refused actor learns nothing of the state.
  LABGATE_TRY(check_account(*db_, actor));
  auto out = write_rate(rate, actor, "rate_set", std::nullopt);
  if (!out) return out.error();
  LABGATE_TRY(tx->commit());
  return out;
}

namespace {

// `base` with the terms of `a` laid over it.
NewRate amended(const Rate& base, const RateAmendment& a) {
  NewRate r;
  r.kind = base.kind;
  r.machine_id = base.machine_id;
  r.unit_seconds = a.unit_seconds.value_or(base.unit_seconds);
  r.price_per_unit = a.price_per_unit.value_or(base.price_per_unit);
  r.idle_price_per_unit = a.idle_price_per_unit.value_or(base.idle_price_per_unit);
  r.minimum_charge = a.minimum_charge.value_or(base.minimum_charge);
  r.grace_seconds = a.grace_seconds.value_or(base.grace_seconds);
  r.daily_cap = a.daily_cap.value_or(base.daily_cap);
  r.note = a.note.value_or(base.note);
  for (const auto& t : base.plan_terms) {
    const bool dropped =
        std::find(a.drop_plans.begin(), a.drop_plans.end(), t.plan_code) != a.drop_plans.end();
    const bool given = std::any_of(a.plan_terms.begin(), a.plan_terms.end(),
                                   [&](const auto& n) { return n.plan_code == t.plan_code; });
    if (!dropped && !given) {
      r.plan_terms.push_back({t.plan_code, t.discount_percent, t.included_minutes});
    }
  }
  r.plan_terms.insert(r.plan_terms.end(), a.plan_terms.begin(), a.plan_terms.end());
  std::sort(r.plan_terms.begin(), r.plan_terms.end(),
            [](const auto& x, const auto& y) { return x.plan_code < y.plan_code; });
  return r;
}

// A plan named in `drop_plans` that the base rate does not have is a typo, not a no-op.
Status check_drops(const Rate& base, const RateAmendment& a) {
  for (const auto& code : a.drop_plans) {
    const bool known = std::any_of(base.plan_terms.begin(), base.plan_terms.end(),
                                   [&](const auto& t) { return t.plan_code == code; });
    if (!known) {
      return invalid(fmt::format("rate {} for {} has no terms for plan '{}' to drop", base.id,
                                 base.target(), code));
    }
  }
  return {};
}

}  // namespace

Result<RateChange> BillingLedger::amend_rate(const RateAmendment& a, const Actor& actor) {
  const std::string target =
      a.kind == SessionKind::kCoworking ? "coworking" : a.machine_id.value_or("");
  if (a.kind == SessionKind::kMachine && target.empty()) {
    return invalid("a machine rate needs a machine id");
  }
  if (a.kind == SessionKind::kCoworking && a.machine_id) {
    return invalid("a coworking rate has no machine id");
  }
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  // The declared account first: a refused actor learns nothing of the state.
  LABGATE_TRY(check_account(*db_, actor));
  // Read once: the base is the rate in force at the new rate's start.
  const std::int64_t now = now_ms();
  const std::int64_t from = a.effective_from_ms.value_or(now);
  std::optional<Rate> base;
  {
    auto current = current_rate(a.kind, a.machine_id, from);
    if (!current) return current.error();
    if (*current) {
      auto full = rate((*current)->id);
      if (!full) return full.error();
      base = std::move(*full);
    }
  }
  NewRate r;
  if (base) {
    LABGATE_TRY(check_drops(*base, a));
    r = amended(*base, a);
  } else {
    if (!a.unit_seconds || !a.price_per_unit) {
      return invalid(fmt::format(
          "{} has no rate in force on {} to take the other terms from: give the unit and the "
          "price",
          target, local_when(from, options().time_zone)));
    }
    if (!a.drop_plans.empty()) {
      return invalid(fmt::format("{} has no rate whose plan terms could be dropped", target));
    }
    Rate empty;
    empty.kind = a.kind;
    empty.machine_id = a.machine_id;
    r = amended(empty, a);
  }
  r.effective_from_ms = a.effective_from_ms;  // absent: now, on write_rate's clock reading
  auto after = write_rate(r, actor, "rate_set", base);
  if (!after) return after.error();
  LABGATE_TRY(tx->commit());
  return RateChange{std::move(base), std::move(*after)};
}

Result<Rate> BillingLedger::future_rate(std::int64_t rate_id, std::string_view verb) {
  auto found = rate(rate_id);
  if (!found) return found.error();
  if (!*found) return not_found(fmt::format("unknown rate {}", rate_id));
  const Rate& r = **found;
  if (r.effective_from_ms <= now_ms()) {
    return conflict(fmt::format(
        "rate {} for {} started {}: sessions may already run under it, so it cannot be {}; set "
        "a new rate from now or a later date instead",
        rate_id, r.target(), local_when(r.effective_from_ms, options().time_zone), verb));
  }
  auto used = db_->prepare("SELECT 1 FROM sessions WHERE rate_id = ?1 LIMIT 1");
  if (!used) return used.error();
  used->bind(1, rate_id);
  auto row = used->step();
  if (!row) return row.error();
  const bool has_sessions = *row;
  used->reset();
  if (has_sessions) {
    return conflict(
        fmt::format("rate {} for {} already has sessions billed under it: it cannot "
                    "be {}",
                    rate_id, r.target(), verb));
  }
  return std::move(**found);
}

Status BillingLedger::remove_future_rate(const Rate& r) {
  auto prev = db_->prepare(
      "UPDATE rates SET effective_until_ms = ?2 WHERE kind = ?3 AND "
      "machine_id IS ?4 AND effective_until_ms = ?1");
  if (!prev) return prev.error();
  prev->bind(1, r.effective_from_ms)
      .bind(2, r.effective_until_ms)
      .bind(3, r.kind == SessionKind::kCoworking ? "coworking" : "machine")
      .bind(4, r.machine_id);
  LABGATE_TRY(prev->run());
  auto terms = db_->prepare("DELETE FROM rate_plan_terms WHERE rate_id = ?1");
  if (!terms) return terms.error();
  terms->bind(1, r.id);
  LABGATE_TRY(terms->run());
  auto del = db_->prepare("DELETE FROM rates WHERE id = ?1");
  if (!del) return del.error();
  del->bind(1, r.id);
  return del->run();
}

Result<RateChange> BillingLedger::replace_rate(std::int64_t rate_id, const RateAmendment& a,
                                               const Actor& actor) {
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  // The declared account first: a refused actor learns nothing of the state.
  LABGATE_TRY(check_account(*db_, actor));
  auto old = future_rate(rate_id, "replaced");
  if (!old) return old.error();
  LABGATE_TRY(check_drops(*old, a));
  NewRate r = amended(*old, a);
  r.effective_from_ms = a.effective_from_ms.value_or(old->effective_from_ms);
  const std::string& tz = options().time_zone;
  // The replacement keeps its place between the rates before and after the one it replaces.
  auto bounds = db_->prepare(
      "SELECT (SELECT MAX(effective_from_ms) FROM rates WHERE kind = ?1 AND machine_id IS ?2 AND "
      "effective_from_ms < ?3), (SELECT MIN(effective_from_ms) FROM rates WHERE kind = ?1 AND "
      "machine_id IS ?2 AND effective_from_ms > ?3)");
  if (!bounds) return bounds.error();
  bounds->bind(1, old->kind == SessionKind::kCoworking ? "coworking" : "machine")
      .bind(2, old->machine_id)
      .bind(3, old->effective_from_ms);
  auto row = bounds->step();
  if (!row) return row.error();
  const auto previous = bounds->column_opt_int64(0);
  const auto next = bounds->column_opt_int64(1);
  bounds->reset();
  if ((previous && *r.effective_from_ms <= *previous) || (next && *r.effective_from_ms >= *next)) {
    return conflict(fmt::format(
        "rate {} for {} cannot move to {}: it must start after the rate before it{} and before "
        "the rate after it{}",
        rate_id, old->target(), local_when(*r.effective_from_ms, tz),
        previous ? fmt::format(" ({})", local_when(*previous, tz)) : "",
        next ? fmt::format(" ({})", local_when(*next, tz)) : ""));
  }
  LABGATE_TRY(remove_future_rate(*old));
  auto after = write_rate(r, actor, "rate_replace", *old);
  if (!after) return after.error();
  LABGATE_TRY(tx->commit());
  return RateChange{std::move(*old), std::move(*after)};
}

Result<Rate> BillingLedger::withdraw_rate(std::int64_t rate_id, const Actor& actor) {
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  // The declared account first: a refused actor learns nothing of the state.
  LABGATE_TRY(check_account(*db_, actor));
  auto old = future_rate(rate_id, "withdrawn");
  if (!old) return old.error();
  LABGATE_TRY(check_reach(old->kind, old->machine_id, old->effective_from_ms,
                          old->effective_until_ms,
                          fmt::format("withdrawing rate {} for {} from {}", rate_id, old->target(),
                                      local_when(old->effective_from_ms, options().time_zone)),
                          now_ms()));
  LABGATE_TRY(remove_future_rate(*old));
  LABGATE_TRY(audit(actor, "rate_withdraw", old->target(), rate_json(*old).dump()));
  LABGATE_TRY(tx->commit());
  return std::move(*old);
}

Result<std::optional<Rate>> BillingLedger::rate(std::int64_t rate_id) {
  auto stmt = db_->prepare(std::string(kRateSelect) + "WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, rate_id);
  auto r = first<Rate>(*stmt, read_rate);
  if (!r) return r.error();
  if (*r) LABGATE_TRY(load_terms(*db_, **r));
  return r;
}

Result<std::vector<Rate>> BillingLedger::list_rates(std::optional<std::string> target,
                                                    bool include_history) {
  std::optional<std::string> kind;
  std::optional<std::string> machine_id;
  if (target) {
    if (*target == "coworking") {
      kind = "coworking";
    } else {
      kind = "machine";
      machine_id = target;
    }
  }
  auto stmt = db_->prepare(std::string(kRateSelect) +
                           "WHERE (?1 IS NULL OR (kind = ?1 AND machine_id IS ?2)) "
                           "AND (?3 OR effective_until_ms IS NULL OR effective_until_ms > ?4) "
                           "ORDER BY kind = 'machine', machine_id, effective_from_ms, id");
  if (!stmt) return stmt.error();
  stmt->bind(1, kind).bind(2, machine_id).bind_bool(3, include_history).bind(4, now_ms());
  auto rows = collect<Rate>(*stmt, read_rate);
  if (!rows) return rows.error();
  for (auto& r : *rows) LABGATE_TRY(load_terms(*db_, r));
  return rows;
}

Result<std::optional<Rate>> BillingLedger::current_rate(SessionKind kind,
                                                        std::optional<std::string_view> machine_id,
                                                        std::int64_t at_ms) {
  // Effective windows of one target never overlap (set_rate refuses it), so the latest start at
  // or before at_ms is the only candidate; rates_target serves both the equality and the range.
  static const std::string kSql =
      std::string(kRateSelect) +
      "WHERE kind = ?1 AND machine_id IS ?2 AND effective_from_ms <= ?3 "
      "AND (effective_until_ms IS NULL OR effective_until_ms > ?3) "
      "ORDER BY effective_from_ms DESC LIMIT 1";
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  stmt->bind(1, kind == SessionKind::kCoworking ? "coworking" : "machine");
  if (machine_id && kind == SessionKind::kMachine) {
    stmt->bind(2, *machine_id);
  } else {
    stmt->bind_null(2);
  }
  stmt->bind(3, at_ms);
  return first<Rate>(*stmt, read_rate);
}

// ---- accounts ----

Result<AccountStanding> BillingLedger::account_standing(std::int64_t member_id) {
  auto stmt = db_->prepare(
      "SELECT COALESCE((SELECT SUM(amount) FROM account_entries WHERE member_id = ?1), 0), "
      "COALESCE((SELECT credit_limit FROM accounts WHERE member_id = ?1), 0)");
  if (!stmt) return stmt.error();
  stmt->bind(1, member_id);
  auto row = stmt->step();
  if (!row) return row.error();
  AccountStanding out{member_id, stmt->column_int64(0), stmt->column_int64(1)};
  stmt->reset();
  return out;
}

Result<Account> BillingLedger::account(std::string_view member_no) {
  auto id = reads_->member_id(member_no);
  if (!id) return id.error();
  auto standing = account_standing(*id);
  if (!standing) return standing.error();
  auto stmt = db_->prepare(
      "SELECT id, member_id, at_ms, amount, kind, reference, actor FROM account_entries "
      "WHERE member_id = ?1 ORDER BY at_ms, id");
  if (!stmt) return stmt.error();
  stmt->bind(1, *id);
  auto entries = collect<AccountEntry>(*stmt, [](const Statement& s) {
    return AccountEntry{s.column_int64(0), s.column_int64(1), s.column_int64(2), s.column_int64(3),
                        s.column_text(4),  s.column_text(5),  s.column_text(6)};
  });
  if (!entries) return entries.error();
  return Account{*id, std::string(member_no), standing->balance, standing->credit_limit,
                 std::move(*entries)};
}

Result<Account> BillingLedger::set_credit_limit(std::string_view member_no, std::int64_t yen,
                                                const Actor& actor) {
  if (yen < 0) {
    return invalid(fmt::format("credit limit {} is negative (0 means prepaid only)", yen));
  }
  return audited_change<Account>(actor, [&]() -> Result<Audited<Account>> {
    auto id = reads_->member_id(member_no);
    if (!id) return id.error();
    auto before = account_standing(*id);
    if (!before) return before.error();
    auto stmt = db_->prepare(
        "INSERT INTO accounts (member_id, credit_limit) VALUES (?1, ?2) "
        "ON CONFLICT (member_id) DO UPDATE SET credit_limit = excluded.credit_limit");
    if (!stmt) return stmt.error();
    stmt->bind(1, *id).bind(2, yen);
    LABGATE_TRY(stmt->run());
    auto out = account(member_no);
    if (!out) return out.error();
    return Audited<Account>{std::move(*out),
                            {"account.credit_limit", std::string(member_no),
                             json{{"from", before->credit_limit}, {"to", yen}}.dump()}};
  });
}

Result<AccountEntry> BillingLedger::add_entry(std::string_view member_no, std::int64_t yen,
                                              std::string_view kind, std::string_view reference,
                                              std::string_view reference_key,
                                              std::string_view action, const Actor& actor) {
  LABGATE_TRY(require_text(actor.name(), "actor"));
  return audited_change<AccountEntry>(actor, [&]() -> Result<Audited<AccountEntry>> {
    auto id = reads_->member_id(member_no);
    if (!id) return id.error();
    const std::int64_t at = now_ms();
    auto stmt = db_->prepare(
        "INSERT INTO account_entries (member_id, at_ms, amount, kind, reference, actor) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!stmt) return stmt.error();
    stmt->bind(1, *id)
        .bind(2, at)
        .bind(3, yen)
        .bind(4, kind)
        .bind(5, reference)
        .bind(6, actor.name());
    LABGATE_TRY(stmt->run());
    AccountEntry entry{db_->last_insert_rowid(), *id,         at, yen, std::string(kind),
                       std::string(reference),   actor.name()};
    json detail{{"entry_id", entry.id}, {"amount", yen}, {reference_key, reference}};
    return Audited<AccountEntry>{std::move(entry),
                                 {std::string(action), std::string(member_no), detail.dump()}};
  });
}

Result<AccountEntry> BillingLedger::topup(std::string_view member_no, std::int64_t yen,
                                          std::string_view note, const Actor& actor) {
  if (yen <= 0) {
    return invalid(fmt::format(
        "a top-up must be a positive amount of yen (got {}); use an adjustment to take money off",
        yen));
  }
  LABGATE_TRY(check_text(note, "top-up note", text::Field::kNote));
  return add_entry(member_no, yen, "topup", note, "note", "account.topup", actor);
}

Result<AccountEntry> BillingLedger::adjust(std::string_view member_no, std::int64_t yen,
                                           std::string_view reason, const Actor& actor) {
  if (yen == 0) return invalid("an adjustment of 0 yen changes nothing");
  LABGATE_TRY(require_text(reason, "adjustment reason", text::Field::kReason));
  return add_entry(member_no, yen, "adjustment", reason, "reason", "account.adjust", actor);
}

// ---- price list and sales ----

Result<PriceItem> BillingLedger::upsert_price_item(const NewPriceItem& item, const Actor& actor) {
  LABGATE_TRY(require_text(item.code, "item code"));
  LABGATE_TRY(require_text(item.name, "item name", text::Field::kItemName));
  LABGATE_TRY(require_text(item.unit, "item unit", text::Field::kItemName));
  if (item.price < 0) {
    return invalid(fmt::format("price {} of item {} is negative", item.price, item.code));
  }
  if (item.tax_class && *item.tax_class != "standard" && *item.tax_class != "reduced" &&
      *item.tax_class != "exempt") {
    return invalid(fmt::format("tax class '{}' of item {} is not standard, reduced or exempt",
                               *item.tax_class, item.code));
  }
  return audited_change<PriceItem>(actor, [&]() -> Result<Audited<PriceItem>> {
    auto before = price_item(*db_, item.code);
    if (!before) return before.error();
    // A change that names no tax class keeps the item's: a price change is not a tax change.
    const std::string tax_class =
        item.tax_class.value_or(*before ? (*before)->tax_class : std::string("standard"));
    auto stmt = db_->prepare(
        "INSERT INTO price_list (code, name, unit, price, day_pass, active, tax_class) "
        "VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6) ON CONFLICT (code) DO UPDATE SET "
        "name = excluded.name, unit = excluded.unit, price = excluded.price, "
        "day_pass = excluded.day_pass, active = 1, tax_class = excluded.tax_class");
    if (!stmt) return stmt.error();
    stmt->bind(1, item.code)
        .bind(2, item.name)
        .bind(3, item.unit)
        .bind(4, item.price)
        .bind_bool(5, item.day_pass)
        .bind(6, tax_class);
    LABGATE_TRY(stmt->run());
    json detail{{"name", item.name},
                {"unit", item.unit},
                {"price", item.price},
                {"day_pass", item.day_pass},
                {"tax_class", tax_class}};
    detail["previous_price"] = *before ? json((*before)->price) : json(nullptr);
    auto out = price_item(*db_, item.code);
    if (!out) return out.error();
    if (!*out) return Error{ErrorKind::kInternal, 0, "price-list item vanished"};
    return Audited<PriceItem>{std::move(**out), {"price.set", item.code, detail.dump()}};
  });
}

Result<PriceItem> BillingLedger::deactivate_price_item(std::string_view code, const Actor& actor) {
  return audited_change<PriceItem>(actor, [&]() -> Result<Audited<PriceItem>> {
    auto item = price_item(*db_, code);
    if (!item) return item.error();
    if (!*item) return not_found(fmt::format("unknown price-list item '{}'", code));
    if (!(*item)->active) return conflict(fmt::format("item '{}' is already inactive", code));
    auto stmt = db_->prepare("UPDATE price_list SET active = 0 WHERE code = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, code);
    LABGATE_TRY(stmt->run());
    (*item)->active = false;
    std::string detail = json{{"name", (*item)->name}}.dump();
    return Audited<PriceItem>{std::move(**item),
                              {"price.deactivate", std::string(code), std::move(detail)}};
  });
}

Result<std::vector<PriceItem>> BillingLedger::list_price_items(bool include_inactive) {
  auto stmt = db_->prepare(std::string(kPriceSelect) + "WHERE ?1 OR active = 1 ORDER BY code");
  if (!stmt) return stmt.error();
  stmt->bind_bool(1, include_inactive);
  return collect<PriceItem>(*stmt, read_price);
}

Result<Sale> BillingLedger::sell(std::string_view member_no, std::string_view item_code,
                                 std::int64_t quantity, std::string_view note, const Actor& actor,
                                 std::optional<std::int64_t> at_ms) {
  if (quantity <= 0) {
    return invalid(fmt::format("quantity must be at least 1 (got {})", quantity));
  }
  LABGATE_TRY(check_text(note, "sale note", text::Field::kNote));
  LABGATE_TRY(require_text(actor.name(), "actor"));
  const std::int64_t at = at_ms.value_or(now_ms());
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  // The declared account first: a refused actor learns nothing of the state.
  LABGATE_TRY(check_account(*db_, actor));
  auto id = reads_->member_id(member_no);
  if (!id) return id.error();
  auto item = price_item(*db_, item_code);
  if (!item) return item.error();
  if (!*item) return not_found(fmt::format("unknown price-list item '{}'", item_code));
  if (!(*item)->active) {
    return conflict(fmt::format("item '{}' ({}) is no longer sold", item_code, (*item)->name));
  }
  const std::string month = local_month(at, options().time_zone);
  auto issued = statement_issued(*db_, *id, month);
  if (!issued) return issued.error();
  if (*issued) {
    return conflict(fmt::format(
        "the {} statement of {} is already issued: record the sale in an open month or adjust "
        "the account",
        month, member_no));
  }
  if ((*item)->price > 0 && quantity > INT64_MAX / (*item)->price) {
    return invalid(fmt::format("quantity {} of {} is too large", quantity, item_code));
  }
  auto stmt = db_->prepare(
      "INSERT INTO sales (member_id, item_code, quantity, unit_price, at_ms, note, actor, "
      "tax_class) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!stmt) return stmt.error();
  stmt->bind(1, *id)
      .bind(2, item_code)
      .bind(3, quantity)
      .bind(4, (*item)->price)
      .bind(5, at)
      .bind(6, note)
      .bind(7, actor.name())
      .bind(8, (*item)->tax_class);
  LABGATE_TRY(stmt->run());
  Sale sale{db_->last_insert_rowid(),
            *id,
            std::string(member_no),
            std::string(item_code),
            quantity,
            (*item)->price,
            at,
            std::string(note),
            actor.name(),
            (*item)->tax_class};
  LABGATE_TRY(audit(actor, "sale", member_no,
                    json{{"sale_id", sale.id},
                         {"item", sale.item_code},
                         {"quantity", quantity},
                         {"unit_price", sale.unit_price},
                         {"amount", sale.amount()},
                         {"tax_class", sale.tax_class},
                         {"at_ms", at},
                         {"note", note}}
                        .dump()));
  LABGATE_TRY(tx->commit());
  return sale;
}

Result<std::vector<Sale>> BillingLedger::list_sales(std::optional<std::string> member_no,
                                                    std::optional<std::int64_t> from_ms,
                                                    std::optional<std::int64_t> to_ms) {
  auto stmt = db_->prepare(std::string(kSaleSelect) +
                           "WHERE (?1 IS NULL OR m.member_no = ?1) AND (?2 IS NULL OR "
                           "sa.at_ms >= ?2) AND (?3 IS NULL OR sa.at_ms < ?3) "
                           "ORDER BY sa.at_ms, sa.id");
  if (!stmt) return stmt.error();
  stmt->bind(1, member_no).bind(2, from_ms).bind(3, to_ms);
  return collect<Sale>(*stmt, read_sale);
}

// ---- sessions held for review ----

Result<std::vector<Session>> BillingLedger::list_held_sessions() {
  auto stmt = db_->prepare(
      std::string(kSessionSelect) +
      "WHERE s.ended_at_ms IS NOT NULL AND (s.ended_at_ms - s.started_at_ms) / 1000 > 86400 "
      "AND NOT EXISTS (SELECT 1 FROM session_reviews r WHERE r.session_id = s.id) "
      "ORDER BY s.started_at_ms, s.id");
  if (!stmt) return stmt.error();
  return collect<Session>(*stmt, read_session);
}

Result<std::optional<SessionReview>> BillingLedger::session_review(std::int64_t session_id) {
  auto stmt = db_->prepare(
      "SELECT session_id, billed_seconds, reviewed_at_ms, reviewer, note FROM session_reviews "
      "WHERE session_id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, session_id);
  return first<SessionReview>(*stmt, [](const Statement& s) {
    return SessionReview{s.column_int64(0), s.column_int64(1), s.column_int64(2), s.column_text(3),
                         s.column_text(4)};
  });
}

Result<SessionReview> BillingLedger::review_session(std::int64_t session_id,
                                                    std::int64_t billed_seconds,
                                                    std::string_view note, const Actor& reviewer) {
  LABGATE_TRY(require_text(reviewer.name(), "reviewer"));
  LABGATE_TRY(check_text(note, "review note", text::Field::kNote));
  if (billed_seconds < 0) {
    return invalid(
        fmt::format("billed seconds {} are negative (0 waives the session)", billed_seconds));
  }
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  // The declared account first: a refused actor learns nothing of the state.
  LABGATE_TRY(check_account(*db_, reviewer));
  auto stmt = db_->prepare(std::string(kSessionSelect) + "WHERE s.id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, session_id);
  auto found = first<Session>(*stmt, read_session);
  if (!found) return found.error();
  if (!*found) return not_found(fmt::format("unknown session {}", session_id));
  const Session& s = **found;
  if (!s.ended_at_ms) {
    return conflict(
        fmt::format("session {} is still open: close it before reviewing it", session_id));
  }
  const std::int64_t length = (*s.ended_at_ms - s.started_at_ms) / 1000;
  if (length <= kDaySeconds) {
    return conflict(fmt::format("session {} lasted {}: only sessions over 24 h are held for review",
                                session_id, human_seconds(length)));
  }
  auto existing = session_review(session_id);
  if (!existing) return existing.error();
  if (*existing) {
    return conflict(fmt::format("session {} was already reviewed by {} (billed {})", session_id,
                                (*existing)->reviewer, human_seconds((*existing)->billed_seconds)));
  }
  if (billed_seconds > length) {
    return invalid(fmt::format("cannot bill {} for session {}: it lasted only {}",
                               human_seconds(billed_seconds), session_id, human_seconds(length)));
  }
  const std::string month = local_month(s.started_at_ms, options().time_zone);
  auto issued = statement_issued(*db_, s.member_id, month);
  if (!issued) return issued.error();
  if (*issued) {
    return conflict(
        fmt::format("the {} statement of {} is already issued: session {} is part "
                    "of it and can no longer be reviewed",
                    month, s.member_no.value_or("?"), session_id));
  }
  SessionReview review{session_id, billed_seconds, now_ms(), reviewer.name(), std::string(note)};
  auto insert = db_->prepare(
      "INSERT INTO session_reviews (session_id, billed_seconds, reviewed_at_ms, reviewer, note) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!insert) return insert.error();
  insert->bind(1, session_id)
      .bind(2, billed_seconds)
      .bind(3, review.reviewed_at_ms)
      .bind(4, reviewer.name())
      .bind(5, note);
  LABGATE_TRY(insert->run());
  LABGATE_TRY(audit(reviewer, "session.review", std::to_string(session_id),
                    json{{"member", s.member_no.value_or("")},
                         {"seconds", length},
                         {"billed_seconds", billed_seconds},
                         {"waived", billed_seconds == 0},
                         {"note", note}}
                        .dump()));
  LABGATE_TRY(tx->commit());
  return review;
}

}  // namespace labgate::gateway::store
