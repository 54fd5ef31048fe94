// libfreefare 0.4.0 through real libnfc against a pn532-emu process on a pty: a DESFire EV1 card
// personalised and read end to end exactly as a site tool would, and the attacks and faults the
// gateway has to survive (wrong key, UID clone, corrupted CMAC, card pulled mid-exchange).
#include <freefare.h>
#include <nfc/nfc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "emulated_reader.hpp"
#include "process.hpp"

using labgate::testing::EmulatedReader;
using labgate::testing::TempDir;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::uint32_t kAid = 0x5A4C47;
const std::string kUid = "04a1b2c3d4e5f6";
std::uint8_t kZero[16] = {};
std::uint8_t kKey0[16] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                          0x98, 0xA9, 0xBA, 0xCB, 0xDC, 0xED, 0xFE, 0x0F};
std::uint8_t kKey1[16] = {0xA0, 0xB1, 0xC2, 0xD3, 0xE4, 0xF5, 0x06, 0x17,
                          0x28, 0x39, 0x4A, 0x5B, 0x6C, 0x7D, 0x8E, 0x9F};

struct Key {
  explicit Key(std::uint8_t* value, std::uint8_t version = 0)
      : k(mifare_desfire_aes_key_new_with_version(value, version)) {}
  ~Key() { mifare_desfire_key_free(k); }
  MifareDESFireKey k;
};

struct Aid {
  Aid() : a(mifare_desfire_aid_new(kAid)) {}
  ~Aid() { std::free(a); }
  MifareDESFireAID a;
};

// One libnfc session on the emulator with the DESFire tag libfreefare found, connected.
struct Session {
  explicit Session(const std::string& connstring) {
    nfc_init(&ctx);
    REQUIRE(ctx);
    dev = nfc_open(ctx, connstring.c_str());
    REQUIRE(dev);
    tags = freefare_get_tags(dev);
    REQUIRE(tags);
    for (int i = 0; tags[i]; ++i) {
      if (freefare_get_tag_type(tags[i]) == DESFIRE) tag = tags[i];
    }
    REQUIRE(tag);
    REQUIRE(mifare_desfire_connect(tag) == 0);
  }
  ~Session() {
    if (tag) mifare_desfire_disconnect(tag);
    if (tags) freefare_free_tags(tags);
    if (dev) nfc_close(dev);
    nfc_exit(ctx);
  }
  std::string uid() {
    char* u = freefare_get_tag_uid(tag);
    std::string s(u);
    std::free(u);
    return s;
  }
  int select() {
    Aid aid;
    return mifare_desfire_select_application(tag, aid.a);
  }
  int auth(std::uint8_t key_no, std::uint8_t* value) {
    Key key(value);
    return mifare_desfire_authenticate_aes(tag, key_no, key.k);
  }
  nfc_context* ctx{nullptr};
  nfc_device* dev{nullptr};
  MifareTag* tags{nullptr};
  MifareTag tag{nullptr};
};

Bytes pattern(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 13);
  return b;
}

// Issues a card the way a site would: an AES application with two diversified-style keys, an
// enciphered file (100 bytes, several frames) and a MACed file (40 bytes).
void personalise(Session& s) {
  Aid aid;
  REQUIRE(mifare_desfire_create_application_aes(s.tag, aid.a, 0x0B, 2) == 0);
  REQUIRE(s.select() == 0);
  REQUIRE(s.auth(0, kZero) == 0);
  {
    Key k1(kKey1, 0x11), zero(kZero);
    REQUIRE(mifare_desfire_change_key(s.tag, 1, k1.k, zero.k) == 0);
  }
  {
    Key k0(kKey0, 0x10), zero(kZero);
    REQUIRE(mifare_desfire_change_key(s.tag, 0, k0.k, zero.k) == 0);
  }
  REQUIRE(s.auth(0, kKey0) == 0);
  // Read: key 1; write: key 0; read&write: never; change: key 0.
  const std::uint16_t rights = MDAR(MDAR_KEY1, MDAR_KEY0, MDAR_DENY, MDAR_KEY0);
  REQUIRE(mifare_desfire_create_std_data_file(s.tag, 1, MDCM_ENCIPHERED, rights, 128) == 0);
  REQUIRE(mifare_desfire_create_std_data_file(s.tag, 2, MDCM_MACED, rights, 64) == 0);
  Bytes enc = pattern(100, 1);
  Bytes mac = pattern(40, 7);
  REQUIRE(mifare_desfire_write_data_ex(s.tag, 1, 0, enc.size(), enc.data(), MDCM_ENCIPHERED) ==
          100);
  REQUIRE(mifare_desfire_write_data_ex(s.tag, 2, 8, mac.size(), mac.data(), MDCM_MACED) == 40);
}

