// The emulated DESFire EV1 card driven with raw APDUs by a reader written from the EV1 rules
// (AES authentication, CMAC chaining, enciphered frames), independent of the card's code.
#include "labgate/drivers/pn532_emu/desfire_card.hpp"

#include <catch2/catch.hpp>
#include <random>

#include "labgate/drivers/desfire/crypto.hpp"

using labgate::drivers::pn532_emu::DesfireCard;
namespace df = labgate::drivers::desfire;
using Bytes = std::vector<std::uint8_t>;

namespace {

const Bytes kUid{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};

struct Reply {
  Bytes data;
  std::uint8_t status{0xFF};
};

Bytes rol(const Bytes& b) {
  Bytes out(b.begin() + 1, b.end());
  out.push_back(b[0]);
  return out;
}

df::AesBlock block(const Bytes& b, std::size_t at = 0) {
  df::AesBlock out{};
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), 16, out.begin());
  return out;
}

void put_crc(Bytes& out, const Bytes& covered) {
  const std::uint32_t crc = df::desfire_crc32(covered);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(crc >> (8 * i)));
}

// A PCD speaking ISO-wrapped native commands, with the EV1 AES session on its side.
struct Reader {
  DesfireCard& card;
  std::optional<df::AesKey> session;
  df::AesBlock iv{};

  Reply raw(const Bytes& native) {
    Bytes apdu{0x90, native[0], 0x00, 0x00};
    if (native.size() > 1) {
      apdu.push_back(static_cast<std::uint8_t>(native.size() - 1));
      apdu.insert(apdu.end(), native.begin() + 1, native.end());
    }
    apdu.push_back(0x00);
    Bytes r = card.transceive(apdu);
    REQUIRE(r.size() >= 2);
    REQUIRE(r[r.size() - 2] == 0x91);
    return {Bytes(r.begin(), r.end() - 2), r.back()};
  }

  // Sends a plain command of the session (CMAC kept, not sent) and checks the answer's CMAC.
  Reply plain(const Bytes& native, bool expect_mac = true) {
    if (session) iv = df::desfire_cmac(*session, iv, native);
    Reply r = raw(native);
    while (r.status == 0xAF) {
      Reply more = raw({0xAF});
      r.data.insert(r.data.end(), more.data.begin(), more.data.end());
      r.status = more.status;
    }
    if (session && expect_mac && r.status == 0x00) {
      REQUIRE(r.data.size() >= 8);
      Bytes m(r.data.begin(), r.data.end() - 8);
      const Bytes mac(r.data.end() - 8, r.data.end());
      m.push_back(0x00);
      iv = df::desfire_cmac(*session, iv, m);
      const auto want = df::desfire_truncate_mac(iv);
      if (!std::equal(want.begin(), want.end(), mac.begin())) r.status = 0xFE;  // reader: bad MAC
      r.data.resize(r.data.size() - 8);
    }
    return r;
  }

  bool authenticate(std::uint8_t key_no, const df::AesKey& key) {
    session.reset();
    Reply r1 = raw({0xAA, key_no});
    if (r1.status != 0xAF) return false;
    REQUIRE(r1.data.size() == 16);
    const Bytes rnd_b = df::aes128_cbc_decrypt(key, df::AesBlock{}, r1.data);
    const Bytes rnd_a = df::random_bytes(16);
    Bytes token = rnd_a;
    const Bytes rb = rol(rnd_b);
    token.insert(token.end(), rb.begin(), rb.end());
    const Bytes ct = df::aes128_cbc_encrypt(key, block(r1.data), token);
    Bytes cmd{0xAF};
    cmd.insert(cmd.end(), ct.begin(), ct.end());
    Reply r2 = raw(cmd);
    if (r2.status != 0x00) return false;
    REQUIRE(r2.data.size() == 16);
    CHECK(df::aes128_cbc_decrypt(key, block(ct, 16), r2.data) == rol(rnd_a));
    session = df::AesKey{rnd_a[0],  rnd_a[1],  rnd_a[2],  rnd_a[3],  rnd_b[0],  rnd_b[1],
                         rnd_b[2],  rnd_b[3],  rnd_a[12], rnd_a[13], rnd_a[14], rnd_a[15],
                         rnd_b[12], rnd_b[13], rnd_b[14], rnd_b[15]};
    iv = {};
    return true;
  }

