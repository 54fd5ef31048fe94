#pragma once
// The seeded store: the plans, certification types and members most tests start from, written
// through the store API (as labgatectl would), so a test states only what it is about.

#include <cstdint>
#include <string>
#include <vector>

#include "labgate/gateway/store/store.hpp"

namespace labgate::testing {

/// Plan "all": every hour, holidays and closures allowed.
void seed_plan_all(gateway::store::Store& store);

/// A certification type `code` ("Laser" for "laser"), valid for `validity_days`.
void seed_certification_type(gateway::store::Store& store, const std::string& code,
                             int validity_days = 730);

/// One member as the seeds write them.
struct SeedMember {
  std::string member_no;                    ///< "M1"
  std::string plan;                         ///< plan code
  std::vector<std::uint8_t> card;           ///< iso14443a UID
  std::vector<std::string> certifications;  ///< type codes, granted by "Trainer"
  std::string certified_on{"2026-06-01"};   ///< date of those certifications
};

/// Adds, approves and enrolls the member ("Member <no>", actor "test") and grants its
/// certifications. Throws std::runtime_error when the store refuses a step.
void seed_member(gateway::store::Store& store, const SeedMember& member);

}  // namespace labgate::testing
