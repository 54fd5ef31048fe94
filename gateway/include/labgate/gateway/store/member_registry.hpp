#pragma once
// Corrections to members after they were registered: name, e-mail, validity dates and plan, one
// member at a time (members edit) or a whole roster (members import --update), and each member's
// plan history, which billing reads to bill every session under the plan it started under.
//
// Rules the console and labgatectl share, because both call these functions:
//   - text is checked by the one validator (text::check): names as kName, e-mails as kEmail and
//     as an address (is_valid_email);
//   - validity dates are YYYY-MM-DD and valid_until is not before valid_from, after the edit;
//   - a plan change applies from a local day (default today in the site time zone), never a later
//     day: members.plan_id is what the door reads now. It may not start before the member's
//     latest plan change, nor in a month whose statement for the member is issued. A second change
//     from the same day corrects the first. Sessions started before that day keep the old plan;
//   - an edit that changes nothing is refused (kConflict), so a typo never records a no-op;
//   - every change is audited (member.edit) with each changed field's old and new value.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/records.hpp"

namespace labgate::gateway::store {

class TapReads;
class BillingLedger;
struct ImportMember;
struct ImportIssue;

/// What to change on one member; unset fields are left as they are.
struct MemberEdit {
  std::string member_no;
  std::optional<std::string> name;
  std::optional<std::string> email;        ///< "" removes the address
  std::optional<std::string> plan_code;    ///< "" removes the plan
  std::optional<std::string> plan_from;    ///< day the plan change applies from; default today
  std::optional<std::string> valid_from;   ///< "" removes the date
  std::optional<std::string> valid_until;  ///< "" removes the date
};

/// One field of a member before and after a change ("" for none).
struct FieldChange {
  std::string field;  ///< "name", "email", "plan", "valid_from" or "valid_until"
  std::string from;
  std::string to;
};

/// A member before and after an edit, with every field that changed (in the order above).
struct MemberChange {
  Member before;
  Member after;
  std::vector<FieldChange> changes;
  /// For a plan change: the day it applies from.
  std::optional<std::string> plan_from;
};

/// One entry of a member's plan history.
struct PlanPeriod {
  std::int64_t member_id{0};
  std::optional<std::int64_t> plan_id;
  std::string plan_code;                          ///< "" without a plan
  std::optional<std::string> effective_from;      ///< null: the first plan, since registration
  std::optional<std::int64_t> effective_from_ms;  ///< local midnight of effective_from
  std::int64_t changed_at_ms{0};
};

/// Options of MemberRegistry::update_members.
struct RosterUpdateOptions {
  std::string source;                    ///< file name recorded in the audit rows
  std::string sha256;                    ///< hex SHA-256 of the file
  std::optional<std::string> plan_from;  ///< day plan changes apply from; default today
  bool dry_run{false};                   ///< check and write everything, then roll back
};

/// Outcome of MemberRegistry::update_members. When `issues` is not empty nothing was written.
struct RosterUpdate {
  std::vector<MemberChange> changed;  ///< members that change, in file order
  std::int64_t unchanged{0};          ///< rows that match the member already
  bool committed{false};              ///< false for a dry run and whenever issues were found
  std::vector<ImportIssue> issues;
};

/// Member corrections and plan history. Obtained from Store::members().
class MemberRegistry : public Repository {
 public:
  /// A view over `context`; member look-ups go through `reads`, accounts and issued statements
  /// through `ledger`.
  MemberRegistry(const StoreContext& context, TapReads& reads, BillingLedger& ledger)
      : Repository(context), reads_(&reads), ledger_(&ledger) {}

  /// Applies `edit` in one transaction with its audit row (member.edit). kNotFound for an
  /// unknown member or plan, kInvalid for bad text or dates, kConflict when nothing changes or
  /// the plan change reaches into an issued statement or before the latest plan change.
  Result<MemberChange> edit_member(const MemberEdit& edit, std::string_view actor);

  /// Applies a roster to existing members, all or nothing: every row names an existing member;
  /// blank cells (and columns left out) leave the field as it is; status and credit_limit must be
  /// blank or what the member has already (they change through approve/suspend and accounts).
  /// One member.edit audit row per changed member and one members.update row for the file.
  /// Problems come back as `issues` by line, and then nothing is written.
  Result<RosterUpdate> update_members(const std::vector<ImportMember>& rows,
                                      const RosterUpdateOptions& options, std::string_view actor);

  /// A member's plan history, oldest first (the first entry has no effective_from).
  Result<std::vector<PlanPeriod>> plan_history(std::string_view member_no);

  /// Plan history rows (of one member, else of everyone) by member, oldest first, on `db`:
  /// billing reads them on connections of its own.
  static Status scan_plan_history(Database& db, std::optional<std::int64_t> member_id,
                                  const std::function<void(PlanPeriod&&)>& sink);

 private:
  // The checks of one edit against the member as stored; nothing is written.
  Result<MemberChange> plan_edit(const MemberEdit& edit, const Member& current);
  // Writes a checked change (members row, plan history); inside a transaction.
  Status write_change(const MemberChange& change);
  // The audit detail of a change.
  static std::string audit_detail(const MemberChange& change, std::string_view source);

  TapReads* reads_;
  BillingLedger* ledger_;
};

}  // namespace labgate::gateway::store
