// `labgatectl init`: a starting site configuration with keys of its own.
//
// The keys exist only in the file: they never reach stdout, stderr or a log. The file is written
// next to its final name and renamed into place, so a crash leaves either no config or a whole
// one, and an existing config is never truncated.
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "commands.hpp"
#include "console_cert.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/gateway/files/files.hpp"

namespace labgate::gateway::ctl {
namespace {

namespace fs = std::filesystem;

struct InitArgs {
  std::string site;
  std::string gateway;
  std::string out{"/etc/labgate/site.toml"};
  std::string socket{"/var/lib/labgate/labgated.sock"};
  bool force{false};
  std::string console_listen;  // "" leaves [console] out (the console's loopback default)
  std::string console_cert;
  std::string console_key;
};

std::string toml_string(const std::string& s);

/// The [console] section: the listen address and, when set, the TLS files.
std::string console_section(const InitArgs& a) {
  if (a.console_listen.empty()) return {};
  std::string out = "\n[console]\n# The staff web console (docs/CONSOLE.md).\nlisten = " +
                    toml_string(a.console_listen) + "\n";
  if (!a.console_cert.empty()) {
    out += "# TLS: required on any address but loopback. The key file is mode 0600.\n";
    out += "tls_cert = " + toml_string(a.console_cert) +
           "\ntls_key = " + toml_string(a.console_key) + "\n";
  }
  return out;
}

/// 32 random bytes as lower-case hex (libsodium's CSPRNG, which reads the kernel's).
std::string fresh_key_hex() {
  std::array<unsigned char, 32> key{};
  randombytes_buf(key.data(), key.size());
  std::string hex(key.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), key.data(), key.size());
  sodium_memzero(key.data(), key.size());
  hex.pop_back();
  return hex;
}

/// What may be shown of a key: the first 8 bytes of the SHA-256 of its 32 bytes.
std::string fingerprint(const std::string& hex) {
  std::array<unsigned char, 32> key{};
  std::size_t len = 0;
  sodium_hex2bin(key.data(), key.size(), hex.data(), hex.size(), nullptr, &len, nullptr);
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), key.data(), len);
  sodium_memzero(key.data(), key.size());
  std::string out(17, '\0');
  sodium_bin2hex(out.data(), out.size(), digest.data(), 8);
  out.pop_back();
  return "sha256:" + out;
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string config_text(const InitArgs& a, const std::string& tz, const std::string& db,
                        const std::string& site_key, const std::string& command_key) {
  return fmt::format(
      R"toml(# labgate site configuration, written by `labgatectl init`.
# Every key is explained in the reference configuration (labgate.reference.toml).
# This file holds the site's secret keys: keep it mode 0640, owner root, group labgate.
# labgated refuses a config that every user can read, and keys printed anywhere in the labgate
# sources (the reference and demo configs, tests, docs).

[site]
id = {site}
gateway = {gateway}
timezone = {tz}
# Site key, generated for this site: it keys the card hashes in the database (changing it
# orphans every enrolled card). Never copy it anywhere else; back up this file instead.
key = "{site_key}"

[store]
# SQLite database; labgated must be able to write its folder.
path = {db}

[control]
# Control socket for labgatectl and staff tools (status, confirm, lockout, unlock, all-stop,
# enroll). Simulated-device commands work on simulated devices only. It lives in the daemon's
# state folder, which the hardened systemd unit may write.
socket = {socket}

[log]
level = "info"

[mqtt]
# Off until a broker is set up: enabled = true, host, port, and ca_file for TLS.
enabled = false
# Key of the MACs of remote commands (labgate-mqtt-sign), generated for this site.
command_key = "{command_key}"

# ---------------------------------------------------------------------------------------------
# EXAMPLE SITE: replace with your devices. One door and one machine on simulated devices, so
# that labgated starts as is. Readers become libnfc connstrings ("pn532_uart:/dev/ttyUSB0"),
# strikes and relays gpio lines ("gpio:gpiochip0:17"); see the reference configuration.

[[readers]]
id = "front-in"
device = "sim"  # replace with your reader, e.g. "pn532_uart:/dev/ttyUSB0"

[[readers]]
id = "machine-1"
device = "sim"  # replace with your reader

[[doors]]
id = "front"
name = "Front door (example: replace)"
entry_reader = "front-in"
strike = "sim"  # replace with your strike, e.g. "gpio:gpiochip0:17"

[[machines]]
id = "machine-1"
name = "Example machine (replace)"
reader = "machine-1"
relay = "sim"  # replace with your relay, e.g. "gpio:gpiochip0:22"
{console})toml",
      fmt::arg("site", toml_string(a.site)), fmt::arg("gateway", toml_string(a.gateway)),
      fmt::arg("tz", toml_string(tz)), fmt::arg("db", toml_string(db)),
      fmt::arg("socket", toml_string(a.socket)), fmt::arg("site_key", site_key),
      fmt::arg("command_key", command_key), fmt::arg("console", console_section(a)));
}

[[noreturn]] void refuse(int code, std::string message) {
  throw Failure{code, std::move(message)};
}

/// The group of the config: `labgate` when it exists (the daemon's user reads the file through
/// it), else the caller's.
std::pair<gid_t, std::string> config_group() {
  if (const struct group* g = ::getgrnam("labgate"); g != nullptr) return {g->gr_gid, "labgate"};
  const gid_t gid = ::getegid();
  const struct group* g = ::getgrgid(gid);
  return {gid, g != nullptr ? std::string(g->gr_name) : std::to_string(gid)};
}

