#pragma once
// The staff registry: plans, members, credentials, certification types and certifications,
// doors, machines and inspections. Every change is one transaction with its audit row.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/records.hpp"

namespace labgate::gateway::store {

class TapReads;

/// True for a staff login: 1-64 of A-Z a-z 0-9 . _ @ - (the admin channel's "as" alphabet).
bool valid_staff_login(std::string_view login);

/// Input of StaffRegistry::add_plan.
struct NewPlan {
  std::string code;
  std::string name;
  std::string windows;
  bool holidays_allowed{false};
  bool closure_allowed{false};
};

/// Input of StaffRegistry::add_member. The member starts pending.
struct NewMember {
  std::string member_no;
  std::string name;
  std::string email;
  std::optional<std::string> plan_code;
  std::optional<std::string> valid_from;
  std::optional<std::string> valid_until;
};

/// Rows, options and outcome of StaffRegistry::import_members (defined in store/import.hpp).
struct ImportMember;
struct ImportOptions;
struct ImportResult;

/// Input of StaffRegistry::add_machine.
struct NewMachine {
  std::string id;
  std::string name;
  std::optional<std::string> certification_type;
  std::string session_mode{"hold"};
  std::int64_t inspection_interval_days{0};
  bool needs_checkoff{false};
  bool busy_input{false};  ///< the machine reports busy time (a rate may price idle time)
};

/// Input of StaffRegistry::record_inspection.
struct NewInspection {
  std::string machine_id;
  std::optional<std::string> done_on;  ///< default: today
  std::string inspector;
  std::string result;  ///< "pass" or "fail"; a fail also locks the machine out
  std::string notes;
  std::optional<std::string> next_due;  ///< default: done_on + the machine's interval
};

/// Filter of StaffRegistry::list_certifications; unset fields do not filter.
struct CertificationFilter {
  std::optional<std::string> member_no{};
  std::optional<std::string> type_code{};
  /// Only active certifications expiring between today and today + N days.
  std::optional<std::int64_t> expiring_within_days{};
  bool include_revoked{false};
};

/// A certification as the ward report counts it.
struct CertificationGrant {
  std::string type_code;
  std::string granted_on;
  bool revoked{false};
};

/// An inspection as the ward report counts it.
struct InspectionDone {
  std::string machine_id;
  std::string done_on;
  std::optional<std::string> next_due;
  std::string result;
};

/// Staff operations of labgatectl (and the daemon's door sync). Obtained from Store::staff().
class StaffRegistry : public Repository {
 public:
  /// A view over `context`; member and machine look-ups go through `reads`.
  StaffRegistry(const StoreContext& context, TapReads& reads)
      : Repository(context), reads_(&reads) {}

