#pragma once
// The TOML site configuration of the gateway: what the daemon runs (doors, machines, readers,
// devices) and the site's calendar. Every key is documented in config/labgate.reference.toml.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/billing/tax.hpp"
#include "labgate/gateway/policy/access.hpp"
#include "labgate/gateway/policy/booking.hpp"
#include "labgate/gateway/policy/calendar.hpp"
#include "labgate/gateway/policy/result.hpp"

namespace labgate::gateway::config {

/// A refusal of the configuration, pointing at the offending key or value.
struct ConfigError {
  std::string source;  ///< file name or the source name given to load_config_string()
  int line{0};         ///< 1-based; 0 when unknown
  int column{0};       ///< 1-based; 0 when unknown
  std::string message;
};

/// "file:line:col: message".
std::string to_string(const ConfigError& e);
/// One error per line, each "file:line:col: message".
std::string to_string(const std::vector<ConfigError>& errors);

/// A 32-byte key given as 64 hex characters in the file.
using Key32 = std::array<std::uint8_t, 32>;

/// Where a binary output or input is wired.
struct DeviceSpec {
  enum class Kind {
    kSim,      ///< "sim": simulated device, its id derived as "<owner id>.<role>"
    kGpio,     ///< "gpio:<chip>:<line>[:active_low]" through libgpiod
    kShelly,   ///< "shelly:<id>": Shelly smart plug over MQTT (reserved, needs [mqtt])
    kTasmota,  ///< "tasmota:<id>": Tasmota smart plug over MQTT (reserved, needs [mqtt])
  };
  Kind kind{Kind::kSim};
  std::string id;          ///< sim: "main.strike"; shelly/tasmota: the plug's id; gpio: "chip:line"
  std::string chip;        ///< gpio: chip name or number ("gpiochip0", "0")
  unsigned line{0};        ///< gpio: line offset on the chip
  bool active_low{false};  ///< gpio: the line is active when low
  std::string text;        ///< the spec as written in the file
};

/// Whether `id` is a valid site, gateway, reader, door, machine or plan id: 1-32 characters of
/// a-z, 0-9, '_' and '-', starting with a letter or digit.
bool is_valid_id(std::string_view id);

/// Parses a device spec; `sim_id` becomes the id of a "sim" device. nullopt with `error` set
/// when the spec is malformed or names an unknown kind.
std::optional<DeviceSpec> parse_device_spec(std::string_view text, std::string_view sim_id,
                                            std::string& error);

/// [site]
struct SiteSection {
  std::string id;                           ///< site id (MQTT topic level)
  std::string gateway;                      ///< gateway id (MQTT topic level)
  std::string timezone{"Asia/Tokyo"};       ///< IANA zone name
  Key32 key{};                              ///< site key: credential hashing, command MACs
  policy::TechnologySet accept;             ///< clonable technologies opted in (desfire always)
  std::vector<policy::LocalDate> holidays;  ///< national holidays, sorted
  std::optional<policy::Closure> closure{policy::Closure{}};  ///< nullopt = no yearly closure
  std::optional<int> closing_minute{22 * 60};  ///< coworking sessions close then; nullopt = never
};

/// [store]
struct StoreConfig {
  std::string path{"var/labgate.db"};  ///< SQLite file, relative to the working directory
  std::chrono::milliseconds busy_timeout{2000};
  std::chrono::milliseconds heartbeat{5000};  ///< how often the daemon records it is alive
};

/// [control]
struct ControlConfig {
  std::string socket{"var/labgated.sock"};  ///< simulated devices' control socket; "" = none
};

/// [admin]: the staff channel (docs/ADMIN.md).
struct AdminConfig {
  /// Unix socket of the admin channel, mode 0660; "" = none. systemd's RuntimeDirectory makes
  /// /run/labgate.
  std::string socket{"/run/labgate/admin.sock"};
  /// Group owning the socket whose members may use it; "" = the daemon's own group.
  std::string group;
  std::int64_t client_queue{256};  ///< lines a client may fall behind before it is closed
  std::int64_t max_clients{64};
};

/// [console]: the staff web console, labgate-console (docs/CONSOLE.md).
struct ConsoleConfig {
  /// "ADDR:PORT" to listen on; any address but loopback needs tls_cert and tls_key.
  std::string listen{"127.0.0.1:8080"};
  std::string tls_cert;  ///< PEM certificate chain; "" = no TLS
  std::string tls_key;   ///< PEM private key; "" = no TLS
  /// Directory of the files served under /static/ (the console's script, htmx).
  std::string static_dir{"/usr/share/labgate/console/static"};
};

/// [log]
struct LogConfig {
  std::string level{"info"};  ///< trace, debug, info, warn, error, critical, off
};

/// [[readers]]
struct ReaderConfig {
  std::string id;
  std::string device{"sim"};  ///< "sim" or a libnfc connstring ("pn532_uart:/dev/ttyUSB0")
  bool simulated{true};       ///< device == "sim"
  std::optional<policy::TechnologySet> accept;  ///< narrows the site's list; nullopt = site's
  /// role = "desk": `labgatectl credentials issue --reader` writes cards on it; the daemon never
  /// opens it and no door or machine may use it.
  bool desk{false};
};

/// What a door does without power or when the daemon is gone.
enum class FailMode {
  kSecure,  ///< stays locked (power-to-open strike)
  kSafe,    ///< unlocks (power-to-lock maglock)
};

/// [[doors]]
struct DoorConfig {
  std::string id;
  std::string name;
  std::optional<std::string> entry_reader;  ///< reader id outside the door
  std::optional<std::string> exit_reader;   ///< reader id inside the door
  DeviceSpec strike;                        ///< sim id "<door>.strike"
  std::optional<DeviceSpec> contact;        ///< sim id "<door>.contact"
  std::optional<DeviceSpec> exit_button;    ///< sim id "<door>.exit_button"
  FailMode fail_mode{FailMode::kSecure};
  std::chrono::seconds strike_pulse{5};  ///< at least 3 s
  std::chrono::seconds held_open{30};    ///< open longer than this after a grant = alarm
  bool egress{true};                     ///< exit reader lets every known member out
  /// The fire alarm releases this door. Separate from `egress` (who may leave through the exit
  /// reader): an escape-route door must release on fire whatever its exit reader checks.
  bool fire_release{true};
  bool presence{true};  ///< readers count for presence and coworking time
  bool anti_passback{false};
};

/// How a machine session begins and ends.
enum class SessionMode {
  kCardStays,  ///< the card stays on the reader; removing it ends the session (after grace)
  kTapOnOff,   ///< tap to start, tap again to stop
};

/// [[machines]]
struct MachineConfig {
  std::string id;
  std::string name;
  std::string reader;              ///< reader id
  DeviceSpec relay;                ///< sim id "<machine>.relay"
  std::optional<DeviceSpec> busy;  ///< sim id "<machine>.busy"
  std::string certification;       ///< certification type code; "" = none required
  SessionMode mode{SessionMode::kCardStays};
  std::chrono::seconds grace{30};
  std::chrono::seconds idle_timeout{900};   ///< 0 = none
  std::chrono::seconds max_session{14400};  ///< 0 = none
  /// Longest time a job may keep the relay on after its session (busy input high); then the
  /// relay is cut with an alarm, so one stuck current sensor cannot power a machine for ever.
  std::chrono::seconds busy_hold_max{14400};  ///< 0 = no limit
  bool needs_checkoff{false};
  int inspection_interval_days{90};  ///< 0 = no inspection regime
};

/// [[plans]]: plan templates (access windows) the store can offer members.
struct PlanConfig {
  std::string id;
  std::string name;
  policy::PlanAccess access;
};

/// [[rooms]]: a meeting room members book (docs/BOOKINGS.md). Its door's entry reader admits
/// the booking's member and guests during the booking, not by plan.
struct RoomConfig {
  std::string id;
  std::string name;
  std::string door;               ///< the [[doors]] entry of the room (presence = false)
  policy::RoomRules rules;        ///< capacity, hours, grid, lead, cancel, early entry, no-show
  std::int64_t rate_per_hour{0};  ///< yen per booked hour, billed per grid step
};

/// [[lockers]]: a locker lent to a member for a period.
struct LockerConfig {
  std::string id;
  std::string name;
  /// The [[doors]] entry whose strike is the locker's lock (a relay or smart plug) and whose
  /// entry reader opens it for the holder; none = a numbered locker with no electronics.
  std::optional<std::string> door;
  std::int64_t rate_per_month{0};  ///< yen per started month of the loan
};

/// [fire_alarm]
struct FireAlarmConfig {
  std::optional<DeviceSpec> input;  ///< sim id "fire_alarm.input"
};

/// [mqtt]: parsed and validated here, used by the MQTT module.
struct MqttConfig {
  bool enabled{false};
  std::string host{"127.0.0.1"};
  int port{1883};
  std::string client_id;  ///< "" = "labgate-<site>-<gateway>"
  std::string username;
  std::string password;
  std::string ca_file;    ///< "" = plain TCP; otherwise TLS with this CA bundle
  std::string cert_file;  ///< TLS client certificate (PEM) for brokers that require one; "" = none
  std::string key_file;   ///< private key of cert_file (PEM); "" = inside cert_file
  /// How long a smart plug may take to confirm a relay command before it counts as failed.
  std::chrono::milliseconds plug_confirm_timeout{3000};
  std::string base_topic{"labgate/v1"};
  std::optional<Key32> command_key;  ///< nullopt = remote commands refused
  int outbox_retention_days{30};
};

/// [desfire]: cards issued with the labgate application and per-card AES keys.
struct DesfireConfig {
  /// The key file (`labgatectl keys init`), relative to the config file; "" = none, allowed only
  /// while no hardware reader is configured (simulated readers carry no cryptography).
  std::string key_file;
  std::uint32_t aid{0x4C4701};  ///< application id, 24 bits ("LG" 01)
  /// AN10922 system identifier mixed into every card key (1..21 bytes of text); "" = the site id.
  std::string system_id;
  bool random_uid{false};  ///< issue cards with random IDs (see docs/KEYS.md)
};

/// The whole configuration, validated: every reference resolves and every id is unique.
struct SiteConfig {
  std::string source;  ///< where it was loaded from
  SiteSection site;
  StoreConfig store;
  ControlConfig control;
  AdminConfig admin;
  ConsoleConfig console;
  LogConfig log;
  std::vector<ReaderConfig> readers;
  std::vector<DoorConfig> doors;
  std::vector<MachineConfig> machines;
  std::vector<PlanConfig> plans;
  std::vector<RoomConfig> rooms;
  std::vector<LockerConfig> lockers;
  FireAlarmConfig fire_alarm;
  MqttConfig mqtt;
  DesfireConfig desfire;
  /// [billing]: consumption tax (price mode, rounding, rate table) and the invoice issuer.
  billing::TaxPolicy billing;
  policy::Calendar calendar;  ///< built from [site] timezone, holidays and closure