// A pn532-emu process in its own directory with a factory-fresh card placed.
struct Rig {
  explicit Rig(const std::string& name, const std::string& options = "")
      : dir("labgate-desfire"), emu(PN532_EMU_PATH, dir.path(), name) {
    REQUIRE(emu.cmd("place desfire " + kUid + options) == "ok placed");
  }
  TempDir dir;
  EmulatedReader emu;
};

// Selects the application and authenticates with the read key, as a door reader would.
void open_for_reading(Session& s) {
  REQUIRE(s.select() == 0);
  REQUIRE(s.auth(1, kKey1) == 0);
}

}  // namespace

TEST_CASE("libfreefare personalises a card and reads it back after a new tap", "[freefare]") {
  Rig rig("a");
  EmulatedReader& emu = rig.emu;
  {
    Session s(emu.connstring());
    CHECK(s.uid() == kUid);
    mifare_desfire_version_info version{};
    REQUIRE(mifare_desfire_get_version(s.tag, &version) == 0);
    CHECK(version.hardware.vendor_id == 0x04);
    CHECK(version.software.version_major == 0x01);
    personalise(s);
    std::uint8_t v = 0;
    REQUIRE(mifare_desfire_get_key_version(s.tag, 1, &v) == 0);
    CHECK(v == 0x11);
    char* uid = nullptr;
    REQUIRE(mifare_desfire_get_card_uid(s.tag, &uid) == 0);
    CHECK(std::string(uid) == kUid);
    std::free(uid);
    std::uint8_t* files = nullptr;
    std::size_t count = 0;
    REQUIRE(mifare_desfire_get_file_ids(s.tag, &files, &count) == 0);
    CHECK(Bytes(files, files + count) == Bytes{1, 2});
    std::free(files);
  }
  REQUIRE(emu.cmd("remove") == "ok removed");
  REQUIRE(emu.cmd("place desfire " + kUid) == "ok placed remembered");
  Session s(emu.connstring());
  REQUIRE(s.select() == 0);
  SECTION("the read key reads both files, enciphered and MACed") {
    REQUIRE(s.auth(1, kKey1) == 0);
    std::uint8_t buf[256] = {};
    REQUIRE(mifare_desfire_read_data_ex(s.tag, 1, 0, 100, buf, MDCM_ENCIPHERED) == 100);
    CHECK(Bytes(buf, buf + 100) == pattern(100, 1));
    REQUIRE(mifare_desfire_read_data_ex(s.tag, 2, 8, 40, buf, MDCM_MACED) == 40);
    CHECK(Bytes(buf, buf + 40) == pattern(40, 7));
    std::uint8_t v = 0;
    REQUIRE(mifare_desfire_get_key_version(s.tag, 0, &v) == 0);
    CHECK(v == 0x10);
  }
  SECTION("the change key moves the read right; the read key then loses it") {
    REQUIRE(s.auth(0, kKey0) == 0);
    const std::uint16_t rights = MDAR(MDAR_KEY0, MDAR_KEY0, MDAR_DENY, MDAR_KEY0);
    REQUIRE(mifare_desfire_change_file_settings(s.tag, 1, MDCM_ENCIPHERED, rights) == 0);
    mifare_desfire_file_settings fs{};
    REQUIRE(mifare_desfire_get_file_settings(s.tag, 1, &fs) == 0);
    CHECK(fs.access_rights == rights);
    CHECK(fs.settings.standard_file.file_size == 128);
    std::uint8_t buf[256] = {};
    CHECK(mifare_desfire_read_data_ex(s.tag, 1, 0, 100, buf, MDCM_ENCIPHERED) == 100);
    REQUIRE(s.select() == 0);
    REQUIRE(s.auth(1, kKey1) == 0);
    CHECK(mifare_desfire_read_data_ex(s.tag, 1, 0, 100, buf, MDCM_ENCIPHERED) < 0);
    CHECK(mifare_desfire_last_picc_error(s.tag) == 0xAE);
    // The error ended the session on the card; libfreefare 0.4.0 abort()s if it is used on, so
    // authenticate again first.
    REQUIRE(s.select() == 0);
    REQUIRE(s.auth(1, kKey1) == 0);
    CHECK(mifare_desfire_change_file_settings(s.tag, 2, MDCM_PLAIN, 0xEEEE) < 0);  // not key 0
    CHECK(mifare_desfire_last_picc_error(s.tag) == 0xAE);
  }
  SECTION("the write key may not read") {
    REQUIRE(s.auth(0, kKey0) == 0);
    std::uint8_t buf[256] = {};
    CHECK(mifare_desfire_read_data_ex(s.tag, 1, 0, 16, buf, MDCM_ENCIPHERED) < 0);
    CHECK(mifare_desfire_last_picc_error(s.tag) == 0xAE);
  }
  SECTION("a wrong key fails authentication") {
    CHECK(s.auth(1, kZero) < 0);
    CHECK(mifare_desfire_last_picc_error(s.tag) == 0xAE);
    REQUIRE(s.select() == 0);
    CHECK(s.auth(1, kKey0) < 0);
  }
}

