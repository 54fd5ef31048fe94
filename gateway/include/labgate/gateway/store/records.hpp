#pragma once
// Plain rows of the store. Times are milliseconds since the Unix epoch (UTC) in fields ending in
// `_ms`; calendar dates are 'YYYY-MM-DD' strings in the site's time zone.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace labgate::gateway::store {

/// A membership plan: when its members may enter.
struct Plan {
  std::int64_t id{0};
  std::string code;
  std::string name;
  std::string windows;  ///< e.g. "mon-fri 08:30-17:15; sat 10:00-16:00" (parsed by policy)
  bool holidays_allowed{false};
  bool closure_allowed{false};
};

/// Lifecycle of a member.
enum class MemberStatus { kPending, kActive, kSuspended };
/// "pending" / "active" / "suspended".
const char* to_string(MemberStatus status);
/// Parses a status name; nullopt when unknown.
std::optional<MemberStatus> parse_member_status(std::string_view text);

/// A staff account a person may declare as the actor of a change.
struct StaffAccount {
  std::string login;
  std::string name;
  std::string role;  ///< desk, trainer, staff, manager or admin
  bool active{true};
  std::int64_t created_at_ms{0};
};

/// A staff account with its console login secret and language (schema version 9).
struct StaffLogin {
  StaffAccount account;
  std::optional<std::string> password_hash;  ///< argon2id string; nullopt = cannot log in
  std::optional<std::string> locale;         ///< "ja" or "en"; nullopt = the browser's choice
};

/// A registered member.
struct Member {
  std::int64_t id{0};
  std::string member_no;  ///< e.g. "M0001"
  std::string name;
  std::string email;
  MemberStatus status{MemberStatus::kPending};
  std::optional<std::int64_t> plan_id;
  std::optional<std::string> valid_from;   ///< first valid date, inclusive
  std::optional<std::string> valid_until;  ///< last valid date, inclusive
  std::int64_t created_at_ms{0};
  std::optional<std::int64_t> approved_at_ms;
  std::optional<std::string> suspended_reason;
};

/// An enrolled card. Only a keyed hash of its identifier is kept.
struct Credential {
  std::int64_t id{0};
  std::int64_t member_id{0};
  std::string technology;  ///< "iso14443a", "felica" or "desfire"
  std::vector<std::uint8_t> id_hash;
  std::string label;
  std::int64_t enrolled_at_ms{0};
  std::optional<std::int64_t> revoked_at_ms;
  std::optional<std::string> revoked_reason;
  /// DESFire: the site key version the card was issued with; nullopt = enrolled by UID only.
  std::optional<int> issued_key_version{};

  /// A DESFire card enrolled by UID alone, not (yet) issued with keys: refused at the door
  /// unless the site accepts "desfire-uid".
  bool needs_issue() const { return technology == "desfire" && !issued_key_version; }
};

/// What the tap path needs about a presented card: the credential (maybe revoked), its member
/// and the member's plan (absent when the member has none).
struct CredentialMatch {
  Credential credential;
  Member member;
  std::optional<Plan> plan;
};

/// A door known to the gateway.
struct Door {
  std::string id;
  std::string name;
  std::string fail_mode{"secure"};  ///< "secure" or "safe"
  std::string role{"entry"};        ///< "entry", "exit" or "both"
};

/// A machine with its interlock settings and inspection state.
struct Machine {
  std::string id;
  std::string name;
  std::optional<std::string> certification_type;  ///< required certification code, if any
  std::string session_mode{"hold"};               ///< "hold" (card stays) or "tap" (tap on/off)
  std::int64_t inspection_interval_days{0};       ///< 0: no periodic inspection required
  bool locked_out{false};
  std::optional<std::string> lockout_reason;
  bool needs_checkoff{false};
  std::int64_t created_at_ms{0};
  std::optional<std::string> last_inspection_on;   ///< date of the latest inspection
  std::optional<std::string> next_inspection_due;  ///< from the latest inspection; none yet: null
  bool busy_input{false};  ///< reports busy time, so a rate may price idle time apart
};

/// A kind of certification (usually one per machine type).
struct CertificationType {
  std::string code;
  std::string name;
  std::int64_t validity_days{0};  ///< 0: never expires
  bool renew_by_use{false};       ///< each machine session pushes the expiry out again
};

/// A certification granted to a member.
struct Certification {
  std::int64_t id{0};
  std::int64_t member_id{0};
  std::string member_no;
  std::string member_name;
  std::string type_code;
  std::string trainer;
  std::string granted_on;
  std::optional<std::string> expires_on;  ///< inclusive; null when the type never expires
  std::optional<std::int64_t> revoked_at_ms;
  std::optional<std::string> revoked_reason;
};

/// One safety inspection of a machine.
struct Inspection {
  std::int64_t id{0};
  std::string machine_id;
  std::string done_on;
  std::string inspector;
  std::string result;  ///< "pass" or "fail"
  std::string notes;
  std::optional<std::string> next_due;
};

/// Outcome of an access event.
enum class Decision { kGranted, kDenied, kInfo };
/// "granted" / "denied" / "info".
const char* to_string(Decision decision);
/// Parses a decision name.
std::optional<Decision> parse_decision(std::string_view text);

/// Something that happened at a door or machine. `seq` is assigned by the store.
struct AccessEvent {
  std::string uuid;  ///< unique event id, for de-duplication by consumers
  std::int64_t at_ms{0};
  std::int64_t seq{0};  ///< output: the per-gateway sequence number
  std::optional<std::string> reader_id;
  std::optional<std::string> door_id;
  std::optional<std::string> machine_id;
  std::optional<std::int64_t> member_id;
  std::optional<std::int64_t> credential_id;
  std::string kind;  ///< tap, exit_button, held_open, forced_open, fire_alarm, reader_down, ...
  Decision decision{Decision::kInfo};
  std::string reason;                    ///< reason code, e.g. "ok", "unknown_card", "cert_expired"
  std::string detail;                    ///< free text or JSON
  std::optional<std::string> member_no;  ///< filled by EventLog::list_events, ignored on writes
};

