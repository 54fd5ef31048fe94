#include "labgate/gateway/config/site_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

namespace labgate::gateway::config {
namespace {

using policy::LocalDate;
using policy::Technology;
using policy::TechnologySet;

// libnfc 1.8 driver names; a connstring is "<driver>[:<port>[:<speed>]]".
constexpr std::array<std::string_view, 9> kNfcDrivers = {"pn532_uart", "pn532_spi",   "pn532_i2c",
                                                         "acr122_usb", "acr122_pcsc", "acr122s",
                                                         "pn53x_usb",  "arygon",      "pcsc"};
constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};
constexpr std::size_t kMaxIdLength = 32;

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
  }
  return "an unknown type";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

bool valid_id(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdLength) return false;
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && (c == '_' || c == '-'));
  };
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!ok(s[i], i == 0)) return false;
  return true;
}

std::optional<Key32> parse_key(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Key32 out{};
  for (std::size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc{} || p != hex.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(v);
  }
  return out;
}

std::optional<int> parse_hhmm(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (std::size_t i : {0u, 1u, 3u, 4u})
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

bool is_nfc_connstring(std::string_view s) {
  const auto colon = s.find(':');
  const auto driver = s.substr(0, colon);
  if (std::find(kNfcDrivers.begin(), kNfcDrivers.end(), driver) == kNfcDrivers.end()) return false;
  // A connstring ending in ":" has lost its port: almost certainly a typo.
  return colon == std::string_view::npos || colon + 1 < s.size();
}

class Loader;

// One TOML table being read: remembers the path for messages and refuses unknown keys.
class Section {
 public:
  Section(Loader& loader, const toml::table& table, std::string path,
          std::initializer_list<std::string_view> allowed);

  const toml::table& table() const { return table_; }
  const std::string& path() const { return path_; }
  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  const toml::node* node(std::string_view key) const { return table_.get(key); }
  std::optional<std::string> string(std::string_view key, bool required);
  std::optional<bool> boolean(std::string_view key);
  std::optional<std::int64_t> integer(std::string_view key, bool required = false);
  /// Integer in [min, max]; negative values get their own message.
  std::optional<std::int64_t> bounded(std::string_view key, std::int64_t min, std::int64_t max,
                                      std::string_view unit);
  const toml::array* array(std::string_view key);
  std::optional<std::string> id(std::string_view key);
  void error_at(std::string_view key, std::string message);
  void missing(std::string_view key);

 private:
  Loader& loader_;
  const toml::table& table_;
  std::string path_;
};

class Loader {
 public:
  explicit Loader(std::string_view source) : source_(source) {}

  void error(const toml::source_region& r, std::string message) {
    errors_.push_back(ConfigError{source_, static_cast<int>(r.begin.line),
                                  static_cast<int>(r.begin.column), std::move(message)});
  }
  void error_node(const toml::node& n, std::string message) {
    error(n.source(), std::move(message));
  }
  bool failed() const { return !errors_.empty(); }
  std::vector<ConfigError> take_errors() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::move(errors_);
  }

  SiteConfig load(const toml::table& root);

 private:
  void site(const toml::table& root, SiteConfig& out);
  void store(const toml::table& root, SiteConfig& out);
  void control_and_log(const toml::table& root, SiteConfig& out);
  void mqtt(const toml::table& root, SiteConfig& out);
  void readers(const toml::table& root, SiteConfig& out);
  void doors(const toml::table& root, SiteConfig& out);
  void machines(const toml::table& root, SiteConfig& out);
  void plans(const toml::table& root, SiteConfig& out);
  void rooms(const toml::table& root, SiteConfig& out);
  void lockers(const toml::table& root, SiteConfig& out);
  // A room's or locker's door: it exists, has an entry reader, is not a presence door and
  // serves no other room or locker.
  void claim_resource_door(Section& s, const std::string& door_id, const std::string& user,
                           const SiteConfig& cfg);
  void fire_alarm(const toml::table& root, SiteConfig& out);
  void desfire(const toml::table& root, SiteConfig& out);

 public:
  void billing_section(const toml::table& root, billing::TaxPolicy& out);

 private:
  // Optional section: nullptr when absent, an error when it is not a table.
  const toml::table* section(const toml::table& root, std::string_view name);
  // Array of tables, refusing anything else and more than `max` entries.
  std::vector<const toml::table*> table_array(const toml::table& root, std::string_view name,
                                              std::size_t max);
  std::optional<TechnologySet> technologies(Section& s, std::string_view key);
  std::optional<DeviceSpec> device(Section& s, std::string_view key, std::string_view owner,
                                   std::string_view role, bool required);
  void claim_reader(Section& s, std::string_view key, const std::string& reader_id,
                    const std::string& user, const SiteConfig& cfg);

  std::string source_;
  std::vector<ConfigError> errors_;
  std::map<std::string, std::string> reader_users_;    // reader id -> "door 'main'"
  std::map<std::string, std::string> device_users_;    // physical device -> owner text
  std::map<std::string, std::string> resource_doors_;  // door id -> "room 'a'"
  bool mqtt_enabled_{false};
};

