// Interface contracts run against every backend that can be constructed here.

#include "contracts.hpp"
#include "labgate/drivers/sim/sim_devices.hpp"

namespace {

using namespace labgate::drivers;
using namespace labgate::drivers::sim;

struct SimOutputMaker {
  static std::unique_ptr<SimOutput> make(const std::string& id) {
    return std::make_unique<SimOutput>(id);
  }
  static bool level(const SimOutput& o) { return o.level(); }
};

struct SimReaderMaker {
  static std::unique_ptr<SimReader> make(const std::string& id) {
    return std::make_unique<SimReader>(id);
  }
  static void stimulate(SimReader& r) {
    r.present(Card{CardTechnology::kIso14443aUid, {0x04, 0xa1, 0xb2, 0xc3}});
  }
};

struct SimInputMaker {
  static std::unique_ptr<SimInput> make(const std::string& id, bool initial) {
    return std::make_unique<SimInput>(id, InputKind::kDoorContact, initial);
  }
  static void drive(SimInput& in, bool active) { in.set(active); }
};

}  // namespace

// GpioOutput joins this list where a GPIO chip exists; on machines without one its failure path
// is covered in test_gpio.cpp.
TEMPLATE_TEST_CASE("Output contract", "[sim][contract]", SimOutputMaker) {
  labgate::drivers::test::check_output_contract<TestType>();
}

TEMPLATE_TEST_CASE("Reader contract", "[sim][contract]", SimReaderMaker) {
  labgate::drivers::test::check_reader_contract<TestType>();
}

TEMPLATE_TEST_CASE("Input contract", "[sim][contract]", SimInputMaker) {
  labgate::drivers::test::check_input_contract<TestType>();
}
