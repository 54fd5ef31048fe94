#pragma once
// The gateway's durable store: schema and migrations, the queries of the tap path, the event
// outbox, sessions, and the staff operations of labgatectl with their hash-chained audit log.
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

#include "labgate/gateway/store/database.hpp"
#include "labgate/gateway/store/records.hpp"
#include "labgate/gateway/store/result.hpp"

namespace labgate::gateway::store {

/// Schema version this code writes; a file with a higher PRAGMA user_version is refused.
inline constexpr int kSchemaVersion = 4;
/// PRAGMA application_id of a labgate database ("LBGT").
inline constexpr std::int32_t kApplicationId = 0x4C424754;

/// The per-site secret keying credential hashes.
using SiteKey = std::array<std::uint8_t, 32>;
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

/// How to open the store.
struct StoreOptions {
  DatabaseOptions database{};
  /// Key for credential hashes. Without it, the calls that hash an identifier fail with kInvalid.
  std::optional<SiteKey> site_key;
  /// IANA zone used to turn "now" into today's date (certification expiry, inspections).
  std::string time_zone{"Asia/Tokyo"};
  /// Wall clock in ms since the epoch; injectable for tests.
  std::function<std::int64_t()> clock;
};

/// Input of Store::add_plan.
struct NewPlan {
  std::string code;
  std::string name;
  std::string windows;
  bool holidays_allowed{false};
  bool closure_allowed{false};
};

/// Input of Store::add_member. The member starts pending.
struct NewMember {
  std::string member_no;
  std::string name;
  std::string email;
  std::optional<std::string> plan_code;
  std::optional<std::string> valid_from;
  std::optional<std::string> valid_until;
};

/// Rows, options and outcome of Store::import_members (defined in store/import.hpp).
struct ImportMember;
struct ImportOptions;
struct ImportResult;

/// Input of Store::add_machine.
struct NewMachine {
  std::string id;
  std::string name;
  std::optional<std::string> certification_type;
  std::string session_mode{"hold"};
  std::int64_t inspection_interval_days{0};
  bool needs_checkoff{false};
};

/// Input of Store::record_inspection.
struct NewInspection {
  std::string machine_id;
  std::optional<std::string> done_on;  ///< default: today
  std::string inspector;
  std::string result;  ///< "pass" or "fail"; a fail also locks the machine out
  std::string notes;
  std::optional<std::string> next_due;  ///< default: done_on + the machine's interval
};

/// Filter of Store::list_certifications; unset fields do not filter.
struct CertificationFilter {
  std::optional<std::string> member_no{};
  std::optional<std::string> type_code{};
  /// Only active certifications expiring between today and today + N days.
  std::optional<std::int64_t> expiring_within_days{};
  bool include_revoked{false};
};

/// Filter of Store::list_events and Store::list_sessions; unset fields do not filter.
/// Newest first, at most `limit` rows.
struct HistoryFilter {
  std::optional<std::string> member_no{};
  std::optional<std::string> machine_id{};
  std::optional<std::string> door_id{};   ///< events only
  std::optional<std::int64_t> from_ms{};  ///< inclusive
  std::optional<std::int64_t> to_ms{};    ///< exclusive
  bool open_only{false};                  ///< sessions only
  std::int64_t limit{100};
};

/// What the tap path writes when a session opens.
struct NewSession {
  std::string uuid;
  std::int64_t member_id{0};
  std::optional<std::string> machine_id;  ///< required for kMachine, absent for kCoworking
  SessionKind kind{SessionKind::kMachine};
  std::int64_t started_at_ms{0};
};

/// Which session to close: by uuid or by id.
struct SessionRef {
  std::optional<std::string> uuid;
  std::optional<std::int64_t> id;
};

/// Result of the writes that record an event: the event's sequence number and the row touched.
struct SessionWrite {
  std::int64_t seq{0};
  Session session;
};

/// Outcome of verify_audit_chain.
struct AuditVerdict {
  bool ok{true};
  std::int64_t rows_checked{0};
  std::optional<std::int64_t> first_bad_id;  ///< the first row whose hash or link is wrong
  std::string message;
};

/// One plan's terms in a NewRate.
struct NewRatePlanTerm {
  std::string plan_code;
  std::int64_t discount_percent{0};  ///< 0..100
  std::int64_t included_minutes{0};  ///< per local calendar month per target
};

/// Input of Store::set_rate. Money in integer yen, durations in seconds.
struct NewRate {
  SessionKind kind{SessionKind::kMachine};
  std::optional<std::string> machine_id;          ///< required for kMachine, absent for coworking
  std::optional<std::int64_t> effective_from_ms;  ///< default: now; never in the past
  std::int64_t unit_seconds{0};
  std::int64_t price_per_unit{0};
  std::optional<std::int64_t> idle_price_per_unit;  ///< machines with a busy input only
  std::int64_t minimum_charge{0};
  std::int64_t grace_seconds{0};  ///< < 24 h
  std::optional<std::int64_t> daily_cap;
  std::vector<NewRatePlanTerm> plan_terms;
  std::string note;
};

/// Input of Store::upsert_price_item.
struct NewPriceItem {
  std::string code;
  std::string name;
  std::string unit{"pcs"};
  std::int64_t price{0};
  bool day_pass{false};
};

/// Builds an outbox payload once the sequence number is known.
using PayloadBuilder = std::function<std::string(std::int64_t seq)>;

/// Appends one hash-chained audit row on `db`, which must be inside a transaction: for modules
/// (billing) that write their own rows in the same transaction as the change they record.
Status append_audit_row(Database& db, std::int64_t at_ms, std::string_view actor,
                        std::string_view action, std::string_view subject,
                        std::string_view detail_json);

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

