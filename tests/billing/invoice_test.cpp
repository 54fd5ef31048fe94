// The printable invoice: hostile text is escaped, the qualified-invoice fields are there in both
// languages, and the PDF weasyprint makes of it is the same bytes every time.
#include "labgate/gateway/billing/invoice.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "billing_support.hpp"

using namespace labgate::test::billing;
namespace bl = labgate::gateway::billing;

namespace {

bl::Statement hostile_statement() {
  bl::StatementInput in;
  in.member_no = "M<1>";
  in.name = "<script>alert('x')</script> & \"Bob\"";
  in.plan = "p<b>";
  in.month = "2026-11";
  bl::SaleItem sale;
  sale.id = 7;
  sale.item_code = "tea";
  sale.item_name = "<img src=x onerror=alert(1)>";
  sale.quantity = 3;
  sale.unit_price = 105;
  sale.at_ms = nov(24, 10);
  sale.tax_class = bl::TaxClass::kReduced;
  in.sales.push_back(sale);
  bl::TaxPolicy tax;
  tax.issuer = {"Lab </p><b>evil</b>", "1-1 \"Demo\" & Co", ""};
  return bl::Engine{tokyo(), tax}.bill(in);
}

}  // namespace

TEST_CASE("invoice: text typed by people is escaped, never markup", "[billing][invoice]") {
  const auto s = hostile_statement();
  for (const auto lang : {bl::InvoiceLang::kJa, bl::InvoiceLang::kEn}) {
    const auto html = bl::invoice_html(s, lang, {});
    CHECK(html.find("<script>") == std::string::npos);
    CHECK(html.find("<img") == std::string::npos);
    CHECK(html.find("<b>evil") == std::string::npos);
    CHECK(html.find("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;Bob&quot;") !=
          std::string::npos);
    CHECK(html.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
    CHECK(html.find("M&lt;1&gt;") != std::string::npos);
    CHECK(html.find("1-1 &quot;Demo&quot; &amp; Co") != std::string::npos);
    // No registration number: the page says it is not a qualified invoice, and it is a draft.
    CHECK(html.find("id=\"not-qualified\"") != std::string::npos);
    CHECK(html.find("id=\"registration\"") == std::string::npos);
    CHECK(html.find("id=\"draft\"") != std::string::npos);
    // The reduced-rate item is marked, and its tax is rounded once: floor(315 * 8 / 108) = 23.
    CHECK(html.find(" ※") != std::string::npos);
    CHECK(html.find(">8%</td><td class=\"n\">315</td><td class=\"n\">23</td>") !=
          std::string::npos);
    CHECK(html.find("@page{size:A4") != std::string::npos);
  }
}

TEST_CASE("invoice: issued invoices carry the date and the registration number",
          "[billing][invoice]") {
  auto s = hostile_statement();
  s.issuer.registration_number = "T1234567890123";
  const auto ja = bl::invoice_html(s, bl::InvoiceLang::kJa, {true, "2026-12-01"});
  CHECK(ja.find("登録番号: T1234567890123") != std::string::npos);
  CHECK(ja.find("発行日: 2026-12-01") != std::string::npos);
  CHECK(ja.find("id=\"draft\"") == std::string::npos);
  CHECK(ja.find("切り捨て") != std::string::npos);
  CHECK(ja.find("<html lang=\"ja\">") != std::string::npos);
  const auto en = bl::invoice_html(s, bl::InvoiceLang::kEn, {true, "2026-12-01"});
  CHECK(en.find("Registration number: T1234567890123") != std::string::npos);
  CHECK(en.find("Amount due: <strong>315 yen</strong> (of which consumption tax 23 yen)") !=
        std::string::npos);
}

TEST_CASE("invoice: the PDF is the same bytes for the same data", "[billing][invoice][pdf]") {
  auto s = hostile_statement();
  s.issuer.registration_number = "T1234567890123";
  const auto html = bl::invoice_html(s, bl::InvoiceLang::kJa, {true, "2026-12-01"});
  const auto first = bl::render_pdf(html);
  INFO((first ? std::string() : first.error().message));
  REQUIRE(first.ok());
  CHECK(first->starts_with("%PDF-"));
  // Rendered again a second later (the clock has moved on): byte for byte the same.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto second = bl::render_pdf(html);
  REQUIRE(second.ok());
  CHECK(*first == *second);
  // A different amount gives a different file: the comparison above can fail.
  s.name = "Someone else";
  const auto other =
      bl::render_pdf(bl::invoice_html(s, bl::InvoiceLang::kJa, {true, "2026-12-01"}));
  REQUIRE(other.ok());
  CHECK(*other != *first);
}

TEST_CASE("invoice: a missing weasyprint is a clear error", "[billing][invoice][pdf]") {
  ::setenv("LABGATE_WEASYPRINT", "/nonexistent/weasyprint", 1);
  const auto r = bl::render_pdf("<html></html>");
  ::unsetenv("LABGATE_WEASYPRINT");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == labgate::gateway::store::ErrorKind::kUnavailable);
  CHECK(r.error().message.find("weasyprint") != std::string::npos);
}
