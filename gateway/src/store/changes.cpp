// Staff changes as data: argument checks, the dispatch to the registry, and record rendering.
#include "labgate/gateway/store/changes.hpp"

#include <date/date.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>

#include "labgate/gateway/store/store.hpp"
#include "rows.hpp"

namespace labgate::gateway::store {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

template <typename T>
ojson null_or(const std::optional<T>& v) {
  return v ? ojson(*v) : ojson(nullptr);
}

ojson time_or_null(const std::optional<std::int64_t>& ms) {
  return ms ? ojson(utc_text(*ms)) : ojson(nullptr);
}

// Typed access to a change's arguments; a missing or mistyped one ends the change with kInvalid.
class Args {
 public:
  explicit Args(const json& args) : args_(args) {}

  std::string text(const char* key) const {
    auto v = optional_text(key);
    if (!v) throw rows::invalid(fmt::format("change argument '{}' is missing", key));
    return *v;
  }
  std::optional<std::string> optional_text(const char* key) const {
    auto it = args_.find(key);
    if (it == args_.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw rows::invalid(fmt::format("'{}' must be a string", key));
    return it->get<std::string>();
  }
  std::string text_or(const char* key, std::string fallback) const {
    return optional_text(key).value_or(std::move(fallback));
  }
  std::int64_t integer(const char* key) const {
    if (!args_.contains(key))
      throw rows::invalid(fmt::format("change argument '{}' is missing", key));
    return integer_or(key, 0);
  }
  std::int64_t integer_or(const char* key, std::int64_t fallback) const {
    auto it = args_.find(key);
    if (it == args_.end() || it->is_null()) return fallback;
    if (!it->is_number_integer()) throw rows::invalid(fmt::format("'{}' must be an integer", key));
    return it->get<std::int64_t>();
  }
  /// Absent: keep the term; null: remove it; an integer: set it.
  std::optional<std::optional<std::int64_t>> nullable_integer(const char* key) const {
    auto it = args_.find(key);
    if (it == args_.end()) return std::nullopt;
    if (it->is_null()) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{integer(key)};
  }
  std::optional<std::int64_t> optional_integer(const char* key) const {
    if (!args_.contains(key) || args_.at(key).is_null()) return std::nullopt;
    return integer(key);
  }
  /// The array under `key` (empty when absent), each element as its own Args.
  std::vector<json> list(const char* key) const {
    auto it = args_.find(key);
    if (it == args_.end() || it->is_null()) return {};
    if (!it->is_array()) throw rows::invalid(fmt::format("'{}' must be an array", key));
    return it->get<std::vector<json>>();
  }
  bool flag(const char* key) const {
    auto it = args_.find(key);
    if (it == args_.end() || it->is_null()) return false;
    if (!it->is_boolean()) throw rows::invalid(fmt::format("'{}' must be true or false", key));
    return it->get<bool>();
  }

 private:
  const json& args_;
};

RateAmendment amendment_of(const Args& a) {
  RateAmendment r;
  const auto kind = a.text_or("kind", "machine");
  if (kind != "machine" && kind != "coworking") {
    throw rows::invalid(fmt::format("'kind' must be machine or coworking, not '{}'", kind));
  }
  r.kind = kind == "coworking" ? SessionKind::kCoworking : SessionKind::kMachine;
  r.machine_id = a.optional_text("machine_id");
  r.effective_from_ms = a.optional_integer("effective_from_ms");
  r.unit_seconds = a.optional_integer("unit_seconds");
  r.price_per_unit = a.optional_integer("price_per_unit");
  r.idle_price_per_unit = a.nullable_integer("idle_price_per_unit");
  r.minimum_charge = a.optional_integer("minimum_charge");
  r.grace_seconds = a.optional_integer("grace_seconds");
  r.daily_cap = a.nullable_integer("daily_cap");
  for (const auto& t : a.list("plan_terms")) {
    if (!t.is_object()) throw rows::invalid("each of 'plan_terms' is an object");
    const Args term(t);
    r.plan_terms.push_back(
        {term.text("plan"), term.integer("discount_percent"), term.integer("included_minutes")});
  }
  for (const auto& p : a.list("drop_plans")) {
    if (!p.is_string()) throw rows::invalid("each of 'drop_plans' is a plan code");
    r.drop_plans.push_back(p.get<std::string>());
  }
  r.note = a.optional_text("note");
  return r;
}

// A rate's plan terms (stored or new) as [{plan, discount_percent, included_minutes}].
template <typename Terms>
ojson plan_terms_json(const Terms& terms) {
  ojson out = ojson::array();
  for (const auto& t : terms) {
    out.push_back({{"plan", t.plan_code},
                   {"discount_percent", t.discount_percent},
                   {"included_minutes", t.included_minutes}});
  }
  return out;
}

template <typename T>
Result<ojson> rendered(Result<T> r) {
  if (!r) return r.error();
  if constexpr (std::is_same_v<T, std::vector<Certification>>) {
    ojson out = ojson::array();
    for (const auto& c : *r) out.push_back(to_json(c));
    return out;
  } else {
    return to_json(*r);
  }
}

using Handler = std::function<Result<ojson>(Store&, const Args&, const Actor&)>;

const std::map<std::string, Handler, std::less<>>& handlers() {
  static const std::map<std::string, Handler, std::less<>> kHandlers = {
      {"plan.add",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().add_plan({a.text("code"), a.text("name"), a.text("windows"),
                                             a.flag("holidays_allowed"), a.flag("closure_allowed")},
                                            who));
       }},
      {"member.add",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().add_member(
             {a.text("member_no"), a.text("name"), a.text_or("email", ""), a.optional_text("plan"),
              a.optional_text("valid_from"), a.optional_text("valid_until")},
             who));
       }},
      {"member.edit",
       [](Store& s, const Args& a, const Actor& who) {
         MemberEdit e;
         e.member_no = a.text("member_no");
         // A key that is present changes its field ("" clears it); an absent one is left alone.
         e.name = a.optional_text("name");
         e.email = a.optional_text("email");
         e.plan_code = a.optional_text("plan");
         e.plan_from = a.optional_text("plan_from");
         e.valid_from = a.optional_text("valid_from");
         e.valid_until = a.optional_text("valid_until");
         return rendered(s.members().edit_member(e, who));
       }},
      {"member.approve",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().approve_member(a.text("member_no"), who));
       }},
      {"member.suspend",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().suspend_member(a.text("member_no"), a.text("reason"), who));
       }},
      {"credential.enroll",
       [](Store& s, const Args& a, const Actor& who) -> Result<ojson> {
         auto id = parse_hex(a.text("identifier"));
         if (!id) return id.error();
         return rendered(s.staff().enroll_credential(a.text("member_no"), a.text("technology"), *id,
                                                     a.text_or("label", ""), who));
       }},
      {"credential.revoke",
       [](Store& s, const Args& a, const Actor& who) -> Result<ojson> {
         const std::string reason = a.text("reason");
         if (const auto id = a.integer_or("credential_id", 0); id > 0) {
           return rendered(s.staff().revoke_credential(id, reason, who));
         }
         auto uid = parse_hex(a.text("identifier"));
         if (!uid) return uid.error();
         return rendered(s.staff().revoke_credential(a.text("technology"), *uid, reason, who));
       }},
      {"certtype.add",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().add_certification_type(
             {a.text("code"), a.text("name"), a.integer_or("validity_days", 0),
              a.flag("renew_by_use")},
             who));
       }},
      {"cert.grant",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().grant_certification(a.text("member_no"), a.text("type"),
                                                       a.text("trainer"),
                                                       a.optional_text("granted_on"), who));
       }},
      {"cert.revoke",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().revoke_certification(a.text("member_no"), a.text("type"),
                                                        a.text("reason"), who));
       }},
      {"machine.add",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().add_machine(
             {a.text("id"), a.text("name"), a.optional_text("certification_type"),
              a.text_or("session_mode", "hold"), a.integer_or("inspection_interval_days", 0),
              a.flag("needs_checkoff"), a.flag("busy_input")},
             who));
       }},
      {"machine.lockout",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().lockout_machine(a.text("id"), a.text("reason"), who));
       }},
      {"machine.release",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().release_machine(a.text("id"), who));
       }},
      {"inspection.record",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().record_inspection(
             {a.text("machine_id"), a.optional_text("done_on"), a.text("inspector"),
              a.text("result"), a.text_or("notes", ""), a.optional_text("next_due")},
             who));
       }},
      {"staff.add",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().add_staff_account(
             {a.text("login"), a.text_or("name", ""), a.text("role"), true, 0}, who));
       }},
      {"account.topup",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.ledger().topup(a.text("member_no"), a.integer("amount"),
                                          a.text_or("note", ""), who));
       }},
      {"account.adjust",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(
             s.ledger().adjust(a.text("member_no"), a.integer("amount"), a.text("reason"), who));
       }},
      {"account.credit_limit",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(
             s.ledger().set_credit_limit(a.text("member_no"), a.integer("amount"), who));
       }},
      {"price.set",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.ledger().upsert_price_item(
             {a.text("code"), a.text("name"), a.text_or("unit", "pcs"), a.integer("price"),
              a.flag("day_pass"), a.optional_text("tax_class")},
             who));
       }},
      {"price.deactivate",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.ledger().deactivate_price_item(a.text("code"), who));
       }},
      {"rate.set",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.ledger().amend_rate(amendment_of(a), who));
       }},
      {"rate.replace",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.ledger().replace_rate(a.integer("id"), amendment_of(a), who));
       }},
      {"rate.withdraw",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.ledger().withdraw_rate(a.integer("id"), who));
       }},
      {"resource_rate.set",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.bookings().set_resource_rate(
             {a.text("kind"), a.text("resource"), a.integer("price"),
              a.optional_integer("effective_from_ms"), a.text_or("note", "")},
             who));
       }},
      {"resource_rate.withdraw",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.bookings().withdraw_resource_rate(a.text("kind"), a.text("resource"),
                                                             a.integer("id"), who));
       }},
      {"sale.add",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.ledger().sell(a.text("member_no"), a.text("item"), a.integer("quantity"),
                                         a.text_or("note", ""), who));
       }},
      {"session.review",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.ledger().review_session(
             a.integer("session_id"), a.integer("billed_seconds"), a.text_or("note", ""), who));
       }},
      {"staff.enable",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().set_staff_account_active(a.text("login"), true, who));
       }},
      {"staff.passwd",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(
             s.staff().set_staff_password_hash(a.text("login"), a.text("password_hash"), who));
       }},
      {"staff.locale",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().set_staff_locale(a.text("login"), a.text_or("locale", ""), who));
       }},
      {"booking.add",
       [](Store& s, const Args& a, const Actor& who) -> Result<ojson> {
         auto cal = s.bookings().calendar();
         if (!cal) return cal.error();
         NewBooking b;
         b.room_id = a.text("room");
         b.member_no = a.text("member_no");
         auto start = parse_local_time(a.text("start"), *cal);
         if (!start) return start.error();
         auto end = parse_local_time(a.text("end"), *cal);
         if (!end) return end.error();
         b.start_ms = *start;
         b.end_ms = *end;
         for (const auto& g : a.list("guests")) {
           if (!g.is_string()) throw rows::invalid("each of 'guests' is a member number");
           b.guests.push_back(g.get<std::string>());
         }
         b.note = a.text_or("note", "");
         return rendered(s.bookings().add(b, who));
       }},
      {"booking.cancel",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.bookings().cancel(a.integer("id"), who));
       }},
      // What issuing a month does first, on its own: a confirmation that bills the month before
      // the issue must see the same no-shows the issue will (lazy settling, not audited).
      {"bookings.settle",
       [](Store& s, const Args&, const Actor&) -> Result<ojson> {
         auto settled = s.bookings().settle_no_shows();
         if (!settled) return settled.error();
         return ojson{{"no_shows", *settled}};
       }},
      {"locker.lend",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.bookings().lend(a.text("locker"), a.text("member_no"),
                                           a.optional_text("from"), a.text("until"), who));
       }},
      {"locker.return",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.bookings().give_back(a.text("locker"), who));
       }},
      {"staff.disable",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().set_staff_account_active(a.text("login"), false, who));
       }},
      {"staff.role",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().set_staff_role(a.text("login"), a.text("role"), who));
       }},
  };
  return kHandlers;
}

