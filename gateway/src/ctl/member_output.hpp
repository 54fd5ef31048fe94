#pragma once
// How labgatectl shows a member change (members edit, members import --update).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace labgate::gateway::ctl {

/// One line per changed field of a change record (store::to_json(MemberChange)),
/// "<indent>plan: FULL -> PART (from 2026-11-15)", each ending in a newline; stored text is shown
/// with its control characters escaped.
std::string change_text(const nlohmann::ordered_json& change, std::string_view indent);

}  // namespace labgate::gateway::ctl
