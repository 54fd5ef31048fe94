#pragma once
// The staff roles and what each may do (docs/CONSOLE.md), apart from the HTTP types so that the
// page frame can link only what the account may open.

#include <string_view>

namespace labgate::gateway::console {

/// What a staff role may do. Each route names one; see role_may().
enum class Permission { kView, kMembers, kCertifications, kMachines, kManager, kAdmin };
/// The server-side role check: desk (members), trainer (certifications), staff (both, machines,
/// doors), manager (+ reports), admin (+ users).
bool role_may(std::string_view role, Permission permission);

}  // namespace labgate::gateway::console