Section::Section(Loader& loader, const toml::table& table, std::string path,
                 std::initializer_list<std::string_view> allowed)
    : loader_(loader), table_(table), path_(std::move(path)) {
  for (auto&& [k, v] : table_) {
    (void)v;
    const std::string_view name = k.str();
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string msg = "unknown key " + in_quotes(key_path(name));
    std::string_view best;
    std::size_t best_distance = 3;
    for (auto candidate : allowed) {
      const std::size_t d = edit_distance(name, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    if (!best.empty()) msg += " (did you mean " + in_quotes(best) + "?)";
    loader_.error(k.source(), std::move(msg));
  }
}

void Section::error_at(std::string_view key, std::string message) {
  const toml::node* n = node(key);
  if (n != nullptr)
    loader_.error_node(*n, key_path(key) + ": " + message);
  else
    loader_.error(table_.source(), key_path(key) + ": " + message);
}

void Section::missing(std::string_view key) {
  loader_.error(table_.source(), "missing required key " + in_quotes(key_path(key)));
}

std::optional<std::string> Section::string(std::string_view key, bool required) {
  const toml::node* n = node(key);
  if (n == nullptr) {
    if (required) missing(key);
    return std::nullopt;
  }
  if (!n->is_string()) {
    error_at(key, std::string("expected a string, got ") + type_name(n->type()));
    return std::nullopt;
  }
  return n->as_string()->get();
}

std::optional<bool> Section::boolean(std::string_view key) {
  const toml::node* n = node(key);
  if (n == nullptr) return std::nullopt;
  if (!n->is_boolean()) {
    error_at(key, std::string("expected true or false, got ") + type_name(n->type()));
    return std::nullopt;
  }
  return n->as_boolean()->get();
}

std::optional<std::int64_t> Section::integer(std::string_view key, bool required) {
  const toml::node* n = node(key);
  if (n == nullptr) {
    if (required) missing(key);
    return std::nullopt;
  }
  if (!n->is_integer()) {
    error_at(key, std::string("expected an integer, got ") + type_name(n->type()));
    return std::nullopt;
  }
  return n->as_integer()->get();
}

std::optional<std::int64_t> Section::bounded(std::string_view key, std::int64_t min,
                                             std::int64_t max, std::string_view unit) {
  auto v = integer(key);
  if (!v) return std::nullopt;
  const std::string suffix = unit.empty() ? "" : " " + std::string(unit);
  if (*v < 0 && min >= 0) {
    error_at(key, "must not be negative (got " + std::to_string(*v) + ")");
    return std::nullopt;
  }
  if (*v < min) {
    error_at(key, "must be at least " + std::to_string(min) + suffix + " (got " +
                      std::to_string(*v) + ")");
    return std::nullopt;
  }
  if (*v > max) {
    error_at(key, "must be at most " + std::to_string(max) + suffix + " (got " +
                      std::to_string(*v) + ")");
    return std::nullopt;
  }
  return v;
}

const toml::array* Section::array(std::string_view key) {
  const toml::node* n = node(key);
  if (n == nullptr) return nullptr;
  if (!n->is_array()) {
    error_at(key, std::string("expected an array, got ") + type_name(n->type()));
    return nullptr;
  }
  return n->as_array();
}

std::optional<std::string> Section::id(std::string_view key) {
  auto v = string(key, true);
  if (!v) return std::nullopt;
  if (!valid_id(*v)) {
    error_at(key, "invalid id " + in_quotes(*v) +
                      " (1-32 characters: a-z, 0-9, '_' and '-', starting with a letter or digit)");
    return std::nullopt;
  }
  return v;
}

const toml::table* Loader::section(const toml::table& root, std::string_view name) {
  const toml::node* n = root.get(name);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) {
    error_node(*n, in_quotes(name) + ": expected a table ([" + std::string(name) + "]), got " +
                       type_name(n->type()));
    return nullptr;
  }
  return n->as_table();
}

std::vector<const toml::table*> Loader::table_array(const toml::table& root, std::string_view name,
                                                    std::size_t max) {
  std::vector<const toml::table*> out;
  const toml::node* n = root.get(name);
  if (n == nullptr) return out;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    error_node(*n, in_quotes(name) + ": expected an array of tables ([[" + std::string(name) +
                       "]]), got " + type_name(n->type()));
    return out;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    if (i >= max) {
      error_node(e, "too many " + std::string(name) + ": at most " + std::to_string(max) +
                        " are supported");
      break;
    }
    if (!e.is_table()) {
      error_node(e, std::string(name) + "[" + std::to_string(i) + "]: expected a table, got " +
                        type_name(e.type()));
      continue;
    }
    out.push_back(e.as_table());
  }
  return out;
}

std::optional<TechnologySet> Loader::technologies(Section& s, std::string_view key) {
  const toml::array* arr = s.array(key);
  if (arr == nullptr) return std::nullopt;
  TechnologySet set;
  for (const auto& e : *arr) {
    if (!e.is_string()) {
      error_node(e, s.key_path(key) + ": expected technology names, got " + type_name(e.type()));
      continue;
    }
    const std::string& name = e.as_string()->get();
    auto t = policy::parse_technology(name);
    if (!t) {
      error_node(e, s.key_path(key) + ": unknown technology " + in_quotes(name) +
                        " (expected iso14443a, felica or desfire)");
      continue;
    }
    set.insert(*t);
  }
  return set;
}

std::optional<DeviceSpec> Loader::device(Section& s, std::string_view key, std::string_view owner,
                                         std::string_view role, bool required) {
  auto text = s.string(key, required);
  if (!text) return std::nullopt;
  std::string err;
  auto spec = parse_device_spec(*text, std::string(owner) + "." + std::string(role), err);
  if (!spec) {
    s.error_at(key, err);
    return std::nullopt;
  }
  if ((spec->kind == DeviceSpec::Kind::kShelly || spec->kind == DeviceSpec::Kind::kTasmota) &&
      !mqtt_enabled_) {
    s.error_at(key, in_quotes(*text) + " is an MQTT smart plug: it needs [mqtt] enabled = true");
    return std::nullopt;
  }
  std::string physical;
  switch (spec->kind) {
    case DeviceSpec::Kind::kSim:
      break;
    case DeviceSpec::Kind::kGpio:
      physical = "gpio:" + spec->chip + ":" + std::to_string(spec->line);
      break;
    case DeviceSpec::Kind::kShelly:
      physical = "shelly:" + spec->id;
      break;
    case DeviceSpec::Kind::kTasmota:
      physical = "tasmota:" + spec->id;
      break;
  }
  if (!physical.empty()) {
    const std::string user = std::string(owner) + "." + std::string(role);
    auto [it, inserted] = device_users_.emplace(physical, user);
    if (!inserted) {
      s.error_at(key, in_quotes(physical) + " is already used by " + in_quotes(it->second));
      return std::nullopt;
    }
  }
  return spec;
}

