#pragma once
// The staff roles and what each may do (docs/CONSOLE.md), apart from the HTTP types so that the
// page frame can link only what the account may open.

#include "labgate/gateway/store/context.hpp"

namespace labgate::gateway::console {

/// What a staff role may do; each route names one. The one matrix (store::role_may), shared
/// with the admin channel's changes, so a role refused here is refused there too.
using store::Permission;
using store::role_may;

}  // namespace labgate::gateway::console
