// `labgatectl keys`: creates, shows and rotates the DESFire site master keys. Keys are written
// only to the key file; the terminal, the audit log and JSON output only ever see fingerprints.
#include <date/date.h>
#include <toml++/toml.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "labgate/gateway/keys/key_file.hpp"
#include "output.hpp"

namespace labgate::gateway::ctl {
namespace {

using nlohmann::json;
namespace kf = labgate::gateway::keys;
using drivers::desfire::fingerprint;

struct KeyArgs {
  std::string key_file;
  std::string old_valid_until;
};

// --key-file, else [desfire] key_file of --config (relative to the config file, as the daemon
// reads it).
std::filesystem::path key_file_path(const Context& ctx, const KeyArgs& a) {
  if (!a.key_file.empty()) return a.key_file;
  const std::string& config = ctx.cli().config;
  if (config.empty()) usage_error("no key file: give --key-file PATH or --config FILE");
  toml::table t;
  try {
    t = toml::parse_file(config);
  } catch (const toml::parse_error& e) {
    usage_error(fmt::format("cannot read config {}: {}", config, e.description()));
  }
  auto path = t["desfire"]["key_file"].value<std::string>();
  if (!path) usage_error(fmt::format("{}: [desfire] key_file is missing", config));
  std::filesystem::path p = *path;
  if (p.is_relative()) p = std::filesystem::path(config).parent_path() / p;
  return p;
}

kf::KeyFile load(const std::filesystem::path& path) {
  auto r = kf::load_key_file(path);
  if (!r) throw Failure{kExitRefused, r.error()};
  return std::move(r).value();
}

json fingerprints(const kf::StoredVersion& v) {
  return {{"app_master", fingerprint(v.keys.app_master)},
          {"read", fingerprint(v.keys.read)},
          {"credential_mac", fingerprint(v.keys.credential_mac)}};
}

std::string add_days(const std::string& ymd, int days) {
  // ymd was checked by the store's today() or check_date().
  const date::year_month_day day{date::year{std::stoi(ymd.substr(0, 4))},
                                 date::month{static_cast<unsigned>(std::stoi(ymd.substr(5, 2)))},
                                 date::day{static_cast<unsigned>(std::stoi(ymd.substr(8, 2)))}};
  return date::format("%F", date::sys_days{day} + date::days{days});
}

void audit(Context& ctx, const char* action, const std::filesystem::path& path, json detail) {
  // The key file is already written: a failed audit row is reported, not rolled back.
  if (auto st = ctx.store().append_audit(ctx.actor(), action, path.string(), detail.dump()); !st)
    throw Failure{kExitUnavailable,
                  "key file written, but the audit row failed: " + st.error().message};
}

}  // namespace

void build_keys(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<KeyArgs>();
  auto* keys = app.add_subcommand("keys", "DESFire site master keys (the key file)");
  keys->require_subcommand(1);
  keys->add_option("--key-file", a->key_file, "key file (default: [desfire] key_file of --config)");

  auto* init = keys->add_subcommand(
      "init", "create the key file with fresh random keys (version 1); never overwrites");
  on(init, cli, [a](Context& ctx) {
    const auto path = key_file_path(ctx, *a);
    kf::KeyFile f;
    f.versions.push_back(kf::generate_version(1, ctx.store().today()));
    if (auto err = kf::save_key_file(path, f, true)) throw Failure{kExitRefused, *err};
    audit(ctx, "keys.init", path, {{"version", 1}, {"fingerprints", fingerprints(f.current())}});
    std::cout << "created " << path.string() << " (mode 0600) with key version 1\n"
              << "back it up offline now: see docs/KEYS.md\n";
    return kExitOk;
  });

  auto* show = keys->add_subcommand("show", "versions, dates and fingerprints (never keys)");
  on(show, cli, [a](Context& ctx) {
    const auto path = key_file_path(ctx, *a);
    const auto f = load(path);
    const std::string today = ctx.store().today();
    const std::uint8_t current = f.current().keys.number;
    auto status = [&](const kf::StoredVersion& v) -> std::string {
      if (v.keys.number == current) return "current";
      if (!v.accept_until) return "accepted";
      return (*v.accept_until >= today ? "accepted until " : "expired on ") + *v.accept_until;
    };
    if (ctx.json_output()) {
      json out = json::array();
      for (const auto& v : f.versions) {
        out.push_back({{"version", v.keys.number},
                       {"created", v.created},
                       {"accept_until", v.accept_until ? json(*v.accept_until) : json(nullptr)},
                       {"status", status(v)},
                       {"fingerprints", fingerprints(v)}});
      }
      std::cout << out.dump(2) << '\n';
      return kExitOk;
    }
    Table t({"VERSION", "STATUS", "CREATED", "APP MASTER", "READ", "CREDENTIAL MAC"});
    for (const auto& v : f.versions) {
      t.add({std::to_string(v.keys.number), status(v), v.created.empty() ? "-" : v.created,
             fingerprint(v.keys.app_master), fingerprint(v.keys.read),
             fingerprint(v.keys.credential_mac)});
    }
    t.print(std::cout);
    return kExitOk;
  });

  auto* rotate = keys->add_subcommand(
      "rotate", "add a new current key version; cards are rekeyed at their next tap or the desk");
  rotate->add_option("--old-valid-until", a->old_valid_until,
                     "last day the previous version is accepted (default: today + 90 days)");
  on(rotate, cli, [a](Context& ctx) {
    check_date(a->old_valid_until, "--old-valid-until");
    const auto path = key_file_path(ctx, *a);
    auto f = load(path);
    const std::string today = ctx.store().today();
    const std::string until = a->old_valid_until.empty() ? add_days(today, 90) : a->old_valid_until;
    if (until < today) usage_error("--old-valid-until " + until + " is in the past");
    const int next = f.current().keys.number + 1;
    if (next > 255) throw Failure{kExitRefused, "key version 255 reached: no further rotation"};
    for (auto& v : f.versions) {
      if (v.keys.number == next - 1) v.accept_until = until;
    }
    f.versions.push_back(kf::generate_version(static_cast<std::uint8_t>(next), today));
    if (auto err = kf::save_key_file(path, f, false)) throw Failure{kExitUnavailable, *err};
    audit(ctx, "keys.rotate", path,
          {{"version", next},
           {"previous_accepted_until", until},
           {"fingerprints", fingerprints(f.current())}});
    std::cout << "key version " << next << " is current; version " << next - 1
              << " is accepted until " << until
              << "\nback up the key file again: see docs/KEYS.md\n";
    return kExitOk;
  });
}

}  // namespace labgate::gateway::ctl