void Loader::claim_reader(Section& s, std::string_view key, const std::string& reader_id,
                          const std::string& user, const SiteConfig& cfg) {
  const ReaderConfig* reader = cfg.find_reader(reader_id);
  if (reader == nullptr) {
    s.error_at(key, "unknown reader " + in_quotes(reader_id) + " (not defined in [[readers]])");
    return;
  }
  if (reader->desk) {
    s.error_at(key, "reader " + in_quotes(reader_id) +
                        " is a desk reader (role = \"desk\"): labgatectl writes cards on it, "
                        "the daemon never reads it");
    return;
  }
  auto [it, inserted] = reader_users_.emplace(reader_id, user);
  if (!inserted)
    s.error_at(key, "reader " + in_quotes(reader_id) + " is already used by " + it->second);
}

void Loader::site(const toml::table& root, SiteConfig& out) {
  const toml::table* t = section(root, "site");
  if (t == nullptr) {
    if (root.get("site") == nullptr)
      error(toml::source_region{{1, 1}, {1, 1}, {}}, "missing [site] section");
    return;
  }
  Section s(*this, *t, "site",
            {"id", "gateway", "timezone", "key", "accept", "holidays", "closure", "closing_time"});
  SiteSection& site = out.site;
  if (auto v = s.id("id")) site.id = *v;
  if (auto v = s.id("gateway")) site.gateway = *v;
  if (auto v = s.string("timezone", false)) {
    if (policy::Calendar::is_valid_time_zone(*v))
      site.timezone = *v;
    else
      s.error_at("timezone",
                 "unknown time zone " + in_quotes(*v) + " (expected an IANA name like Asia/Tokyo)");
  }
  if (auto v = s.string("key", true)) {
    auto key = parse_key(*v);
    if (!key)
      s.error_at("key", "must be 64 hex characters (a 32-byte key), got " +
                            std::to_string(v->size()) + " characters");
    else if (std::all_of(key->begin(), key->end(), [](auto b) { return b == 0; }))
      s.error_at("key", "must not be all zeros");
    else
      site.key = *key;
  }
  if (auto v = technologies(s, "accept")) site.accept = *v;

  if (const toml::array* hol = s.array("holidays")) {
    if (hol->size() > kMaxHolidays)
      s.error_at("holidays", "too many holidays: at most " + std::to_string(kMaxHolidays));
    std::set<LocalDate> seen;
    for (std::size_t i = 0; i < hol->size() && i < kMaxHolidays; ++i) {
      const toml::node& e = *hol->get(i);
      std::optional<LocalDate> d;
      if (e.is_string()) {
        d = policy::parse_date(e.as_string()->get());
      } else if (e.is_date()) {
        const toml::date td = e.as_date()->get();
        LocalDate ld{std::chrono::year{td.year}, std::chrono::month{td.month},
                     std::chrono::day{td.day}};
        if (ld.ok()) d = ld;
      }
      if (!d) {
        error_node(e, "site.holidays: expected a date \"YYYY-MM-DD\", got " +
                          (e.is_string() ? in_quotes(e.as_string()->get())
                                         : std::string(type_name(e.type()))));
        continue;
      }
      if (!seen.insert(*d).second) {
        error_node(e, "site.holidays: duplicate holiday " + policy::to_string(*d));
        continue;
      }
      site.holidays.push_back(*d);
    }
    std::sort(site.holidays.begin(), site.holidays.end());
  }

  if (const toml::node* n = s.node("closure")) {
    if (!n->is_table()) {
      s.error_at("closure",
                 std::string("expected a table { from = \"12-29\", to = \"01-03\" }, got ") +
                     type_name(n->type()));
    } else {
      Section c(*this, *n->as_table(), "site.closure", {"enabled", "from", "to"});
      const bool enabled = c.boolean("enabled").value_or(true);
      auto from = c.string("from", true);
      auto to = c.string("to", true);
      std::optional<policy::MonthDay> first, last;
      if (from && !(first = policy::parse_month_day(*from)))
        c.error_at("from", "expected a month-day \"MM-DD\", got " + in_quotes(*from));
      if (to && !(last = policy::parse_month_day(*to)))
        c.error_at("to", "expected a month-day \"MM-DD\", got " + in_quotes(*to));
      if (first && last)
        site.closure =
            enabled ? std::optional<policy::Closure>{policy::Closure{*first, *last}} : std::nullopt;
    }
  }

  if (auto v = s.string("closing_time", false)) {
    if (v->empty())
      site.closing_minute.reset();
    else if (auto m = parse_hhmm(*v))
      site.closing_minute = *m;
    else
      s.error_at("closing_time",
                 "expected a time \"HH:MM\" (00:00-23:59) or \"\", got " + in_quotes(*v));
  }
}

void Loader::store(const toml::table& root, SiteConfig& out) {
  const toml::table* t = section(root, "store");
  if (t == nullptr) return;
  Section s(*this, *t, "store", {"path", "busy_timeout_ms", "heartbeat_ms"});
  if (auto v = s.string("path", false)) {
    if (v->empty())
      s.error_at("path", "must not be empty");
    else
      out.store.path = *v;
  }
  if (auto v = s.bounded("busy_timeout_ms", 0, 60000, "ms"))
    out.store.busy_timeout = std::chrono::milliseconds{*v};
  if (auto v = s.bounded("heartbeat_ms", 100, 3600000, "ms"))
    out.store.heartbeat = std::chrono::milliseconds{*v};
}

