// Staff changes as data: argument checks, the dispatch to the registry, and record rendering.
#include "labgate/gateway/store/changes.hpp"

#include <date/date.h>
#include <fmt/format.h>

#include <chrono>
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
  bool flag(const char* key) const {
    auto it = args_.find(key);
    if (it == args_.end() || it->is_null()) return false;
    if (!it->is_boolean()) throw rows::invalid(fmt::format("'{}' must be true or false", key));
    return it->get<bool>();
  }

 private:
  const json& args_;
};

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
         return rendered(
             s.ledger().upsert_price_item({a.text("code"), a.text("name"), a.text_or("unit", "pcs"),
                                           a.integer("price"), a.flag("day_pass")},
                                          who));
       }},
      {"price.deactivate",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.ledger().deactivate_price_item(a.text("code"), who));
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
      {"staff.disable",
       [](Store& s, const Args& a, const Actor& who) {
         return rendered(s.staff().set_staff_account_active(a.text("login"), false, who));
       }},
  };
  return kHandlers;
}

}  // namespace

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
  return {{"code", p.code},   {"name", p.name},         {"unit", p.unit},
          {"price", p.price}, {"day_pass", p.day_pass}, {"active", p.active}};
}

ojson to_json(const Sale& s) {
  return {{"id", s.id},
          {"member_no", s.member_no},
          {"item", s.item_code},
          {"quantity", s.quantity},
          {"unit_price", s.unit_price},
          {"amount", s.amount()},
          {"at", utc_text(s.at_ms)},
          {"note", s.note},
          {"actor", s.actor}};
}

ojson to_json(const SessionReview& r) {
  return {{"session_id", r.session_id},      {"billed_seconds", r.billed_seconds},
          {"waived", r.billed_seconds == 0}, {"reviewed_at", utc_text(r.reviewed_at_ms)},
          {"reviewer", r.reviewer},          {"note", r.note}};
}

}  // namespace labgate::gateway::store