  // Enciphers `secured` (data after the header) with CRC32 over the whole command and padding.
  Bytes encipher(const Bytes& header, Bytes secured, bool crc = true) {
    if (crc) {
      Bytes covered = header;
      covered.insert(covered.end(), secured.begin(), secured.end());
      put_crc(secured, covered);
    }
    while (secured.size() % 16) secured.push_back(0x00);
    const Bytes ct = df::aes128_cbc_encrypt(*session, iv, secured);
    iv = block(ct, ct.size() - 16);
    Bytes cmd = header;
    cmd.insert(cmd.end(), ct.begin(), ct.end());
    return cmd;
  }

  // Sends a command in frames of at most 55 native bytes, as libfreefare does.
  Reply chained(const Bytes& cmd) {
    Reply r = raw(Bytes(cmd.begin(), cmd.begin() + std::min<std::ptrdiff_t>(55, cmd.size())));
    for (std::size_t at = 55; r.status == 0xAF && at < cmd.size(); at += 54) {
      Bytes next{0xAF};
      next.insert(next.end(), cmd.begin() + static_cast<std::ptrdiff_t>(at),
                  cmd.begin() + static_cast<std::ptrdiff_t>(std::min(cmd.size(), at + 54)));
      r = raw(next);
    }
    return r;
  }

  bool check_answer_mac(Reply& r) {
    REQUIRE(r.data.size() == 8);
    Bytes m{0x00};
    iv = df::desfire_cmac(*session, iv, m);
    const auto want = df::desfire_truncate_mac(iv);
    return std::equal(want.begin(), want.end(), r.data.begin());
  }

  // Reads an enciphered answer: decrypt, then find data || CRC32(data || 00) || zero padding.
  std::optional<Bytes> decipher(const Bytes& ct, std::size_t length) {
    const Bytes pt = df::aes128_cbc_decrypt(*session, iv, ct);
    iv = block(ct, ct.size() - 16);
    Bytes data(pt.begin(), pt.begin() + static_cast<std::ptrdiff_t>(length));
    Bytes covered = data;
    covered.push_back(0x00);
    Bytes want = data;
    put_crc(want, covered);
    if (!std::equal(want.begin(), want.end(), pt.begin())) return std::nullopt;
    return data;
  }
};

const df::AesKey kZero{};
const df::AesKey kAppKey{0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                         0x98, 0xA9, 0xBA, 0xCB, 0xDC, 0xED, 0xFE, 0x0F};

// Creates AES application 0x112233 with 2 keys and selects it.
void make_app(Reader& r) {
  REQUIRE(r.plain({0xCA, 0x33, 0x22, 0x11, 0x0F, 0x82}).status == 0x00);
  REQUIRE(r.raw({0x5A, 0x33, 0x22, 0x11}).status == 0x00);
}

}  // namespace

TEST_CASE("a factory card answers GetVersion, directory and key settings", "[desfire-card]") {
  DesfireCard card(kUid, false, false);
  Reader r{card, {}, {}};
  Reply v = r.plain({0x60});
  CHECK(v.status == 0x00);
  REQUIRE(v.data.size() == 28);
  CHECK(Bytes(v.data.begin() + 14, v.data.begin() + 21) == kUid);
  // Native framing: status first.
  CHECK(card.transceive(Bytes{0x60}).front() == 0xAF);
  CHECK(r.plain({0x6A}).data.empty());
  CHECK(r.plain({0x45}).data == Bytes{0x0F, 0x01});
  CHECK(r.raw({0x64, 0x00}).data == Bytes{0x00});
}