  /// Adds a plan.
  Result<Plan> add_plan(const NewPlan& plan, const Actor& actor);
  /// All plans by code.
  Result<std::vector<Plan>> list_plans();
  /// Adds a pending member.
  Result<Member> add_member(const NewMember& member, const Actor& actor);
  /// Adds many members in one transaction with one audit row, all or nothing (see import.hpp).
  Result<ImportResult> import_members(const std::vector<ImportMember>& members,
                                      const ImportOptions& options, const Actor& actor);
  /// pending/suspended -> active.
  Result<Member> approve_member(std::string_view member_no, const Actor& actor);
  /// -> suspended with a reason.
  Result<Member> suspend_member(std::string_view member_no, std::string_view reason,
                                const Actor& actor);
  /// Members by number, optionally of one status.
  Result<std::vector<Member>> list_members(std::optional<MemberStatus> status = std::nullopt);
  /// Enrolls a card for a member. kConflict when the card is already enrolled.
  /// For a DESFire card issued at the desk, `issued_key_version` records the site key version
  /// and `before_commit` writes the card once the credential id is known: its error rolls the
  /// enrolment back, so a card that was not written is never recorded as issued.
  Result<Credential> enroll_credential(
      std::string_view member_no, std::string_view technology,
      std::span<const std::uint8_t> identifier, std::string_view label, const Actor& actor,
      std::optional<int> issued_key_version = std::nullopt,
      const std::function<Status(std::int64_t credential_id)>& before_commit = {});
  /// Records that member `member_no`'s issued DESFire card (by its UID) now holds key version
  /// `key_version`, with an audit row (credential.rekey); `before_commit(credential_id)` rewrites
  /// the card inside the transaction, so a card not rewritten is not recorded. kNotFound for a
  /// card not enrolled; kConflict for a revoked card, another member's card, or one never issued.
  Result<Credential> rekey_credential(
      std::string_view member_no, std::span<const std::uint8_t> identifier, int key_version,
      const Actor& actor, const std::function<Status(const Credential& credential)>& before_commit);
  /// Revokes a card by its identifier. kConflict when already revoked.
  Result<Credential> revoke_credential(std::string_view technology,
                                       std::span<const std::uint8_t> identifier,
                                       std::string_view reason, const Actor& actor);
  /// Revokes a card by credential id. kConflict when already revoked.
  Result<Credential> revoke_credential(std::int64_t credential_id, std::string_view reason,
                                       const Actor& actor);
  /// Credentials, optionally of one member.
  Result<std::vector<Credential>> list_credentials(std::optional<std::string> member_no = {});
  /// Adds a certification type.
  Result<CertificationType> add_certification_type(const CertificationType& type,
                                                   const Actor& actor);
  /// All certification types.
  Result<std::vector<CertificationType>> list_certification_types();
  /// Grants a certification on `granted_on` (default today); expiry = date + validity.
  Result<Certification> grant_certification(std::string_view member_no, std::string_view type_code,
                                            std::string_view trainer,
                                            std::optional<std::string> granted_on,
                                            const Actor& actor);
  /// Revokes the member's active certifications of a type. kConflict when none is active.
  Result<std::vector<Certification>> revoke_certification(std::string_view member_no,
                                                          std::string_view type_code,
                                                          std::string_view reason,
                                                          const Actor& actor);
  /// Certifications matching the filter, by expiry then member.
  Result<std::vector<Certification>> list_certifications(const CertificationFilter& filter = {});
  /// Adds (or, for the daemon syncing its config, replaces) a door.
  Result<Door> upsert_door(const Door& door, const Actor& actor);
  /// All doors.
  Result<std::vector<Door>> list_doors();
  /// Adds a machine.
  Result<Machine> add_machine(const NewMachine& machine, const Actor& actor);
  /// Records whether a machine has a busy input (labgated, from its configuration). Audited as
  /// machine.busy_input; kConflict when it already says so. Idle prices of rates stay as set:
  /// the engine bills a session without busy seconds at the full price.
  Result<Machine> set_machine_busy_input(std::string_view machine_id, bool busy_input,
                                         const Actor& actor);
  /// Locks a machine out. kConflict when already locked out.
  Result<Machine> lockout_machine(std::string_view machine_id, std::string_view reason,
                                  const Actor& actor);
  /// Releases a lockout. kConflict when not locked out.
  Result<Machine> release_machine(std::string_view machine_id, const Actor& actor);
  /// Records an inspection (sets the next due date; a fail locks the machine out).
  Result<Inspection> record_inspection(const NewInspection& inspection, const Actor& actor);
  /// Inspections of a machine, newest first.
  Result<std::vector<Inspection>> list_inspections(std::string_view machine_id);
  /// All machines by id.
  Result<std::vector<Machine>> list_machines();

  // ---- staff accounts ----

