// Member corrections and plan history: each edit is checked against the member as stored inside
// the write transaction, then written with its audit row.
#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "labgate/gateway/store/billing_ledger.hpp"
#include "labgate/gateway/store/import.hpp"
#include "labgate/gateway/store/member_registry.hpp"
#include "labgate/gateway/store/store.hpp"
#include "labgate/gateway/store/tap_reads.hpp"
#include "labgate/gateway/text/text.hpp"
#include "rows.hpp"

namespace labgate::gateway::store {

namespace {

using namespace rows;  // NOLINT: shared private helpers

using json = nlohmann::ordered_json;

std::string or_empty(const std::optional<std::string>& v) {
  return v.value_or("");
}

// An optional text field of an edit: "" means "remove the value".
std::optional<std::string> cleared(const std::string& value) {
  return value.empty() ? std::nullopt : std::optional<std::string>(value);
}

// Local midnight starting `day` (a valid YYYY-MM-DD) in the zone `tz`.
std::int64_t local_midnight_ms(std::string_view day, const std::string& tz) {
  const auto digits = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (day[i] - '0');
    return v;
  };
  const date::local_days local{date::year{digits(0, 4)} /
                               date::month{static_cast<unsigned>(digits(5, 2))} /
                               date::day{static_cast<unsigned>(digits(8, 2))}};
  const auto zoned = date::make_zoned(tz, local, date::choose::earliest);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             zoned.get_sys_time().time_since_epoch())
      .count();
}