TEST_CASE("AES authentication, CMAC chaining and ChangeKey", "[desfire-card]") {
  DesfireCard card(kUid, false, false);
  Reader r{card, {}, {}};
  make_app(r);
  CHECK_FALSE(r.authenticate(0, kAppKey));  // still the zero key
  REQUIRE(r.raw({0x5A, 0x33, 0x22, 0x11}).status == 0x00);
  REQUIRE(r.authenticate(0, kZero));
  Reply ks = r.plain({0x45});
  CHECK(ks.status == 0x00);
  CHECK(ks.data == Bytes{0x0F, 0x82});

  SECTION("change key 1 with key 0: both CRCs, XOR with the old key") {
    Bytes secured(kAppKey.begin(), kAppKey.end());
    secured.push_back(0x2A);  // key version
    Bytes covered{0xC4, 0x01};
    covered.insert(covered.end(), secured.begin(), secured.end());
    put_crc(secured, covered);
    put_crc(secured, Bytes(kAppKey.begin(), kAppKey.end()));
    Reply c = r.chained(r.encipher({0xC4, 0x01}, secured, false));
    REQUIRE(c.status == 0x00);
    CHECK(r.check_answer_mac(c));
    Reply kv = r.plain({0x64, 0x01});
    CHECK(kv.status == 0x00);
    CHECK(kv.data == Bytes{0x2A});
    CHECK(r.authenticate(1, kAppKey));
  }
  SECTION("change the authenticated key: the session ends, the new key works") {
    Bytes secured(kAppKey.begin(), kAppKey.end());
    secured.push_back(0x07);
    Bytes covered{0xC4, 0x00};
    covered.insert(covered.end(), secured.begin(), secured.end());
    put_crc(secured, covered);
    Reply c = r.chained(r.encipher({0xC4, 0x00}, secured, false));
    REQUIRE(c.status == 0x00);
    CHECK(c.data.empty());  // no CMAC: the session is gone
    CHECK_FALSE(r.authenticate(0, kZero));
    REQUIRE(r.raw({0x5A, 0x33, 0x22, 0x11}).status == 0x00);
    CHECK(r.authenticate(0, kAppKey));
    CHECK(r.plain({0x64, 0x00}).data == Bytes{0x07});
  }
  SECTION("a corrupted ChangeKey CRC is an integrity error") {
    Bytes secured(kAppKey.begin(), kAppKey.end());
    secured.push_back(0x07);
    put_crc(secured, Bytes{0x01, 0x02});
    CHECK(r.chained(r.encipher({0xC4, 0x00}, secured, false)).status == 0x1E);
  }
  SECTION("a corrupted answer CMAC is caught by the reader") {
    card.corrupt_next_mac();
    CHECK(r.plain({0x64, 0x00}).status == 0xFE);
  }
  SECTION("a left-out answer CMAC: the answer is short by 8 bytes, the card stays in step") {
    card.corrupt_next_mac(DesfireCard::MacFault::kMissing);
    CHECK(r.raw({0x64, 0x00}).data == Bytes{0x00});
    REQUIRE(r.authenticate(0, kZero));
    CHECK(r.plain({0x64, 0x00}).status == 0x00);
  }
}

TEST_CASE("standard data files in plain, MACed and enciphered communication", "[desfire-card]") {
  DesfireCard card(kUid, false, false);
  Reader r{card, {}, {}};
  make_app(r);
  REQUIRE(r.authenticate(0, kZero));
  // File 1 enciphered, file 2 MACed, file 3 plain; read key 1, write key 0, rw 0, change 0.
  for (std::uint8_t file : {1, 2, 3}) {
    const std::uint8_t comm = file == 1 ? 0x03 : file == 2 ? 0x01 : 0x00;
    REQUIRE(r.plain({0xCD, file, comm, 0x00, 0x10, 100, 0x00, 0x00}).status == 0x00);
  }
  CHECK(r.plain({0x6F}).data == Bytes{1, 2, 3});
  CHECK(r.plain({0xF5, 0x01}).data == Bytes{0x00, 0x03, 0x00, 0x10, 100, 0x00, 0x00});
  Bytes data(80);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 1);
  const Bytes header{0x3D, 0x01, 0x05, 0x00, 0x00, 80, 0x00, 0x00};

  SECTION("enciphered write over several frames, enciphered read back") {
    Reply w = r.chained(r.encipher(header, data));
    REQUIRE(w.status == 0x00);
    CHECK(r.check_answer_mac(w));
    const Bytes read{0xBD, 0x01, 0x05, 0x00, 0x00, 80, 0x00, 0x00};
    r.iv = df::desfire_cmac(*r.session, r.iv, read);
    Reply rd = r.raw(read);
    Bytes ct = rd.data;
    while (rd.status == 0xAF) {
      rd = r.raw({0xAF});
      ct.insert(ct.end(), rd.data.begin(), rd.data.end());
    }
    REQUIRE(rd.status == 0x00);
    CHECK(ct.size() == 96);
    CHECK(r.decipher(ct, 80) == data);
  }
  SECTION("MACed write: a wrong MAC is an integrity error, a right one is stored") {
    Bytes cmd = header;
    cmd[1] = 0x02;
    cmd.insert(cmd.end(), data.begin(), data.end());
    Bytes bad = cmd;
    const auto mac = df::desfire_truncate_mac(df::desfire_cmac(*r.session, r.iv, cmd));
    bad.insert(bad.end(), mac.begin(), mac.end());
    bad.back() ^= 1;
    CHECK(r.chained(bad).status == 0x1E);
    REQUIRE(r.raw({0x5A, 0x33, 0x22, 0x11}).status == 0x00);
    REQUIRE(r.authenticate(0, kZero));
    const df::AesBlock cm = df::desfire_cmac(*r.session, r.iv, cmd);
    r.iv = cm;
    const auto good = df::desfire_truncate_mac(cm);
    cmd.insert(cmd.end(), good.begin(), good.end());
    Reply w = r.chained(cmd);
    REQUIRE(w.status == 0x00);
    CHECK(r.check_answer_mac(w));
    Reply rd = r.plain({0xBD, 0x02, 0x05, 0x00, 0x00, 80, 0x00, 0x00});
    CHECK(rd.status == 0x00);
    CHECK(rd.data == data);
  }
  SECTION("status codes") {
    CHECK(r.plain({0xBD, 0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}).status == 0xF0);
    REQUIRE(r.authenticate(0, kZero));
    CHECK(r.plain({0xBD, 0x03, 0x60, 0x00, 0x00, 0x10, 0x00, 0x00}).status == 0xBE);
    REQUIRE(r.authenticate(0, kZero));
    CHECK(r.plain({0xBD, 0x03, 0x00}).status == 0x7E);
    CHECK(r.raw({0xAA, 0x05}).status == 0x40);
    CHECK(r.raw({0x5A, 0x01, 0x02, 0x03}).status == 0xA0);
    CHECK(r.raw({0x0B}).status == 0x1C);
    // Read key is 1: key 0 may not read file 3 (but read&write is 0, so it may).
    REQUIRE(r.raw({0x5A, 0x33, 0x22, 0x11}).status == 0x00);
    CHECK(r.plain({0xBD, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00}, false).status == 0xAE);
  }
}

