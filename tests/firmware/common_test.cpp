#include "labgate/firmware/common.hpp"

#include <catch2/catch.hpp>
#include <cstring>

namespace fw = labgate::firmware;

TEST_CASE("FixedVector stores up to its capacity and reports overflow", "[firmware][common]") {
  fw::FixedVector<int, 2> v;
  CHECK(v.empty());
  CHECK(v.push_back(1));
  CHECK(v.push_back(2));
  CHECK_FALSE(v.overflowed());
  CHECK_FALSE(v.push_back(3));
  CHECK(v.overflowed());
  REQUIRE(v.size() == 2);
  CHECK(v[0] == 1);
  CHECK(v[1] == 2);
  int sum = 0;
  for (int x : v) sum += x;
  CHECK(sum == 3);

  fw::FixedVector<int, 2> w;
  w.push_back(1);
  w.push_back(2);
  CHECK_FALSE(v == w);  // the overflow flag is part of the value
  v.clear();
  w.clear();
  CHECK(v == w);
  CHECK(fw::FixedVector<int, 2>::capacity() == 2);
}

TEST_CASE("common enums have stable names", "[firmware][common]") {
  CHECK(std::strcmp(fw::to_string(fw::InputResult::kAccepted), "accepted") == 0);
  CHECK(std::strcmp(fw::to_string(fw::InputResult::kIgnored), "ignored") == 0);
  CHECK(std::strcmp(fw::to_string(fw::InputResult::kMachineInUse), "machine_in_use") == 0);
  CHECK(std::strcmp(fw::to_string(fw::InputResult::kUnavailable), "unavailable") == 0);
  CHECK(std::strcmp(fw::to_string(fw::Indicator::kIdle), "idle") == 0);
  CHECK(std::strcmp(fw::to_string(fw::Indicator::kActive), "active") == 0);
  CHECK(std::strcmp(fw::to_string(fw::Indicator::kWarning), "warning") == 0);
  CHECK(std::strcmp(fw::to_string(fw::Indicator::kAlarm), "alarm") == 0);
  CHECK(std::strcmp(fw::to_string(fw::Indicator::kFault), "fault") == 0);
  CHECK(std::strcmp(fw::to_string(fw::Indicator::kUnavailable), "unavailable") == 0);
  CHECK(std::strcmp(fw::to_string(fw::Feedback::kNone), "none") == 0);
  CHECK(std::strcmp(fw::to_string(fw::Feedback::kGranted), "granted") == 0);
  CHECK(std::strcmp(fw::to_string(fw::Feedback::kDenied), "denied") == 0);
  CHECK(std::strcmp(fw::to_string(static_cast<fw::InputResult>(99)), "unknown") == 0);
  CHECK(std::strcmp(fw::to_string(static_cast<fw::Indicator>(99)), "unknown") == 0);
  CHECK(std::strcmp(fw::to_string(static_cast<fw::Feedback>(99)), "unknown") == 0);
}