void Loader::control_and_log(const toml::table& root, SiteConfig& out) {
  if (const toml::table* t = section(root, "control")) {
    Section s(*this, *t, "control", {"socket"});
    if (auto v = s.string("socket", false)) out.control.socket = *v;
  }
  if (const toml::table* t = section(root, "admin")) {
    Section s(*this, *t, "admin", {"socket", "group", "client_queue", "max_clients"});
    if (auto v = s.string("socket", false)) out.admin.socket = *v;
    if (auto v = s.string("group", false)) out.admin.group = *v;
    if (auto v = s.bounded("client_queue", 4, 100000, "lines")) out.admin.client_queue = *v;
    if (auto v = s.bounded("max_clients", 1, 1024, "clients")) out.admin.max_clients = *v;
  }
  if (const toml::table* t = section(root, "console")) {
    Section s(*this, *t, "console", {"listen", "tls_cert", "tls_key", "static_dir"});
    if (auto v = s.string("listen", false)) out.console.listen = *v;
    if (auto v = s.string("tls_cert", false)) out.console.tls_cert = *v;
    if (auto v = s.string("tls_key", false)) out.console.tls_key = *v;
    if (auto v = s.string("static_dir", false)) out.console.static_dir = *v;
    if (out.console.tls_cert.empty() != out.console.tls_key.empty())
      s.error_at(out.console.tls_cert.empty() ? "tls_key" : "tls_cert",
                 "tls_cert and tls_key go together");
  }
  if (const toml::table* t = section(root, "log")) {
    Section s(*this, *t, "log", {"level"});
    if (auto v = s.string("level", false)) {
      if (std::find(kLogLevels.begin(), kLogLevels.end(), *v) == kLogLevels.end())
        s.error_at("level", "unknown level " + in_quotes(*v) +
                                " (expected trace, debug, info, warn, error, critical or off)");
      else
        out.log.level = *v;
    }
  }
}

void Loader::mqtt(const toml::table& root, SiteConfig& out) {
  const toml::table* t = section(root, "mqtt");
  if (t == nullptr) return;
  Section s(*this, *t, "mqtt",
            {"enabled", "host", "port", "client_id", "username", "password", "ca_file", "cert_file",
             "key_file", "base_topic", "command_key", "outbox_retention_days",
             "plug_confirm_timeout_ms"});
  MqttConfig& m = out.mqtt;
  if (auto v = s.boolean("enabled")) m.enabled = *v;
  mqtt_enabled_ = m.enabled;
  if (auto v = s.string("host", false)) {
    if (v->empty())
      s.error_at("host", "must not be empty");
    else
      m.host = *v;
  }
  if (auto v = s.bounded("port", 1, 65535, "")) m.port = static_cast<int>(*v);
  if (auto v = s.string("client_id", false)) m.client_id = *v;
  if (auto v = s.string("username", false)) m.username = *v;
  if (auto v = s.string("password", false)) m.password = *v;
  if (auto v = s.string("ca_file", false)) m.ca_file = *v;
  if (auto v = s.string("cert_file", false)) m.cert_file = *v;
  if (auto v = s.string("key_file", false)) m.key_file = *v;
  if (!m.cert_file.empty() && m.ca_file.empty())
    s.error_at("cert_file", "a client certificate needs TLS: set ca_file too");
  if (!m.key_file.empty() && m.cert_file.empty())
    s.error_at("key_file", "a private key needs cert_file");
  if (auto v = s.bounded("plug_confirm_timeout_ms", 100, 60000, "ms"))
    m.plug_confirm_timeout = std::chrono::milliseconds(*v);
  if (auto v = s.string("base_topic", false)) {
    if (v->empty() || v->find_first_of("+#") != std::string::npos || v->front() == '/' ||
        v->back() == '/')
      s.error_at("base_topic",
                 "must be a non-empty topic without wildcards or a leading or "
                 "trailing '/', got " +
                     in_quotes(*v));
    else
      m.base_topic = *v;
  }
  if (auto v = s.string("command_key", false)) {
    if (!v->empty()) {
      if (auto key = parse_key(*v))
        m.command_key = *key;
      else
        s.error_at("command_key", "must be 64 hex characters (a 32-byte key) or \"\", got " +
                                      std::to_string(v->size()) + " characters");
    }
  }
  if (auto v = s.bounded("outbox_retention_days", 1, 3650, "days"))
    m.outbox_retention_days = static_cast<int>(*v);
}

void Loader::readers(const toml::table& root, SiteConfig& out) {
  std::map<std::string, std::string> connstrings;
  auto tables = table_array(root, "readers", kMaxReaders);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    Section s(*this, *tables[i], "readers[" + std::to_string(i) + "]",
              {"id", "device", "accept", "role"});
    ReaderConfig r;
    auto id = s.id("id");
    if (id) {
      if (out.find_reader(*id) != nullptr) {
        s.error_at("id", "duplicate reader id " + in_quotes(*id));
        id.reset();
      } else {
        r.id = *id;
      }
    }
    if (auto dev = s.string("device", true)) {
      if (*dev == "sim") {
        r.device = *dev;
        r.simulated = true;
      } else if (is_nfc_connstring(*dev)) {
        r.device = *dev;
        r.simulated = false;
        auto [it, inserted] = connstrings.emplace(*dev, r.id);
        if (!inserted)
          s.error_at("device",
                     in_quotes(*dev) + " is already used by reader " + in_quotes(it->second));
      } else {
        s.error_at("device", "unknown device spec " + in_quotes(*dev) +
                                 " (expected \"sim\" or a libnfc connstring like "
                                 "\"pn532_uart:/dev/ttyUSB0\")");
      }
    }
    if (s.node("accept") != nullptr) {
      if (auto set = technologies(s, "accept")) {
        r.accept = *set;
        for (auto tech : {Technology::kIso14443a, Technology::kFelica})
          if (set->contains(tech) && !out.site.accept.contains(tech))
            s.error_at("accept", std::string(policy::to_string(tech)) +
                                     " is not in [site] accept: a reader can only narrow it");
      }
    }
    if (auto role = s.string("role", false)) {
      if (*role == "desk") {
        r.desk = true;
        if (r.simulated)
          s.error_at("role", "a desk reader needs a libnfc connstring as device, not \"sim\"");
      } else if (*role != "tap") {
        s.error_at("role", "unknown role " + in_quotes(*role) + " (expected \"tap\" or \"desk\")");
      }
    }
    if (id) out.readers.push_back(std::move(r));
  }
}