  /// The connection, for tools and tests.
  Database& database() { return *db_; }
  /// PRAGMA user_version of the open file.
  Result<int> schema_version();
  /// Changes whenever another connection (e.g. labgatectl) commits; drop caches when it does.
  Result<std::int64_t> data_version() { return db_->data_version(); }
  /// Keyed hash of a card identifier, as stored in credentials.id_hash.
  Result<std::vector<std::uint8_t>> credential_hash(std::string_view technology,
                                                    std::span<const std::uint8_t> identifier) const;
  /// Now, from the injected clock.
  std::int64_t now_ms() const;
  /// Today's date in the site time zone.
  std::string today() const;

  // ---- tap path (one prepared statement each, all indexed) ----

  /// Credential (even revoked: policy logs why it refuses) + member + plan, in one query.
  Result<std::optional<CredentialMatch>> find_credential(std::string_view technology,
                                                         std::span<const std::uint8_t> identifier);
  /// An unrevoked certification of `type_code` valid on `date` (the one lasting longest).
  Result<std::optional<Certification>> valid_certification(std::int64_t member_id,
                                                           std::string_view type_code,
                                                           std::string_view date);
  /// A machine with its latest inspection's due date.
  Result<std::optional<Machine>> machine(std::string_view machine_id);
  /// The open session on a machine.
  Result<std::optional<Session>> open_session_for_machine(std::string_view machine_id);
  /// The member's open coworking session.
  Result<std::optional<Session>> open_coworking_session(std::int64_t member_id);
  /// A member by number.
  Result<std::optional<Member>> member_by_no(std::string_view member_no);

  // ---- tap path writes: event + outbox in one transaction, gapless sequence ----

  /// Records the event and its outbox row; returns the sequence number assigned to both.
  Result<std::int64_t> record_access(const AccessEvent& event, const OutboxMessage& outbox);
  /// As above, the payload built from the assigned sequence number.
  Result<std::int64_t> record_access(const AccessEvent& event, std::string topic, bool retain,
                                     const PayloadBuilder& payload);
  /// Opens a session and records its event + outbox row, stamping the rate in force at its start.
  /// kConstraint when the machine (or the member's coworking) already has an open session.
  /// Renews by-use certifications.
  Result<SessionWrite> open_session(const NewSession& session, const AccessEvent& event,
                                    const OutboxMessage& outbox);
  /// As above, the payload built from the assigned sequence number.
  Result<SessionWrite> open_session(const NewSession& session, const AccessEvent& event,
                                    std::string topic, bool retain, const PayloadBuilder& payload);
  /// Closes an open session at `ended_at_ms` (never before its start) and records the event +
  /// outbox row. measured_seconds defaults to the whole duration; busy_seconds (time the
  /// machine's busy input was on, for busy/idle rates) stays NULL when not given. kConflict if
  /// already closed.
  Result<SessionWrite> close_session(const SessionRef& ref, std::int64_t ended_at_ms,
                                     std::string_view reason,
                                     std::optional<std::int64_t> measured_seconds,
                                     const AccessEvent& event, const OutboxMessage& outbox,
                                     std::optional<std::int64_t> busy_seconds = std::nullopt);
  /// As above, the payload built from the assigned sequence number.
  Result<SessionWrite> close_session(const SessionRef& ref, std::int64_t ended_at_ms,
                                     std::string_view reason,
                                     std::optional<std::int64_t> measured_seconds,
                                     const AccessEvent& event, std::string topic, bool retain,
                                     const PayloadBuilder& payload,
                                     std::optional<std::int64_t> busy_seconds = std::nullopt);
  /// Records the daemon's liveness time (used by recover_open_sessions).
  Status write_heartbeat(std::int64_t now_ms);
  /// Last heartbeat time, if any.
  Result<std::optional<std::int64_t>> last_heartbeat();
  /// At start-up: closes every open session at the last heartbeat (never before its start) with
  /// `reason`, in one transaction, and returns the closed sessions. The daemon then records
  /// their events with record_access.
  Result<std::vector<Session>> recover_open_sessions(
      std::string_view reason = "power_loss_recovered");