  /// The reader with this id, or nullptr.
  const ReaderConfig* find_reader(std::string_view id) const;
  /// The door with this id, or nullptr.
  const DoorConfig* find_door(std::string_view id) const;
  /// The machine with this id, or nullptr.
  const MachineConfig* find_machine(std::string_view id) const;
  /// The plan with this id, or nullptr.
  const PlanConfig* find_plan(std::string_view id) const;
  /// The room with this id, or nullptr.
  const RoomConfig* find_room(std::string_view id) const;
  /// The locker with this id, or nullptr.
  const LockerConfig* find_locker(std::string_view id) const;
};

/// Upper bounds that catch a runaway generated file.
inline constexpr std::size_t kMaxReaders = 64;
inline constexpr std::size_t kMaxDoors = 32;
inline constexpr std::size_t kMaxMachines = 64;
inline constexpr std::size_t kMaxPlans = 64;
inline constexpr std::size_t kMaxRooms = 32;
inline constexpr std::size_t kMaxLockers = 1000;
inline constexpr std::size_t kMaxHolidays = 400;
inline constexpr std::size_t kMaxConfigBytes = 1 << 20;

/// Either a valid configuration or every error found (at least one).
using LoadResult = policy::Result<SiteConfig, std::vector<ConfigError>>;

/// Parses and validates TOML text; `source_name` labels the errors. Never throws on bad input.
LoadResult load_config_string(std::string_view text, std::string_view source_name);
/// Reads and loads a file; an unreadable file is one error with line 0.
LoadResult load_config_file(const std::filesystem::path& path);

/// Upper bound on [[billing.tax_rates]] rows.
inline constexpr std::size_t kMaxTaxRates = 64;
/// Either the [billing] tax settings or every error found in that section.
using BillingResult = policy::Result<billing::TaxPolicy, std::vector<ConfigError>>;
/// Only the [billing] section of TOML text, validated as load_config_string() does (defaults
/// when it is absent): for labgatectl, which bills with the daemon's settings without running it.
BillingResult load_billing_config_string(std::string_view text, std::string_view source_name);

/// The bundled demo site (config/demo-site.toml), compiled in.
std::string_view embedded_demo_config();

/// SHA-256 (lower-case hex) of every 64-hex-digit string printed in the labgate repository's
/// configs, tests, benchmarks, docs and scripts, collected at build time; sorted.
const std::vector<std::string_view>& published_key_digests();
/// Whether `key`, written as lower-case hex, is one of the published strings.
bool is_published_key(const Key32& key);
/// Whether `key` is the built-in demo site's key (public by design).
bool is_demo_key(const Key32& key);

/// The published keys of `cfg` (site.key, mqtt.command_key): each error names the key, says it
/// is published and how to make a fresh one. Empty when both are the site's own.
std::vector<ConfigError> published_key_errors(const SiteConfig& cfg);
/// An error when the config file at `path` (which holds keys) is readable or writable by every
/// user, giving the chmod that fixes it; nullopt when its mode is fine or it cannot be stat'ed.
std::optional<ConfigError> key_file_mode_error(const std::filesystem::path& path);
/// load_config_file() for a real site, as labgated and --check-config use it: also refuses
/// published keys and a file that every user can read.
LoadResult load_site_file(const std::filesystem::path& path);

}  // namespace labgate::gateway::config
