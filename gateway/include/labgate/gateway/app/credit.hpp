#pragma once
// Billing's part of a machine tap: does the member's money cover the machine's minimum charge?

#include <string>

#include "labgate/gateway/app/site.hpp"
#include "labgate/gateway/billing/tax.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::app {

/// The credit check the daemon installs on its Site: available = balance + credit limit - what
/// the member owes for months not yet invoiced; a machine starts only when that covers its
/// current rate's minimum charge (one unit's price when it has none). A machine with no rate,
/// or a free one, always starts. What is owed includes tax as `tax` says. `store` must outlive
/// the check.
Site::CreditCheck make_credit_check(store::Store& store, std::string time_zone,
                                    billing::TaxPolicy tax = {});

}  // namespace labgate::gateway::app
