// `labgatectl keys`: creates, shows and rotates the DESFire site master keys. Keys are written
// only to the key file; the terminal, the audit log and JSON output only ever see fingerprints.
#include <date/date.h>
#include <nfc/nfc.h>
#include <toml++/toml.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.hpp"
#include "context.hpp"
#include "labgate/drivers/desfire/authenticator.hpp"
#include "labgate/drivers/desfire/issuer.hpp"
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
  // credentials issue
  std::string member_no, device, reader, label{"DESFire card"};
  int timeout_s{30};
  drivers::desfire::IssueOptions issue;
};

// The application settings the daemon uses ([desfire] aid and system_id; the site id by
// default), so the desk diversifies exactly as the doors will.
// --config as TOML; `why` says what the command needs from it.
toml::table config_of(const Context& ctx, const std::string& why) {
  const std::string& config = ctx.cli().config;
  if (config.empty()) usage_error(why);
  try {
    return toml::parse_file(config);
  } catch (const toml::parse_error& e) {
    usage_error(fmt::format("cannot read config {}: {}", config, e.description()));
  }
}

drivers::desfire::ApplicationSettings application_of(const Context& ctx) {
  const toml::table t =
      config_of(ctx, "credentials issue needs --config (the site's [desfire] settings)");
  drivers::desfire::ApplicationSettings app;
  if (auto aid = t["desfire"]["aid"].value<std::int64_t>())
    app.aid = static_cast<std::uint32_t>(*aid);
  std::string system_id = t["desfire"]["system_id"].value_or(std::string{});
  if (system_id.empty()) system_id = t["site"]["id"].value_or(std::string{}).substr(0, 21);
  app.system_id.assign(system_id.begin(), system_id.end());
  app.random_uid = t["desfire"]["random_uid"].value_or(false);
  return app;
}

// The connstring of --reader: a [[readers]] entry of --config with role = "desk" (the daemon
// never opens such a reader, so labgatectl has it to itself), else --device.
std::string desk_device(const Context& ctx, const KeyArgs& a) {
  if (a.reader.empty() && a.device.empty())
    usage_error("give the desk reader: --reader R (role = \"desk\" in --config) or --device");
  if (a.reader.empty()) return a.device;
  const std::string& config = ctx.cli().config;
  const toml::table t = config_of(ctx, "--reader needs --config (its [[readers]])");
  if (const toml::array* readers = t["readers"].as_array()) {
    for (const auto& node : *readers) {
      const toml::table* r = node.as_table();
      if (!r || (*r)["id"].value_or(std::string{}) != a.reader) continue;
      if ((*r)["role"].value_or(std::string{}) != "desk")
        usage_error(fmt::format(
            "reader {} is not a desk reader: give it role = \"desk\" in {} (the daemon polls "
            "every other reader, and a card is written on a reader nobody else uses)",
            a.reader, config));
      const std::string device = (*r)["device"].value_or(std::string{});
      if (device.empty() || device == "sim")
        usage_error(fmt::format("desk reader {} has no libnfc device in {}", a.reader, config));
      return device;
    }
  }
  usage_error(fmt::format("no reader {} in {}", a.reader, config));
}

// libnfc context and device for the desk reader, closed on every path.
struct DeskReader {
  nfc_context* ctx{nullptr};
  nfc_device* dev{nullptr};
  explicit DeskReader(const std::string& connstring) {
    nfc_init(&ctx);
    if (!ctx) throw Failure{kExitUnavailable, "libnfc initialisation failed"};
    dev = nfc_open(ctx, connstring.c_str());
    if (!dev || nfc_initiator_init(dev) < 0 ||
        nfc_device_set_property_bool(dev, NP_INFINITE_SELECT, false) < 0) {
      close();
      throw Failure{kExitUnavailable, "cannot open the desk reader " + connstring};
    }
  }
  ~DeskReader() { close(); }
  void close() {
    if (dev) nfc_close(dev);
    if (ctx) nfc_exit(ctx);
    dev = nullptr;
    ctx = nullptr;
  }
};