Result<std::optional<std::int64_t>> plan_id_by_code(Database& db, std::string_view code) {
  auto stmt = db.prepare("SELECT id FROM plans WHERE code = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, code);
  return first<std::int64_t>(*stmt, [](const Statement& s) { return s.column_int64(0); });
}

Result<std::string> plan_code_of(Database& db, const std::optional<std::int64_t>& plan_id) {
  if (!plan_id) return std::string();
  auto stmt = db.prepare("SELECT code FROM plans WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, *plan_id);
  auto code = first<std::string>(*stmt, [](const Statement& s) { return s.column_text(0); });
  if (!code) return code.error();
  return code->value_or(fmt::format("#{}", *plan_id));
}

// The member's latest plan history row: (row id, effective_from), the first row having none.
struct LatestPlan {
  std::int64_t id{0};
  std::optional<std::string> effective_from;
};

Result<std::optional<LatestPlan>> latest_plan(Database& db, std::int64_t member_id) {
  // DESC puts the first row (NULL) last, so any dated change wins over it.
  auto stmt = db.prepare(
      "SELECT id, effective_from FROM member_plans WHERE member_id = ?1 "
      "ORDER BY effective_from_ms DESC, id DESC LIMIT 1");
  if (!stmt) return stmt.error();
  stmt->bind(1, member_id);
  return first<LatestPlan>(*stmt, [](const Statement& s) {
    return LatestPlan{s.column_int64(0), s.column_opt_text(1)};
  });
}

bool is_refusal(const Error& e) {
  return e.kind == ErrorKind::kInvalid || e.kind == ErrorKind::kNotFound ||
         e.kind == ErrorKind::kConflict;
}

}  // namespace

Result<MemberChange> MemberRegistry::plan_edit(const MemberEdit& edit, const Member& current) {
  MemberChange out;
  out.before = current;
  out.after = current;
  Member& after = out.after;
  auto note = [&](std::string field, std::string from, std::string to) {
    if (from != to) out.changes.push_back({std::move(field), std::move(from), std::move(to)});
  };

  if (edit.name) {
    if (edit.name->empty()) return invalid("name must not be empty");
    if (auto why = text::check(text::Field::kName, *edit.name)) return invalid(*why);
    after.name = *edit.name;
    note("name", current.name, after.name);
  }
  if (edit.email) {
    if (!edit.email->empty()) {
      if (auto why = text::check(text::Field::kEmail, *edit.email)) return invalid(*why);
      if (!is_valid_email(*edit.email)) {
        return invalid(fmt::format("malformed e-mail '{}'", *edit.email));
      }
    }
    after.email = *edit.email;
    note("email", current.email, after.email);
  }
  for (const auto& [value, what] :
       {std::pair{&edit.valid_from, "valid-from"}, std::pair{&edit.valid_until, "valid-until"}}) {
    if (*value && !value->value().empty() && !is_valid_date(**value)) {
      return invalid(fmt::format("bad {} date '{}': expected YYYY-MM-DD", what, **value));
    }
  }
  if (edit.valid_from) {
    after.valid_from = cleared(*edit.valid_from);
    note("valid_from", or_empty(current.valid_from), or_empty(after.valid_from));
  }
  if (edit.valid_until) {
    after.valid_until = cleared(*edit.valid_until);
    note("valid_until", or_empty(current.valid_until), or_empty(after.valid_until));
  }
  if (after.valid_from && after.valid_until && *after.valid_until < *after.valid_from) {
    return invalid(fmt::format("valid-until {} would be before valid-from {}", *after.valid_until,
                               *after.valid_from));
  }

  if (edit.plan_from && !edit.plan_code) {
    return invalid("a plan change date needs the plan to change to");
  }
  if (edit.plan_code) {
    std::optional<std::int64_t> plan_id;
    if (!edit.plan_code->empty()) {
      auto id = plan_id_by_code(*db_, *edit.plan_code);
      if (!id) return id.error();
      if (!*id) return not_found(fmt::format("unknown plan '{}'", *edit.plan_code));
      plan_id = *id;
    }
    const std::string from_day = edit.plan_from.value_or(today());
    if (!is_valid_date(from_day)) {
      return invalid(fmt::format("bad plan change date '{}': expected YYYY-MM-DD", from_day));
    }
    if (plan_id != current.plan_id) {
      // The door reads members.plan_id now; a change that only starts later would let it read the
      // wrong plan until then.
      if (const auto now = today(); from_day > now) {
        return invalid(
            fmt::format("the plan change would start on {}, after today ({}): make it on that day",
                        from_day, now));
      }
      auto latest = latest_plan(*db_, current.id);
      if (!latest) return latest.error();
      if (*latest && (*latest)->effective_from && from_day < *(*latest)->effective_from) {
        return conflict(fmt::format(
            "member {}'s plan last changed from {}: a change cannot start before that day",
            current.member_no, *(*latest)->effective_from));
      }
      auto months = BillingLedger::issued_months(*db_, current.id);
      if (!months) return months.error();
      std::sort(months->begin(), months->end());
      std::vector<std::string> reached;
      for (auto& m : *months) {
        if (m >= from_day.substr(0, 7)) reached.push_back(std::move(m));
      }
      if (!reached.empty()) {
        return conflict(fmt::format(
            "a plan change from {} reaches into member {}'s issued statement{} for {}: it would "
            "change what {} says; start it after {}",
            from_day, current.member_no, reached.size() == 1 ? "" : "s", fmt::join(reached, ", "),
            reached.size() == 1 ? "it" : "they", reached.back()));
      }
      auto old_code = plan_code_of(*db_, current.plan_id);
      if (!old_code) return old_code.error();
      after.plan_id = plan_id;
      out.plan_from = from_day;
      out.changes.push_back({"plan", *old_code, *edit.plan_code});
    }
  }
  // Keep the documented field order whatever order the checks ran in.
  static constexpr std::string_view kOrder[] = {"name", "email", "plan", "valid_from",
                                                "valid_until"};
  std::stable_sort(out.changes.begin(), out.changes.end(), [](const auto& a, const auto& b) {
    auto rank = [](const std::string& f) {
      return std::find(std::begin(kOrder), std::end(kOrder), f) - std::begin(kOrder);
    };
    return rank(a.field) < rank(b.field);
  });
  return out;
}

Status MemberRegistry::write_change(const MemberChange& change) {
  const Member& m = change.after;
  auto stmt = db_->prepare(
      "UPDATE members SET name = ?2, email = ?3, plan_id = ?4, valid_from = ?5, valid_until = ?6 "
      "WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, m.id)
      .bind(2, m.name)
      .bind(3, m.email)
      .bind(4, m.plan_id)
      .bind(5, m.valid_from)
      .bind(6, m.valid_until);
  LABGATE_TRY(stmt->run());
  if (!change.plan_from) return {};
  const std::string& day = *change.plan_from;
  auto latest = latest_plan(*db_, m.id);
  if (!latest) return latest.error();
  // A second change from the same day corrects the first rather than stacking on it.
  if (*latest && (*latest)->effective_from == day) {
    auto fix =
        db_->prepare("UPDATE member_plans SET plan_id = ?2, changed_at_ms = ?3 WHERE id = ?1");
    if (!fix) return fix.error();
    fix->bind(1, (*latest)->id).bind(2, m.plan_id).bind(3, now_ms());
    return fix->run();
  }
  auto add = db_->prepare(
      "INSERT INTO member_plans (member_id, plan_id, effective_from, effective_from_ms, "
      "changed_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!add) return add.error();
  add->bind(1, m.id)
      .bind(2, m.plan_id)
      .bind(3, day)
      .bind(4, local_midnight_ms(day, options().time_zone))
      .bind(5, now_ms());
  return add->run();
}

std::string MemberRegistry::audit_detail(const MemberChange& change, std::string_view source) {
  json detail = json::object();
  for (const auto& c : change.changes) {
    detail[c.field] = {{"from", c.from.empty() ? json(nullptr) : json(c.from)},
                       {"to", c.to.empty() ? json(nullptr) : json(c.to)}};
  }
  if (change.plan_from) detail["plan_from"] = *change.plan_from;
  if (!source.empty()) detail["source"] = source;
  return detail.dump();
}

Result<MemberChange> MemberRegistry::edit_member(const MemberEdit& edit, std::string_view actor) {
  LABGATE_TRY(require_text(edit.member_no, "member number"));
  return audited_change<MemberChange>(actor, [&]() -> Result<Audited<MemberChange>> {
    auto current = reads_->member_by_no(edit.member_no);
    if (!current) return current.error();
    if (!*current) return not_found(fmt::format("unknown member '{}'", edit.member_no));
    auto change = plan_edit(edit, **current);
    if (!change) return change.error();
    if (change->changes.empty()) {
      return conflict(
          fmt::format("nothing to change: member {} already has these values", edit.member_no));
    }
    LABGATE_TRY(write_change(*change));
    auto detail = audit_detail(*change, "");
    return Audited<MemberChange>{std::move(*change),
                                 {"member.edit", edit.member_no, std::move(detail)}};
  });
}

Result<RosterUpdate> MemberRegistry::update_members(const std::vector<ImportMember>& rows,
                                                    const RosterUpdateOptions& options,
                                                    std::string_view actor) {
  if (rows.empty()) return invalid("nothing to update: no member rows");
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();

  RosterUpdate out;
  std::unordered_map<std::string, std::int64_t> first_line;
  for (const auto& row : rows) {
    const auto& no = row.member.member_no;
    auto why = check_import_row(row);
    std::optional<Member> member;
    if (!no.empty()) {
      if (const auto [it, fresh] = first_line.emplace(no, row.line); !fresh) {
        why.push_back(fmt::format("duplicate member_no '{}' (first on line {})", no, it->second));
      } else {
        auto found = reads_->member_by_no(no);
        if (!found) return found.error();
        if (!*found) {
          why.push_back(fmt::format(
              "unknown member '{}': --update changes existing members only (import new members "
              "without --update)",
              no));
        }
        member = std::move(*found);
      }
    }
    if (member && row.status_given && row.status != member->status) {
      why.push_back(
          fmt::format("status {} cannot change to {} in a roster update: use members "
                      "approve or members suspend",
                      to_string(member->status), to_string(row.status)));
    }
    if (member && row.credit_limit) {
      auto standing = ledger_->account_standing(member->id);
      if (!standing) return standing.error();
      if (standing->credit_limit != *row.credit_limit) {
        why.push_back(
            fmt::format("credit_limit {} cannot change to {} in a roster update: use "
                        "accounts credit-limit",
                        standing->credit_limit, *row.credit_limit));
      }
    }
    if (why.empty() && member) {
      MemberEdit edit;
      edit.member_no = no;
      edit.name = row.member.name;
      // A blank cell leaves the field as it is: a roster that leaves out e-mails must not erase
      // them.
      if (!row.member.email.empty()) edit.email = row.member.email;
      edit.plan_code = row.member.plan_code;
      if (edit.plan_code) edit.plan_from = options.plan_from;
      edit.valid_from = row.member.valid_from;
      edit.valid_until = row.member.valid_until;
      auto change = plan_edit(edit, *member);
      if (!change) {
        if (!is_refusal(change.error())) return change.error();
        why.push_back(change.error().message);
      } else if (change->changes.empty()) {
        ++out.unchanged;
      } else {
        out.changed.push_back(std::move(*change));
      }
    }
    for (auto& w : why) out.issues.push_back({row.line, std::move(w)});
  }
  if (!out.issues.empty()) {
    sort_issues(out.issues);
    out.changed.clear();
    return out;
  }

  for (const auto& change : out.changed) {
    LABGATE_TRY(write_change(change));
    LABGATE_TRY(
        audit(actor, "member.edit", change.after.member_no, audit_detail(change, options.source)));
  }
  LABGATE_TRY(audit(actor, "members_update", options.source,
                    json{{"changed", out.changed.size()},
                         {"unchanged", out.unchanged},
                         {"file", options.source},
                         {"sha256", options.sha256}}
                        .dump()));
  return rows::commit_unless_dry_run(*tx, options.dry_run, std::move(out));
}

Result<std::vector<PlanPeriod>> MemberRegistry::plan_history(std::string_view member_no) {
  auto id = reads_->member_id(member_no);
  if (!id) return id.error();
  std::vector<PlanPeriod> out;
  LABGATE_TRY(scan_plan_history(*db_, *id, [&](PlanPeriod&& p) { out.push_back(std::move(p)); }));
  return out;
}

Status MemberRegistry::scan_plan_history(Database& db, std::optional<std::int64_t> member_id,
                                         const std::function<void(PlanPeriod&&)>& sink) {
  static const std::string kSelect =
      "SELECT mp.member_id, mp.plan_id, COALESCE(p.code, ''), mp.effective_from, "
      "mp.effective_from_ms, mp.changed_at_ms FROM member_plans mp "
      "LEFT JOIN plans p ON p.id = mp.plan_id ";
  static const std::string kOrder = " ORDER BY mp.member_id, mp.effective_from_ms, mp.id";
  static const std::string kAll = kSelect + kOrder;
  static const std::string kOne = kSelect + "WHERE mp.member_id = ?1" + kOrder;
  auto stmt = db.prepare(member_id ? kOne : kAll);
  if (!stmt) return stmt.error();
  if (member_id) stmt->bind(1, *member_id);
  return for_each_row(*stmt, [&](const Statement& s) {
    sink(PlanPeriod{s.column_int64(0), s.column_opt_int64(1), s.column_text(2),
                    s.column_opt_text(3), s.column_opt_int64(4), s.column_int64(5)});
  });
}

}  // namespace labgate::gateway::store