TEST_CASE("a UID clone has none of the keys", "[freefare]") {
  Rig rig("b");
  EmulatedReader& emu = rig.emu;
  {
    Session s(emu.connstring());
    personalise(s);
  }
  REQUIRE(emu.cmd("place desfire " + kUid + " clone=1") == "ok placed clone");
  {
    Session s(emu.connstring());
    CHECK(s.uid() == kUid);  // indistinguishable by UID...
    CHECK(s.select() < 0);   // ...but the application and its keys are not there
    CHECK(mifare_desfire_last_picc_error(s.tag) == 0xA0);
  }
  // The clone even carrying a look-alike application still lacks the keys.
  {
    Session s(emu.connstring());
    Aid aid;
    REQUIRE(mifare_desfire_create_application_aes(s.tag, aid.a, 0x0B, 2) == 0);
    REQUIRE(s.select() == 0);
    CHECK(s.auth(1, kKey1) < 0);
  }
  // The genuine card is still remembered.
  REQUIRE(emu.cmd("place desfire " + kUid) == "ok placed remembered");
  Session s(emu.connstring());
  open_for_reading(s);
}

TEST_CASE("faults: corrupted CMAC, card pulled mid-exchange, slow card", "[freefare]") {
  Rig rig("d");
  EmulatedReader& emu = rig.emu;
  Session s(emu.connstring());
  personalise(s);
  open_for_reading(s);

  SECTION("libfreefare detects a corrupted answer CMAC") {
    std::uint8_t v = 0;
    REQUIRE(mifare_desfire_get_key_version(s.tag, 1, &v) == 0);  // MACs verify
    REQUIRE(emu.cmd("fault badmac") == "ok fault badmac");
    CHECK(mifare_desfire_get_key_version(s.tag, 1, &v) < 0);
    CHECK(errno == EINVAL);  // libfreefare's answer to a CMAC that does not verify
    std::uint8_t buf[256] = {};
    open_for_reading(s);
    REQUIRE(emu.cmd("fault badmac") == "ok fault badmac");
    CHECK(mifare_desfire_read_data_ex(s.tag, 2, 8, 40, buf, MDCM_MACED) < 0);
  }

  SECTION("slow answers still verify") {
    REQUIRE(emu.cmd("fault slow 150") == "ok fault slow 150");
    std::uint8_t buf[256] = {};
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(mifare_desfire_read_data_ex(s.tag, 1, 0, 100, buf, MDCM_ENCIPHERED) == 100);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    CHECK(ms >= 300);  // two frames, each 150 ms late
    CHECK(Bytes(buf, buf + 100) == pattern(100, 1));
    REQUIRE(emu.cmd("fault none") == "ok fault none");
  }
  SECTION("removed after the first frame of a long read") {
    REQUIRE(emu.cmd("fault leave 1") == "ok fault leave 1");
    std::uint8_t buf[256] = {};
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(mifare_desfire_read_data_ex(s.tag, 1, 0, 100, buf, MDCM_ENCIPHERED) < 0);
    CHECK(errno == EIO);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
    CHECK(emu.cmd("status").find("card=none") != std::string::npos);
    // The card comes back, as the same card, and works.
    REQUIRE(emu.cmd("place desfire " + kUid) == "ok placed remembered");
    Session again(emu.connstring());
    open_for_reading(again);
    REQUIRE(mifare_desfire_read_data_ex(again.tag, 1, 0, 100, buf, MDCM_ENCIPHERED) == 100);
    CHECK(Bytes(buf, buf + 100) == pattern(100, 1));
  }
}