// What each op needs of the declared account's role (docs/ADMIN.md). An op missing here needs
// admin, so a new op is closed until someone decides who may use it.
Permission permission_needed(std::string_view op) {
  static const std::map<std::string_view, Permission, std::less<>> kNeeds = {
      {"member.add", Permission::kMembers},
      {"member.edit", Permission::kMembers},
      {"member.approve", Permission::kMembers},
      {"member.suspend", Permission::kMembers},
      {"credential.enroll", Permission::kMembers},
      {"credential.revoke", Permission::kMembers},
      {"account.topup", Permission::kMembers},
      {"sale.add", Permission::kMembers},
      {"booking.add", Permission::kMembers},
      {"booking.cancel", Permission::kMembers},
      {"bookings.settle", Permission::kManager},
      {"locker.lend", Permission::kMembers},
      {"locker.return", Permission::kMembers},
      {"cert.grant", Permission::kCertifications},
      {"cert.revoke", Permission::kCertifications},
      {"certtype.add", Permission::kMachines},
      {"machine.lockout", Permission::kMachines},
      {"machine.release", Permission::kMachines},
      {"inspection.record", Permission::kMachines},
      {"plan.add", Permission::kManager},
      {"machine.add", Permission::kManager},
      {"account.adjust", Permission::kManager},
      {"account.credit_limit", Permission::kManager},
      {"price.set", Permission::kManager},
      {"price.deactivate", Permission::kManager},
      {"rate.set", Permission::kManager},
      {"rate.replace", Permission::kManager},
      {"rate.withdraw", Permission::kManager},
      {"resource_rate.set", Permission::kManager},
      {"resource_rate.withdraw", Permission::kManager},
      {"session.review", Permission::kManager},
      {"statements.issue", Permission::kManager},
      // Their own rule on top: the account itself, or an admin (staff.cpp).
      {"staff.passwd", Permission::kView},
      {"staff.locale", Permission::kView},
      {"staff.add", Permission::kAdmin},
      {"staff.enable", Permission::kAdmin},
      {"staff.disable", Permission::kAdmin},
      {"staff.role", Permission::kAdmin},
  };
  auto it = kNeeds.find(op);
  return it == kNeeds.end() ? Permission::kAdmin : it->second;
}

}  // namespace

