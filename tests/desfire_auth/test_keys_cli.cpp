// `labgatectl keys`: the real binary creates, shows and rotates the key file; its output and the
// audit log carry fingerprints and never a key.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/keys/key_file.hpp"
#include "process.hpp"

using labgate::testing::run_command;
using labgate::testing::TempDir;

namespace {

std::string hex(const labgate::drivers::desfire::AesKey& k) {
  return labgate::drivers::to_hex(std::vector<std::uint8_t>(k.begin(), k.end()));
}

labgate::testing::RunResult ctl(const TempDir& dir, std::vector<std::string> args) {
  std::vector<std::string> argv{LABGATECTL_PATH, "--db", (dir / "t.db").string(), "--create"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

}  // namespace

TEST_CASE("keys init, show and rotate never print a key", "[keyscli]") {
  TempDir dir;
  const std::string kf = (dir / "site.keys").string();
  auto init = ctl(dir, {"keys", "--key-file", kf, "init"});
  REQUIRE(init.exit_code == 0);
  struct stat st {};
  REQUIRE(::stat(kf.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto again = ctl(dir, {"keys", "--key-file", kf, "init"});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("already exists") != std::string::npos);

  auto rotate = ctl(dir, {"keys", "--key-file", kf, "rotate", "--old-valid-until", "2099-01-31"});
  REQUIRE(rotate.exit_code == 0);
  auto show = ctl(dir, {"keys", "--key-file", kf, "show"});
  REQUIRE(show.exit_code == 0);
  auto audit = ctl(dir, {"audit", "list"});
  REQUIRE(audit.exit_code == 0);

  auto file = labgate::gateway::keys::load_key_file(kf);
  REQUIRE(file);
  REQUIRE(file->versions.size() == 2);
  CHECK(file->current().keys.number == 2);
  CHECK(file->find(1)->accept_until == "2099-01-31");
  const std::string all =
      init.out + init.err + rotate.out + rotate.err + show.out + show.err + audit.out + audit.err;
  for (const auto& v : file->versions) {
    for (const auto* k : {&v.keys.app_master, &v.keys.read, &v.keys.credential_mac}) {
      CHECK(all.find(hex(*k)) == std::string::npos);
      CHECK(show.out.find(labgate::drivers::desfire::fingerprint(*k)) != std::string::npos);
    }
  }
  CHECK(show.out.find("accepted until 2099-01-31") != std::string::npos);
  CHECK(audit.out.find("keys.rotate") != std::string::npos);
  // The PICC master key: made by init, shown by its fingerprint only.
  REQUIRE(file->picc_master);
  CHECK(all.find(hex(*file->picc_master)) == std::string::npos);
  CHECK(show.out.find("PICC master (owned cards): " +
                      labgate::drivers::desfire::fingerprint(*file->picc_master)) !=
        std::string::npos);
}

// A key file written before the PICC master key existed still loads; `keys show` says that
// taking ownership needs one, and `keys rotate` adds it (once: it is never replaced).
TEST_CASE("an older key file without a PICC master key loads; rotate adds one", "[keyscli]") {
  TempDir dir;
  const std::string kf = (dir / "site.keys").string();
  REQUIRE(ctl(dir, {"keys", "--key-file", kf, "init"}).exit_code == 0);
  auto file = labgate::gateway::keys::load_key_file(kf);
  REQUIRE(file);
  labgate::gateway::keys::KeyFile without_picc = *file;
  without_picc.picc_master.reset();
  REQUIRE_FALSE(labgate::gateway::keys::save_key_file(kf, without_picc, false));
  auto show = ctl(dir, {"keys", "--key-file", kf, "show"});
  REQUIRE(show.exit_code == 0);
  CHECK(show.out.find("PICC master: none") != std::string::npos);
  auto rotate = ctl(dir, {"keys", "--key-file", kf, "rotate"});
  REQUIRE(rotate.exit_code == 0);
  CHECK(rotate.out.find("added a PICC master key") != std::string::npos);
  auto rotated = labgate::gateway::keys::load_key_file(kf);
  REQUIRE(rotated);
  REQUIRE(rotated->picc_master);
  REQUIRE(ctl(dir, {"keys", "--key-file", kf, "rotate"}).exit_code == 0);
  auto again = labgate::gateway::keys::load_key_file(kf);
  REQUIRE(again);
  REQUIRE(again->picc_master);
  CHECK(*again->picc_master == *rotated->picc_master);
}

TEST_CASE("keys show refuses a world-readable key file", "[keyscli]") {
  TempDir dir;
  const std::string kf = (dir / "site.keys").string();
  REQUIRE(ctl(dir, {"keys", "--key-file", kf, "init"}).exit_code == 0);
  ::chmod(kf.c_str(), 0604);
  auto show = ctl(dir, {"keys", "--key-file", kf, "show"});
  CHECK(show.exit_code == 1);
  CHECK(show.err.find("chmod 600") != std::string::npos);
}