TEST_CASE("a random-ID card shows its real UID only after authentication", "[freefare]") {
  Rig rig("e", " random_uid=1");
  Session s(rig.emu.connstring());
  const std::string shown = s.uid();
  CHECK(shown.size() == 8);
  CHECK(shown.rfind("08", 0) == 0);
  personalise(s);
  char* uid = nullptr;
  REQUIRE(mifare_desfire_get_card_uid(s.tag, &uid) == 0);
  CHECK(std::string(uid) == kUid);
  std::free(uid);
}

TEST_CASE("mifare-desfire-info from libfreefare-bin reads the emulated card", "[freefare]") {
  Rig rig("f");
  const auto info =
      labgate::testing::run_command({"/usr/bin/mifare-desfire-info"}, std::chrono::seconds(20),
                                    {{"LIBNFC_DEFAULT_DEVICE", rig.emu.connstring()}});
  INFO(info.out << info.err);
  CHECK(info.exit_code == 0);
  CHECK(info.out.find("Version information for tag " + kUid) != std::string::npos);
  CHECK(info.out.find("Storage size:         0x18 (=4096 bytes)") != std::string::npos);
  CHECK(info.out.find("Master Key settings (0x0f)") != std::string::npos);
  CHECK(info.out.find("Use random UID: no") != std::string::npos);
}

TEST_CASE("the factory DES PICC key: legacy authentication, FormatPICC, then an AES PICC key",
          "[freefare]") {
  Rig rig("g");
  {
    Session s(rig.emu.connstring());
    Aid aid;
    REQUIRE(mifare_desfire_create_application_aes(s.tag, aid.a, 0x0B, 2) == 0);
    std::uint8_t zero8[8] = {};
    MifareDESFireKey des = mifare_desfire_des_key_new(zero8);
    REQUIRE(mifare_desfire_authenticate(s.tag, 0, des) == 0);  // legacy 0x0A
    REQUIRE(mifare_desfire_format_picc(s.tag) == 0);
    MifareDESFireAID* aids = nullptr;
    std::size_t count = 99;
    REQUIRE(mifare_desfire_get_application_ids(s.tag, &aids, &count) == 0);
    CHECK(count == 0);
    mifare_desfire_free_application_ids(aids);
    REQUIRE(mifare_desfire_authenticate(s.tag, 0, des) == 0);
    {
      Key aes(kKey0, 0x42);
      REQUIRE(mifare_desfire_change_key(s.tag, 0, aes.k, des) == 0);
    }
    CHECK(mifare_desfire_authenticate(s.tag, 0, des) < 0);  // the DES key is gone
    mifare_desfire_key_free(des);
    REQUIRE(s.auth(0, kKey0) == 0);
    std::uint8_t v = 0;
    REQUIRE(mifare_desfire_get_key_version(s.tag, 0, &v) == 0);
    CHECK(v == 0x42);
    REQUIRE(mifare_desfire_change_key_settings(s.tag, 0x09) == 0);
    std::uint8_t settings = 0, keys = 0;
    REQUIRE(mifare_desfire_get_key_settings(s.tag, &settings, &keys) == 0);
    CHECK(settings == 0x09);
    CHECK(keys == 1);
    REQUIRE(mifare_desfire_set_configuration(s.tag, false, true) == 0);
  }
  // Random ID from the next power-up on; the real UID needs the key.
  REQUIRE(rig.emu.cmd("remove") == "ok removed");
  REQUIRE(rig.emu.cmd("place desfire " + kUid) == "ok placed remembered");
  Session s(rig.emu.connstring());
  CHECK(s.uid().rfind("08", 0) == 0);
  Aid aid;
  CHECK(mifare_desfire_create_application_aes(s.tag, aid.a, 0x0B, 2) < 0);  // 0x09: key needed
  CHECK(mifare_desfire_last_picc_error(s.tag) == 0xAE);
  REQUIRE(s.auth(0, kKey0) == 0);
  char* uid = nullptr;
  REQUIRE(mifare_desfire_get_card_uid(s.tag, &uid) == 0);
  CHECK(std::string(uid) == kUid);
  std::free(uid);
}