Permission change_permission(std::string_view op) {
  return permission_needed(op);
}

std::vector<std::string_view> change_ops() {
  std::vector<std::string_view> out;
  for (const auto& [op, handler] : handlers()) out.emplace_back(op);
  return out;
}

Result<ojson> apply_change(Store& store, const json& change, const Actor& actor) {
  if (!change.is_object()) return rows::invalid("a change is a JSON object with op and args");
  auto op = change.find("op");
  if (op == change.end() || !op->is_string()) return rows::invalid("a change needs an op");
  const auto& all = handlers();
  auto handler = all.find(op->get<std::string>());
  if (handler == all.end()) {
    return rows::invalid(fmt::format("unknown change op '{}'", op->get<std::string>()));
  }
  static const json kNoArgs = json::object();
  auto args = change.find("args");
  if (args != change.end() && !args->is_object()) return rows::invalid("args must be an object");
  LABGATE_TRY(check_permission(store.database(), actor, permission_needed(handler->first)));
  try {
    return handler->second(store, Args(args == change.end() ? kNoArgs : *args), actor);
  } catch (const Error& e) {
    return e;
  }
}

std::string utc_text(std::int64_t ms) {
  const auto tp = std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms));
  return date::format("%FT%TZ", tp);
}

ojson to_json(const Booking& b) {
  return {{"id", b.id},
          {"room", b.room_id},
          {"member_no", b.member_no},
          {"guests", b.guests},
          {"start", utc_text(b.start_ms)},
          {"end", utc_text(b.end_ms)},
          {"start_ms", b.start_ms},
          {"end_ms", b.end_ms},
          {"state", b.state},
          {"note", b.note},
          {"created_at", utc_text(b.created_at_ms)},
          {"created_by", b.created_by}};
}

