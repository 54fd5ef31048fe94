#pragma once
// The hash-chained audit log: the only code that writes or reads audit_log.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/store/context.hpp"
#include "labgate/gateway/store/records.hpp"

namespace labgate::gateway::store {

/// Outcome of verify_audit_chain.
struct AuditVerdict {
  bool ok{true};
  std::int64_t rows_checked{0};
  std::optional<std::int64_t> first_bad_id;  ///< the first row whose hash or link is wrong
  std::string message;
};

/// Appends one hash-chained audit row on `db`, which must be inside a transaction: for a change
/// and its record that commit together (staff mutations, issued statements).
Status append_audit_row(Database& db, std::int64_t at_ms, const Actor& actor,
                        std::string_view action, std::string_view subject,
                        std::string_view detail_json);

/// Appends, lists and verifies audit rows. Obtained from Store::audit().
class AuditLog : public Repository {
 public:
  /// A view of the audit log over `context`.
  explicit AuditLog(const StoreContext& context) : Repository(context) {}

  /// Appends an audit row alone, in its own transaction (actions with no store change, e.g. a
  /// remote unlock).
  /// A declared account is checked as for any change.
  Status append_audit(const Actor& actor, std::string_view action, std::string_view subject,
                      std::string_view detail_json);
  /// Audit rows, oldest first.
  Result<std::vector<AuditEntry>> list_audit(std::int64_t limit = 1000);
  /// Recomputes the chain; reports the first row whose link or hash is wrong.
  Result<AuditVerdict> verify_audit_chain();
};

}  // namespace labgate::gateway::store