  /// Adds an active staff account (role: desk, trainer, staff, manager, admin). The actor must
  /// declare an active account, except for the very first account, which its owner creates by
  /// declaring it as root or as this process's user. kConflict when the login exists.
  Result<StaffAccount> add_staff_account(const StaffAccount& account, const Actor& actor);
  /// Activates or deactivates an account; a deactivated account can no longer be declared.
  /// kConflict when it already is so.
  Result<StaffAccount> set_staff_account_active(std::string_view login, bool active,
                                                const Actor& actor);
  /// All staff accounts by login.
  Result<std::vector<StaffAccount>> list_staff_accounts();
  /// Members whose number starts with `query` or whose name contains it (all when empty), by
  /// number, `limit` from `offset`.
  Result<std::vector<Member>> search_members(std::string_view query, std::int64_t limit,
                                             std::int64_t offset);
  /// Sets an account's console password, given as an argon2id string made by
  /// crypto_pwhash_str (the clear password never reaches the store). Only the account itself, an
  /// admin account, the operator acting without a declared account, or (for an account with no
  /// password yet) any active account, as any may add one, may; else kForbidden.
  Result<StaffAccount> set_staff_password_hash(std::string_view login,
                                               std::string_view password_hash, const Actor& actor);
  /// Sets an account's console language ("ja", "en", or "" for the browser's choice); the same
  /// actors as set_staff_password_hash may.
  Result<StaffAccount> set_staff_locale(std::string_view login, std::string_view locale,
                                        const Actor& actor);
  /// Changes an account's role (desk, trainer, staff, manager, admin). Only an admin account or
  /// the operator acting without a declared account may (else kForbidden); an account cannot
  /// change its own role (so the last admin cannot demote itself), and kConflict when the role
  /// is already that.
  Result<StaffAccount> set_staff_role(std::string_view login, std::string_view role,
                                      const Actor& actor);
  /// What the console needs to log an account in; nullopt when there is no such login.
  Result<std::optional<StaffLogin>> staff_login(std::string_view login);

  // ---- report reads ----

  /// The first member's creation time, if any.
  Result<std::optional<std::int64_t>> first_member_created_ms();
  /// Creation times of the members created in [from_ms, to_ms).
  Status scan_members_created(std::int64_t from_ms, std::int64_t to_ms,
                              const std::function<void(std::int64_t created_at_ms)>& sink);
  /// Members active now who were approved (or created) before `approved_before_ms` and whose
  /// validity covers `on_day`.
  Result<std::int64_t> count_active_members(std::int64_t approved_before_ms,
                                            std::string_view on_day);
  /// Certifications granted on a day in [first_day, last_day].
  Status scan_certifications_granted(std::string_view first_day, std::string_view last_day,
                                     const std::function<void(CertificationGrant&&)>& sink);
  /// Revocations in [from_ms, to_ms) by certification type: (type code, count).
  Result<std::vector<std::pair<std::string, std::int64_t>>> revocations_by_type(
      std::int64_t from_ms, std::int64_t to_ms);
  /// Inspections done on or before `last_day`, by machine, day, id.
  Status scan_inspections_until(std::string_view last_day,
                                const std::function<void(InspectionDone&&)>& sink);

 private:
  // The member (machine) re-read after a change, with the audit note of `action`.
  Result<Audited<Member>> reread_member(std::string_view member_no, std::string_view action,
                                        std::string detail_json);
  Result<Audited<Machine>> reread_machine(std::string_view machine_id, std::string_view action,
                                          std::string detail_json);
  // approve (kActive) and suspend (kSuspended, with a reason), inside audited_change.
  Result<Audited<Member>> set_member_status(std::string_view member_no, MemberStatus status,
                                            std::optional<std::string_view> reason);
  // lockout (with a reason) and release (without), inside audited_change.
  Result<Audited<Machine>> set_lockout(std::string_view machine_id,
                                       std::optional<std::string_view> reason);
  Result<Credential> revoke_credential_row(std::optional<std::int64_t> id,
                                           std::optional<std::vector<std::uint8_t>> hash,
                                           std::string_view reason, const Actor& actor);

  TapReads* reads_;
};

}  // namespace labgate::gateway::store
