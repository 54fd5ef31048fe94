// libFuzzer entry point for the roster reader: any bytes give rows or issues, never a crash, a
// hang or undefined behaviour; and the reader's own invariants hold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "labgate/gateway/store/import.hpp"

namespace st = labgate::gateway::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto table = st::read_csv(bytes);
  std::int64_t last = 0;
  for (const auto& r : table.records) {
    // Records start on strictly increasing lines and every field is valid UTF-8.
    if (r.line <= last || r.fields.empty()) std::abort();
    last = r.line;
    for (const auto& f : r.fields) {
      if (!st::is_valid_utf8(f)) std::abort();
    }
  }
  st::RosterLookup lookup;
  lookup.plan_exists = [](std::string_view code) { return code == "fablab"; };
  lookup.member_exists = [](std::string_view no) { return no == "M1"; };
  const auto roster = st::parse_roster(bytes, lookup);
  for (const auto& row : roster.rows) {
    if (!st::check_import_row(row).empty()) std::abort();
  }
  for (const auto& issue : roster.issues) (void)st::format_issue("fuzz.csv", issue);
  return 0;
}
