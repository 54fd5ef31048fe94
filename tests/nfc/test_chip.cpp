// Unit tests of the emulated PN532 command set (no pty, no libnfc).
#include <catch2/catch.hpp>

#include "labgate/drivers/pn532_emu/chip.hpp"

using namespace labgate::drivers::pn532_emu;
using Bytes = std::vector<std::uint8_t>;

namespace {

EmuCard card(const std::string& type, const std::string& uid,
             std::map<std::string, std::string> opts = {}) {
  std::string err;
  auto c = make_card(type, uid, opts, err);
  INFO(err);
  REQUIRE(c);
  return *c;
}

Bytes answer(Chip& chip, Bytes command, EmuClock::time_point now = EmuClock::now()) {
  ChipReply r = chip.on_command(command, now);
  REQUIRE(r.known);
  REQUIRE(r.data);
  return *r.data;
}

void field_on(Chip& chip, std::uint8_t retries) {
  answer(chip, {0x32, 0x01, 0x01});
  answer(chip, {0x32, 0x05, 0xFF, 0x01, retries});
}

}  // namespace

TEST_CASE("identity and housekeeping commands", "[chip]") {
  Chip chip;
  CHECK(answer(chip, {0x02}) == Bytes{0x03, 0x32, 0x01, 0x06, 0x07});
  CHECK(answer(chip, {0x00, 0x00, 'l', 'i', 'b'}) == Bytes{0x01, 0x00, 'l', 'i', 'b'});
  CHECK(answer(chip, {0x14, 0x01, 0x17, 0x00}) == Bytes{0x15});
  CHECK(answer(chip, {0x12, 0x14}) == Bytes{0x13});
  CHECK(answer(chip, {0x08, 0x63, 0x3D, 0x07, 0x63, 0x02, 0x00}) == Bytes{0x09});
  CHECK(answer(chip, {0x06, 0x63, 0x3D, 0x63, 0x02, 0x63, 0x03}) == Bytes{0x07, 0x07, 0x00, 0x80});
  CHECK(answer(chip, {0x16, 0xF0}) == Bytes{0x17, 0x00});
  CHECK(chip.powered_down());
  CHECK(answer(chip, {0x04}) == Bytes{0x05, 0x00, 0x00, 0x00, 0x00});
}

TEST_CASE("unknown or malformed commands get the syntax error", "[chip]") {
  Chip chip;
  CHECK_FALSE(chip.on_command(Bytes{0x7E}, EmuClock::now()).known);
  CHECK_FALSE(chip.on_command(Bytes{0x06, 0x63}, EmuClock::now()).known);
  CHECK_FALSE(chip.on_command(Bytes{0x4A, 0x05, 0x00}, EmuClock::now()).known);
  CHECK_FALSE(chip.on_command(Bytes{}, EmuClock::now()).known);
}