ojson to_json(const ResourceRate& r) {
  return {{"id", r.id},
          {"kind", r.kind},
          {"resource", r.resource_id},
          {"target", r.target()},
          {"effective_from_ms", r.effective_from_ms},
          {"effective_until_ms", null_or(r.effective_until_ms)},
          {"price", r.price},
          {"unit", r.kind == "room" ? "hour" : "month"},
          {"note", r.note},
          {"created_at", utc_text(r.created_at_ms)},
          {"created_by", r.created_by}};
}

ojson to_json(const LockerLoan& l) {
  return {{"id", l.id},
          {"locker", l.locker_id},
          {"member_no", l.member_no},
          {"from", l.from_date},
          {"until", l.until_date},
          {"lent_at", utc_text(l.lent_at_ms)},
          {"returned_at", time_or_null(l.returned_at_ms)}};
}

ojson to_json(const LockerState& l) {
  return {{"id", l.locker.id},
          {"name", l.locker.name},
          {"door", null_or(l.locker.door_id)},
          {"rate_per_month", l.locker.rate_per_month},
          {"state", !l.loan     ? "free"
                    : l.overdue ? "overdue"
                                : "lent"},
          {"loan", l.loan ? to_json(*l.loan) : ojson(nullptr)}};
}

ojson to_json(const Plan& p) {
  return {{"code", p.code},
          {"name", p.name},
          {"windows", p.windows},
          {"holidays_allowed", p.holidays_allowed},
          {"closure_allowed", p.closure_allowed}};
}

