#include "labgate/gateway/app/credit.hpp"

#include <date/tz.h>
#include <spdlog/spdlog.h>

#include "labgate/gateway/billing/statements.hpp"

namespace labgate::gateway::app {

Site::CreditCheck make_credit_check(store::Store& store, std::string time_zone,
                                    billing::TaxPolicy tax) {
  const date::time_zone* tz = nullptr;
  try {
    tz = date::locate_zone(time_zone);
  } catch (const std::exception& e) {
    spdlog::error("credit check: unknown time zone {}: {}", time_zone, e.what());
  }
  return [&store, tz, tax = std::move(tax)](std::int64_t member_id, const std::string& machine_id,
                                            std::int64_t at_ms) -> bool {
    // Money is not safety: a billing read that fails is logged and does not refuse the member
    // (a store that is really down has already put the site in its fail mode).
    auto rate = store.ledger().current_rate(store::SessionKind::kMachine, machine_id, at_ms);
    if (!rate.ok()) {
      spdlog::warn("credit check on {}: rate lookup failed: {}", machine_id, rate.error().message);
      return true;
    }
    if (!rate.value()) return true;
    const auto& r = *rate.value();
    const std::int64_t required = r.minimum_charge > 0 ? r.minimum_charge : r.price_per_unit;
    if (required <= 0) return true;
    auto standing = store.ledger().account_standing(member_id);
    if (!standing.ok()) {
      spdlog::warn("credit check: account lookup failed: {}", standing.error().message);
      return true;
    }
    std::int64_t unbilled = 0;
    if (tz != nullptr) {
      auto owed = billing::unbilled_total(store.database(), member_id, at_ms, tz, tax);
      if (owed.ok()) {
        unbilled = owed.value();
      } else {
        spdlog::warn("credit check: unbilled total failed: {}", owed.error().message);
      }
    }
    const std::int64_t available =
        standing.value().balance + standing.value().credit_limit - unbilled;
    if (available >= required) return true;
    spdlog::info("credit check on {}: available {} yen < {} yen required", machine_id, available,
                 required);
    return false;
  };
}

}  // namespace labgate::gateway::app