TEST_CASE("InListPassiveTarget reports each card type", "[chip]") {
  Chip chip;
  field_on(chip, 0x02);
  answer(chip, {0x12, 0x14});  // automatic RATS
  SECTION("classic, 4-byte UID") {
    chip.place(card("classic", "04a1b2c3"));
    CHECK(answer(chip, {0x4A, 0x01, 0x00}) ==
          Bytes{0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 0x04, 0xA1, 0xB2, 0xC3});
    CHECK(answer(chip, {0x4A, 0x01, 0x01, 0x00, 0xFF, 0xFF, 0x01, 0x00}) == Bytes{0x4B, 0x00});
  }
  SECTION("ultralight, 7-byte UID, selected by UID with cascade tag") {
    chip.place(card("ultralight", "04112233445566"));
    const Bytes expected{0x4B, 0x01, 0x01, 0x00, 0x44, 0x00, 0x07,
                         0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
    CHECK(answer(chip, {0x4A, 0x01, 0x00}) == expected);
    CHECK(answer(chip, {0x4A, 0x01, 0x00, 0x88, 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}) ==
          expected);
    CHECK(answer(chip, {0x4A, 0x01, 0x00, 0x88, 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x67}) ==
          Bytes{0x4B, 0x00});
  }
  SECTION("desfire with ATS") {
    chip.place(card("desfire", "04112233445566"));
    const Bytes r = answer(chip, {0x4A, 0x01, 0x00});
    REQUIRE(r.size() == 14 + 6);
    CHECK(r[3] == 0x03);
    CHECK(r[4] == 0x44);
    CHECK(r[5] == 0x20);
    CHECK(r[14] == 6);  // TL + 5 ATS bytes
  }
  SECTION("felica at 212 and 424 with system code") {
    chip.place(card("felica", "0102030405060708", {{"sys", "0003"}, {"baud", "424"}}));
    CHECK(answer(chip, {0x4A, 0x01, 0x01, 0x00, 0xFF, 0xFF, 0x01, 0x00}) == Bytes{0x4B, 0x00});
    const Bytes r = answer(chip, {0x4A, 0x01, 0x02, 0x00, 0xFF, 0xFF, 0x01, 0x00});
    REQUIRE(r.size() == 3 + 20);
    CHECK(r[3] == 0x14);
    CHECK(r[4] == 0x01);
    CHECK(Bytes(r.begin() + 5, r.begin() + 13) == Bytes{1, 2, 3, 4, 5, 6, 7, 8});
    CHECK(r[21] == 0x00);
    CHECK(r[22] == 0x03);
    CHECK(answer(chip, {0x4A, 0x01, 0x02, 0x00, 0x12, 0xFC, 0x01, 0x00}) == Bytes{0x4B, 0x00});
  }
}

TEST_CASE("without a card, infinite retries defer InListPassiveTarget", "[chip]") {
  Chip chip;
  field_on(chip, 0xFF);
  ChipReply r = chip.on_command(Bytes{0x4A, 0x01, 0x00}, EmuClock::now());
  CHECK(r.known);
  CHECK_FALSE(r.data);
  CHECK(chip.has_pending());
  CHECK_FALSE(chip.pending_deadline());
  SECTION("a card arriving answers it") {
    chip.place(card("classic", "01020304"));
    auto d = chip.poll(EmuClock::now());
    REQUIRE(d);
    CHECK((*d)[1] == 0x01);
  }
  SECTION("a host ACK aborts it") {
    chip.abort_pending();
    chip.place(card("classic", "01020304"));
    CHECK_FALSE(chip.poll(EmuClock::now()));
  }
  SECTION("the next command drops it") {
    CHECK(answer(chip, {0x02}).size() == 5);
    chip.place(card("classic", "01020304"));
    CHECK_FALSE(chip.poll(EmuClock::now()));
  }
}

TEST_CASE("InAutoPoll answers no target after its period", "[chip]") {
  Chip chip;
  field_on(chip, 0xFF);
  const auto t0 = EmuClock::now();
  // 2 polls x period 1 (150 ms) x 2 types = 600 ms.
  ChipReply r = chip.on_command(Bytes{0x60, 0x02, 0x01, 0x10, 0x11}, t0);
  CHECK_FALSE(r.data);
  REQUIRE(chip.pending_deadline());
  CHECK(*chip.pending_deadline() - t0 == std::chrono::milliseconds(600));
  CHECK_FALSE(chip.poll(t0 + std::chrono::milliseconds(599)));
  auto d = chip.poll(t0 + std::chrono::milliseconds(600));
  REQUIRE(d);
  CHECK(*d == Bytes{0x61, 0x00});
  SECTION("and reports a card of a polled type at once") {
    chip.place(card("felica", "0102030405060708"));
    auto d2 = answer(chip, {0x60, 0x01, 0x01, 0x10, 0x11});
    CHECK(d2[1] == 0x01);
    CHECK(d2[2] == 0x11);
    CHECK(d2[3] == 19);
  }
}

TEST_CASE("exchanges reach the card and time out once it left", "[chip]") {
  Chip chip;
  field_on(chip, 0x02);
  chip.place(card("ultralight", "04112233445566"));
  answer(chip, {0x4A, 0x01, 0x00});
  const Bytes page0 = answer(chip, {0x40, 0x01, 0x30, 0x00});
  CHECK(page0.size() == 18);
  CHECK(page0[1] == 0x00);
  CHECK(answer(chip, {0x00, 0x06}) == Bytes{0x01, 0x00});
  chip.remove();
  CHECK(answer(chip, {0x40, 0x01, 0x30, 0x00}) == Bytes{0x41, 0x01});
  CHECK(answer(chip, {0x42, 0x30, 0x00}) == Bytes{0x43, 0x01});
}

TEST_CASE("make_card validates its input", "[chip]") {
  std::string err;
  CHECK_FALSE(make_card("classic", "0102", {}, err));
  CHECK_FALSE(make_card("felica", "01020304", {}, err));
  CHECK_FALSE(make_card("floppy", "01020304", {}, err));
  CHECK_FALSE(make_card("classic", "zz020304", {}, err));
  CHECK_FALSE(make_card("classic", "01020304", {{"sak", "0102"}}, err));
  auto c = make_card("classic", "01020304", {{"sak", "09"}, {"atqa", "0004"}}, err);
  REQUIRE(c);
  CHECK(c->sak == 0x09);
}

TEST_CASE("a DESFire card answers through InDataExchange and can leave mid-exchange", "[chip]") {
  Chip chip;
  field_on(chip, 0x02);
  answer(chip, {0x12, 0x14});
  chip.place(card("desfire", "04112233445566"));
  answer(chip, {0x4A, 0x01, 0x00});
  // ISO-wrapped GetVersion: 7 bytes, then 91 AF.
  const Bytes v = answer(chip, {0x40, 0x01, 0x90, 0x60, 0x00, 0x00, 0x00});
  REQUIRE(v.size() == 2 + 7 + 2);
  CHECK(Bytes(v.end() - 2, v.end()) == Bytes{0x91, 0xAF});
  chip.leave_after(1u);
  CHECK(answer(chip, {0x40, 0x01, 0x90, 0xAF, 0x00, 0x00, 0x00}).back() == 0xAF);
  CHECK(answer(chip, {0x40, 0x01, 0x90, 0xAF, 0x00, 0x00, 0x00}) == Bytes{0x41, 0x01});
  CHECK_FALSE(chip.card());
}

TEST_CASE("a random-ID DESFire card shows a new 08 ID after the field was off", "[chip]") {
  Chip chip;
  field_on(chip, 0x02);
  chip.place(card("desfire", "04112233445566", {{"random_uid", "1"}}));
  const Bytes first = answer(chip, {0x4A, 0x01, 0x00});
  REQUIRE(first.size() >= 11);
  CHECK(first[6] == 4);     // NFCID1 length
  CHECK(first[7] == 0x08);  // random ID
  // Selecting by the shown ID works while the field stays on (libfreefare's connect).
  const Bytes by_id(first.begin() + 7, first.begin() + 11);
  Bytes select{0x4A, 0x01, 0x00};
  select.insert(select.end(), by_id.begin(), by_id.end());
  CHECK(answer(chip, select)[1] == 0x01);
  answer(chip, {0x32, 0x01, 0x00});
  answer(chip, {0x32, 0x01, 0x01});
  const Bytes second = answer(chip, {0x4A, 0x01, 0x00});
  CHECK(Bytes(second.begin() + 7, second.begin() + 11) != by_id);  // 2^-24 false failure
  std::string err;
  CHECK_FALSE(make_card("desfire", "04112233445566", {{"random_uid", "yes"}}, err));
  CHECK_FALSE(make_card("desfire", "04112233445566", {{"picc", "3des"}}, err));
  CHECK_FALSE(make_card("classic", "01020304", {{"clone", "1"}}, err));
}
