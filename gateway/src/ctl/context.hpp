#pragma once
// What every labgatectl command file shares: the running context and the small helpers that turn
// store errors and bad options into a Failure with the right exit code.

#include <fmt/format.h>
#include <sys/types.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <string_view>

#include "commands.hpp"
#include "labgate/gateway/store/changes.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::gateway::ctl {

namespace st = labgate::gateway::store;

/// What a running command needs: the open store, the shared options, the output mode.
class Context {
 public:
  /// Opens the store the first time a command needs it.
  using Opener = std::function<std::unique_ptr<st::Store>()>;

  Context(Opener open, const Cli& cli, std::filesystem::path db_path)
      : open_(std::move(open)), cli_(cli), db_path_(std::move(db_path)) {}
  /// The store, opened on first use (a change sent to the daemon never opens it).
  st::Store& store() {
    if (!store_) store_ = open_();
    return *store_;
  }
  /// Who makes the change a command is about to write, for its audit row: the OS user running
  /// labgatectl (the kernel's uid, never $USER) and the staff account declared with --actor,
  /// which the store checks exists and is active. Without --actor, root and the daemon's user
  /// act as themselves (no account: the row names the OS user); anyone else declares their
  /// login name.
  /// Calling it means "this command writes": it throws a Failure unless this process may
  /// write the database directly (see may_write_directly()).
  st::Actor actor() const;
  /// actor(), for a command that writes directly what `need` covers: a declared account whose
  /// role may not is refused (store::check_permission), as over the admin channel.
  st::Actor actor(st::Permission need);
  /// Makes a staff change (store/changes.hpp) and returns the changed record. With --actor (or
  /// when this user may not write the database), it goes to labgated over the admin channel
  /// when the daemon of --config (or --admin-socket) answers, and the daemon records the uid the
  /// kernel reports. Otherwise labgatectl applies it itself, if it may write directly.
  nlohmann::ordered_json change(std::string_view op, nlohmann::json args);
  const std::string& tz() const { return cli_.time_zone; }
  bool json_output() const { return cli_.json; }
  /// The global options (config path, ...).
  const Cli& cli() const { return cli_; }

 private:
  Opener open_;
  std::unique_ptr<st::Store> store_;
  const Cli& cli_;
  std::filesystem::path db_path_;
};

/// Only the daemon's user (the owner of the database file, which labgated creates) and root
/// write the database directly; anyone else sends changes to the running daemon over the admin
/// channel. Returns why `uid` may not write `db`, or nullopt when it may.
std::optional<std::string> direct_write_refusal(const std::filesystem::path& db, uid_t uid);

/// The OS user's login name for `uid`, or "uid<N>" when the user database has none.
std::string os_user_name(uid_t uid);

/// The exit code for a store error kind.
inline int exit_code_for(const st::Error& e) {
  switch (e.kind) {
    case st::ErrorKind::kInvalid:
      return kExitUsage;
    case st::ErrorKind::kBusy:
    case st::ErrorKind::kUnavailable:
    case st::ErrorKind::kInternal:
      return kExitUnavailable;
    case st::ErrorKind::kNotFound:
    case st::ErrorKind::kConflict:
    case st::ErrorKind::kForbidden:
    case st::ErrorKind::kConstraint:
      return kExitRefused;
  }
  return kExitRefused;
}

/// The value of `r`, or a Failure carrying its message and exit code.
template <typename T>
T check(st::Result<T> r) {
  if (!r) {
    std::string message = r.error().message;
    if (r.error().kind == st::ErrorKind::kBusy) message += " (the database is busy; try again)";
    throw Failure{exit_code_for(r.error()), std::move(message)};
  }
  if constexpr (!std::is_void_v<T>) return std::move(r).value();
}

/// Throws a usage Failure (exit 2).
[[noreturn]] inline void usage_error(std::string message) {
  throw Failure{kExitUsage, std::move(message)};
}

/// Empty option text means "not given".
inline std::optional<std::string> opt_text(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

/// A usage Failure unless `value` is empty or a valid YYYY-MM-DD date.
inline void check_date(const std::string& value, const char* what) {
  if (!value.empty() && !st::is_valid_date(value)) {
    usage_error(fmt::format("bad {} '{}': expected YYYY-MM-DD", what, value));
  }
}

/// A whole number (count, id) from option text; a usage Failure naming `option` otherwise.
inline std::int64_t parse_count(const std::string& text, std::string_view option) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    usage_error(fmt::format("bad {} '{}': expected a whole number", option, text));
  }
  return v;
}

/// The value as JSON, or null when absent.
template <typename T>
nlohmann::ordered_json null_or(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

/// One result row: its JSON in JSON output mode, else the sentence `text`.
inline void print_one(Context& ctx, const nlohmann::ordered_json& row, const std::string& text) {
  if (ctx.json_output()) {
    std::cout << row.dump(2) << '\n';
  } else {
    std::cout << text << '\n';
  }
}

/// Sets cli.action when the subcommand is parsed.
inline void on(CLI::App* sub, Cli& cli, std::function<int(Context&)> action) {
  sub->callback([&cli, action = std::move(action)] { cli.action = action; });
}

}  // namespace labgate::gateway::ctl