// A finding for the gateway: libfreefare 0.4.0 calls abort() ("No room for CMAC!") when an
// answer that must carry a CMAC comes short. Any card can send that, so whatever process runs
// libfreefare against untrusted cards can be killed by one tap. This pins the behaviour down (in
// a forked child) so the gateway side can guard against it.
TEST_CASE("libfreefare 0.4.0 aborts on an answer without its CMAC", "[freefare]") {
  Rig rig("h");
  {
    Session s(rig.emu.connstring());
    personalise(s);
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);  // not Catch's handler: the parent judges how the child died
    nfc_context* ctx = nullptr;
    nfc_init(&ctx);
    nfc_device* dev = ctx ? nfc_open(ctx, rig.emu.connstring().c_str()) : nullptr;
    MifareTag* tags = dev ? freefare_get_tags(dev) : nullptr;
    if (!tags || !tags[0] || mifare_desfire_connect(tags[0]) < 0) ::_exit(10);
    Aid aid;
    Key k1(kKey1);
    if (mifare_desfire_select_application(tags[0], aid.a) < 0) ::_exit(11);
    if (mifare_desfire_authenticate_aes(tags[0], 1, k1.k) < 0) ::_exit(12);
    if (rig.emu.cmd("fault nomac") != "ok fault nomac") ::_exit(13);
    std::uint8_t v = 0;
    (void)mifare_desfire_get_key_version(tags[0], 1, &v);
    ::_exit(0);  // not reached with libfreefare 0.4.0
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO("child status " << status);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}

// A second finding for the gateway: libfreefare 0.4.0's ReadData copies every byte the card
// sends, in as many 0xAF frames as it likes, into the caller's buffer, whatever length was asked
// for. A plain read needs no key, so any card can overflow a buffer sized for the request.
TEST_CASE("libfreefare 0.4.0 ReadData writes past the requested length", "[freefare]") {
  Rig rig("i");
  Session s(rig.emu.connstring());
  Aid aid;
  REQUIRE(mifare_desfire_create_application_aes(s.tag, aid.a, 0x0F, 1) == 0);
  REQUIRE(s.select() == 0);
  const std::uint16_t free_read = MDAR(MDAR_FREE, MDAR_FREE, MDAR_FREE, MDAR_FREE);
  REQUIRE(mifare_desfire_create_std_data_file(s.tag, 3, MDCM_PLAIN, free_read, 7) == 0);
  REQUIRE(rig.emu.cmd("fault longread 300") == "ok fault longread 300");
  std::vector<std::uint8_t> buf(4096, 0x00);
  const ssize_t got = mifare_desfire_read_data_ex(s.tag, 3, 0, 7, buf.data(), MDCM_PLAIN);
  CHECK(got == 7 + 300);  // asked for 7
  CHECK(buf[7 + 299] == 0xA5);
}
