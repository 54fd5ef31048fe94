// Stock libnfc 1.8 against the emulated PN532 over a real pty: what nfc-list would see.
#include <nfc/nfc.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "support.hpp"

using namespace nfc_test;
using Bytes = std::vector<std::uint8_t>;

namespace {

struct Libnfc {
  explicit Libnfc(const std::string& connstring) {
    nfc_init(&ctx);
    REQUIRE(ctx);
    dev = nfc_open(ctx, connstring.c_str());
    REQUIRE(dev);
    REQUIRE(nfc_initiator_init(dev) == 0);
  }
  ~Libnfc() {
    if (dev) nfc_close(dev);
    nfc_exit(ctx);
  }
  std::vector<nfc_target> list(nfc_modulation nm) {
    nfc_target targets[4];
    std::memset(targets, 0, sizeof targets);
    int n = nfc_initiator_list_passive_targets(dev, nm, targets, 4);
    REQUIRE(n >= 0);
    return {targets, targets + n};
  }
  nfc_context* ctx{nullptr};
  nfc_device* dev{nullptr};
};

const nfc_modulation kTypeA{NMT_ISO14443A, NBR_106};
const nfc_modulation kFelica212{NMT_FELICA, NBR_212};
const nfc_modulation kFelica424{NMT_FELICA, NBR_424};

}  // namespace

TEST_CASE("libnfc opens the emulator and reads its firmware", "[libnfc]") {
  EmuFixture f("open");
  Libnfc nfc(f.emu.connstring());
  CHECK(std::string(nfc_device_get_name(nfc.dev)).find("pn532_uart") != std::string::npos);
  char* info = nullptr;
  REQUIRE(nfc_device_get_information_about(nfc.dev, &info) >= 0);
  CHECK(std::string(info).find("PN532 v1.6") != std::string::npos);
  nfc_free(info);
  CHECK(nfc.list(kTypeA).empty());
  CHECK(nfc.list(kFelica212).empty());
}

TEST_CASE("libnfc lists each emulated card type", "[libnfc]") {
  EmuFixture f("list");
  Libnfc nfc(f.emu.connstring());

  SECTION("MIFARE Classic, 4-byte UID") {
    REQUIRE(f.run("place classic 04a1b2c3").rfind("ok", 0) == 0);
    auto t = nfc.list(kTypeA);
    REQUIRE(t.size() == 1);
    CHECK(Bytes(t[0].nti.nai.abtUid, t[0].nti.nai.abtUid + t[0].nti.nai.szUidLen) ==
          Bytes{0x04, 0xA1, 0xB2, 0xC3});
    CHECK(t[0].nti.nai.btSak == 0x08);
    CHECK(t[0].nti.nai.abtAtqa[1] == 0x04);
    CHECK(nfc.list(kFelica212).empty());
  }
  SECTION("Ultralight, 7-byte UID") {
    REQUIRE(f.run("place ultralight 04112233445566").rfind("ok", 0) == 0);
    auto t = nfc.list(kTypeA);
    REQUIRE(t.size() == 1);
    // nfc_target is packed: copy size_t fields out before Catch binds references to them.
    const std::size_t uid_len = t[0].nti.nai.szUidLen;
    CHECK(uid_len == 7);
    CHECK(t[0].nti.nai.btSak == 0x00);
    CHECK(t[0].nti.nai.abtAtqa[1] == 0x44);
    // The card answers a READ through InDataExchange.
    REQUIRE(nfc_initiator_select_passive_target(nfc.dev, kTypeA, nullptr, 0, nullptr) == 1);
    std::uint8_t rx[16];
    const std::uint8_t read0[] = {0x30, 0x00};
    CHECK(nfc_initiator_transceive_bytes(nfc.dev, read0, 2, rx, sizeof rx, 500) == 16);
    CHECK(rx[0] == 0x04);
  }
  SECTION("DESFire with ATS") {
    REQUIRE(f.run("place desfire 04c0ffee123456").rfind("ok", 0) == 0);
    auto t = nfc.list(kTypeA);
    REQUIRE(t.size() == 1);
    CHECK(t[0].nti.nai.btSak == 0x20);
    CHECK(t[0].nti.nai.abtAtqa[0] == 0x03);
    CHECK(t[0].nti.nai.abtAtqa[1] == 0x44);
    const std::size_t ats_len = t[0].nti.nai.szAtsLen;
    CHECK(ats_len == 5);
  }
  SECTION("FeliCa at 212 and 424 kbps") {
    REQUIRE(f.run("place felica 012e4cd3f1a2b3c4 sys=0003").rfind("ok", 0) == 0);
    for (auto nm : {kFelica212, kFelica424}) {
      auto t = nfc.list(nm);
      REQUIRE(t.size() == 1);
      CHECK(Bytes(t[0].nti.nfi.abtId, t[0].nti.nfi.abtId + 8) ==
            Bytes{0x01, 0x2E, 0x4C, 0xD3, 0xF1, 0xA2, 0xB3, 0xC4});
      CHECK(t[0].nti.nfi.abtSysCode[1] == 0x03);
    }
    CHECK(nfc.list(kTypeA).empty());
  }
  SECTION("FeliCa at 212 kbps only") {
    REQUIRE(f.run("place felica 0102030405060708 baud=212").rfind("ok", 0) == 0);
    CHECK(nfc.list(kFelica212).size() == 1);
    CHECK(nfc.list(kFelica424).empty());
  }
}

TEST_CASE("libnfc sees a removed card as released", "[libnfc]") {
  EmuFixture f("present");
  Libnfc nfc(f.emu.connstring());
  REQUIRE(nfc_device_set_property_bool(nfc.dev, NP_INFINITE_SELECT, false) == 0);
  for (const char* place : {"place classic 04a1b2c3", "place ultralight 04112233445566",
                            "place desfire 04c0ffee123456", "place felica 0102030405060708"}) {
    INFO(place);
    REQUIRE(f.run(place).rfind("ok", 0) == 0);
    const bool felica = std::strstr(place, "felica") != nullptr;
    nfc_target t{};
    REQUIRE(nfc_initiator_select_passive_target(nfc.dev, felica ? kFelica212 : kTypeA, nullptr, 0,
                                                &t) == 1);
    CHECK(nfc_initiator_target_is_present(nfc.dev, &t) == NFC_SUCCESS);
    f.run("remove");
    CHECK(nfc_initiator_target_is_present(nfc.dev, &t) == NFC_ETGRELEASED);
    nfc_initiator_deselect_target(nfc.dev);
  }
}

TEST_CASE("nfc_initiator_poll_target uses InAutoPoll", "[libnfc]") {
  EmuFixture f("autopoll");
  Libnfc nfc(f.emu.connstring());
  const nfc_modulation mods[] = {kTypeA, kFelica212};
  nfc_target t{};
  const auto t0 = Clock::now();
  // 1 poll x period 1 (150 ms) x 3 types (ISO14443-4A, MIFARE, FeliCa): no target after ~450 ms.
  CHECK(nfc_initiator_poll_target(nfc.dev, mods, 2, 1, 1, &t) == 0);
  CHECK(ms_between(t0, Clock::now()) >= 400);
  f.run("place felica 0102030405060708");
  CHECK(nfc_initiator_poll_target(nfc.dev, mods, 2, 1, 1, &t) == 1);
  const nfc_modulation_type nmt = t.nm.nmt;  // packed struct: copy before binding a reference
  CHECK(nmt == NMT_FELICA);
  CHECK(t.nti.nfi.abtId[7] == 0x08);
}
