#pragma once
// Fast seeding of a large site database for the decision benchmark, and the facts the tap driver
// needs to know what each tap should come to.
//
// Plans, certification types, machines and their inspections go through the Store API (a handful
// of rows, with their audit entries, exactly as labgated and labgatectl write them). Members,
// credentials, certifications, past sessions and past events with their (sent) outbox rows are
// bulk-inserted with direct SQL in large transactions on Store::database(), with the secondary
// indexes rebuilt afterwards from their stored definitions; journal mode (WAL), foreign keys and
// the page cache size are back to what Store::open set before the function returns. Credential
// hashes come from Store::credential_hash so card lookups match; event sequence numbers continue
// the store's gapless sequence and gateway_seq is moved to the last one, so later record_access
// calls carry on where the seeded history ends.

#include <cstdint>
#include <string>
#include <vector>

#include "labgate/drivers/devices.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/gateway/policy/calendar.hpp"
#include "labgate/gateway/store/store.hpp"

namespace labgate::bench::decision {

/// Sizes and anchors of the seeded database.
struct SeedOptions {
  std::int64_t members{100'000};
  std::int64_t events{1'000'000};          ///< past access events, each with a sent outbox row
  std::int64_t sessions{200'000};          ///< past, closed machine and coworking sessions
  gateway::policy::LocalDate first_day{};  ///< first day of the benchmark run (site local)
  std::int64_t first_day_ms{0};            ///< an instant on that day; history ends before it
  std::uint64_t seed{42};
};

/// One member's certification of one type, as seeded (days since 1970-01-01, local dates).
struct CertFact {
  bool present{false};
  bool revoked{false};
  std::int32_t granted_day{0};
  std::int32_t expires_day{0};
};

/// What the database holds about members, as far as the tap driver needs it.
struct Population {
  std::int64_t members{0};
  std::vector<std::string> cert_types;  ///< certification type codes, in config order
  std::vector<std::int64_t> cert_validity_days;
  std::vector<bool> cert_renew_by_use;
  /// certs[member * cert_types.size() + type]
  std::vector<CertFact> certs;
  /// Members holding a certification of each type (any state), by type index.
  std::vector<std::vector<std::int64_t>> holders;

  /// The certification fact of a member (0-based index) for a type code; nullptr if none.
  CertFact* cert(std::int64_t member, const std::string& type_code);
};

/// Seconds spent in each seeding step.
struct SeedTimings {
  double setup_s{0};  ///< plans, certification types, machines, inspections (Store API)
  double members_s{0};
  double credentials_s{0};
  double certifications_s{0};
  double sessions_s{0};
  double events_s{0};
  double indexes_s{0};  ///< rebuilding the secondary indexes
  double checkpoint_s{0};
  double total_s{0};
};

/// Member number of a 0-based member index ("M000001" for index 0).
std::string member_no(std::int64_t member);
/// 0-based member index of a member number; -1 when it is not one of ours.
std::int64_t member_index(const std::string& member_no);
/// Number of cards each member holds.
inline constexpr int kCardsPerMember = 2;
/// The enrolled card `which` (0: FeliCa IDm, 1: ISO 14443A UID) of a member.
drivers::Card member_card(std::int64_t member, int which);
/// True when that card was seeded as revoked (lost).
bool card_revoked(std::int64_t member, int which);
/// A card that is certainly not enrolled (a prefix no seeded card uses), from 48 random bits.
drivers::Card unknown_card(std::uint64_t random_bits);

/// Seeds `store` for the site `config`. Throws std::runtime_error when the store refuses.
SeedTimings seed_database(gateway::store::Store& store, const gateway::config::SiteConfig& config,
                          const SeedOptions& options, Population& population);

/// splitmix64: a tiny, fast, good-enough generator for reproducible seeding.
class SplitMix64 {
 public:
  /// A generator starting from `seed`.
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  /// The next 64 random bits.
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) (n > 0); the modulo bias is irrelevant at these sizes.
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t state_;
};

}  // namespace labgate::bench::decision
