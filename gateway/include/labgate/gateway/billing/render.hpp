#pragma once
// Statement rendering. Both formats are byte-identical for identical statements: nothing in the
// body depends on when or where it was rendered.
//  - CSV: written by csv::Writer (UTF-8 with a byte order mark so Excel in Japan opens it as
//    UTF-8, CRLF line ends, RFC 4180 quoting, text cells that would start a formula prefixed with
//    an apostrophe). Sections: header, lines, subtotals, tax and total, price mode and rounding,
//    the totals per tax rate, the issuer (qualified-invoice fields), held and open sessions.
//  - JSON: one object with keys in a fixed order (member_no, name, month, plan, time_zone,
//    currency, lines, subtotals, lines_total, taxes, tax_total, total, prices, tax_rounding,
//    issuer, qualified_invoice, invoice_note, held_for_review, open_sessions, note), compact.

#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/billing/engine.hpp"
#include "labgate/gateway/csv/writer.hpp"

namespace labgate::gateway::billing {

/// The UTF-8 byte order mark that starts every CSV file.
inline constexpr std::string_view kUtf8Bom = csv::kUtf8Bom;

/// Whether the statement is a qualified invoice: its issuer has a registration number.
bool is_qualified_invoice(const Statement& statement);
/// The line every statement carries about the qualified-invoice system: the registration number,
/// or that the statement is not a qualified invoice.
std::string invoice_note(const Statement& statement);

/// The statement as CSV (BOM, CRLF).
std::string to_csv(const Statement& statement);
/// The statement as compact JSON (UTF-8, not ASCII-escaped).
std::string to_json(const Statement& statement);
/// Appends to_csv(statement) to `out`: a caller rendering many statements can reuse one buffer
/// (clear() keeps its capacity) instead of allocating one per statement.
void append_csv(std::string& out, const Statement& statement);
/// Appends to_json(statement) to `out` (see append_csv).
void append_json(std::string& out, const Statement& statement);
/// One CSV (BOM, CRLF) with a row per statement: member_no, name, month, plan, lines,
/// machine, coworking, materials, total, held, open, note, day_passes, tax.
std::string summary_csv(const std::vector<Statement>& statements);
/// Appends one summary row for `statement` to `out` (the header is kSummaryHeader).
void append_summary_row(std::string& out, const Statement& statement);
/// The header row of summary_csv, with CRLF.
inline constexpr std::string_view kSummaryHeader =
    "member_no,name,month,plan,lines,machine,coworking,materials,total,held_for_review,"
    "open_sessions,note,day_passes,tax\r\n";

}  // namespace labgate::gateway::billing
