// The reader contract against NfcReader: real libnfc talking to a pn532-emu process over a pty,
// cards placed and removed through the emulator's control socket.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "contracts.hpp"
#include "emulated_reader.hpp"
#include "labgate/drivers/nfc/nfc_reader.hpp"
#include "process.hpp"

namespace {

using labgate::drivers::Card;
using labgate::drivers::CardTechnology;
using labgate::drivers::Reader;
using labgate::drivers::nfc::NfcReader;
using labgate::drivers::nfc::NfcReaderConfig;
using namespace std::chrono_literals;

std::string hex(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  char buf[3];
  for (auto b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

NfcReaderConfig reader_config(const std::string& id, const labgate::testing::EmulatedReader& emu) {
  NfcReaderConfig c;
  c.id = id;
  c.connstring = emu.connstring();
  c.backoff_initial = 100ms;
  c.backoff_max = 800ms;
  return c;
}

class NfcReaderRig {
 public:
  // The daemon's bounds are 50 ms to report a card and 250 ms a removal; a loaded 2-core
  // machine gets room.
  static constexpr std::chrono::milliseconds kWait{3000};
  static constexpr int kRaceEvents = 6;

  explicit NfcReaderRig(const std::string& id)
      : emu_(PN532_EMU_PATH, dir_.path(), "contract"), reader_(reader_config(id, emu_)) {}
  ~NfcReaderRig() { reader_.stop(); }

  Reader& reader() { return reader_; }
  static Card card(int n) {
    return Card{CardTechnology::kIso14443aUid, {0x04, 0x00, 0x00, static_cast<std::uint8_t>(n)}};
  }
  void present(const Card& c) {
    const auto reply =
        emu_.cmd("place " + labgate::testing::emulator_card("iso14443a", hex(c.identifier)));
    if (reply.rfind("ok", 0) != 0) throw std::runtime_error("place: " + reply);
    in_field_ = true;
  }
  void remove() {
    emu_.cmd("remove");
    in_field_ = false;
  }
  // The card goes on or comes off. A change the reader never polled (too quick) is no event, so
  // each step waits a little, as a hand would.
  void stimulate() {
    if (in_field_) {
      remove();
    } else {
      present(card(1));
    }
    std::this_thread::sleep_for(60ms);
  }

 private:
  labgate::testing::TempDir dir_{"labgate-nfc-contract"};
  labgate::testing::EmulatedReader emu_;
  NfcReader reader_;
  std::atomic<bool> in_field_{false};
};

}  // namespace

TEMPLATE_TEST_CASE("Reader contract, NfcReader on pn532-emu", "[contract]", NfcReaderRig) {
  labgate::testing::check_reader_contract<TestType>();
}
