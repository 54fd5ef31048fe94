#pragma once
// What the tap path reads before it decides: the credential with its member and plan, the
// member's certifications, the machine with its latest inspection. One indexed prepared
// statement each, never a write.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/records.hpp"

namespace labgate::gateway::store {

/// Reads of the decision path. Obtained from Store::taps().
class TapReads : public Repository {
 public:
  /// A view over `context`.
  explicit TapReads(const StoreContext& context) : Repository(context) {}

  /// Credential (even revoked: policy logs why it refuses) + member + plan, in one query.
  Result<std::optional<CredentialMatch>> find_credential(std::string_view technology,
                                                         std::span<const std::uint8_t> identifier);
  /// An unrevoked certification of `type_code` valid on `date` (the one lasting longest).
  Result<std::optional<Certification>> valid_certification(std::int64_t member_id,
                                                           std::string_view type_code,
                                                           std::string_view date);
  /// A machine with its latest inspection's due date.
  Result<std::optional<Machine>> machine(std::string_view machine_id);
  /// A member by number.
  Result<std::optional<Member>> member_by_no(std::string_view member_no);
  /// The id of a member by number; kNotFound when unknown.
  Result<std::int64_t> member_id(std::string_view member_no);
  /// Whether a live booking of `room_id` names `member_id` (as booker or guest) and admits it
  /// at `at_ms`: start - `early_ms` <= at < end. Bookings are at most kMaxBookingMs long, which
  /// bounds the index range read.
  Result<bool> booking_admits(std::string_view room_id, std::int64_t member_id, std::int64_t at_ms,
                              std::int64_t early_ms);
  /// Whether `locker_id` is lent to `member_id`, not returned, on local day `date` (inclusive
  /// period).
  Result<bool> loan_admits(std::string_view locker_id, std::int64_t member_id,
                           std::string_view date);
  /// The longest booking any room may take (a week): the bound of booking_admits' range.
  static constexpr std::int64_t kMaxBookingMs = 7LL * 24 * 3600 * 1000;
};

}  // namespace labgate::gateway::store
