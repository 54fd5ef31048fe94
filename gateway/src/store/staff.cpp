// Staff operations: each is one transaction that also appends its audit row, so a change and
// its record commit together or not at all.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "labgate/gateway/store/staff_registry.hpp"
#include "labgate/gateway/store/store.hpp"
#include "labgate/gateway/store/tap_reads.hpp"
#include "labgate/gateway/text/text.hpp"
#include "rows.hpp"

namespace labgate::gateway::store {

namespace {

using namespace rows;  // NOLINT: shared private helpers

using json = nlohmann::json;

Status require_date(const std::optional<std::string>& value, std::string_view what) {
  if (value && !is_valid_date(*value)) {
    return invalid(fmt::format("bad {} '{}': expected YYYY-MM-DD", what, *value));
  }
  return {};
}

json opt(const std::optional<std::string>& v) {
  return v ? json(*v) : json(nullptr);
}

// Turns a constraint failure into the caller's words; other errors pass unchanged.
Error explain(Error e, std::string_view what) {
  if (e.kind == ErrorKind::kConstraint) {
    e.message = fmt::format("{} ({})", what, e.message);
  }
  return e;
}

const std::string kMemberSelect = fmt::format("SELECT {} FROM members m ", kMemberCols);

const std::string kCredentialSelect = fmt::format("SELECT {} FROM credentials c ", kCredentialCols);

// The credential whose UID hash is `hash`, if any.
Result<std::optional<Credential>> credential_by_hash(Database& db,
                                                     std::span<const std::uint8_t> hash) {
  static const std::string kByHash = kCredentialSelect + "WHERE c.id_hash = ?1";
  auto existing = db.prepare(kByHash);
  if (!existing) return existing.error();
  existing->bind(1, hash);
  return first<Credential>(*existing, read_credential);
}

}  // namespace

// ---- plans ----

Result<Plan> StaffRegistry::add_plan(const NewPlan& plan, const Actor& actor) {
  LABGATE_TRY(require_text(plan.code, "plan code"));
  LABGATE_TRY(require_text(plan.name, "plan name"));
  LABGATE_TRY(require_text(plan.windows, "plan windows"));
  return audited_change<Plan>(actor, [&]() -> Result<Audited<Plan>> {
    auto stmt = db_->prepare(
        "INSERT INTO plans (code, name, windows, holidays_allowed, closure_allowed) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!stmt) return stmt.error();
    stmt->bind(1, plan.code)
        .bind(2, plan.name)
        .bind(3, plan.windows)
        .bind_bool(4, plan.holidays_allowed)
        .bind_bool(5, plan.closure_allowed);
    if (auto s = stmt->run(); !s) {
      return explain(s.error(), fmt::format("plan '{}' already exists", plan.code));
    }
    return Audited<Plan>{{db_->last_insert_rowid(), plan.code, plan.name, plan.windows,
                          plan.holidays_allowed, plan.closure_allowed},
                         {"plan.add", plan.code,
                          json{{"name", plan.name},
                               {"windows", plan.windows},
                               {"holidays_allowed", plan.holidays_allowed},
                               {"closure_allowed", plan.closure_allowed}}
                              .dump()}};
  });
}

Result<std::vector<Plan>> StaffRegistry::list_plans() {
  static const std::string kSql = fmt::format("SELECT {} FROM plans p ORDER BY p.code", kPlanCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  return collect<Plan>(*stmt, read_plan);
}

// ---- members ----

Result<Member> StaffRegistry::add_member(const NewMember& member, const Actor& actor) {
  LABGATE_TRY(require_text(member.member_no, "member number"));
  LABGATE_TRY(require_text(member.name, "member name"));
  LABGATE_TRY(check_text(member.email, "e-mail", text::Field::kEmail));
  LABGATE_TRY(require_date(member.valid_from, "valid-from date"));
  LABGATE_TRY(require_date(member.valid_until, "valid-until date"));
  if (member.valid_from && member.valid_until && *member.valid_until < *member.valid_from) {
    return invalid("valid-until is before valid-from");
  }
  return audited_change<Member>(actor, [&]() -> Result<Audited<Member>> {
    std::optional<std::int64_t> plan_id;
    if (member.plan_code) {
      auto stmt = db_->prepare("SELECT id FROM plans WHERE code = ?1");
      if (!stmt) return stmt.error();
      stmt->bind(1, std::string_view{*member.plan_code});
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) return not_found(fmt::format("unknown plan '{}'", *member.plan_code));
      plan_id = stmt->column_int64(0);
      stmt->reset();
    }
    if (auto existing = reads_->member_by_no(member.member_no); !existing) {
      return existing.error();
    } else if (*existing) {
      return conflict(fmt::format("member '{}' already exists", member.member_no));
    }
    auto stmt = db_->prepare(
        "INSERT INTO members (member_no, name, email, status, plan_id, valid_from, valid_until, "
        "created_at) VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7)");
    if (!stmt) return stmt.error();
    stmt->bind(1, member.member_no)
        .bind(2, member.name)
        .bind(3, member.email)
        .bind(4, plan_id)
        .bind(5, member.valid_from)
        .bind(6, member.valid_until)
        .bind(7, now_ms());
    if (auto s = stmt->run(); !s) {
      return explain(s.error(), fmt::format("cannot add member '{}'", member.member_no));
    }
    return reread_member(member.member_no, "member.add",
                         json{{"name", member.name},
                              {"email", member.email},
                              {"plan", opt(member.plan_code)},
                              {"valid_from", opt(member.valid_from)},
                              {"valid_until", opt(member.valid_until)}}
                             .dump());
  });
}

Result<StaffRegistry::Audited<Member>> StaffRegistry::reread_member(std::string_view member_no,
                                                                    std::string_view action,
                                                                    std::string detail_json) {
  auto out = reads_->member_by_no(member_no);
  if (!out) return out.error();
  if (!*out) return Error{ErrorKind::kInternal, 0, fmt::format("member '{}' vanished", member_no)};
  return Audited<Member>{std::move(**out),
                         {std::string(action), std::string(member_no), std::move(detail_json)}};
}

Result<StaffRegistry::Audited<Member>> StaffRegistry::set_member_status(
    std::string_view member_no, MemberStatus status, std::optional<std::string_view> reason) {
  auto m = reads_->member_by_no(member_no);
  if (!m) return m.error();
  if (!*m) return not_found(fmt::format("unknown member '{}'", member_no));
  if ((*m)->status == status) {
    return conflict(fmt::format("member '{}' is already {}", member_no,
                                status == MemberStatus::kActive ? "active" : "suspended"));
  }
  json detail{{"from", to_string((*m)->status)}};
  if (status == MemberStatus::kActive) {
    auto stmt = db_->prepare(
        "UPDATE members SET status = 'active', approved_at = ?2, suspended_reason = NULL "
        "WHERE id = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, (*m)->id).bind(2, now_ms());
    LABGATE_TRY(stmt->run());
    return reread_member(member_no, "member.approve", detail.dump());
  }
  auto stmt =
      db_->prepare("UPDATE members SET status = 'suspended', suspended_reason = ?2 WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, (*m)->id).bind(2, reason.value_or(""));
  LABGATE_TRY(stmt->run());
  detail["reason"] = reason.value_or("");
  return reread_member(member_no, "member.suspend", detail.dump());
}

Result<Member> StaffRegistry::approve_member(std::string_view member_no, const Actor& actor) {
  return audited_change<Member>(
      actor, [&] { return set_member_status(member_no, MemberStatus::kActive, std::nullopt); });
}

Result<Member> StaffRegistry::suspend_member(std::string_view member_no, std::string_view reason,
                                             const Actor& actor) {
  LABGATE_TRY(require_text(reason, "suspension reason", text::Field::kReason));
  return audited_change<Member>(
      actor, [&] { return set_member_status(member_no, MemberStatus::kSuspended, reason); });
}

Result<std::vector<Member>> StaffRegistry::list_members(std::optional<MemberStatus> status) {
  static const std::string kAll = kMemberSelect + "ORDER BY m.member_no";
  static const std::string kByStatus = kMemberSelect + "WHERE m.status = ?1 ORDER BY m.member_no";
  auto stmt = db_->prepare(status ? kByStatus : kAll);
  if (!stmt) return stmt.error();
  if (status) stmt->bind(1, to_string(*status));
  return collect<Member>(*stmt, read_member);
}

// ---- credentials ----

Result<Credential> StaffRegistry::enroll_credential(
    std::string_view member_no, std::string_view technology,
    std::span<const std::uint8_t> identifier, std::string_view label, const Actor& actor,
    std::optional<int> issued_key_version,
    const std::function<Status(std::int64_t credential_id)>& before_commit) {
  LABGATE_TRY(check_text(label, "card label"));
  if (identifier.empty() || identifier.size() > 32) {
    return invalid(fmt::format("card identifier must be 1 to 32 bytes, got {}", identifier.size()));
  }
  auto hash = context_->credential_hash(technology, identifier);
  if (!hash) return hash.error();
  const auto change = [&]() -> Result<Audited<Credential>> {
    auto mid = reads_->member_id(member_no);
    if (!mid) return mid.error();
    auto existing = credential_by_hash(*db_, *hash);
    if (!existing) return existing.error();
    if (*existing) {
      const Credential& c = **existing;
      return conflict(
          fmt::format("this card is already enrolled as credential #{}{}", c.id,
                      c.revoked_at_ms ? " (revoked; a revoked card stays revoked)" : ""));
    }
    const std::int64_t now = now_ms();
    auto stmt = db_->prepare(
        "INSERT INTO credentials (member_id, technology, id_hash, label, enrolled_at, "
        "issued_key_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!stmt) return stmt.error();
    std::optional<std::int64_t> version;
    if (issued_key_version) version = *issued_key_version;
    stmt->bind(1, *mid)
        .bind(2, technology)
        .bind(3, std::span<const std::uint8_t>(*hash))
        .bind(4, label)
        .bind(5, now)
        .bind(6, version);
    if (auto s = stmt->run(); !s) return explain(s.error(), "cannot enroll card");
    Credential out{db_->last_insert_rowid(),
                   *mid,
                   std::string(technology),
                   *hash,
                   std::string(label),
                   now,
                   std::nullopt,
                   std::nullopt,
                   issued_key_version};
    // The audit row names the credential by id and hash prefix, never by the raw identifier.
    json detail{{"credential_id", out.id},
                {"technology", technology},
                {"label", label},
                {"id_hash", to_hex(std::span(*hash).first(8))}};
    if (issued_key_version) detail["issued_key_version"] = *issued_key_version;
    return Audited<Credential>{std::move(out),
                               {issued_key_version ? "credential.issue" : "credential.enroll",
                                std::string(member_no), detail.dump()}};
  };
  std::function<Status(const Credential&)> write_card;
  if (before_commit) write_card = [&](const Credential& c) { return before_commit(c.id); };
  return audited_change<Credential>(actor, change, write_card);
}

Result<Credential> StaffRegistry::rekey_credential(
    std::string_view member_no, std::span<const std::uint8_t> identifier, int key_version,
    const Actor& actor, const std::function<Status(const Credential& credential)>& before_commit) {
  const auto change = [&]() -> Result<Audited<Credential>> {
    auto hash = context_->credential_hash("desfire", identifier);
    if (!hash) return hash.error();
    auto existing = credential_by_hash(*db_, *hash);
    if (!existing) return existing.error();
    if (!*existing) return not_found("this DESFire card is not enrolled: issue it instead");
    Credential c = std::move(**existing);
    auto mid = reads_->member_id(member_no);
    if (!mid) return mid.error();
    if (c.revoked_at_ms) return conflict(fmt::format("credential #{} is revoked", c.id));
    if (c.member_id != *mid)
      return conflict(fmt::format("credential #{} belongs to another member", c.id));
    if (!c.issued_key_version)
      return conflict(fmt::format("credential #{} was enrolled by UID, never issued", c.id));
    const int from = *c.issued_key_version;
    auto stmt = db_->prepare("UPDATE credentials SET issued_key_version = ?1 WHERE id = ?2");
    if (!stmt) return stmt.error();
    stmt->bind(1, std::int64_t{key_version}).bind(2, c.id);
    if (auto s = stmt->run(); !s) return explain(s.error(), "cannot record the rekeyed card");
    c.issued_key_version = key_version;
    json detail{{"credential_id", c.id},
                {"id_hash", to_hex(std::span(*hash).first(8))},
                {"from_key_version", from},
                {"to_key_version", key_version}};
    return Audited<Credential>{std::move(c),
                               {"credential.rekey", std::string(member_no), detail.dump()}};
  };
  return audited_change<Credential>(actor, change, before_commit);
}

Result<Credential> StaffRegistry::revoke_credential(std::string_view technology,
                                                    std::span<const std::uint8_t> identifier,
                                                    std::string_view reason, const Actor& actor) {
  auto hash = context_->credential_hash(technology, identifier);
  if (!hash) return hash.error();
  return revoke_credential_row(std::nullopt, std::move(*hash), reason, actor);
}

Result<Credential> StaffRegistry::revoke_credential(std::int64_t credential_id,
                                                    std::string_view reason, const Actor& actor) {
  return revoke_credential_row(credential_id, std::nullopt, reason, actor);
}

Result<Credential> StaffRegistry::revoke_credential_row(
    std::optional<std::int64_t> id, std::optional<std::vector<std::uint8_t>> hash,
    std::string_view reason, const Actor& actor) {
  LABGATE_TRY(require_text(reason, "revocation reason", text::Field::kReason));
  return audited_change<Credential>(actor, [&]() -> Result<Audited<Credential>> {
    static const std::string kById = kCredentialSelect + "WHERE c.id = ?1";
    auto find = db_->prepare(kById);
    if (!find) return find.error();
    std::optional<Credential> found;
    if (id) {
      find->bind(1, *id);
      auto row = first<Credential>(*find, read_credential);
      if (!row) return row.error();
      found = std::move(*row);
    } else {
      auto row = credential_by_hash(*db_, *hash);
      if (!row) return row.error();
      found = std::move(*row);
    }
    if (!found) {
      return not_found(id ? fmt::format("no credential #{}", *id)
                          : std::string("this card is not enrolled"));
    }
    Credential c = std::move(*found);
    if (c.revoked_at_ms) {
      return conflict(fmt::format("credential #{} is already revoked ({})", c.id,
                                  c.revoked_reason.value_or("")));
    }
    c.revoked_at_ms = now_ms();
    c.revoked_reason = std::string(reason);
    auto stmt = db_->prepare(
        "UPDATE credentials SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 "
        "AND revoked_at IS NULL");
    if (!stmt) return stmt.error();
    stmt->bind(1, c.id).bind(2, c.revoked_at_ms).bind(3, c.revoked_reason);
    LABGATE_TRY(stmt->run());
    std::string subject = fmt::format("credential #{}", c.id);
    std::string detail = json{{"member_id", c.member_id}, {"reason", reason}}.dump();
    return Audited<Credential>{std::move(c),
                               {"credential.revoke", std::move(subject), std::move(detail)}};
  });
}

Result<std::vector<Credential>> StaffRegistry::list_credentials(
    std::optional<std::string> member_no) {
  static const std::string kAll = kCredentialSelect + "ORDER BY c.id";
  static const std::string kByMember =
      kCredentialSelect +
      "JOIN members m ON m.id = c.member_id WHERE m.member_no = ?1 ORDER BY c.id";
  auto stmt = db_->prepare(member_no ? kByMember : kAll);
  if (!stmt) return stmt.error();
  if (member_no) stmt->bind(1, std::string_view{*member_no});
  return collect<Credential>(*stmt, read_credential);
}

// ---- certification types and certifications ----

Result<CertificationType> StaffRegistry::add_certification_type(const CertificationType& type,
                                                                const Actor& actor) {
  LABGATE_TRY(require_text(type.code, "certification type code"));
  LABGATE_TRY(require_text(type.name, "certification type name", text::Field::kItemName));
  if (type.validity_days < 0) return invalid("validity days must not be negative");
  return audited_change<CertificationType>(actor, [&]() -> Result<Audited<CertificationType>> {
    auto stmt = db_->prepare(
        "INSERT INTO certification_types (code, name, validity_days, renew_by_use) "
        "VALUES (?1, ?2, ?3, ?4)");
    if (!stmt) return stmt.error();
    stmt->bind(1, type.code)
        .bind(2, type.name)
        .bind(3, type.validity_days)
        .bind_bool(4, type.renew_by_use);
    if (auto s = stmt->run(); !s) {
      return explain(s.error(), fmt::format("certification type '{}' already exists", type.code));
    }
    return Audited<CertificationType>{type,
                                      {"cert_type.add", type.code,
                                       json{{"name", type.name},
                                            {"validity_days", type.validity_days},
                                            {"renew_by_use", type.renew_by_use}}
                                           .dump()}};
  });
}

Result<std::vector<CertificationType>> StaffRegistry::list_certification_types() {
  auto stmt = db_->prepare(
      "SELECT code, name, validity_days, renew_by_use FROM certification_types ORDER BY code");
  if (!stmt) return stmt.error();
  return collect<CertificationType>(*stmt, [](const Statement& s) {
    return CertificationType{s.column_text(0), s.column_text(1), s.column_int64(2),
                             s.column_bool(3)};
  });
}

Result<Certification> StaffRegistry::grant_certification(std::string_view member_no,
                                                         std::string_view type_code,
                                                         std::string_view trainer,
                                                         std::optional<std::string> granted_on,
                                                         const Actor& actor) {
  LABGATE_TRY(require_text(trainer, "trainer"));
  LABGATE_TRY(require_date(granted_on, "grant date"));
  const std::string on = granted_on.value_or(today());
  return audited_change<Certification>(actor, [&]() -> Result<Audited<Certification>> {
    auto mid = reads_->member_id(member_no);
    if (!mid) return mid.error();
    auto type = db_->prepare("SELECT validity_days FROM certification_types WHERE code = ?1");
    if (!type) return type.error();
    type->bind(1, type_code);
    auto row = type->step();
    if (!row) return row.error();
    if (!*row) return not_found(fmt::format("unknown certification type '{}'", type_code));
    const std::int64_t validity = type->column_int64(0);
    type->reset();
    std::optional<std::string> expires;
    // Valid on the grant day and the following validity-1 days.
    if (validity > 0) expires = add_days(on, validity - 1);
    auto stmt = db_->prepare(
        "INSERT INTO certifications (member_id, type_code, trainer, granted_on, expires_on) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!stmt) return stmt.error();
    stmt->bind(1, *mid).bind(2, type_code).bind(3, trainer).bind(4, on).bind(5, expires);
    if (auto s = stmt->run(); !s) return explain(s.error(), "cannot grant certification");
    const std::int64_t id = db_->last_insert_rowid();
    static const std::string kById = std::string(kCertSelect) + "WHERE ce.id = ?1";
    auto get = db_->prepare(kById);
    if (!get) return get.error();
    get->bind(1, id);
    auto got = first<Certification>(*get, read_cert);
    if (!got) return got.error();
    if (!*got) return Error{ErrorKind::kInternal, 0, "granted certification vanished"};
    return Audited<Certification>{std::move(**got),
                                  {"cert.grant", std::string(member_no),
                                   json{{"certification_id", id},
                                        {"type", type_code},
                                        {"trainer", trainer},
                                        {"granted_on", on},
                                        {"expires_on", opt(expires)}}
                                       .dump()}};
  });
}

Result<std::vector<Certification>> StaffRegistry::revoke_certification(std::string_view member_no,
                                                                       std::string_view type_code,
                                                                       std::string_view reason,
                                                                       const Actor& actor) {
  LABGATE_TRY(require_text(reason, "revocation reason", text::Field::kReason));
  using Certs = std::vector<Certification>;
  return audited_change<Certs>(actor, [&]() -> Result<Audited<Certs>> {
    auto mid = reads_->member_id(member_no);
    if (!mid) return mid.error();
    static const std::string kActive = std::string(kCertSelect) +
                                       "WHERE ce.member_id = ?1 AND ce.type_code = ?2 "
                                       "AND ce.revoked_at IS NULL ORDER BY ce.id";
    auto find = db_->prepare(kActive);
    if (!find) return find.error();
    find->bind(1, *mid).bind(2, type_code);
    auto certs = collect<Certification>(*find, read_cert);
    if (!certs) return certs.error();
    if (certs->empty()) {
      return conflict(
          fmt::format("member '{}' holds no unrevoked '{}' certification", member_no, type_code));
    }
    const std::int64_t now = now_ms();
    auto stmt = db_->prepare(
        "UPDATE certifications SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1");
    if (!stmt) return stmt.error();
    json ids = json::array();
    for (Certification& c : *certs) {
      c.revoked_at_ms = now;
      c.revoked_reason = std::string(reason);
      stmt->bind(1, c.id).bind(2, now).bind(3, reason);
      LABGATE_TRY(stmt->run());
      ids.push_back(c.id);
    }
    return Audited<Certs>{
        std::move(*certs),
        {"cert.revoke", std::string(member_no),
         json{{"type", type_code}, {"certification_ids", ids}, {"reason", reason}}.dump()}};
  });
}

Result<std::vector<Certification>> StaffRegistry::list_certifications(
    const CertificationFilter& filter) {
  std::string sql(kCertSelect);
  sql += "WHERE 1";
  if (filter.member_no) sql += " AND m.member_no = ?1";
  if (filter.type_code) sql += " AND ce.type_code = ?2";
  if (!filter.include_revoked || filter.expiring_within_days) sql += " AND ce.revoked_at IS NULL";
  if (filter.expiring_within_days) sql += " AND ce.expires_on >= ?3 AND ce.expires_on <= ?4";
  sql += " ORDER BY ce.expires_on IS NULL, ce.expires_on, m.member_no, ce.type_code";
  if (filter.expiring_within_days && *filter.expiring_within_days < 0) {
    return invalid("expiring window must not be negative");
  }
  auto stmt = db_->prepare(sql);
  if (!stmt) return stmt.error();
  if (filter.member_no) stmt->bind(1, std::string_view{*filter.member_no});
  if (filter.type_code) stmt->bind(2, std::string_view{*filter.type_code});
  if (filter.expiring_within_days) {
    const std::string from = today();
    stmt->bind(3, from).bind(4, add_days(from, *filter.expiring_within_days));
  }
  return collect<Certification>(*stmt, read_cert);
}

// ---- doors and machines ----

Result<Door> StaffRegistry::upsert_door(const Door& door, const Actor& actor) {
  LABGATE_TRY(require_text(door.id, "door id"));
  LABGATE_TRY(require_text(door.name, "door name", text::Field::kItemName));
  if (door.fail_mode != "secure" && door.fail_mode != "safe") {
    return invalid(fmt::format("bad fail mode '{}' (secure or safe)", door.fail_mode));
  }
  if (door.role != "entry" && door.role != "exit" && door.role != "both") {
    return invalid(fmt::format("bad door role '{}' (entry, exit or both)", door.role));
  }
  return audited_change<Door>(actor, [&]() -> Result<Audited<Door>> {
    auto stmt = db_->prepare(
        "INSERT INTO doors (id, name, fail_mode, role) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, fail_mode = excluded.fail_mode, "
        "role = excluded.role");
    if (!stmt) return stmt.error();
    stmt->bind(1, door.id).bind(2, door.name).bind(3, door.fail_mode).bind(4, door.role);
    LABGATE_TRY(stmt->run());
    return Audited<Door>{
        door,
        {"door.upsert", door.id,
         json{{"name", door.name}, {"fail_mode", door.fail_mode}, {"role", door.role}}.dump()}};
  });
}

Result<std::vector<Door>> StaffRegistry::list_doors() {
  auto stmt = db_->prepare("SELECT id, name, fail_mode, role FROM doors ORDER BY id");
  if (!stmt) return stmt.error();
  return collect<Door>(*stmt, [](const Statement& s) {
    return Door{s.column_text(0), s.column_text(1), s.column_text(2), s.column_text(3)};
  });
}

Result<Machine> StaffRegistry::add_machine(const NewMachine& machine, const Actor& actor) {
  LABGATE_TRY(require_text(machine.id, "machine id"));
  LABGATE_TRY(require_text(machine.name, "machine name", text::Field::kItemName));
  if (machine.session_mode != "hold" && machine.session_mode != "tap") {
    return invalid(fmt::format("bad session mode '{}' (hold or tap)", machine.session_mode));
  }
  if (machine.inspection_interval_days < 0) {
    return invalid("inspection interval must not be negative");
  }
  return audited_change<Machine>(actor, [&]() -> Result<Audited<Machine>> {
    if (machine.certification_type) {
      auto t = db_->prepare("SELECT 1 FROM certification_types WHERE code = ?1");
      if (!t) return t.error();
      t->bind(1, std::string_view{*machine.certification_type});
      auto row = t->step();
      if (!row) return row.error();
      if (!*row) {
        return not_found(
            fmt::format("unknown certification type '{}'", *machine.certification_type));
      }
      t->reset();
    }
    if (auto existing = reads_->machine(machine.id); !existing) {
      return existing.error();
    } else if (*existing) {
      return conflict(fmt::format("machine '{}' already exists", machine.id));
    }
    auto stmt = db_->prepare(
        "INSERT INTO machines (id, name, certification_type, session_mode, "
        "inspection_interval_days, needs_checkoff, created_at, busy_input) VALUES (?1, ?2, ?3, "
        "?4, ?5, ?6, ?7, ?8)");
    if (!stmt) return stmt.error();
    stmt->bind(1, machine.id)
        .bind(2, machine.name)
        .bind(3, machine.certification_type)
        .bind(4, machine.session_mode)
        .bind(5, machine.inspection_interval_days)
        .bind_bool(6, machine.needs_checkoff)
        .bind(7, now_ms())
        .bind_bool(8, machine.busy_input);
    if (auto s = stmt->run(); !s) return explain(s.error(), "cannot add machine");
    return reread_machine(machine.id, "machine.add",
                          json{{"name", machine.name},
                               {"certification_type", opt(machine.certification_type)},
                               {"session_mode", machine.session_mode},
                               {"inspection_interval_days", machine.inspection_interval_days},
                               {"needs_checkoff", machine.needs_checkoff},
                               {"busy_input", machine.busy_input}}
                              .dump());
  });
}

Result<Machine> StaffRegistry::set_machine_busy_input(std::string_view machine_id, bool busy_input,
                                                      const Actor& actor) {
  return audited_change<Machine>(actor, [&]() -> Result<Audited<Machine>> {
    auto m = reads_->machine(machine_id);
    if (!m) return m.error();
    if (!*m) return not_found(fmt::format("unknown machine '{}'", machine_id));
    if ((*m)->busy_input == busy_input) {
      return conflict(fmt::format("machine '{}' already {} a busy input", machine_id,
                                  busy_input ? "has" : "has no"));
    }
    auto stmt = db_->prepare("UPDATE machines SET busy_input = ?2 WHERE id = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, machine_id).bind_bool(2, busy_input);
    LABGATE_TRY(stmt->run());
    return reread_machine(machine_id, "machine.busy_input",
                          json{{"from", !busy_input}, {"to", busy_input}}.dump());
  });
}

Result<StaffRegistry::Audited<Machine>> StaffRegistry::reread_machine(std::string_view machine_id,
                                                                      std::string_view action,
                                                                      std::string detail_json) {
  auto out = reads_->machine(machine_id);
  if (!out) return out.error();
  if (!*out)
    return Error{ErrorKind::kInternal, 0, fmt::format("machine '{}' vanished", machine_id)};
  return Audited<Machine>{std::move(**out),
                          {std::string(action), std::string(machine_id), std::move(detail_json)}};
}

Result<StaffRegistry::Audited<Machine>> StaffRegistry::set_lockout(
    std::string_view machine_id, std::optional<std::string_view> reason) {
  auto m = reads_->machine(machine_id);
  if (!m) return m.error();
  if (!*m) return not_found(fmt::format("unknown machine '{}'", machine_id));
  if (reason && (*m)->locked_out) {
    return conflict(fmt::format("machine '{}' is already locked out ({})", machine_id,
                                (*m)->lockout_reason.value_or("")));
  }
  if (!reason && !(*m)->locked_out) {
    return conflict(fmt::format("machine '{}' is not locked out", machine_id));
  }
  auto stmt =
      db_->prepare("UPDATE machines SET locked_out = ?2, lockout_reason = ?3 WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, machine_id).bind_bool(2, reason.has_value());
  if (reason) {
    stmt->bind(3, *reason);
  } else {
    stmt->bind_null(3);
  }
  LABGATE_TRY(stmt->run());
  if (reason)
    return reread_machine(machine_id, "machine.lockout", json{{"reason", *reason}}.dump());
  return reread_machine(machine_id, "machine.release",
                        json{{"was", opt((*m)->lockout_reason)}}.dump());
}

Result<Machine> StaffRegistry::lockout_machine(std::string_view machine_id, std::string_view reason,
                                               const Actor& actor) {
  LABGATE_TRY(require_text(reason, "lockout reason", text::Field::kReason));
  return audited_change<Machine>(actor, [&] { return set_lockout(machine_id, reason); });
}

Result<Machine> StaffRegistry::release_machine(std::string_view machine_id, const Actor& actor) {
  return audited_change<Machine>(actor, [&] { return set_lockout(machine_id, std::nullopt); });
}

Result<Inspection> StaffRegistry::record_inspection(const NewInspection& in, const Actor& actor) {
  LABGATE_TRY(require_text(in.inspector, "inspector"));
  LABGATE_TRY(check_text(in.notes, "inspection notes", text::Field::kNote));
  if (in.result != "pass" && in.result != "fail") {
    return invalid(fmt::format("bad inspection result '{}' (pass or fail)", in.result));
  }
  LABGATE_TRY(require_date(in.done_on, "inspection date"));
  LABGATE_TRY(require_date(in.next_due, "next-due date"));
  return audited_change<Inspection>(actor, [&]() -> Result<Audited<Inspection>> {
    auto m = reads_->machine(in.machine_id);
    if (!m) return m.error();
    if (!*m) return not_found(fmt::format("unknown machine '{}'", in.machine_id));
    Inspection out;
    out.machine_id = in.machine_id;
    out.done_on = in.done_on.value_or(today());
    out.inspector = in.inspector;
    out.result = in.result;
    out.notes = in.notes;
    out.next_due = in.next_due;
    if (!out.next_due && (*m)->inspection_interval_days > 0) {
      out.next_due = add_days(out.done_on, (*m)->inspection_interval_days);
    }
    if (out.next_due && *out.next_due < out.done_on) {
      return invalid("next-due date is before the inspection date");
    }
    auto stmt = db_->prepare(
        "INSERT INTO inspections (machine_id, done_on, inspector, result, notes, next_due) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!stmt) return stmt.error();
    stmt->bind(1, out.machine_id)
        .bind(2, out.done_on)
        .bind(3, out.inspector)
        .bind(4, out.result)
        .bind(5, out.notes)
        .bind(6, out.next_due);
    LABGATE_TRY(stmt->run());
    out.id = db_->last_insert_rowid();
    if (out.result == "fail" && !(*m)->locked_out) {
      // A failed inspection must stop the machine until staff release it deliberately.
      auto lock =
          db_->prepare("UPDATE machines SET locked_out = 1, lockout_reason = ?2 WHERE id = ?1");
      if (!lock) return lock.error();
      lock->bind(1, out.machine_id).bind(2, fmt::format("inspection failed on {}", out.done_on));
      LABGATE_TRY(lock->run());
    }
    std::string detail =
        json{{"inspection_id", out.id}, {"done_on", out.done_on}, {"inspector", out.inspector},
             {"result", out.result},    {"notes", out.notes},     {"next_due", opt(out.next_due)}}
            .dump();
    std::string subject = out.machine_id;
    return Audited<Inspection>{std::move(out),
                               {"machine.inspect", std::move(subject), std::move(detail)}};
  });
}

Result<std::vector<Inspection>> StaffRegistry::list_inspections(std::string_view machine_id) {
  auto stmt = db_->prepare(
      "SELECT id, machine_id, done_on, inspector, result, notes, next_due FROM inspections "
      "WHERE machine_id = ?1 ORDER BY done_on DESC, id DESC");
  if (!stmt) return stmt.error();
  stmt->bind(1, machine_id);
  return collect<Inspection>(*stmt, [](const Statement& s) {
    return Inspection{s.column_int64(0), s.column_text(1), s.column_text(2),    s.column_text(3),
                      s.column_text(4),  s.column_text(5), s.column_opt_text(6)};
  });
}

Result<std::vector<Machine>> StaffRegistry::list_machines() {
  auto all = db_->prepare("SELECT id FROM machines ORDER BY id");
  if (!all) return all.error();
  auto ids = collect<std::string>(*all, [](const Statement& s) { return s.column_text(0); });
  if (!ids) return ids.error();
  std::vector<Machine> out;
  for (const auto& id : *ids) {
    auto m = reads_->machine(id);
    if (!m) return m.error();
    if (*m) out.push_back(std::move(**m));
  }
  return out;
}

// ---- report reads ----

Result<std::optional<std::int64_t>> StaffRegistry::first_member_created_ms() {
  auto q = db_->prepare("SELECT MIN(created_at) FROM members");
  if (!q) return q.error();
  auto v = first<std::optional<std::int64_t>>(
      *q, [](const Statement& s) { return s.column_opt_int64(0); });
  if (!v) return v.error();
  return v->value_or(std::nullopt);
}

Status StaffRegistry::scan_members_created(
    std::int64_t from_ms, std::int64_t to_ms,
    const std::function<void(std::int64_t created_at_ms)>& sink) {
  auto q =
      db_->prepare("SELECT created_at FROM members WHERE created_at >= ?1 AND created_at < ?2");
  if (!q) return q.error();
  q->bind(1, from_ms).bind(2, to_ms);
  return for_each_row(*q, [&](const Statement& s) { sink(s.column_int64(0)); });
}

Result<std::int64_t> StaffRegistry::count_active_members(std::int64_t approved_before_ms,
                                                         std::string_view on_day) {
  auto a = db_->prepare(
      "SELECT COUNT(*) FROM members WHERE status = 'active' "
      "AND COALESCE(approved_at, created_at) < ?1 "
      "AND (valid_from IS NULL OR valid_from <= ?2) AND (valid_until IS NULL OR valid_until >= "
      "?2)");
  if (!a) return a.error();
  a->bind(1, approved_before_ms).bind(2, on_day);
  auto n = first<std::int64_t>(*a, [](const Statement& s) { return s.column_int64(0); });
  if (!n) return n.error();
  return n->value_or(0);
}

Status StaffRegistry::scan_certifications_granted(
    std::string_view first_day, std::string_view last_day,
    const std::function<void(CertificationGrant&&)>& sink) {
  auto q = db_->prepare(
      "SELECT type_code, granted_on, revoked_at IS NOT NULL FROM certifications "
      "WHERE granted_on >= ?1 AND granted_on <= ?2");
  if (!q) return q.error();
  q->bind(1, first_day).bind(2, last_day);
  return for_each_row(*q, [&](const Statement& s) {
    sink(CertificationGrant{s.column_text(0), s.column_text(1), s.column_bool(2)});
  });
}

Result<std::vector<std::pair<std::string, std::int64_t>>> StaffRegistry::revocations_by_type(
    std::int64_t from_ms, std::int64_t to_ms) {
  // Revocations are rare: no index on revoked_at is needed for this scan of a small table.
  auto rv = db_->prepare(
      "SELECT type_code, COUNT(*) FROM certifications WHERE revoked_at >= ?1 AND revoked_at < ?2 "
      "GROUP BY type_code");
  if (!rv) return rv.error();
  rv->bind(1, from_ms).bind(2, to_ms);
  return collect<std::pair<std::string, std::int64_t>>(*rv, [](const Statement& s) {
    return std::pair<std::string, std::int64_t>{s.column_text(0), s.column_int64(1)};
  });
}

Status StaffRegistry::scan_inspections_until(std::string_view last_day,
                                             const std::function<void(InspectionDone&&)>& sink) {
  auto q = db_->prepare(
      "SELECT machine_id, done_on, next_due, result FROM inspections WHERE done_on <= ?1 "
      "ORDER BY machine_id, done_on, id");
  if (!q) return q.error();
  q->bind(1, last_day);
  return for_each_row(*q, [&](const Statement& s) {
    sink(
        InspectionDone{s.column_text(0), s.column_text(1), s.column_opt_text(2), s.column_text(3)});
  });
}

// ---- staff accounts ----

namespace {

bool valid_role(std::string_view role) {
  return role == "desk" || role == "trainer" || role == "staff" || role == "manager" ||
         role == "admin";
}

Result<std::optional<StaffAccount>> staff_account(Database& db, std::string_view login) {
  auto stmt = db.prepare(
      "SELECT login, name, role, active, created_at_ms FROM staff_accounts WHERE login = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, login);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<StaffAccount>{};
  StaffAccount a{stmt->column_text(0), stmt->column_text(1), stmt->column_text(2),
                 stmt->column_int64(3) != 0, stmt->column_int64(4)};
  stmt->reset();
  return std::optional<StaffAccount>{std::move(a)};
}

}  // namespace

bool valid_staff_login(std::string_view login) {
  if (login.empty() || login.size() > 64) return false;
  return std::all_of(login.begin(), login.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '@' || c == '-';
  });
}

Result<StaffAccount> StaffRegistry::add_staff_account(const StaffAccount& account,
                                                      const Actor& actor) {
  if (!valid_staff_login(account.login)) {
    return invalid(
        fmt::format("bad login '{}': 1-64 of A-Z a-z 0-9 . _ @ -", text::visible(account.login)));
  }
  LABGATE_TRY(check_text(account.name, "staff name"));
  if (!valid_role(account.role)) {
    return invalid(fmt::format("bad role '{}': desk, trainer, staff, manager or admin",
                               text::visible(account.role)));
  }
  return audited_change_as<StaffAccount>(actor, false, [&]() -> Result<Audited<StaffAccount>> {
    auto count = db_->prepare("SELECT count(*) FROM staff_accounts");
    if (!count) return count.error();
    auto row = count->step();
    if (!row) return row.error();
    const bool first = count->column_int64(0) == 0;
    count->reset();
    // The audit row checks the declared account after the insert, when a new account could
    // vouch for itself: so the actor is checked before it, unless this is the first account,
    // its owner declares it, and the OS user is root or this process's own (the daemon's user,
    // or whoever may write the file): over the admin channel, no other uid bootstraps a site.
    const auto uid = actor.uid;
    const bool operator_uid = uid == 0 || uid == static_cast<std::int64_t>(::getuid());
    if (!first || !operator_uid || (actor.account && *actor.account != account.login)) {
      LABGATE_TRY(check_account(*db_, actor));
    }
    if (auto existing = staff_account(*db_, account.login); !existing) {
      return existing.error();
    } else if (*existing) {
      return conflict(fmt::format("staff account '{}' already exists", account.login));
    }
    StaffAccount out{account.login, account.name, account.role, true, now_ms()};
    auto stmt = db_->prepare(
        "INSERT INTO staff_accounts (login, name, role, active, created_at_ms) "
        "VALUES (?1, ?2, ?3, 1, ?4)");
    if (!stmt) return stmt.error();
    stmt->bind(1, out.login).bind(2, out.name).bind(3, out.role).bind(4, out.created_at_ms);
    LABGATE_TRY(stmt->run());
    return Audited<StaffAccount>{
        out, {"staff.add", out.login, json{{"name", out.name}, {"role", out.role}}.dump()}};
  });
}

Result<StaffAccount> StaffRegistry::set_staff_account_active(std::string_view login, bool active,
                                                             const Actor& actor) {
  return audited_change<StaffAccount>(actor, [&]() -> Result<Audited<StaffAccount>> {
    auto existing = staff_account(*db_, login);
    if (!existing) return existing.error();
    if (!*existing) return not_found(fmt::format("no staff account '{}'", text::visible(login)));
    StaffAccount a = std::move(**existing);
    if (!active && actor.account == a.login) {
      return conflict(fmt::format("staff account '{}' cannot disable itself", a.login));
    }
    if (a.active == active) {
      return conflict(
          fmt::format("staff account '{}' is already {}", a.login, active ? "active" : "inactive"));
    }
    auto stmt = db_->prepare("UPDATE staff_accounts SET active = ?2 WHERE login = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, a.login).bind_bool(2, active);
    LABGATE_TRY(stmt->run());
    a.active = active;
    return Audited<StaffAccount>{a, {active ? "staff.enable" : "staff.disable", a.login, "{}"}};
  });
}

Result<std::vector<StaffAccount>> StaffRegistry::list_staff_accounts() {
  auto stmt = db_->prepare(
      "SELECT login, name, role, active, created_at_ms FROM staff_accounts ORDER BY login");
  if (!stmt) return stmt.error();
  std::vector<StaffAccount> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({stmt->column_text(0), stmt->column_text(1), stmt->column_text(2),
                   stmt->column_int64(3) != 0, stmt->column_int64(4)});
  }
  return out;
}

}  // namespace labgate::gateway::store
