// The libgpiod backend on a machine without GPIO: opening fails cleanly and safely.

#include <catch2/catch.hpp>

#include "labgate/drivers/gpio/gpio.hpp"
#include "support.hpp"

using namespace labgate::drivers;
using namespace labgate::drivers::gpio;

TEST_CASE("GpioOutput on a missing chip reports kFatal with a clear error", "[gpio]") {
  GpioOutput out("relay1", LineSpec{"labgate-no-such-chip", 3, false, "labgate-test"});
  CHECK(out.id() == "relay1");
  CHECK_FALSE(out.ok());
  CHECK(out.error().find("cannot open gpio chip 'labgate-no-such-chip'") != std::string::npos);
  CHECK_FALSE(out.commanded());
  CHECK(out.set(true) == IoResult::kFatal);
  CHECK(out.commanded());  // the command is recorded even though it could not take effect
  CHECK(out.set(false) == IoResult::kFatal);
}

TEST_CASE("GpioInput on a missing chip never calls back and stops cleanly", "[gpio]") {
  GpioInput in("contact", LineSpec{"labgate-no-such-chip", 0, true, "labgate-test"});
  CHECK(in.id() == "contact");
  CHECK_FALSE(in.ok());
  CHECK(in.error().find("cannot open gpio chip") != std::string::npos);
  labgate::drivers::test::Recorder<InputEvent> rec;
  in.start(rec.sink());
  in.stop();
  in.stop();
  CHECK(rec.size() == 0);
}