TEST_CASE("GetCardUID and the random ID", "[desfire-card]") {
  DesfireCard card(kUid, true, false);
  const Bytes first = card.anticollision_uid();
  CHECK(first.size() == 4);
  CHECK(first[0] == 0x08);
  card.power_up();
  CHECK(card.anticollision_uid() != first);  // 2^-24 chance of a false failure
  Reader r{card, {}, {}};
  CHECK(r.raw({0x51}).status == 0xAE);
  make_app(r);
  REQUIRE(r.authenticate(0, kZero));
  r.iv = df::desfire_cmac(*r.session, r.iv, Bytes{0x51});
  Reply u = r.raw({0x51});
  REQUIRE(u.status == 0x00);
  REQUIRE(u.data.size() == 16);
  CHECK(r.decipher(u.data, 7) == kUid);
  const Bytes version = r.plain({0x60}).data;
  REQUIRE(version.size() == 28);
  CHECK(Bytes(version.begin() + 14, version.begin() + 21) == Bytes(7, 0x00));
}

TEST_CASE("legacy DES authentication formats the PICC and makes its key AES", "[desfire-card]") {
  DesfireCard card(kUid, false, false);
  Reader r{card, {}, {}};
  make_app(r);
  REQUIRE(r.raw({0x5A, 0x00, 0x00, 0x00}).status == 0x00);
  CHECK(r.raw({0xAA, 0x00}).status == 0xAE);  // the factory PICC key is DES
  const df::TdesKey zero{};
  Reply r1 = r.raw({0x0A, 0x00});
  REQUIRE(r1.status == 0xAF);
  REQUIRE(r1.data.size() == 8);
  // Legacy: the reader applies the DES decryption to everything it handles.
  const Bytes rnd_b = df::tdes_cbc_decrypt(zero, df::DesBlock{}, r1.data);
  const Bytes rnd_a = df::random_bytes(8);
  const Bytes d1 = df::tdes_cbc_decrypt(zero, df::DesBlock{}, rnd_a);
  Bytes x = rol(rnd_b);
  for (int i = 0; i < 8; ++i) x[i] ^= d1[i];
  const Bytes d2 = df::tdes_cbc_decrypt(zero, df::DesBlock{}, x);
  Bytes cmd{0xAF};
  cmd.insert(cmd.end(), d1.begin(), d1.end());
  cmd.insert(cmd.end(), d2.begin(), d2.end());
  Reply r2 = r.raw(cmd);
  REQUIRE(r2.status == 0x00);
  CHECK(df::tdes_cbc_decrypt(zero, df::DesBlock{}, r2.data) == rol(rnd_a));
  CHECK(r.raw({0xFC}).status == 0x00);  // FormatPICC, no MAC in a legacy session
  CHECK(card.application_ids().empty());
}

