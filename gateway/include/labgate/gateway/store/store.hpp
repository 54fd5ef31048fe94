#pragma once
// The gateway's durable store: one Database with its schema and migrations, and the repositories
// over it, each the only owner of its tables' SQL: taps() (what the decision path reads),
// events() (events, sessions, outbox, heartbeat, command nonces), staff() (the registry
// labgatectl changes), audit() (the hash-chained audit log), ledger() (billing data) and
// members() (member corrections and plan history).
//
// Error policy: open() may fail (never throws); every later call returns a Result and never
// throws for database trouble. A Store is used from one thread (the daemon's event loop);
// labgatectl opens its own Store on the same file from another process, which WAL and
// busy_timeout make safe. data_version() tells the daemon when that happened.
//
// Site key: credentials are stored as BLAKE2b-256 keyed with a 32-byte per-site key over
// technology || 0x00 || identifier, never the raw UID. The daemon reads the key (64 hex digits)
// from `[site] key` in its config. The first open with a key records a key id in `meta`; opening
// later with a different key is refused, because every card lookup would then silently fail.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/store/audit_log.hpp"
#include "labgate/gateway/store/billing_ledger.hpp"
#include "labgate/gateway/store/bookings.hpp"
#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/database.hpp"
#include "labgate/gateway/store/event_log.hpp"
#include "labgate/gateway/store/member_registry.hpp"
#include "labgate/gateway/store/records.hpp"
#include "labgate/gateway/store/result.hpp"
#include "labgate/gateway/store/seal.hpp"
#include "labgate/gateway/store/staff_registry.hpp"
#include "labgate/gateway/store/tap_reads.hpp"

namespace labgate::gateway::store {

/// Schema version this code writes; a file with a higher PRAGMA user_version is refused.
inline constexpr int kSchemaVersion = 14;
/// PRAGMA application_id of a labgate database ("LBGT").
inline constexpr std::int32_t kApplicationId = 0x4C424754;

/// Parses 64 hex digits into a SiteKey.
Result<SiteKey> parse_site_key(std::string_view hex);
/// Parses hex digits (spaces and ':' allowed between bytes) into bytes; kInvalid when malformed.
Result<std::vector<std::uint8_t>> parse_hex(std::string_view hex);
/// Lowercase hex of `bytes`.
std::string to_hex(std::span<const std::uint8_t> bytes);
/// Lowercase hex SHA-256 of `bytes` (file and statement digests).
std::string sha256_hex(std::string_view bytes);
/// True when `date` is a real calendar date written 'YYYY-MM-DD'.
bool is_valid_date(std::string_view date);
/// `date` plus `days` as 'YYYY-MM-DD' (date must be valid).
std::string add_days(std::string_view date, std::int64_t days);

/// The store. See the file comment for the error policy and the site key.
class Store {
 public:
  /// Opens the file, applies pending migrations (each in one transaction) and checks
  /// application_id, schema version and site key id. Never throws.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path,
                                             StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// What the decision path reads: credentials, members, certifications, machines.
  TapReads& taps() { return taps_; }
  /// Events, sessions, the outbox, the heartbeat and signed-command nonces.
  EventLog& events() { return events_; }
  /// Plans, members, credentials, certifications, doors, machines, inspections.
  StaffRegistry& staff() { return staff_; }
  /// The hash-chained audit log.
  AuditLog& audit() { return audit_; }
  /// Rates, accounts, the price list, sales and session reviews.
  BillingLedger& ledger() { return ledger_; }
  /// Member corrections (edits, roster updates) and each member's plan history.
  MemberRegistry& members() { return members_; }
  /// Meeting rooms, bookings and locker loans (docs/BOOKINGS.md).
  Bookings& bookings() { return bookings_; }

  /// The connection, for tools and tests.
  Database& database() { return *db_; }
  /// PRAGMA user_version of the open file.
  Result<int> schema_version();
  /// Changes whenever another connection (e.g. labgatectl) commits; drop caches when it does.
  Result<std::int64_t> data_version() { return db_->data_version(); }
  /// Keyed hash of a card identifier, as stored in credentials.id_hash.
  Result<std::vector<std::uint8_t>> credential_hash(
      std::string_view technology, std::span<const std::uint8_t> identifier) const {
    return context_.credential_hash(technology, identifier);
  }
  /// Now, from the injected clock.
  std::int64_t now_ms() const { return context_.now_ms(); }
  /// Today's date in the site time zone.
  std::string today() const { return context_.today(); }
  /// The site's IANA time zone (StoreOptions::time_zone): local days, months and midnights.
  const std::string& time_zone() const { return context_.options().time_zone; }

  /// A meta value (gateway id, site key id, ...).
  Result<std::optional<std::string>> meta(std::string_view key);
  /// Sets a meta value.
  Status set_meta(std::string_view key, std::string_view value);
  /// True when rows written through this store are sealed (the sealing key is loaded).
  bool sealing() const { return sealing_; }
  /// The head of the seal chain (the checkpoint to keep off the box); nullopt before setup.
  Result<std::optional<seal::Checkpoint>> seal_head() { return seal::read_head(*db_); }

 private:
  Store(std::unique_ptr<Database> db, StoreOptions options);
  Status migrate();
  Status check_site_key();
  Status attach_sealer();

  std::unique_ptr<Database> db_;
  StoreContext context_;
  TapReads taps_;
  EventLog events_;
  StaffRegistry staff_;
  AuditLog audit_;
  BillingLedger ledger_;
  MemberRegistry members_;
  Bookings bookings_;
  std::unique_ptr<seal::Sealer> sealer_;  // destroyed before db_: it holds hooks on it
  bool sealing_{false};
};

}  // namespace labgate::gateway::store
