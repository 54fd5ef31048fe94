#pragma once
// The real labgatectl binary against a temporary database, for the CLI suites: run it, read the
// database, and check that a refused command changed nothing.

#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "db_snapshot.hpp"
#include "process.hpp"
#include "test_keys.hpp"

namespace labgate::test {

using labgate::testing::TempDir;

/// The site key every CLI test uses: random per test run (see test_keys.hpp).
inline const std::string kKey = labgate::testing::test_key();

/// Output and exit code of one labgatectl run.
struct Run {
  int code{-1};
  std::string out;
  std::string err;
};

/// labgatectl on a database in its own temporary directory.
class Ctl {
 public:
  /// `user` is the child's USER, which labgatectl records as the audit actor.
  explicit Ctl(std::string user = "ctl-tester")
      : user_(std::move(user)), db_(dir_.file("labgate.db")) {}

  const std::filesystem::path& db() const { return db_; }
  const TempDir& dir() const { return dir_; }

  // labgatectl --db <tmp> ARGS..., with USER and LABGATE_SITE_KEY set for the child only.
  Run operator()(std::vector<std::string> args, bool with_db = true) const {
    std::vector<std::string> argv_s = {LABGATECTL_PATH};
    if (with_db) {
      argv_s.push_back("--db");
      argv_s.push_back(db_.string());
    }
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    // The child gets its own USER (the audit actor) and site key; output is captured.
    const auto done = labgate::testing::run_command(argv_s, std::chrono::seconds(120),
                                                    {{"USER", user_}, {"LABGATE_SITE_KEY", kKey}});
    return Run{done.exit_code, done.out, done.err};
  }

  // Every row of every table, to prove a refused command changed nothing.
  // Runs SQL on the file directly (sessions come from the daemon, not from labgatectl).
  void exec(const std::string& sql) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO((error != nullptr ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }

  std::string snapshot() const { return labgate::test::database_snapshot(db_); }

 private:
  std::string user_;
  TempDir dir_;
  std::filesystem::path db_;
};

/// Requires exit 0, showing the output otherwise.
inline void require_ok(const Run& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.code == 0);
}

/// A refused or malformed command: the exit code, one line on stderr, nothing changed.
inline void require_refused(const Ctl& ctl, const std::vector<std::string>& args, int code,
                            const std::string& text) {
  const auto before = ctl.snapshot();
  const auto r = ctl(args);
  INFO("args: " << args.front() << " ... stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.code == code);
  CHECK_THAT(r.err, Catch::Contains(text));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.out.empty());
  CHECK(ctl.snapshot() == before);
}

}  // namespace labgate::test
