#include "labgate/gateway/policy/reason.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string>

using namespace labgate::gateway::policy;

TEST_CASE("reason codes are stable, unique and round-trip") {
  CHECK(to_string(Reason::kGranted) == "granted");
  CHECK(to_string(Reason::kOutsidePlanHours) == "outside_plan_hours");
  CHECK(to_string(Reason::kMachineNotReady) == "machine_not_ready");
  CHECK(to_string(Reason::kInsufficientCredit) == "insufficient_credit");
  std::set<std::string> codes;
  for (auto r : kAllReasons) {
    const std::string code{to_string(r)};
    INFO(code);
    CHECK(codes.insert(code).second);
    CHECK(parse_reason(code) == r);
    for (char c : code) CHECK(((c >= 'a' && c <= 'z') || c == '_'));
    CHECK_FALSE(describe(r).empty());
    CHECK(describe(r).size() <= 32);
  }
  CHECK(codes.size() == 27);
  CHECK(to_string(Reason::kCardNotAuthenticated) == "card_not_authenticated");
  CHECK_FALSE(parse_reason("Granted"));
  CHECK_FALSE(parse_reason(""));
}
