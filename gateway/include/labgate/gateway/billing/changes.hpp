#pragma once
// The staff changes the billing layer adds to the store's (store/changes.hpp): issuing a month's
// statements. labgatectl and the daemon's admin channel both apply changes through here, so a
// manager who is not the daemon's user issues statements through the daemon like any other
// change, and the audit row records the kernel's uid.

#include <nlohmann/json.hpp>
#include <string>

#include "labgate/gateway/billing/statements.hpp"
#include "labgate/gateway/store/changes.hpp"

namespace labgate::gateway::billing {

/// {"month", "issued": [{statement_id, member_no, total, sha256}], "already_issued", "no_usage",
/// "refused": [{member_no, reason}]}.
nlohmann::ordered_json to_json(const IssueReport& report, const std::string& month);

/// Applies one change by `actor`: "statements.issue" ({"month", "member_no"?}) here, answered
/// with to_json(IssueReport) plus "audit_checkpoint" (the sealed head after the issue, or null);
/// every other op by store::apply_change. Statements are billed with `tax` (config [billing]).
st::Result<nlohmann::ordered_json> apply_change(st::Store& store, const nlohmann::json& change,
                                                const st::Actor& actor,
                                                const TaxPolicy& tax = TaxPolicy{});

}  // namespace labgate::gateway::billing
