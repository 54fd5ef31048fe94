#pragma once
// Helpers of the crash tests: a seeded database for the built-in demo site, one run of labgated
// on a manual clock, the parsed replies of acknowledged taps, and a read-only SQLite handle for
// the checks made after the daemon is gone.

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon.hpp"
#include "process.hpp"

namespace labgate::testing::kill {

/// The site key of the built-in demo site (public, see config/demo-site.toml).
inline constexpr const char* kDemoSiteKey =
    "6c6162676174652d64656d6f2d736974652d6b65792d6e6f742d736563726574";
/// Local time the first daemon run starts at (a Tuesday, not a holiday).
inline constexpr const char* kStartLocalTime = "2026-11-24 10:00:00";
/// The machines of the demo site.
inline const std::vector<std::string> kMachines = {"cnc", "laser", "printer-1", "printer-2"};

/// The card readers of the demo site (each an emulated PN532 behind libnfc in these tests).
inline const std::vector<std::string> kReaders = {"main-in",   "main-out",  "lab-in", "laser",
                                                  "printer-1", "printer-2", "cnc"};

/// One seeded member and its card.
struct SeededMember {
  std::string member_no;  ///< "M0001"
  std::string card_hex;   ///< iso14443a UID, 8 hex digits
  bool certified{false};  ///< holds every machine certification
};

/// What seed_database() put in the file.
struct Seed {
  std::vector<SeededMember> members;
  std::vector<std::string> unknown_cards;  ///< UIDs that are enrolled nowhere
};

/// Creates the database with the store API: plan "staff" (24h), `members` active members with
/// one iso14443a card each, the three certification types, and certifications for all but the
/// last few members. Machines are left to the daemon (it syncs them from its config).
Seed seed_database(const std::filesystem::path& db, int members = 20);

/// Records a passed inspection today for each machine (they exist once the daemon ran once).
void record_inspections(const std::filesystem::path& db);

/// Seeds `db`, runs the daemon once so it adds the site's machines, stops it cleanly (SIGTERM,
/// exit 0 expected; throws otherwise) and records their inspections. Returns the seed.
Seed prepare_site(const std::filesystem::path& db, const std::filesystem::path& socket,
                  const std::filesystem::path& log);

/// Local time `offset` after kStartLocalTime, as --simulated-clock takes it.
std::string sim_time(std::chrono::seconds offset);

/// The last `lines` lines of a log file, for failure messages (the temp dir does not survive).
std::string log_tail(const std::filesystem::path& log, std::size_t lines = 30);

/// Ratio the timing is scaled by: > 1 under the sanitizers, which slow the daemon down.
int time_scale();

/// Starts one run of labgated on the demo site against `db` with its control socket at `socket`,
/// at local time `start_local`, output appended to `log`; `extra_args` are appended to its
/// command line (e.g. "--reader-device" overrides). It does not wait: see Daemon::wait_ready().
std::unique_ptr<Daemon> start_daemon(const std::filesystem::path& db,
                                     const std::filesystem::path& socket,
                                     const std::string& start_local,
                                     const std::filesystem::path& log,
                                     const std::vector<std::string>& extra_args = {});

/// Sends `confirm <machine>` for every machine; false if one is not answered "ok confirm".
bool confirm_machines(Daemon& daemon);

/// A tap or place the daemon acknowledged after committing its event.
struct Ack {
  std::string reader;
  bool granted{false};
  std::string target;  ///< door or machine id
  std::string member;  ///< "-" for unknown cards
  std::string reason;
  std::int64_t seq{0};  ///< 0 when the reply carried no seq= (event not recorded)
};

/// Parses "ok granted <target> <member> <reason> [seq=<n>]" (or denied); nullopt otherwise.
std::optional<Ack> parse_ack(const std::string& reader, const std::string& reply);

/// The door or machine a demo-site reader serves.
std::string target_of_reader(const std::string& reader);

/// A read-only connection to the database file, for checks after the daemon stopped.
class ReadOnlyDb {
 public:
  /// Opens `path` read-only; throws std::runtime_error when it cannot.
  explicit ReadOnlyDb(const std::filesystem::path& path);
  ~ReadOnlyDb();
  ReadOnlyDb(const ReadOnlyDb&) = delete;
  ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;

  /// A row: each column as text, nullopt for NULL.
  using Row = std::vector<std::optional<std::string>>;
  /// Runs `sql` with the integer parameters bound in order; every row. Throws on error.
  std::vector<Row> rows(const std::string& sql, const std::vector<std::int64_t>& params = {});
  /// First column of the first row as an integer (0 when NULL). Throws when there is no row.
  std::int64_t integer(const std::string& sql, const std::vector<std::int64_t>& params = {});
  /// First column of the first row as text. Throws when there is no row.
  std::string text(const std::string& sql);

 private:
  sqlite3* db_{nullptr};
};

/// Holds the write lock of the database from another connection (BEGIN EXCLUSIVE) until
/// release() or destruction, as a second process (a backup, labgatectl) would.
class WriteLock {
 public:
  /// Opens its own connection to `path` and takes the lock; throws when it cannot.
  explicit WriteLock(const std::filesystem::path& path);
  ~WriteLock();
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;
  /// Ends the transaction (rolls back: nothing was written) and closes the connection.
  void release();

 private:
  sqlite3* db_{nullptr};
};

}  // namespace labgate::testing::kill
