#pragma once
// Local-time helpers shared by the report sources.

#include <cstdint>
#include <string>
#include <string_view>

namespace labgate::gateway::report::detail {

/// True when `zone` names a zone of the OS tzdb.
bool known_zone(std::string_view zone);
/// Milliseconds of local midnight starting `date` ('YYYY-MM-DD', valid) in `zone`.
std::int64_t local_midnight_ms(std::string_view date, std::string_view zone);
/// Local 'YYYY-MM-DD' of an instant.
std::string local_date(std::int64_t ms, std::string_view zone);
/// Local 'YYYY-MM-DD HH:MM:SS' of an instant.
std::string local_time(std::int64_t ms, std::string_view zone);

}  // namespace labgate::gateway::report::detail
