// The console's member search: by number or name, a page at a time, so 100,000 members never
// travel at once.
#include <fmt/format.h>

#include "labgate/gateway/store/staff_registry.hpp"
#include "rows.hpp"

namespace labgate::gateway::store {

namespace {

// `text` with LIKE's wildcards escaped (by '\').
std::string like_literal(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Result<std::vector<Member>> StaffRegistry::search_members(std::string_view query,
                                                          std::int64_t limit, std::int64_t offset) {
  using namespace rows;  // NOLINT: shared private helpers
  // A number prefix uses the member_no index; a name part scans, which at 100,000 rows stays
  // within the console's budget (bench/console).
  static const std::string kSql = fmt::format(
      "SELECT {} FROM members m WHERE ?1 = '' OR m.member_no LIKE ?2 ESCAPE '\\' "
      "OR m.name LIKE ?3 ESCAPE '\\' ORDER BY m.member_no LIMIT ?4 OFFSET ?5",
      kMemberCols);
  auto stmt = db_->prepare(kSql);
  if (!stmt) return stmt.error();
  const std::string literal = like_literal(query);
  stmt->bind(1, query)
      .bind(2, literal + "%")
      .bind(3, "%" + literal + "%")
      .bind(4, limit)
      .bind(5, offset);
  return collect<Member>(*stmt, read_member);
}

}  // namespace labgate::gateway::store
