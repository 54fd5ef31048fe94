// files::write_atomically, prepare_export_folder and file_name_part: the guarantees exports and
// key files rely on, each checked against the file system.

#include "labgate/gateway/files/files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <random>
#include <set>

#include "process.hpp"

namespace fs = std::filesystem;
namespace files = labgate::gateway::files;
using labgate::testing::read_file;
using labgate::testing::TempDir;

namespace {

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Restores the process umask when a test leaves.
struct Umask {
  mode_t saved;
  explicit Umask(mode_t m) : saved(::umask(m)) {}
  ~Umask() { ::umask(saved); }
};

}  // namespace

TEST_CASE("files: an export gets its mode from us, whatever the umask", "[files]") {
  TempDir dir{"labgate-files"};
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    Umask u{mask};
    const auto p = dir / ("out-" + std::to_string(mask));
    REQUIRE_FALSE(files::write_atomically(p, "a,b\r\n", {files::kExportMode, {}, true}).error);
    CHECK(mode_of(p) == 0640);
    CHECK(read_file(p) == "a,b\r\n");
  }
}

TEST_CASE("files: a symlink at the target is refused and nothing is written through it",
          "[files]") {
  TempDir dir{"labgate-files"};
  TempDir elsewhere{"labgate-elsewhere"};
  const auto victim = elsewhere / "victim";
  std::ofstream(victim) << "precious";
  const auto link = dir / "statement-2026-11-M0001.csv";
  fs::create_symlink(victim, link);

  const auto r = files::write_atomically(link, "overwritten", {files::kExportMode, {}, true});
  REQUIRE(r.error);
  CHECK(r.error->find("symbolic link") != std::string::npos);
  CHECK(read_file(victim) == "precious");
  CHECK(fs::is_symlink(link));
  // No temp file is left behind either.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("files: replace swaps a regular file whole; no-replace keeps it", "[files]") {
  TempDir dir{"labgate-files"};
  const auto p = dir / "f";
  REQUIRE_FALSE(files::write_atomically(p, "one", {0600, {}, false}).error);
  const auto refused = files::write_atomically(p, "two", {0600, {}, false});
  CHECK(refused.exists);
  CHECK(read_file(p) == "one");
  REQUIRE_FALSE(files::write_atomically(p, "three", {0600, {}, true}).error);
  CHECK(read_file(p) == "three");
}

TEST_CASE("files: an export folder that others may write to is refused", "[files]") {
  TempDir dir{"labgate-files"};
  const auto shared = dir / "shared";
  fs::create_directory(shared);
  ::chmod(shared.c_str(), 0777);
  const auto why = files::prepare_export_folder(shared);
  REQUIRE(why);
  CHECK(why->find("other users") != std::string::npos);

  // Sticky and ours (like a private corner of /tmp): nobody else can replace our files.
  ::chmod(shared.c_str(), 01777);
  CHECK_FALSE(files::prepare_export_folder(shared));

  // A missing folder is made, private to the owner and the group.
  const auto fresh = dir / "a" / "b";
  CHECK_FALSE(files::prepare_export_folder(fresh));
  CHECK(fs::is_directory(fresh));
  CHECK(mode_of(fresh) == 0750);

  std::ofstream(dir / "plain") << "x";
  CHECK(files::prepare_export_folder(dir / "plain"));
}

TEST_CASE("files: file-name parts never collide and never leave the folder", "[files]") {
  CHECK(files::file_name_part("M0001") == "M0001");
  CHECK(files::file_name_part("M'1") != files::file_name_part("M_1"));
  CHECK(files::file_name_part("M'1") == "M_271");
  CHECK(files::file_name_part("M_1") == "M_5f1");
  CHECK(files::file_name_part("../etc") == "_2e_2e_2fetc");

  // Property: over many random texts from a small alphabet (so that near-collisions abound),
  // distinct texts give distinct names, and no name holds '/', '.' or a byte outside ASCII.
  std::mt19937 rng(20261206);
  const std::string alphabet = "M1_'-./ \x01\xE3\x81\x82";
  std::set<std::string> texts, names;
  for (int i = 0; i < 20000; ++i) {
    std::string t;
    const int n = static_cast<int>(rng() % 6);
    for (int k = 0; k < n; ++k) t += alphabet[rng() % alphabet.size()];
    if (!texts.insert(t).second) continue;
    const std::string name = files::file_name_part(t);
    CHECK(names.insert(name).second);
    for (const char c : name) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
      REQUIRE(ok);
    }
  }
  CHECK(texts.size() == names.size());
}
