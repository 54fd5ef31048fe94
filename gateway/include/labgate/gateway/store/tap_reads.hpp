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
};

}  // namespace labgate::gateway::store
