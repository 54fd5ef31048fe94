// The site key file: round trip, refusal of readable or foreign files, no overwrite on init,
// and errors that never quote a key.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "labgate/gateway/keys/key_file.hpp"
#include "process.hpp"

namespace fs = std::filesystem;
using namespace labgate::gateway::keys;
using labgate::testing::TempDir;

namespace {

KeyFile two_versions() {
  KeyFile f;
  f.versions.push_back(generate_version(1, "2026-01-05"));
  f.versions.back().accept_until = "2027-03-31";
  f.versions.push_back(generate_version(2, "2026-12-06"));
  return f;
}

}  // namespace

TEST_CASE("key file round trip keeps every version, key and date", "[keyfile]") {
  TempDir dir;
  const auto path = dir.path() / "desfire.keys";
  const KeyFile f = two_versions();
  REQUIRE_FALSE(save_key_file(path, f, true));
  CHECK((fs::status(path).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  auto loaded = load_key_file(path);
  REQUIRE(loaded);
  REQUIRE(loaded->versions.size() == 2);
  CHECK(loaded->current().keys.number == 2);
  CHECK(loaded->find(1)->accept_until == "2027-03-31");
  CHECK(loaded->find(1)->keys.read == f.versions[0].keys.read);
  CHECK(loaded->find(2)->keys.app_master == f.versions[1].keys.app_master);
  CHECK(loaded->find(2)->keys.credential_mac == f.versions[1].keys.credential_mac);
  CHECK(loaded->find(3) == nullptr);
  CHECK_FALSE(loaded->picc_master);  // a file without one (written before it existed) loads
}

TEST_CASE("the PICC master key round-trips and a malformed one is refused unquoted", "[keyfile]") {
  KeyFile f = two_versions();
  f.picc_master = generate_picc_master();
  auto back = parse_key_file(render_key_file(f));
  REQUIRE(back);
  REQUIRE(back->picc_master);
  CHECK(*back->picc_master == *f.picc_master);
  CHECK(back->site_keys({}).picc_master == f.picc_master);
  auto bad = parse_key_file(
      "format = 1\npicc_master = \"0011223344556677\"\n" +
      render_key_file(two_versions()).substr(render_key_file(two_versions()).find("[[versions]]")));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("picc_master") != std::string::npos);
  CHECK(bad.error().find("0011223344556677") == std::string::npos);
}

TEST_CASE("generated keys are fresh and distinct", "[keyfile]") {
  const auto a = generate_version(1, "");
  const auto b = generate_version(1, "");
  CHECK(a.keys.read != b.keys.read);
  CHECK(a.keys.read != a.keys.app_master);
  CHECK(a.keys.credential_mac != a.keys.read);
}

TEST_CASE("keys init never overwrites an existing key file", "[keyfile]") {
  TempDir dir;
  const auto path = dir.path() / "desfire.keys";
  REQUIRE_FALSE(save_key_file(path, two_versions(), true));
  const auto before = load_key_file(path);
  REQUIRE(before);
  auto err = save_key_file(path, two_versions(), true);
  REQUIRE(err);
  CHECK(err->find("already exists") != std::string::npos);
  CHECK(load_key_file(path)->find(2)->keys.read == before->find(2)->keys.read);
}

TEST_CASE("a key file readable by group or others is refused", "[keyfile]") {
  TempDir dir;
  const auto path = dir.path() / "desfire.keys";
  REQUIRE_FALSE(save_key_file(path, two_versions(), true));
  ::chmod(path.c_str(), 0644);
  auto r = load_key_file(path);
  REQUIRE_FALSE(r);
  CHECK(r.error().find("mode 0644") != std::string::npos);
  ::chmod(path.c_str(), 0640);
  CHECK_FALSE(load_key_file(path));
  ::chmod(path.c_str(), 0600);
  CHECK(load_key_file(path));
}

TEST_CASE("a missing key file says how to create one", "[keyfile]") {
  TempDir dir;
  auto r = load_key_file(dir.path() / "none.keys");
  REQUIRE_FALSE(r);
  CHECK(r.error().find("labgatectl keys init") != std::string::npos);
}

TEST_CASE("key file errors name the fault and never quote a key", "[keyfile]") {
  const std::string secret = "00112233445566778899aabbccddeeXX";
  const std::string text = "format = 1\n[[versions]]\nnumber = 1\napp_master = \"" + secret +
                           "\"\nread = \"00112233445566778899aabbccddeeff\"\n"
                           "credential_mac = \"00112233445566778899aabbccddeeff\"\n";
  auto r = parse_key_file(text);
  REQUIRE_FALSE(r);
  CHECK(r.error().find("app_master") != std::string::npos);
  CHECK(r.error().find("00112233") == std::string::npos);

  CHECK_FALSE(parse_key_file("format = 1\n"));
  CHECK_FALSE(parse_key_file("format = 2\n[[versions]]\nnumber = 1\n"));
  KeyFile f = two_versions();
  f.versions[1].accept_until = "2027-01-01";
  auto cur = parse_key_file(render_key_file(f));
  REQUIRE_FALSE(cur);
  CHECK(cur.error().find("current") != std::string::npos);
  f = two_versions();
  f.versions[1].keys.number = 1;
  CHECK_FALSE(parse_key_file(render_key_file(f)));
}