void write_config(const fs::path& out, const std::string& text, bool force, std::string& group) {
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    refuse(kExitUsage, fmt::format("folder {} does not exist", dir.string()));
  if (::lstat(out.c_str(), &st) == 0) {
    if (!force)
      refuse(kExitRefused,
             fmt::format("{} exists; not overwritten (--force replaces it)", out.string()));
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
      refuse(kExitRefused, fmt::format("{} is not a regular file", out.string()));
  }

  auto [gid, name] = config_group();
  // Created 0600 and only then given its group and 0640: it is never readable by others.
  auto written = files::write_atomically(out, text, {.mode = 0640, .group = gid, .replace = force});
  if (written.exists)
    refuse(kExitRefused,
           fmt::format("{} exists; not overwritten (--force replaces it)", out.string()));
  if (written.error) refuse(kExitUnavailable, *written.error);
  if (written.group_errno != 0) {
    std::cerr << "labgatectl: warning: cannot give " << out.string() << " to group " << name << " ("
              << std::strerror(written.group_errno) << "); run init as root\n";
    name = std::to_string(::getegid());
  }
  group = name;
}

int run_init(InitArgs a, const Cli& cli) {
  if (!config::is_valid_id(a.site))
    refuse(kExitUsage, fmt::format("bad --site '{}': 1-32 characters of a-z, 0-9, '_' and '-', "
                                   "starting with a letter or digit",
                                   a.site));
  if (!config::is_valid_id(a.gateway))
    refuse(kExitUsage, fmt::format("bad --gateway '{}': 1-32 characters of a-z, 0-9, '_' and '-', "
                                   "starting with a letter or digit",
                                   a.gateway));
  if (a.out.empty()) refuse(kExitUsage, "--out must not be empty");
  if (sodium_init() < 0) refuse(kExitUnavailable, "libsodium cannot initialise");
  // The console on an address other than loopback speaks only TLS: without a certificate of
  // the site's own, a self-signed one is made beside the config.
  bool make_cert = false;
  if (!a.console_listen.empty()) {
    const auto host = listen_host(a.console_listen);
    if (!host) {
      refuse(kExitUsage,
             fmt::format("bad --console-listen '{}': expected ADDR:PORT", a.console_listen));
    }
    if (a.console_cert.empty() != a.console_key.empty()) {
      refuse(kExitUsage, "--console-cert and --console-key go together");
    }
    if (a.console_cert.empty() && !is_loopback_host(*host)) {
      const fs::path dir =
          fs::path(a.out).has_parent_path() ? fs::path(a.out).parent_path() : fs::path(".");
      a.console_cert = fs::absolute(dir / "console.crt").string();
      a.console_key = fs::absolute(dir / "console.key").string();
      make_cert = true;
    }
  } else if (!a.console_cert.empty() || !a.console_key.empty()) {
    refuse(kExitUsage, "--console-cert and --console-key need --console-listen");
  }
  const std::string db = cli.db.empty() ? "/var/lib/labgate/labgate.db" : cli.db;
  const std::string site_key = fresh_key_hex();
  const std::string command_key = fresh_key_hex();
  const std::string text = config_text(a, cli.time_zone, db, site_key, command_key);
  // The file must be one labgated accepts; the errors name no key.
  auto check = config::load_config_string(text, a.out);
  if (!check.has_value()) {
    std::string message = "the generated config is refused:";
    for (const auto& e : check.error()) message += "\n  " + e.message;
    refuse(kExitUsage, message);
  }
  // The certificate first: a config is never left naming files that do not exist.
  if (make_cert) {
    write_self_signed(a.console_cert, a.console_key, a.gateway, *listen_host(a.console_listen),
                      a.force);
  }
  std::string group;
  write_config(a.out, text, a.force, group);
  std::cout << "wrote " << a.out << " (mode 0640, group " << group << ")\n"
            << "  site.key          " << fingerprint(site_key) << "\n"
            << "  mqtt.command_key  " << fingerprint(command_key) << "\n";
  if (make_cert) {
    std::cout << "wrote " << a.console_cert << " (self-signed) and " << a.console_key
              << " (mode 0600) for the console on " << a.console_listen << "\n";
  }
  std::cout << "next: replace the example devices, then run `labgated --check-config " << a.out
            << "`\n";
  return kExitOk;
}

}  // namespace

void build_init(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<InitArgs>();
  auto* init = app.add_subcommand(
      "init",
      "write a starting site config with fresh random keys (site key, MQTT command key) and an "
      "example door and machine on simulated devices; the keys are never printed. --db sets "
      "[store] path (default /var/lib/labgate/labgate.db), --tz the site time zone");
  init->add_option("--site", a->site, "site id")->required();
  init->add_option("--gateway", a->gateway, "gateway id (this box)")->required();
  init->add_option("--out", a->out, "config file to write (default /etc/labgate/site.toml)");
  init->add_option("--control-socket", a->socket,
                   "[control] socket (default /var/lib/labgate/labgated.sock)");
  init->add_flag("--force", a->force, "replace an existing file");
  init->add_option("--console-listen", a->console_listen,
                   "[console] listen ADDR:PORT; an address other than loopback gets TLS, with a "
                   "self-signed certificate (console.crt, console.key beside --out) unless "
                   "--console-cert and --console-key name the site's own");
  init->add_option("--console-cert", a->console_cert, "[console] tls_cert (PEM chain)");
  init->add_option("--console-key", a->console_key, "[console] tls_key (PEM)");
  init->callback([&cli, a] { cli.standalone_action = [&cli, a] { return run_init(*a, cli); }; });
}

}  // namespace labgate::gateway::ctl