  // ---- outbox ----

  /// Appends an outbox row alone (retained state messages); returns its sequence number.
  Result<std::int64_t> append_outbox(const OutboxMessage& message, std::int64_t created_at_ms);
  /// As above, the payload built from the assigned sequence number.
  Result<std::int64_t> append_outbox(std::string topic, bool retain, const PayloadBuilder& payload,
                                     std::int64_t created_at_ms);
  /// Unsent rows with seq > after_seq, in seq order, at most `limit`.
  Result<std::vector<OutboxRow>> fetch_unsent(std::int64_t after_seq, std::int64_t limit);
  /// Marks rows sent, all in one transaction.
  Status mark_sent(std::span<const std::int64_t> seqs, std::int64_t sent_at_ms);
  /// Deletes rows sent before `older_than_ms`; returns how many.
  Result<std::int64_t> prune_sent(std::int64_t older_than_ms);
  /// Number of unsent rows.
  Result<std::int64_t> unsent_count();
  /// The last sequence number assigned (0 before the first).
  Result<std::int64_t> last_seq();

  // ---- signed MQTT commands ----

  /// Durably remembers the nonce of an accepted command until `forget_after_ms`, first
  /// forgetting the nonces whose time is before `now_ms`. One small transaction: true when
  /// recorded, false when the nonce is already remembered (a replay, also across a restart).
  Result<bool> remember_command_nonce(std::string_view nonce, std::int64_t forget_after_ms,
                                      std::int64_t now_ms);
  /// Number of nonces remembered (tests and status).
  Result<std::int64_t> command_nonce_count();

  // ---- meta ----

  /// A meta value (gateway id, site key id, ...).
  Result<std::optional<std::string>> meta(std::string_view key);
  /// Sets a meta value.
  Status set_meta(std::string_view key, std::string_view value);

  // ---- staff operations: each one transaction with its audit row ----

