#pragma once
// The printable invoice: one member's statement of a month as an HTML page that prints on one A4
// sheet (CSS @page A4), in Japanese or English, with the qualified-invoice fields (issuer, address,
// registration number or the statement that it is not a qualified invoice, totals and tax per
// rate, the rounding mode), and every line naming the sessions or the sale it bills, as the CSV
// does. The PDF is that page rendered by Debian's weasyprint. labgatectl and the console both
// render through here, so the same data gives the same bytes from either.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labgate/gateway/billing/engine.hpp"
#include "labgate/gateway/billing/statements.hpp"
#include "labgate/gateway/store/result.hpp"

namespace labgate::gateway::billing {

/// The language of an invoice.
enum class InvoiceLang { kJa, kEn };
/// "ja" or "en"; nullopt for anything else.
std::optional<InvoiceLang> parse_invoice_lang(std::string_view text);
/// "ja" / "en".
const char* to_string(InvoiceLang lang);

/// Where the invoice stands: issued on a local date, or a draft (not issued yet), which the page
/// marks as such so nobody mistakes it for the invoice.
struct InvoiceStanding {
  bool issued{false};
  std::string issued_on;  ///< local "YYYY-MM-DD" when issued
};

/// The invoice of one statement as a whole HTML document (UTF-8). Every text typed by people
/// (names, items, the issuer) is HTML-escaped. Deterministic: nothing depends on when it is made.
std::string invoice_html(const Statement& statement, InvoiceLang lang,
                         const InvoiceStanding& standing);
/// Several invoices in one HTML document, one A4 sheet each (a month for all members).
std::string invoice_html(const std::vector<Statement>& statements, InvoiceLang lang,
                         const std::vector<InvoiceStanding>& standings);

/// The invoices of `month` from the database: one member's, or (member_no empty) every member's
/// with usage, in member_no order, each issued or marked as a draft as the statements table says.
/// This is what `labgatectl statements invoice` and the console both serve. Errors as
/// view_statement and month_statements give them (future month, unknown member, no usage).
st::Result<std::string> invoice_document(st::Database& db, std::string_view member_no,
                                         std::string_view month, std::int64_t now_ms,
                                         const date::time_zone* tz, const TaxPolicy& tax,
                                         InvoiceLang lang);

/// `html` rendered to PDF by weasyprint (found on PATH, or at $LABGATE_WEASYPRINT). The same HTML
/// gives the same bytes: the document's dates and identifier are fixed by the renderer, not taken
/// from the clock. kUnavailable when weasyprint is missing or fails (with its message).
store::Result<std::string> render_pdf(std::string_view html);

}  // namespace labgate::gateway::billing