ojson to_json(const Member& m) {
  return {{"member_no", m.member_no},
          {"name", m.name},
          {"email", m.email},
          {"status", to_string(m.status)},
          {"plan_id", null_or(m.plan_id)},
          {"valid_from", null_or(m.valid_from)},
          {"valid_until", null_or(m.valid_until)},
          {"created_at", utc_text(m.created_at_ms)},
          {"approved_at", time_or_null(m.approved_at_ms)},
          {"suspended_reason", null_or(m.suspended_reason)}};
}

ojson to_json(const MemberChange& c) {
  ojson changes = ojson::array();
  for (const auto& f : c.changes) {
    changes.push_back({{"field", f.field},
                       {"from", f.from.empty() ? ojson(nullptr) : ojson(f.from)},
                       {"to", f.to.empty() ? ojson(nullptr) : ojson(f.to)}});
  }
  return {{"member_no", c.after.member_no},
          {"name", c.after.name},
          {"changes", changes},
          {"plan_from", null_or(c.plan_from)}};
}

ojson to_json(const Credential& c) {
  return {
      {"id", c.id},
      {"member_id", c.member_id},
      {"technology", c.technology},
      {"label", c.label},
      {"enrolled_at", utc_text(c.enrolled_at_ms)},
      {"revoked_at", time_or_null(c.revoked_at_ms)},
      {"revoked_reason", null_or(c.revoked_reason)},
      {"issued_key_version", c.issued_key_version ? ojson(*c.issued_key_version) : ojson(nullptr)},
      {"needs_issue", c.needs_issue()}};
}

ojson to_json(const CertificationType& t) {
  return {{"code", t.code},
          {"name", t.name},
          {"validity_days", t.validity_days},
          {"renew_by_use", t.renew_by_use}};
}