/// A message to publish, stored in the outbox in the same transaction as its cause.
struct OutboxMessage {
  std::string topic;
  std::string payload;  ///< JSON
  bool retain{false};
};

/// A row of the outbox.
struct OutboxRow {
  std::int64_t seq{0};
  std::string topic;
  std::string payload;
  bool retain{false};
  std::int64_t created_at_ms{0};
  std::optional<std::int64_t> sent_at_ms;
};

/// What a session is for.
enum class SessionKind { kMachine, kCoworking };
/// "machine" / "coworking".
const char* to_string(SessionKind kind);

/// A usage session (machine power or coworking presence).
struct Session {
  std::int64_t id{0};
  std::string uuid;
  std::int64_t member_id{0};
  std::optional<std::string> machine_id;  ///< null for coworking
  SessionKind kind{SessionKind::kMachine};
  std::int64_t started_at_ms{0};
  std::optional<std::int64_t> ended_at_ms;
  std::optional<std::string> end_reason;
  std::optional<std::int64_t> measured_seconds;
  std::optional<std::string> member_no;  ///< filled by EventLog::list_sessions, ignored on writes
  std::optional<std::int64_t> rate_id;   ///< the rate it is billed under; read only
  /// Seconds the machine's busy input was on; null where it has none. Read only.
  std::optional<std::int64_t> busy_seconds;
};

/// One hash-chained audit row.
struct AuditEntry {
  std::int64_t id{0};
  std::int64_t at_ms{0};
  std::string actor;
  std::string action;
  std::string subject;
  std::string detail;  ///< JSON
  std::vector<std::uint8_t> prev_hash;
  std::vector<std::uint8_t> hash;
  std::optional<std::int64_t> os_uid;  ///< the OS user the change came from (NULL before v5)
  std::optional<std::string> os_user;  ///< its name, when it was known
  std::optional<std::string> account;  ///< the staff account declared, if any
};

// ---- billing ----

/// A rate's terms for the members of one plan.
struct RatePlanTerm {
  std::int64_t plan_id{0};
  std::string plan_code;
  std::int64_t discount_percent{0};  ///< 0..100, taken off each line after the minimum charge
  std::int64_t included_minutes{0};  ///< free minutes per local calendar month per target
};

/// An effective-dated price for one machine or for coworking time. Money is integer yen.
struct Rate {
  std::int64_t id{0};
  SessionKind kind{SessionKind::kMachine};
  std::optional<std::string> machine_id;  ///< null for coworking
  std::int64_t effective_from_ms{0};
  std::optional<std::int64_t> effective_until_ms;  ///< exclusive; null: open-ended
  std::int64_t unit_seconds{0};
  std::int64_t price_per_unit{0};
  std::optional<std::int64_t> idle_price_per_unit;  ///< price while the busy input is off
  std::int64_t minimum_charge{0};
  std::int64_t grace_seconds{0};
  std::optional<std::int64_t> daily_cap;
  std::string note;
  std::int64_t created_at_ms{0};
  std::string created_by;
  std::vector<RatePlanTerm> plan_terms;  ///< by plan code (empty from BillingLedger::current_rate)

  /// The machine id, or "coworking".
  std::string target() const { return machine_id ? *machine_id : std::string("coworking"); }
};

/// One movement of a member's money: + top-up, - issued statement, +/- adjustment.
struct AccountEntry {
  std::int64_t id{0};
  std::int64_t member_id{0};
  std::int64_t at_ms{0};
  std::int64_t amount{0};
  std::string kind;       ///< "topup", "statement" or "adjustment"
  std::string reference;  ///< top-up note, statement month 'YYYY-MM', adjustment reason
  std::string actor;
};

/// A member's balance and credit limit (the tap path's view of an account).
struct AccountStanding {
  std::int64_t member_id{0};
  std::int64_t balance{0};       ///< SUM(account_entries.amount)
  std::int64_t credit_limit{0};  ///< 0 when the member has no accounts row
};

/// A member's account with its entries, oldest first.
struct Account {
  std::int64_t member_id{0};
  std::string member_no;
  std::int64_t balance{0};
  std::int64_t credit_limit{0};
  std::vector<AccountEntry> entries;
};

/// An item of the price list (materials, passes).
struct PriceItem {
  std::string code;
  std::string name;
  std::string unit{"pcs"};
  std::int64_t price{0};
  bool day_pass{false};  ///< buying it makes that local day's coworking free
  bool active{true};
  std::string tax_class{"standard"};  ///< consumption tax: "standard", "reduced" or "exempt"
};

/// A sale of a price-list item. unit_price is the price at the time of sale.
struct Sale {
  std::int64_t id{0};
  std::int64_t member_id{0};
  std::string member_no;
  std::string item_code;
  std::int64_t quantity{0};
  std::int64_t unit_price{0};
  std::int64_t at_ms{0};
  std::string note;
  std::string actor;
  std::string tax_class{"standard"};  ///< the item's tax class when it was sold

  /// quantity * unit_price.
  std::int64_t amount() const { return quantity * unit_price; }
};

/// Staff's decision on a session held for review (longer than 24 h).
struct SessionReview {
  std::int64_t session_id{0};
  std::int64_t billed_seconds{0};  ///< 0: waived
  std::int64_t reviewed_at_ms{0};
  std::string reviewer;
  std::string note;
};

}  // namespace labgate::gateway::store