TEST_CASE("hostile frames get a status and never break the card", "[desfire-card]") {
  DesfireCard card(kUid, false, false);
  Reader r{card, {}, {}};
  make_app(r);
  REQUIRE(r.plain({0xCD, 0x01, 0x03, 0x00, 0x00, 0x20, 0x00, 0x00}).status == 0x00);
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> len(0, 70), byte(0, 255);
  const std::uint8_t codes[] = {0x60, 0x5A, 0xAA, 0x0A, 0x45, 0x54, 0x64, 0xC4, 0xCA, 0xDA, 0xFC,
                                0x6A, 0x6E, 0x6F, 0xF5, 0xCD, 0xDF, 0xBD, 0x3D, 0x51, 0xAF, 0x90};
  for (int i = 0; i < 20000; ++i) {
    Bytes f(static_cast<std::size_t>(len(rng)));
    for (auto& b : f) b = static_cast<std::uint8_t>(byte(rng));
    if (!f.empty() && i % 2) f[0] = codes[static_cast<std::size_t>(byte(rng)) % sizeof codes];
    if (i % 50 == 0) {
      r.raw({0x5A, 0x33, 0x22, 0x11});
      r.authenticate(0, kZero);  // so that authenticated paths get hostile input too
    }
    const Bytes answer = card.transceive(f);
    CHECK_FALSE(answer.empty());
  }
  // Still a working card afterwards.
  REQUIRE(r.raw({0x5A, 0x33, 0x22, 0x11}).status == 0x00);
  CHECK(r.authenticate(0, kZero));
}

// pn532-emu --cards: a card left by one emulator is the same card at the next one.
TEST_CASE("a card's saved state brings back its keys, files and random ID", "[desfire-card]") {
  DesfireCard card(kUid, true, false);
  Reader r{card, {}, {}};
  make_app(r);
  REQUIRE(r.authenticate(0, kZero));
  REQUIRE(r.plain({0xCD, 0x02, 0x01, 0x00, 0x10, 8, 0x00, 0x00}).status == 0x00);
  Bytes cmd{0x3D, 0x02, 0x00, 0x00, 0x00, 4, 0x00, 0x00, 0xCA, 0xFE, 0xBA, 0xBE};
  const df::AesBlock cm = df::desfire_cmac(*r.session, r.iv, cmd);
  r.iv = cm;
  const auto mac = df::desfire_truncate_mac(cm);
  cmd.insert(cmd.end(), mac.begin(), mac.end());
  REQUIRE(r.chained(cmd).status == 0x00);

  auto copy = DesfireCard::load(card.save());
  REQUIRE(copy);
  CHECK(copy->uid() == kUid);
  CHECK(copy->random_uid());
  CHECK(copy->application_ids() == card.application_ids());
  CHECK(copy->save() == card.save());
  Reader r2{*copy, {}, {}};
  REQUIRE(r2.raw({0x5A, 0x33, 0x22, 0x11}).status == 0x00);
  REQUIRE(r2.authenticate(0, kZero));
  Reply rd = r2.plain({0xBD, 0x02, 0x00, 0x00, 0x00, 4, 0x00, 0x00});
  CHECK(rd.status == 0x00);
  CHECK(rd.data == Bytes{0xCA, 0xFE, 0xBA, 0xBE});
  // The copy holds the real keys, not a card that accepts anything.
  REQUIRE(r2.raw({0x5A, 0x33, 0x22, 0x11}).status == 0x00);
  df::AesKey wrong{};
  wrong[0] = 1;
  CHECK_FALSE(r2.authenticate(0, wrong));

  for (const std::string bad :
       {"", "card 04112233 0 0\napp 0 15 des 1\n", "card 04112233445566 0 0\n",
        "card 04112233445566 0 0\napp 5 15 des 1\n", "card 04112233445566 0 0\napp 0 15 rsa 1\n",
        "card 04112233445566 0 0\napp 0 15 des 1\nkey 00 0\n",
        "card 04112233445566 0 0\napp 0 15 des 1\nkey 00000000000000000000000000000000 0\n"
        "file 1 0 65535 abc\n",
        "card 04112233445566 0 0\nbogus\n"}) {
    INFO(bad);
    CHECK_FALSE(DesfireCard::load(bad));
  }
}