void Loader::doors(const toml::table& root, SiteConfig& out) {
  auto tables = table_array(root, "doors", kMaxDoors);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    Section s(*this, *tables[i], "doors[" + std::to_string(i) + "]",
              {"id", "name", "entry_reader", "exit_reader", "strike", "contact", "exit_button",
               "fail_mode", "strike_pulse_s", "held_open_s", "egress", "fire_release", "presence",
               "anti_passback"});
    DoorConfig d;
    auto id = s.id("id");
    if (id && (out.find_door(*id) != nullptr || out.find_machine(*id) != nullptr)) {
      s.error_at("id", "duplicate door or machine id " + in_quotes(*id));
      id.reset();
    }
    const std::string owner = id.value_or("doors[" + std::to_string(i) + "]");
    d.id = owner;
    d.name = s.string("name", false).value_or(owner);
    if (auto v = s.string("entry_reader", false)) {
      claim_reader(s, "entry_reader", *v, "door " + in_quotes(owner) + " (entry)", out);
      d.entry_reader = *v;
    }
    if (auto v = s.string("exit_reader", false)) {
      claim_reader(s, "exit_reader", *v, "door " + in_quotes(owner) + " (exit)", out);
      d.exit_reader = *v;
    }
    if (auto v = device(s, "strike", owner, "strike", true)) d.strike = *v;
    d.contact = device(s, "contact", owner, "contact", false);
    d.exit_button = device(s, "exit_button", owner, "exit_button", false);
    if (auto v = s.string("fail_mode", false)) {
      if (*v == "secure")
        d.fail_mode = FailMode::kSecure;
      else if (*v == "safe")
        d.fail_mode = FailMode::kSafe;
      else
        s.error_at("fail_mode", "expected \"secure\" or \"safe\", got " + in_quotes(*v));
    }
    if (auto v = s.bounded("strike_pulse_s", 3, 300, "s"))
      d.strike_pulse = std::chrono::seconds{*v};
    if (auto v = s.bounded("held_open_s", 1, 3600, "s")) d.held_open = std::chrono::seconds{*v};
    if (auto v = s.boolean("egress")) d.egress = *v;
    if (auto v = s.boolean("fire_release")) d.fire_release = *v;
    // A fail-safe door is one on an escape route (it opens when power fails); such a door that
    // stayed locked in a fire alarm would trap people, so the combination is never accepted.
    if (d.fail_mode == FailMode::kSafe && !d.fire_release)
      s.error_at("fire_release",
                 "a fail_mode = \"safe\" door is on an escape route and must release on fire "
                 "(fire_release = true)");
    if (auto v = s.boolean("presence")) d.presence = *v;
    if (auto v = s.boolean("anti_passback")) d.anti_passback = *v;
    if (d.anti_passback && !d.presence)
      s.error_at("anti_passback", "needs presence = true (it relies on the presence record)");
    if (id) out.doors.push_back(std::move(d));
  }
}

void Loader::machines(const toml::table& root, SiteConfig& out) {
  auto tables = table_array(root, "machines", kMaxMachines);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    Section s(*this, *tables[i], "machines[" + std::to_string(i) + "]",
              {"id", "name", "reader", "relay", "busy", "certification", "mode", "grace_s",
               "idle_timeout_s", "max_session_s", "busy_hold_max_s", "needs_checkoff",
               "inspection_interval_days"});
    MachineConfig m;
    auto id = s.id("id");
    if (id && (out.find_door(*id) != nullptr || out.find_machine(*id) != nullptr)) {
      s.error_at("id", "duplicate door or machine id " + in_quotes(*id));
      id.reset();
    }
    const std::string owner = id.value_or("machines[" + std::to_string(i) + "]");
    m.id = owner;
    m.name = s.string("name", false).value_or(owner);
    if (auto v = s.string("reader", true)) {
      claim_reader(s, "reader", *v, "machine " + in_quotes(owner), out);
      m.reader = *v;
    }
    if (auto v = device(s, "relay", owner, "relay", true)) m.relay = *v;
    m.busy = device(s, "busy", owner, "busy", false);
    if (auto v = s.string("certification", false)) {
      if (!v->empty() && !valid_id(*v))
        s.error_at("certification", "invalid certification type code " + in_quotes(*v));
      else
        m.certification = *v;
    }
    if (auto v = s.string("mode", false)) {
      if (*v == "card_stays")
        m.mode = SessionMode::kCardStays;
      else if (*v == "tap_on_off")
        m.mode = SessionMode::kTapOnOff;
      else
        s.error_at("mode", "expected \"card_stays\" or \"tap_on_off\", got " + in_quotes(*v));
    }
    if (auto v = s.bounded("grace_s", 0, 3600, "s")) m.grace = std::chrono::seconds{*v};
    if (auto v = s.bounded("idle_timeout_s", 0, 86400, "s"))
      m.idle_timeout = std::chrono::seconds{*v};
    if (auto v = s.bounded("max_session_s", 0, 7 * 86400, "s"))
      m.max_session = std::chrono::seconds{*v};
    if (auto v = s.bounded("busy_hold_max_s", 0, 7 * 86400, "s"))
      m.busy_hold_max = std::chrono::seconds{*v};
    if (auto v = s.boolean("needs_checkoff")) m.needs_checkoff = *v;
    if (auto v = s.bounded("inspection_interval_days", 0, 3650, "days"))
      m.inspection_interval_days = static_cast<int>(*v);
    if (id) out.machines.push_back(std::move(m));
  }
}

void Loader::plans(const toml::table& root, SiteConfig& out) {
  auto tables = table_array(root, "plans", kMaxPlans);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    Section s(*this, *tables[i], "plans[" + std::to_string(i) + "]",
              {"id", "name", "windows", "holidays", "closure"});
    PlanConfig p;
    auto id = s.id("id");
    if (id && out.find_plan(*id) != nullptr) {
      s.error_at("id", "duplicate plan id " + in_quotes(*id));
      id.reset();
    }
    if (id) p.id = *id;
    p.name = s.string("name", false).value_or(p.id);
    if (auto v = s.string("windows", true)) {
      auto w = policy::parse_windows(*v);
      if (w) {
        p.access.windows = w.value();
      } else {
        // Point inside the string: the value starts at its opening quote.
        const toml::node& n = *s.node("windows");
        toml::source_region r = n.source();
        const bool single_line_basic = r.begin.line == r.end.line;
        if (single_line_basic)
          r.begin.column = static_cast<toml::source_index>(r.begin.column + 1 + w.error().position);
        error(r, s.key_path("windows") + ": " + w.error().message + " (at character " +
                     std::to_string(w.error().position + 1) + " of the schedule)");
      }
    }
    if (auto v = s.boolean("holidays")) p.access.holidays = *v;
    if (auto v = s.boolean("closure")) p.access.closure = *v;
    if (id) out.plans.push_back(std::move(p));
  }
}

