#pragma once
// The subcommands of labgatectl: option wiring (build) and execution (run).

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "labgate/gateway/billing/tax.hpp"

namespace labgate::gateway::ctl {

/// Process exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnavailable = 3;

/// A command that cannot be carried out; main prints `message` on one line and exits `code`.
struct Failure {
  int code{kExitRefused};
  std::string message;
};

class Context;

/// Options shared by every command, and the action chosen by the parser.
struct Cli {
  std::string db;
  std::string config;
  std::string site_key;
  std::string seal_key_file;  ///< resolved by run(): --seal-key-file or "<database>.seal-key"
  std::string actor;
  std::string admin_socket;  ///< --admin-socket: the daemon's admin channel
  std::string time_zone{"Asia/Tokyo"};
  std::string simulated_clock;  ///< "YYYY-MM-DD HH:MM[:SS]" local: act as if it were then
  int busy_timeout_ms{2000};
  bool json{false};
  bool create{false};
  /// [billing] of --config (the built-in defaults without one): statements are billed with it.
  billing::TaxPolicy tax;
  std::function<int(Context&)> action;
  std::function<int()> standalone_action;  ///< a command that opens no store (init)
};

/// Declares every subcommand on `app`; the one parsed stores its action in `cli`.
void build(CLI::App& app, Cli& cli);
/// Rates, accounts (balance, credit limit), price list, sales and session review.
void build_billing(CLI::App& app, Cli& cli);
/// Monthly statements: show, export (CSV/JSON), issue.
void build_statements(CLI::App& app, Cli& cli);
/// `bookings add|list|cancel` and `lockers lend|return|list` (docs/BOOKINGS.md).
void build_bookings(CLI::App& app, Cli& cli);
/// The ward report per month and per fiscal year.
void build_reports(CLI::App& app, Cli& cli);
/// `members import`: the roster from CSV, all or nothing. Call after the members command exists.
void build_import(CLI::App& app, Cli& cli);
/// `members edit` and `members plan-history`. Call after the members command exists.
void build_member_edits(CLI::App& app, Cli& cli);
/// `init`: a starting config with fresh keys. Needs no database.
void build_init(CLI::App& app, Cli& cli);
/// `keys init|show|rotate`: the DESFire site key file ([desfire] key_file of --config).
void build_keys(CLI::App& app, Cli& cli);
/// `audit setup|verify|checkpoint`: the sealed record's key and its verification (on `audit`).
void build_audit_sealing(CLI::App* audit, Cli& cli);
/// `live status|unlock|lockout|release|confirm|all-stop|reload|watch`: the running daemon, over
/// its admin channel. Needs no database.
void build_live(CLI::App& app, Cli& cli);
/// Confirms `machine` on the running daemon over the admin channel (`socket` "" = from the
/// config), acting as `as` ("" = the OS user); prints the result. Throws Failure.
int live_confirm(const Cli& cli, const std::string& machine, const std::string& socket,
                 const std::string& as);
/// Sends a staff change to the daemon at `socket`, declaring staff account `as`. nullopt when
/// no daemon listens there (the socket is missing or refuses connections); the changed record
/// otherwise. A refusal throws a Failure with the daemon's message.
std::optional<nlohmann::json> send_change(const std::string& socket, const std::string& as,
                                          const nlohmann::json& change);
/// The admin socket of the daemon `cli` names: --admin-socket, else (with --config and no
/// --db) the config's [admin] socket or its default; nullopt when the command names a
/// database file rather than a site.
std::optional<std::string> daemon_admin_socket(const Cli& cli);
/// `users passwd` and `users locale` on the `users` command.
void build_user_settings(CLI::App* users, Cli& cli);
/// Reads one password line from standard input, checks it and returns its argon2id string;
/// the clear text is wiped. Throws Failure.
std::string read_password_hash();
/// Sets staff account `login`'s console password to `hash` (a staff change). Throws Failure.
void set_password_hash(Context& ctx, const std::string& login, const std::string& hash);
/// After a parse error: the subcommands expected at the deepest level parsed, or " (see --help)".
std::string usage_hint(CLI::App& app);
/// Opens the store as `cli` says and runs the chosen action; throws Failure.
int run(Cli& cli);

}  // namespace labgate::gateway::ctl