ojson to_json(const Certification& c) {
  return {{"id", c.id},
          {"member_no", c.member_no},
          {"member_name", c.member_name},
          {"type", c.type_code},
          {"trainer", c.trainer},
          {"granted_on", c.granted_on},
          {"expires_on", null_or(c.expires_on)},
          {"revoked_at", time_or_null(c.revoked_at_ms)},
          {"revoked_reason", null_or(c.revoked_reason)}};
}

ojson to_json(const Machine& m) {
  return {{"id", m.id},
          {"name", m.name},
          {"certification_type", null_or(m.certification_type)},
          {"session_mode", m.session_mode},
          {"inspection_interval_days", m.inspection_interval_days},
          {"locked_out", m.locked_out},
          {"lockout_reason", null_or(m.lockout_reason)},
          {"needs_checkoff", m.needs_checkoff},
          {"busy_input", m.busy_input},
          {"last_inspection_on", null_or(m.last_inspection_on)},
          {"next_inspection_due", null_or(m.next_inspection_due)}};
}

ojson to_json(const Inspection& i) {
  return {{"id", i.id},
          {"machine_id", i.machine_id},
          {"done_on", i.done_on},
          {"inspector", i.inspector},
          {"result", i.result},
          {"notes", i.notes},
          {"next_due", null_or(i.next_due)}};
}

ojson to_json(const StaffAccount& s) {
  return {{"login", s.login},
          {"name", s.name},
          {"role", s.role},
          {"active", s.active},
          {"created_at", utc_text(s.created_at_ms)}};
}

ojson to_json(const AccountEntry& e) {
  return {{"id", e.id},     {"at", utc_text(e.at_ms)},  {"amount", e.amount},
          {"kind", e.kind}, {"reference", e.reference}, {"actor", e.actor}};
}

ojson to_json(const Account& a) {
  ojson entries = ojson::array();
  for (const auto& e : a.entries) entries.push_back(to_json(e));
  return {{"member_no", a.member_no},
          {"balance", a.balance},
          {"credit_limit", a.credit_limit},
          {"available", a.balance + a.credit_limit},
          {"entries", entries}};
}

ojson to_json(const PriceItem& p) {
  return {{"code", p.code},          {"name", p.name},         {"unit", p.unit},
          {"price", p.price},        {"day_pass", p.day_pass}, {"active", p.active},
          {"tax_class", p.tax_class}};
}

ojson to_json(const Sale& s) {
  return {{"id", s.id},
          {"member_no", s.member_no},
          {"item", s.item_code},
          {"quantity", s.quantity},
          {"unit_price", s.unit_price},
          {"amount", s.amount()},
          {"tax_class", s.tax_class},
          {"at", utc_text(s.at_ms)},
          {"note", s.note},
          {"actor", s.actor}};
}

ojson to_json(const Rate& r) {
  return {{"id", r.id},
          {"target", r.target()},
          {"kind", to_string(r.kind)},
          {"effective_from", utc_text(r.effective_from_ms)},
          {"effective_until", time_or_null(r.effective_until_ms)},
          {"unit_seconds", r.unit_seconds},
          {"price_per_unit", r.price_per_unit},
          {"idle_price_per_unit", null_or(r.idle_price_per_unit)},
          {"minimum_charge", r.minimum_charge},
          {"grace_seconds", r.grace_seconds},
          {"daily_cap", null_or(r.daily_cap)},
          {"plan_terms", plan_terms_json(r.plan_terms)},
          {"note", r.note},
          {"created_by", r.created_by},
          {"created_at", utc_text(r.created_at_ms)}};
}

ojson to_json(const RateChange& c) {
  ojson out = to_json(c.after);
  out["before"] = c.before ? to_json(*c.before) : ojson(nullptr);
  return out;
}