void Loader::claim_resource_door(Section& s, const std::string& door_id, const std::string& user,
                                 const SiteConfig& cfg) {
  const DoorConfig* door = cfg.find_door(door_id);
  if (door == nullptr) {
    s.error_at("door", "unknown door " + in_quotes(door_id) + " (declare it under [[doors]])");
    return;
  }
  if (auto [it, fresh] = resource_doors_.emplace(door_id, user); !fresh) {
    s.error_at("door", "door " + in_quotes(door_id) + " already serves " + it->second);
    return;
  }
  if (!door->entry_reader)
    s.error_at("door", "door " + in_quotes(door_id) + " needs an entry_reader to admit " + user);
  if (door->presence)
    s.error_at("door", "door " + in_quotes(door_id) +
                           " must have presence = false: entering a room or opening a locker is "
                           "not arriving on site");
}

void Loader::rooms(const toml::table& root, SiteConfig& out) {
  auto tables = table_array(root, "rooms", kMaxRooms);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    Section s(*this, *tables[i], "rooms[" + std::to_string(i) + "]",
              {"id", "name", "door", "capacity", "hours", "holidays", "closure", "grid_minutes",
               "lead_minutes", "max_advance_days", "max_minutes", "cancel_minutes",
               "early_entry_minutes", "no_show_minutes", "no_show_charged", "rate_per_hour"});
    RoomConfig r;
    auto id = s.id("id");
    if (id && (out.find_room(*id) != nullptr || out.find_locker(*id) != nullptr)) {
      s.error_at("id", "duplicate room or locker id " + in_quotes(*id));
      id.reset();
    }
    const std::string owner = id.value_or("rooms[" + std::to_string(i) + "]");
    r.id = owner;
    r.name = s.string("name", false).value_or(owner);
    if (auto v = s.string("door", true)) {
      r.door = *v;
      claim_resource_door(s, *v, "room " + in_quotes(owner), out);
    }
    if (auto v = s.bounded("capacity", 1, 500, "people"))
      r.rules.capacity = static_cast<int>(*v);
    else if (s.node("capacity") == nullptr)
      s.missing("capacity");
    if (auto v = s.string("hours", true)) {
      auto w = policy::parse_windows(*v);
      if (w) {
        r.rules.hours.windows = w.value();
      } else {
        s.error_at("hours", w.error().message + " (at character " +
                                std::to_string(w.error().position + 1) + " of the schedule)");
      }
    }
    if (auto v = s.boolean("holidays")) r.rules.hours.holidays = *v;
    if (auto v = s.boolean("closure")) r.rules.hours.closure = *v;
    if (auto v = s.bounded("grid_minutes", 5, 240, "minutes")) {
      if (1440 % *v != 0)
        s.error_at("grid_minutes",
                   "must divide a day (1440 minutes) evenly, got " + std::to_string(*v));
      else
        r.rules.grid_minutes = static_cast<int>(*v);
    }
    if (auto v = s.bounded("lead_minutes", 0, 7 * 1440, "minutes"))
      r.rules.lead_minutes = static_cast<int>(*v);
    if (auto v = s.bounded("max_advance_days", 1, 730, "days"))
      r.rules.max_advance_days = static_cast<int>(*v);
    if (auto v = s.bounded("max_minutes", 5, 7 * 1440, "minutes")) {
      if (*v % r.rules.grid_minutes != 0)
        s.error_at("max_minutes", "must be a multiple of grid_minutes (" +
                                      std::to_string(r.rules.grid_minutes) + ")");
      else
        r.rules.max_minutes = static_cast<int>(*v);
    } else if (r.rules.max_minutes % r.rules.grid_minutes != 0) {
      r.rules.max_minutes -= r.rules.max_minutes % r.rules.grid_minutes;
    }
    if (auto v = s.bounded("cancel_minutes", 0, 7 * 1440, "minutes"))
      r.rules.cancel_minutes = static_cast<int>(*v);
    if (auto v = s.bounded("early_entry_minutes", 0, 120, "minutes"))
      r.rules.early_entry_minutes = static_cast<int>(*v);
    if (auto v = s.bounded("no_show_minutes", 1, 1440, "minutes"))
      r.rules.no_show_minutes = static_cast<int>(*v);
    if (auto v = s.boolean("no_show_charged")) r.rules.no_show_charged = *v;
    if (auto v = s.bounded("rate_per_hour", 0, 10'000'000, "yen")) r.rate_per_hour = *v;
    if (id) out.rooms.push_back(std::move(r));
  }
}

void Loader::lockers(const toml::table& root, SiteConfig& out) {
  auto tables = table_array(root, "lockers", kMaxLockers);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    Section s(*this, *tables[i], "lockers[" + std::to_string(i) + "]",
              {"id", "name", "door", "rate_per_month"});
    LockerConfig l;
    auto id = s.id("id");
    if (id && (out.find_room(*id) != nullptr || out.find_locker(*id) != nullptr)) {
      s.error_at("id", "duplicate room or locker id " + in_quotes(*id));
      id.reset();
    }
    const std::string owner = id.value_or("lockers[" + std::to_string(i) + "]");
    l.id = owner;
    l.name = s.string("name", false).value_or(owner);
    if (auto v = s.string("door", false)) {
      l.door = *v;
      claim_resource_door(s, *v, "locker " + in_quotes(owner), out);
    }
    if (auto v = s.bounded("rate_per_month", 0, 10'000'000, "yen")) l.rate_per_month = *v;
    if (id) out.lockers.push_back(std::move(l));
  }
}