  /// Adds a plan.
  Result<Plan> add_plan(const NewPlan& plan, std::string_view actor);
  /// All plans by code.
  Result<std::vector<Plan>> list_plans();
  /// Adds a pending member.
  Result<Member> add_member(const NewMember& member, std::string_view actor);
  /// Adds many members in one transaction with one audit row, all or nothing (see import.hpp).
  Result<ImportResult> import_members(const std::vector<ImportMember>& members,
                                      const ImportOptions& options, std::string_view actor);
  /// pending/suspended -> active.
  Result<Member> approve_member(std::string_view member_no, std::string_view actor);
  /// -> suspended with a reason.
  Result<Member> suspend_member(std::string_view member_no, std::string_view reason,
                                std::string_view actor);
  /// Members by number, optionally of one status.
  Result<std::vector<Member>> list_members(std::optional<MemberStatus> status = std::nullopt);
  /// Enrolls a card for a member. kConflict when the card is already enrolled.
  /// For a DESFire card issued at the desk, `issued_key_version` records the site key version
  /// and `before_commit` writes the card once the credential id is known: its error rolls the
  /// enrolment back, so a card that was not written is never recorded as issued.
  Result<Credential> enroll_credential(
      std::string_view member_no, std::string_view technology,
      std::span<const std::uint8_t> identifier, std::string_view label, std::string_view actor,
      std::optional<int> issued_key_version = std::nullopt,
      const std::function<Status(std::int64_t credential_id)>& before_commit = {});
  /// Records that member `member_no`'s issued DESFire card (by its UID) now holds key version
  /// `key_version`, with an audit row (credential.rekey); `before_commit(credential_id)` rewrites
  /// the card inside the transaction, so a card not rewritten is not recorded. kNotFound for a
  /// card not enrolled; kConflict for a revoked card, another member's card, or one never issued.
  Result<Credential> rekey_credential(
      std::string_view member_no, std::span<const std::uint8_t> identifier, int key_version,
      std::string_view actor,
      const std::function<Status(const Credential& credential)>& before_commit);
  /// Revokes a card by its identifier. kConflict when already revoked.
  Result<Credential> revoke_credential(std::string_view technology,
                                       std::span<const std::uint8_t> identifier,
                                       std::string_view reason, std::string_view actor);
  /// Revokes a card by credential id. kConflict when already revoked.
  Result<Credential> revoke_credential(std::int64_t credential_id, std::string_view reason,
                                       std::string_view actor);
  /// Credentials, optionally of one member.
  Result<std::vector<Credential>> list_credentials(std::optional<std::string> member_no = {});
  /// Adds a certification type.
  Result<CertificationType> add_certification_type(const CertificationType& type,
                                                   std::string_view actor);
  /// All certification types.
  Result<std::vector<CertificationType>> list_certification_types();
  /// Grants a certification on `granted_on` (default today); expiry = date + validity.
  Result<Certification> grant_certification(std::string_view member_no, std::string_view type_code,
                                            std::string_view trainer,
                                            std::optional<std::string> granted_on,
                                            std::string_view actor);
  /// Revokes the member's active certifications of a type. kConflict when none is active.
  Result<std::vector<Certification>> revoke_certification(std::string_view member_no,
                                                          std::string_view type_code,
                                                          std::string_view reason,
                                                          std::string_view actor);
  /// Certifications matching the filter, by expiry then member.
  Result<std::vector<Certification>> list_certifications(const CertificationFilter& filter = {});
  /// Adds (or, for the daemon syncing its config, replaces) a door.
  Result<Door> upsert_door(const Door& door, std::string_view actor);
  /// All doors.
  Result<std::vector<Door>> list_doors();
  /// Adds a machine.
  Result<Machine> add_machine(const NewMachine& machine, std::string_view actor);
  /// Locks a machine out. kConflict when already locked out.
  Result<Machine> lockout_machine(std::string_view machine_id, std::string_view reason,
                                  std::string_view actor);
  /// Releases a lockout. kConflict when not locked out.
  Result<Machine> release_machine(std::string_view machine_id, std::string_view actor);
  /// Records an inspection (sets the next due date; a fail locks the machine out).
  Result<Inspection> record_inspection(const NewInspection& inspection, std::string_view actor);
  /// Inspections of a machine, newest first.
  Result<std::vector<Inspection>> list_inspections(std::string_view machine_id);
  /// All machines by id.
  Result<std::vector<Machine>> list_machines();
  /// Access events, newest first.
  Result<std::vector<AccessEvent>> list_events(const HistoryFilter& filter);
  /// Sessions, newest first.
  Result<std::vector<Session>> list_sessions(const HistoryFilter& filter);
  /// Appends an audit row alone (actions with no store change, e.g. a remote unlock).
  Status append_audit(std::string_view actor, std::string_view action, std::string_view subject,
                      std::string_view detail_json);
  /// Audit rows, oldest first.
  Result<std::vector<AuditEntry>> list_audit(std::int64_t limit = 1000);
  /// Recomputes the chain; reports the first row whose link or hash is wrong.
  Result<AuditVerdict> verify_audit_chain();

  // ---- billing: rates, accounts, price list, sales, session review (store/billing.cpp) ----