ojson to_json(const RateAmendment& r) {
  ojson out{{"kind", to_string(r.kind)}};
  const auto put = [&out](const char* key, const auto& v) {
    if (v) out[key] = *v;
  };
  const auto put_nullable = [&out](const char* key, const auto& v) {
    if (v) out[key] = *v ? ojson(**v) : ojson(nullptr);
  };
  put("machine_id", r.machine_id);
  put("effective_from_ms", r.effective_from_ms);
  put("unit_seconds", r.unit_seconds);
  put("price_per_unit", r.price_per_unit);
  put_nullable("idle_price_per_unit", r.idle_price_per_unit);
  put("minimum_charge", r.minimum_charge);
  put("grace_seconds", r.grace_seconds);
  put_nullable("daily_cap", r.daily_cap);
  if (!r.plan_terms.empty()) out["plan_terms"] = plan_terms_json(r.plan_terms);
  if (!r.drop_plans.empty()) out["drop_plans"] = r.drop_plans;
  put("note", r.note);
  return out;
}

Result<Rate> rate_from_json(const nlohmann::ordered_json& j) {
  try {
    // utc_text()'s fixed shapes (with or without milliseconds); date::parse would do, but its
    // inlined code trips g++ 12's maybe-uninitialized warning.
    const auto ms = [](const std::string& text) -> std::int64_t {
      int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, milli = 0;
      int used = 0;
      const bool shape =
          (text.size() == 20 && std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d,
                                            &h, &mi, &sec, &used) == 6) ||
          (text.size() == 24 && std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo,
                                            &d, &h, &mi, &sec, &milli, &used) == 7);
      const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                                     date::day{static_cast<unsigned>(d)}};
      if (!shape || used != static_cast<int>(text.size()) || !ymd.ok()) {
        throw rows::invalid(fmt::format("bad time '{}'", text));
      }
      const auto tp = date::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} +
                      std::chrono::seconds{sec} + std::chrono::milliseconds{milli};
      return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
    };
    const auto opt_int = [&j](const char* key) {
      return j.at(key).is_null() ? std::optional<std::int64_t>{}
                                 : std::optional<std::int64_t>{j.at(key).get<std::int64_t>()};
    };
    Rate r;
    r.id = j.at("id").get<std::int64_t>();
    r.kind = j.at("kind").get<std::string>() == to_string(SessionKind::kCoworking)
                 ? SessionKind::kCoworking
                 : SessionKind::kMachine;
    if (r.kind == SessionKind::kMachine) r.machine_id = j.at("target").get<std::string>();
    r.effective_from_ms = ms(j.at("effective_from").get<std::string>());
    if (!j.at("effective_until").is_null())
      r.effective_until_ms = ms(j.at("effective_until").get<std::string>());
    r.unit_seconds = j.at("unit_seconds").get<std::int64_t>();
    r.price_per_unit = j.at("price_per_unit").get<std::int64_t>();
    r.idle_price_per_unit = opt_int("idle_price_per_unit");
    r.minimum_charge = j.at("minimum_charge").get<std::int64_t>();
    r.grace_seconds = j.at("grace_seconds").get<std::int64_t>();
    r.daily_cap = opt_int("daily_cap");
    for (const auto& t : j.at("plan_terms")) {
      r.plan_terms.push_back({0, t.at("plan").get<std::string>(),
                              t.at("discount_percent").get<std::int64_t>(),
                              t.at("included_minutes").get<std::int64_t>()});
    }
    r.note = j.at("note").get<std::string>();
    r.created_by = j.at("created_by").get<std::string>();
    r.created_at_ms = ms(j.at("created_at").get<std::string>());
    return r;
  } catch (const Error& e) {
    return e;
  } catch (const nlohmann::json::exception& e) {
    return rows::invalid(fmt::format("a rate record: {}", e.what()));
  }
}

ojson to_json(const SessionReview& r) {
  return {{"session_id", r.session_id},      {"billed_seconds", r.billed_seconds},
          {"waived", r.billed_seconds == 0}, {"reviewed_at", utc_text(r.reviewed_at_ms)},
          {"reviewer", r.reviewer},          {"note", r.note}};
}

}  // namespace labgate::gateway::store