void Loader::fire_alarm(const toml::table& root, SiteConfig& out) {
  const toml::table* t = section(root, "fire_alarm");
  if (t == nullptr) return;
  Section s(*this, *t, "fire_alarm", {"input"});
  out.fire_alarm.input = device(s, "input", "fire_alarm", "input", false);
}

void Loader::desfire(const toml::table& root, SiteConfig& out) {
  if (const toml::table* t = section(root, "desfire")) {
    Section s(*this, *t, "desfire", {"key_file", "aid", "system_id", "random_uid"});
    if (auto v = s.string("key_file", false)) out.desfire.key_file = *v;
    if (auto v = s.bounded("aid", 1, 0xFFFFFF, ""))
      out.desfire.aid = static_cast<std::uint32_t>(*v);
    if (auto v = s.string("system_id", false)) {
      // UID (7) + AID (3) + system id must fit AN10922's 31 bytes.
      if (v->size() > 21)
        s.error_at("system_id", "at most 21 bytes (AN10922 input is at most 31 bytes)");
      else
        out.desfire.system_id = *v;
    }
    if (auto v = s.boolean("random_uid")) out.desfire.random_uid = *v;
  }
  if (out.desfire.system_id.empty()) out.desfire.system_id = out.site.id.substr(0, 21);
}

void Loader::billing_section(const toml::table& root, billing::TaxPolicy& out) {
  const toml::table* t = section(root, "billing");
  if (t == nullptr) return;
  Section s(*this, *t, "billing",
            {"prices", "tax_rounding", "time_tax_class", "issuer_name", "issuer_address",
             "registration_number", "tax_rates"});
  if (auto v = s.string("prices", false)) {
    if (auto m = billing::parse_price_mode(*v)) {
      out.prices = *m;
    } else {
      s.error_at("prices", "unknown price mode " + in_quotes(*v) +
                               " (expected \"inclusive\": prices include the tax, or "
                               "\"exclusive\": the tax is added)");
    }
  }
  if (auto v = s.string("tax_rounding", false)) {
    if (auto r = billing::parse_tax_rounding(*v)) {
      out.rounding = *r;
    } else {
      s.error_at("tax_rounding", "unknown rounding " + in_quotes(*v) +
                                     " (expected \"floor\", \"round\" or \"ceil\")");
    }
  }
  if (auto v = s.string("time_tax_class", false)) {
    if (auto c = billing::parse_tax_class(*v)) {
      out.time_class = *c;
    } else {
      s.error_at("time_tax_class", "unknown tax class " + in_quotes(*v) +
                                       " (expected \"standard\", \"reduced\" or \"exempt\")");
    }
  }
  if (auto v = s.string("issuer_name", false)) out.issuer.name = *v;
  if (auto v = s.string("issuer_address", false)) out.issuer.address = *v;
  if (auto v = s.string("registration_number", false)) {
    if (auto why = billing::registration_number_error(*v)) {
      s.error_at("registration_number", in_quotes(*v) + " " + *why);
    } else {
      out.issuer.registration_number = *v;
    }
  }
  const toml::node* rates_node = t->get("tax_rates");
  if (rates_node == nullptr) return;
  std::vector<billing::TaxRate> rows;
  bool bad = false;
  for (const toml::table* rt : table_array(*t, "tax_rates", kMaxTaxRates)) {
    const std::string path = "billing.tax_rates[" + std::to_string(rows.size()) + "]";
    Section r(*this, *rt, path, {"class", "percent", "from"});
    billing::TaxRate row;
    bool ok = true;
    if (auto v = r.string("class", true)) {
      if (auto c = billing::parse_tax_class(*v)) {
        row.tax_class = *c;
      } else {
        r.error_at("class", "unknown tax class " + in_quotes(*v) +
                                " (expected \"standard\", \"reduced\" or \"exempt\")");
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto v = r.integer("percent", true)) {
      if (*v < 0 || *v > 100) {
        r.error_at("percent",
                   "must be a whole percent from 0 to 100 (got " + std::to_string(*v) + ")");
        ok = false;
      } else {
        row.percent = *v;
      }
    } else {
      ok = false;
    }
    if (ok && row.tax_class == billing::TaxClass::kExempt && row.percent != 0) {
      r.error_at("percent", "an exempt class carries no tax: its percent must be 0 (got " +
                                std::to_string(row.percent) + ")");
      ok = false;
    }
    const toml::node* from = rt->get("from");
    if (from == nullptr) {
      r.missing("from");
      ok = false;
    } else if (from->is_date()) {
      const toml::date d = from->as_date()->get();
      char buf[16];
      std::snprintf(buf, sizeof buf, "%04u-%02u-%02u", static_cast<unsigned>(d.year),
                    static_cast<unsigned>(d.month), static_cast<unsigned>(d.day));
      row.from = buf;
    } else if (from->is_string() && billing::is_valid_date(from->as_string()->get())) {
      row.from = from->as_string()->get();
    } else {
      r.error_at("from", "expected a date YYYY-MM-DD (the first day the rate applies)");
      ok = false;
    }
    for (const auto& seen : rows) {
      if (ok && seen.tax_class == row.tax_class && seen.from == row.from) {
        r.error_at("from", "a second " + std::string(billing::to_string(row.tax_class)) +
                               " rate from " + row.from + " (one rate per class and date)");
        ok = false;
      }
    }
    bad = bad || !ok;
    rows.push_back(row);
  }
  if (!bad) out.rates = billing::merge_tax_rates(rows);
}

SiteConfig Loader::load(const toml::table& root) {
  SiteConfig out;
  {
    Section top(*this, root, "",
                {"site", "store", "control", "admin", "console", "log", "mqtt", "readers", "doors",
                 "machines", "plans", "rooms", "lockers", "fire_alarm", "desfire", "billing"});
  }
  site(root, out);
  store(root, out);
  control_and_log(root, out);
  mqtt(root, out);  // before devices: smart plugs need it
  readers(root, out);
  doors(root, out);
  machines(root, out);
  plans(root, out);
  rooms(root, out);
  lockers(root, out);
  fire_alarm(root, out);
  desfire(root, out);
  billing_section(root, out.billing);
  if (out.mqtt.client_id.empty())
    out.mqtt.client_id = "labgate-" + out.site.id + "-" + out.site.gateway;
  if (!failed()) {
    out.calendar = policy::Calendar{out.site.timezone};
    out.calendar.set_holidays(out.site.holidays);
    out.calendar.set_closure(out.site.closure);
  }
  return out;
}

template <class T>
const T* find_by_id(const std::vector<T>& items, std::string_view id) {
  for (const auto& item : items)
    if (item.id == id) return &item;
  return nullptr;
}

}  // namespace

