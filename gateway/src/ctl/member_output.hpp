#pragma once
// How labgatectl shows a member change (members edit, members import --update).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "labgate/gateway/store/member_registry.hpp"

namespace labgate::gateway::ctl {

/// {"member_no", "changes": [{"field", "from", "to"}...], "plan_from"}; absent values are null.
nlohmann::ordered_json change_json(const labgate::gateway::store::MemberChange& change);
/// One line per changed field, "<indent>plan: FULL -> PART (from 2026-11-15)", each ending in a
/// newline; stored text is shown with its control characters escaped.
std::string change_text(const labgate::gateway::store::MemberChange& change,
                        std::string_view indent);

}  // namespace labgate::gateway::ctl