  /// Adds an effective-dated rate and ends the open-ended rate of the same target at its start,
  /// audited as rate_set. kInvalid: contradictory terms (unit <= 0, minimum > daily cap, grace
  /// >= 24 h, discount outside 0..100, idle price without a price or on coworking). kNotFound:
  /// unknown machine or plan. kConflict: starts in the past, reaches into a month with an issued
  /// statement, or a rate of the target already starts at or after it.
  Result<Rate> set_rate(const NewRate& rate, std::string_view actor);
  /// Rates by target then start, with plan terms. `target` is a machine id or "coworking";
  /// without include_history only rates still in force or starting later.
  Result<std::vector<Rate>> list_rates(std::optional<std::string> target = std::nullopt,
                                       bool include_history = false);
  /// One rate with its plan terms.
  Result<std::optional<Rate>> rate(std::int64_t rate_id);
  /// The rate in force for a target at `at_ms` (tap path: one indexed prepared statement; the
  /// plan terms are not loaded). machine_id must be given for kMachine and absent for coworking.
  Result<std::optional<Rate>> current_rate(SessionKind kind,
                                           std::optional<std::string_view> machine_id,
                                           std::int64_t at_ms);

  /// Sets a member's credit limit (>= 0 yen), creating the account row.
  Result<Account> set_credit_limit(std::string_view member_no, std::int64_t yen,
                                   std::string_view actor);
  /// Adds a top-up (yen > 0) to the member's balance.
  Result<AccountEntry> topup(std::string_view member_no, std::int64_t yen, std::string_view note,
                             std::string_view actor);
  /// Adds a signed correction (yen != 0) with its reason.
  Result<AccountEntry> adjust(std::string_view member_no, std::int64_t yen, std::string_view reason,
                              std::string_view actor);
  /// Balance, credit limit and every entry of a member's account.
  Result<Account> account(std::string_view member_no);
  /// Balance and credit limit by member id (tap path: one prepared statement).
  Result<AccountStanding> account_standing(std::int64_t member_id);

  /// Adds or changes a price-list item (and reactivates it). Past sales keep their price.
  Result<PriceItem> upsert_price_item(const NewPriceItem& item, std::string_view actor);
  /// Takes an item off sale. kConflict when already inactive.
  Result<PriceItem> deactivate_price_item(std::string_view code, std::string_view actor);
  /// The price list by code.
  Result<std::vector<PriceItem>> list_price_items(bool include_inactive = true);
  /// Sells `quantity` (> 0) of an active item at its current price, at `at_ms` (default now).
  /// kConflict when the item is inactive or that month's statement of the member is issued.
  Result<Sale> sell(std::string_view member_no, std::string_view item_code, std::int64_t quantity,
                    std::string_view note, std::string_view actor,
                    std::optional<std::int64_t> at_ms = std::nullopt);
  /// Sales by time, optionally of one member, with at_ms in [from_ms, to_ms).
  Result<std::vector<Sale>> list_sales(std::optional<std::string> member_no = std::nullopt,
                                       std::optional<std::int64_t> from_ms = std::nullopt,
                                       std::optional<std::int64_t> to_ms = std::nullopt);

  /// Closed sessions longer than 24 h (floor of whole seconds > 86400) with no review, by start.
  Result<std::vector<Session>> list_held_sessions();
  /// Decides what a held session bills: billed_seconds in 0 (waive) .. its real length.
  /// kConflict when the session is open, not over 24 h, already reviewed, or its month's
  /// statement of the member is issued.
  Result<SessionReview> review_session(std::int64_t session_id, std::int64_t billed_seconds,
                                       std::string_view note, std::string_view reviewer);
  /// The review of a session, if any.
  Result<std::optional<SessionReview>> session_review(std::int64_t session_id);

 private:
  Store(std::unique_ptr<Database> db, StoreOptions options);
  Status migrate();
  Status check_site_key();
  Result<std::int64_t> next_seq();
  Status insert_event(AccessEvent& event);
  Status insert_outbox(std::int64_t seq, const OutboxMessage& message, std::int64_t created_at_ms);
  // Builds the payload for `seq` (a throwing builder is an invalid write) and inserts the row.
  Status insert_outbox(std::int64_t seq, std::string topic, bool retain,
                       const PayloadBuilder& payload, std::int64_t created_at_ms);
  Status audit(std::string_view actor, std::string_view action, std::string_view subject,
               std::string_view detail_json);
  Result<std::int64_t> member_id(std::string_view member_no);
  Result<Session> session_by_ref(const SessionRef& ref);
  Result<Credential> revoke_credential_row(std::optional<std::int64_t> id,
                                           std::optional<std::vector<std::uint8_t>> hash,
                                           std::string_view reason, std::string_view actor);

  std::unique_ptr<Database> db_;
  StoreOptions options_;
};

}  // namespace labgate::gateway::store