std::string to_string(const ConfigError& e) {
  return e.source + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " +
         e.message;
}

std::string to_string(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += to_string(e) + "\n";
  return out;
}

bool is_valid_id(std::string_view id) {
  return valid_id(id);
}

std::optional<DeviceSpec> parse_device_spec(std::string_view text, std::string_view sim_id,
                                            std::string& error) {
  DeviceSpec spec;
  spec.text = std::string(text);
  if (text == "sim") {
    spec.kind = DeviceSpec::Kind::kSim;
    spec.id = std::string(sim_id);
    return spec;
  }
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  const std::string_view kind = parts[0];
  if (kind == "gpio") {
    if (parts.size() < 3 || parts.size() > 4 || parts[1].empty() ||
        (parts.size() == 4 && parts[3] != "active_low")) {
      error =
          "bad gpio spec " + in_quotes(text) + " (expected \"gpio:<chip>:<line>[:active_low]\")";
      return std::nullopt;
    }
    unsigned line = 0;
    auto [p, ec] = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), line);
    if (parts[2].empty() || ec != std::errc{} || p != parts[2].data() + parts[2].size() ||
        line > 1023) {
      error =
          "bad gpio line " + in_quotes(parts[2]) + " in " + in_quotes(text) + " (expected 0-1023)";
      return std::nullopt;
    }
    spec.kind = DeviceSpec::Kind::kGpio;
    spec.chip = std::string(parts[1]);
    spec.line = line;
    spec.active_low = parts.size() == 4;
    spec.id = spec.chip + ":" + std::to_string(line);
    return spec;
  }
  if (kind == "shelly" || kind == "tasmota") {
    if (parts.size() != 2 || parts[1].empty() ||
        parts[1].find_first_of("/+# ") != std::string_view::npos) {
      error = "bad " + std::string(kind) + " spec " + in_quotes(text) + " (expected \"" +
              std::string(kind) + ":<device id>\")";
      return std::nullopt;
    }
    spec.kind = kind == "shelly" ? DeviceSpec::Kind::kShelly : DeviceSpec::Kind::kTasmota;
    spec.id = std::string(parts[1]);
    return spec;
  }
  error = "unknown device spec " + in_quotes(text) +
          " (expected \"sim\", \"gpio:<chip>:<line>[:active_low]\", \"shelly:<id>\" or "
          "\"tasmota:<id>\")";
  return std::nullopt;
}

const ReaderConfig* SiteConfig::find_reader(std::string_view id) const {
  return find_by_id(readers, id);
}
const DoorConfig* SiteConfig::find_door(std::string_view id) const {
  return find_by_id(doors, id);
}
const MachineConfig* SiteConfig::find_machine(std::string_view id) const {
  return find_by_id(machines, id);
}
const RoomConfig* SiteConfig::find_room(std::string_view id) const {
  return find_by_id(rooms, id);
}
const LockerConfig* SiteConfig::find_locker(std::string_view id) const {
  return find_by_id(lockers, id);
}
const PlanConfig* SiteConfig::find_plan(std::string_view id) const {
  return find_by_id(plans, id);
}

LoadResult load_config_string(std::string_view text, std::string_view source_name) {
  const std::string source(source_name);
  auto one = [&](int line, int column, std::string message) -> LoadResult {
    return std::vector<ConfigError>{ConfigError{source, line, column, std::move(message)}};
  };
  if (text.size() > kMaxConfigBytes)
    return one(0, 0,
               "configuration too large (more than " + std::to_string(kMaxConfigBytes) + " bytes)");
  try {
    toml::table root = toml::parse(text, source_name);
    Loader loader(source);
    SiteConfig cfg = loader.load(root);
    if (loader.failed()) return loader.take_errors();
    cfg.source = source;
    return cfg;
  } catch (const toml::parse_error& e) {
    return one(static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column),
               std::string(e.description()));
  } catch (const std::exception& e) {
    return one(0, 0, std::string("cannot load the configuration: ") + e.what());
  }
}

BillingResult load_billing_config_string(std::string_view text, std::string_view source_name) {
  const std::string source(source_name);
  auto one = [&](int line, int column, std::string message) -> BillingResult {
    return std::vector<ConfigError>{ConfigError{source, line, column, std::move(message)}};
  };
  if (text.size() > kMaxConfigBytes) return one(0, 0, "configuration too large");
  try {
    toml::table root = toml::parse(text, source_name);
    Loader loader(source);
    billing::TaxPolicy out;
    loader.billing_section(root, out);
    if (loader.failed()) return loader.take_errors();
    return out;
  } catch (const toml::parse_error& e) {
    return one(static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column),
               std::string(e.description()));
  } catch (const std::exception& e) {
    return one(0, 0, std::string("cannot load the configuration: ") + e.what());
  }
}

LoadResult load_config_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::vector<ConfigError>{ConfigError{path.string(), 0, 0, "cannot open the file"}};
  std::string text;
  std::array<char, 4096> buf{};
  while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {
    text.append(buf.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) break;
  }
  if (in.bad())
    return std::vector<ConfigError>{ConfigError{path.string(), 0, 0, "cannot read the file"}};
  return load_config_string(text, path.string());
}

}  // namespace labgate::gateway::config
