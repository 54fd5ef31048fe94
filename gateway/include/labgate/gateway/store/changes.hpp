#pragma once
// Staff changes as data: one JSON object {"op": "...", "args": {...}} names a change of the
// staff registry and its arguments. labgatectl builds it; when labgated runs, it travels over the
// admin channel and the daemon applies it (docs/ADMIN.md, op "change"), and otherwise labgatectl
// applies it itself. Both call apply_change(), so a change does the same checks and writes the
// same rows whichever way it came, and its audit row records the actor the caller passes.
//
// The records come back as JSON, rendered here once for labgatectl's output and the channel's
// replies.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/store/billing_ledger.hpp"
#include "labgate/gateway/store/bookings.hpp"
#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/member_registry.hpp"
#include "labgate/gateway/store/records.hpp"
#include "labgate/gateway/store/result.hpp"

namespace labgate::gateway::store {

class Store;

/// The change ops apply_change() knows, for help texts and docs.
std::vector<std::string_view> change_ops();
/// What an op needs of the declared account's role (kAdmin for an op nobody has classed yet).
/// apply_change() refuses a declared account whose role may not (check_permission).
Permission change_permission(std::string_view op);

/// Applies one change by `actor` and returns the changed record (an array for cert.revoke).
/// kInvalid for an unknown op or a missing or mistyped argument; otherwise whatever the store
/// call answers (kForbidden for a declared account that is missing or inactive).
Result<nlohmann::ordered_json> apply_change(Store& store, const nlohmann::json& change,
                                            const Actor& actor);

/// `ms` since the epoch as ISO-8601 UTC ("2026-11-24T08:00:00Z").
std::string utc_text(std::int64_t ms);

/// A record as labgatectl prints it with --json and the admin channel returns it.
nlohmann::ordered_json to_json(const Plan& p);
nlohmann::ordered_json to_json(const Member& m);
/// {"member_no", "name", "changes": [{"field", "from", "to"}...], "plan_from"}; absent is null.
nlohmann::ordered_json to_json(const MemberChange& c);
nlohmann::ordered_json to_json(const Credential& c);
nlohmann::ordered_json to_json(const CertificationType& t);
nlohmann::ordered_json to_json(const Certification& c);
nlohmann::ordered_json to_json(const Machine& m);
nlohmann::ordered_json to_json(const Inspection& i);
nlohmann::ordered_json to_json(const StaffAccount& s);
nlohmann::ordered_json to_json(const AccountEntry& e);
nlohmann::ordered_json to_json(const Account& a);
nlohmann::ordered_json to_json(const PriceItem& p);
nlohmann::ordered_json to_json(const Sale& s);
nlohmann::ordered_json to_json(const SessionReview& r);
nlohmann::ordered_json to_json(const Rate& r);
/// The new rate's record with "before": the rate it amended, or null.
nlohmann::ordered_json to_json(const RateChange& c);
/// The args of a rate.set / rate.replace change (absent terms are left out).
nlohmann::ordered_json to_json(const RateAmendment& r);
/// A booking: its times as UTC text and ms, its member and guests.
nlohmann::ordered_json to_json(const Booking& b);
/// A room's or locker's rate as the change op and `rates list --json` show it.
nlohmann::ordered_json to_json(const ResourceRate& r);
nlohmann::ordered_json to_json(const LockerLoan& l);
/// A locker with its open loan (null when free) and whether that loan is overdue.
nlohmann::ordered_json to_json(const LockerState& l);
/// A rate record back from to_json(Rate) (plan ids are not carried: 0). kInvalid if malformed.
Result<Rate> rate_from_json(const nlohmann::ordered_json& j);

}  // namespace labgate::gateway::store
