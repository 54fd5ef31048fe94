// Interface contracts run against the simulated devices. The real backends run the same
// contracts where their boundary is: NfcReader in tests/nfc, SmartPlugOutput in tests/mqtt.

#include "contracts.hpp"
#include "labgate/drivers/sim/sim_devices.hpp"

namespace {

using namespace labgate::drivers;
using namespace labgate::drivers::sim;

class SimOutputRig {
 public:
  explicit SimOutputRig(const std::string& id) : out_(id) {}
  Output& output() { return out_; }
  bool level() const { return out_.level(); }
  bool settle(bool on) { return out_.set(on) == IoResult::kDone; }

 private:
  SimOutput out_;
};

class SimReaderRig {
 public:
  static constexpr std::chrono::milliseconds kWait{3000};
  static constexpr int kRaceEvents = 50;

  explicit SimReaderRig(const std::string& id) : reader_(id) {}
  Reader& reader() { return reader_; }
  static Card card(int n) {
    return Card{CardTechnology::kIso14443aUid, {0x04, 0xa1, 0xb2, static_cast<std::uint8_t>(n)}};
  }
  void present(const Card& c) { (void)reader_.present(c); }
  void remove() { (void)reader_.remove(); }
  // Another presentation: the card in the field leaves first, so each call makes two events.
  void stimulate() { (void)reader_.present(card(1)); }

 private:
  SimReader reader_;
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
TEMPLATE_TEST_CASE("Output contract", "[sim][contract]", SimOutputRig) {
  labgate::testing::check_output_contract<TestType>();
}

TEMPLATE_TEST_CASE("Reader contract", "[sim][contract]", SimReaderRig) {
  labgate::testing::check_reader_contract<TestType>();
}

TEMPLATE_TEST_CASE("Input contract", "[sim][contract]", SimInputMaker) {
  labgate::testing::check_input_contract<TestType>();
}
