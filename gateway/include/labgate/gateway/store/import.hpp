#pragma once
// Importing the centre's existing member roster from a CSV file, all or nothing.
//
// Three layers, each usable alone:
//   read_csv      RFC 4180 records from raw bytes (UTF-8 checked, BOM and CRLF/LF handled), each
//                 record tagged with the physical line where it starts;
//   parse_roster  roster rows from those records (header naming the columns, every field
//                 checked), every problem of the file reported with its line, never only the first;
//   import_members  (StaffRegistry, store.staff()) the rows written in one transaction with one
//                 audit row, after the same checks again against the database inside that
//                 transaction.
//
// Roster columns (header names, any order, case-insensitive; unknown columns are refused):
//   member_no (required), name (required, at most 200 characters), email, plan (an existing plan
//   code), valid_from, valid_until (YYYY-MM-DD, until >= from), status (pending | active, default
//   pending), credit_limit (integer yen >= 0, stored in `accounts`).
// Fields are trimmed of surrounding spaces and tabs. Blank lines and rows whose fields are all
// empty (Excel writes ",,,,") are skipped.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/store/store.hpp"
#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::store {

/// One CSV record: its fields and the physical line (1-based) where it starts.
struct CsvRecord {
  std::int64_t line{0};
  std::vector<std::string> fields;
};

/// A problem found while reading or checking a file. line 0 means the file as a whole.
struct ImportIssue {
  std::int64_t line{0};
  std::string reason;
};

/// What read_csv found: the records in order and every syntax error.
struct CsvTable {
  std::vector<CsvRecord> records;
  std::vector<ImportIssue> errors;
  bool had_bom{false};
};

/// Reads RFC 4180 CSV: fields separated by ',', records by CRLF, LF or a lone CR; a field in
/// double quotes may hold commas, line breaks and doubled quotes (""). A leading UTF-8 BOM is
/// dropped. Empty physical lines are skipped. Text that is not UTF-8 (e.g. Shift_JIS written by
/// Excel's plain "CSV") gives a single error and no records, so nothing garbled is ever read.
/// Syntax errors (a quote inside an unquoted field, text after a closing quote, a quote never
/// closed) are reported with the record's line and the reader resumes at the next line.
CsvTable read_csv(std::string_view bytes);

// The UTF-8 checks are the text validator's (labgate/gateway/text/text.hpp).
using text::is_valid_utf8;
using text::utf8_length;

/// A practical address check: one '@', a dot-separated local part, and a domain of at least two
/// labels of letters, digits and '-'.
bool is_valid_email(std::string_view email);

/// A member row of an import, with the line of the file it came from.
struct ImportMember {
  std::int64_t line{0};
  NewMember member;
  MemberStatus status{MemberStatus::kPending};  ///< only kPending or kActive are accepted
  std::optional<std::int64_t> credit_limit;     ///< yen; stored in `accounts` when given
  bool status_given{false};                     ///< the status cell was not blank
};

/// Options of StaffRegistry::import_members.
struct ImportOptions {
  std::string source;   ///< file name recorded in the audit row
  std::string sha256;   ///< hex SHA-256 of the file, recorded in the audit row
  bool dry_run{false};  ///< check and write everything, then roll back
};

/// Outcome of StaffRegistry::import_members. When `issues` is not empty nothing was written.
struct ImportResult {
  std::int64_t imported{0};  ///< members written (or that would be, in a dry run)
  std::int64_t active{0};    ///< of which imported as active
  bool committed{false};     ///< false for a dry run and whenever issues were found
  std::vector<ImportIssue> issues;
};

/// Questions parse_roster asks about the database; unset functions answer "no problem".
struct RosterLookup {
  std::function<bool(std::string_view plan_code)> plan_exists;
  std::function<bool(std::string_view member_no)> member_exists;
};

/// A roster file checked row by row.
struct Roster {
  std::vector<ImportMember> rows;   ///< rows without any issue, in file order
  std::vector<ImportIssue> issues;  ///< every problem, by line
  std::int64_t data_rows{0};        ///< non-blank rows after the header
  std::string sha256;               ///< of the raw bytes
};

/// Longest accepted member name, in characters.
inline constexpr std::size_t kMaxNameChars = 200;
/// The roster columns, in the order the sample file uses.
inline constexpr std::string_view kRosterColumns[] = {
    "member_no", "name", "email", "plan", "valid_from", "valid_until", "status", "credit_limit"};

/// Reads a roster file: CSV, then the header, then every row (required fields, dates, email,
/// status, credit limit, name length, duplicates inside the file, and through `lookup` unknown
/// plans and members already in the database). An empty file, a missing header or a header
/// with no rows after it is an issue on line 0.
Roster parse_roster(std::string_view bytes, const RosterLookup& lookup = {});

/// The problems of one row that need no database: required fields, dates and their order,
/// email, name length, control characters, credit limit sign, status.
std::vector<std::string> check_import_row(const ImportMember& row);

/// Orders issues by line, keeping the order of each line's issues.
void sort_issues(std::vector<ImportIssue>& issues);

/// "roster.csv:17: unknown plan 'GOLD'" (or "roster.csv: ..." for line 0).
std::string format_issue(std::string_view source, const ImportIssue& issue);

}  // namespace labgate::gateway::store