// The options of a desk command: the member, the desk reader, the key file, the wait.
void desk_options(CLI::App* sub, KeyArgs& a) {
  sub->add_option("--member", a.member_no, "member number")->required();
  auto* device = sub->add_option(
      "--device", a.device, "the desk reader's libnfc connstring (the daemon must not poll it)");
  sub->add_option("--reader", a.reader,
                  "the desk reader: a [[readers]] id of --config with role = \"desk\"")
      ->excludes(device);
  sub->add_option("--key-file", a.key_file, "key file (default: [desfire] key_file of --config)");
  sub->add_option("--timeout", a.timeout_s, "seconds to wait for a card")
      ->check(CLI::PositiveNumber);
}

// What the card step tells the store's transaction: a card not written rolls it back.
st::Status card_status(const drivers::desfire::IssueResult& r, const char* done) {
  if (r.ok) return {};
  return st::Error{st::ErrorKind::kConflict, 0,
                   std::string("the card was not ") + done + ": " + r.failure};
}

// Waits for a DESFire EV1+ card with a 7-byte UID (or a random ID) on the desk reader; the UID
// it showed.
std::vector<std::uint8_t> desfire_on(DeskReader& desk, int timeout_s, const char* what) {
  std::cerr << "place " << what << " on the desk reader...\n";
  nfc_target t{};
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    const int r =
        nfc_initiator_select_passive_target(desk.dev, {NMT_ISO14443A, NBR_106}, nullptr, 0, &t);
    if (r > 0) break;
    if (std::chrono::steady_clock::now() > until)
      throw Failure{kExitRefused, "no card within " + std::to_string(timeout_s) + " s"};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const nfc_iso14443a_info& nai = t.nti.nai;
  const bool desfire =
      (nai.btSak & 0x20) && nai.abtAtqa[0] == 0x03 && nai.abtAtqa[1] == 0x44 && nai.szAtsLen > 0;
  // libnfc's target structs are packed: copy the length out before std::min takes a reference.
  const std::size_t uid_length = nai.szUidLen;
  std::vector<std::uint8_t> uid(nai.abtUid, nai.abtUid + std::min<std::size_t>(uid_length, 10));
  if (!desfire || (uid.size() != 7 && !drivers::desfire::is_random_uid(uid)))
    throw Failure{kExitRefused, "the card is not a DESFire EV1+ card with a 7-byte UID"};
  return uid;
}

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
  if (auto st = ctx.store().audit().append_audit(ctx.actor(st::Permission::kAdmin), action,
                                                 path.string(), detail.dump());
      !st)
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
    f.picc_master = kf::generate_picc_master();
    if (auto err = kf::save_key_file(path, f, true)) throw Failure{kExitRefused, *err};
    audit(ctx, "keys.init", path,
          {{"version", 1},
           {"fingerprints", fingerprints(f.current())},
           {"picc_master", fingerprint(*f.picc_master)}});
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
    if (f.picc_master)
      std::cout << "PICC master (owned cards): " << fingerprint(*f.picc_master) << '\n';
    else
      std::cout << "PICC master: none, so `credentials issue --take-ownership` is refused; "
                   "`keys rotate` adds one\n";
    return kExitOk;
  });

  auto* creds = app.get_subcommand("credentials");
  auto* issue = creds->add_subcommand(
      "issue",
      "write a DESFire card at the desk reader and enrol it for a member. A card holding another "
      "site's applications is refused unless --format; the PICC master key is changed only with "
      "--take-ownership");
  desk_options(issue, *a);
  issue->add_option("--label", a->label, "label of the card");
  issue->add_flag("--format", a->issue.format,
                  "erase the card first (FormatPICC with its PICC master key: the factory "
                  "default, or this site's on a card it owns); everything on the card is lost");
  issue->add_flag("--take-ownership", a->issue.take_ownership,
                  "replace the factory PICC master key by the site's, diversified per card: "
                  "nobody else can then format the card");
  issue->add_flag("--random-id", a->issue.random_id,
                  "switch the card to random IDs (irreversible); needs [desfire] random_uid = "
                  "true and --take-ownership (or a card the site owns)");
  on(issue, cli, [a](Context& ctx) {
    const auto path = key_file_path(ctx, *a);
    const auto file = load(path);
    const auto site_keys = file.site_keys(application_of(ctx));
    const auto& version = *site_keys.current();
    DeskReader desk(desk_device(ctx, *a));
    const auto shown = desfire_on(desk, a->timeout_s, "a blank DESFire card");
    // Read-only first: a refused card is left as it was and nothing is recorded.
    drivers::desfire::CardSurvey card;
    if (auto r = drivers::desfire::survey_card(desk.dev, shown, site_keys, a->issue, card); !r.ok)
      throw Failure{kExitRefused, "the card was not written: " + r.failure};
    // The store keeps the keyed hash of the real UID (GetCardUID on a random-ID card), the one
    // the door finds after authentication.
    auto written = ctx.store().staff().enroll_credential(
        a->member_no, "desfire", card.uid, a->label, ctx.actor(st::Permission::kMembers),
        version.number, [&](std::int64_t id) -> st::Status {
          return card_status(drivers::desfire::issue_card(desk.dev, card, site_keys, version,
                                                          static_cast<std::uint64_t>(id), a->issue),
                             "written");
        });
    auto c = check(std::move(written));
    if (ctx.json_output()) {
      std::cout << json{{"credential_id", c.id},
                        {"member", a->member_no},
                        {"key_version", version.number}}
                       .dump(2)
                << '\n';
    } else {
      std::cout << fmt::format("issued credential #{} to {} (key version {})\n", c.id, a->member_no,
                               int{version.number});
    }
    return kExitOk;
  });

  auto* rekey = creds->add_subcommand(
      "rekey", "change an issued DESFire card's keys to the current key version at the desk");
  desk_options(rekey, *a);
  on(rekey, cli, [a](Context& ctx) {
    const auto file = load(key_file_path(ctx, *a));
    const auto site_keys = file.site_keys(application_of(ctx));
    const auto& version = *site_keys.current();
    DeskReader desk(desk_device(ctx, *a));
    const auto uid = desfire_on(desk, a->timeout_s, "the member's DESFire card");
    int from = 0;
    auto rekeyed = ctx.store().staff().rekey_credential(
        a->member_no, uid, version.number, ctx.actor(st::Permission::kMembers),
        [&](const st::Credential& c) -> st::Status {
          return card_status(drivers::desfire::rekey_card(desk.dev, uid, site_keys, version,
                                                          static_cast<std::uint64_t>(c.id), from),
                             "rekeyed");
        });
    auto c = check(std::move(rekeyed));
    if (ctx.json_output()) {
      std::cout << json{{"credential_id", c.id},
                        {"member", a->member_no},
                        {"from_key_version", from},
                        {"key_version", version.number}}
                       .dump(2)
                << '\n';
    } else {
      std::cout << fmt::format("rekeyed credential #{} of {} from key version {} to {}\n", c.id,
                               a->member_no, from, int{version.number});
    }
    return kExitOk;
  });

  auto* rotate = keys->add_subcommand(
      "rotate", "add a new current key version; cards are rekeyed at the desk (credentials rekey)");
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
    // Never replaced once there: the cards the site owns hold keys diversified from it.
    const bool picc_added = !f.picc_master;
    if (picc_added) f.picc_master = kf::generate_picc_master();
    if (auto err = kf::save_key_file(path, f, false)) throw Failure{kExitUnavailable, *err};
    audit(ctx, "keys.rotate", path,
          {{"version", next},
           {"previous_accepted_until", until},
           {"fingerprints", fingerprints(f.current())}});
    std::cout << "key version " << next << " is current; version " << next - 1
              << " is accepted until " << until
              << (picc_added ? "\nadded a PICC master key (credentials issue --take-ownership)"
                             : "")
              << "\nback up the key file again: see docs/KEYS.md\n";
    return kExitOk;
  });
}

}  // namespace labgate::gateway::ctl
