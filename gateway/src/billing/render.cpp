#include "labgate/gateway/billing/render.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <optional>

#include "labgate/gateway/csv/writer.hpp"

namespace labgate::gateway::billing {

namespace {

// A small streaming writer: building 10^6 lines as nlohmann objects costs more than the whole
// statement run may take, and a fixed key order is all determinism needs. Tests parse the result
// with nlohmann to check it.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  void open_object() { value_prefix(), out_ += '{', first_ = true; }
  void close_object() { out_ += '}', first_ = false; }
  void open_array() { value_prefix(), out_ += '[', first_ = true; }
  void close_array() { out_ += ']', first_ = false; }
  JsonWriter& key(std::string_view k) {
    // Keys are our own short ASCII literals: nothing to escape, so no per-character scan, and
    // the separator, quotes and colon go out in one append (28 keys a line, 10^6 lines a month).
    char buf[64];
    std::size_t n = 0;
    if (!first_) buf[n++] = ',';
    first_ = true;
    pending_key_ = true;
    if (k.size() > sizeof buf - 4) {
      out_.append(buf, n);
      out_ += '"';
      out_ += k;
      out_ += "\":";
      return *this;
    }
    buf[n++] = '"';
    std::memcpy(buf + n, k.data(), k.size());
    n += k.size();
    buf[n++] = '"';
    buf[n++] = ':';
    out_.append(buf, n);
    return *this;
  }
  void str(std::string_view v) {
    value_prefix();
    string_raw(v);
  }
  void num(std::int64_t v) {
    value_prefix();
    const fmt::format_int f(v);
    out_.append(f.data(), f.size());
  }
  void boolean(bool v) {
    value_prefix();
    out_ += v ? "true" : "false";
  }
  void null() {
    value_prefix();
    out_ += "null";
  }
  void opt(const std::optional<std::int64_t>& v) {
    if (v) {
      num(*v);
    } else {
      null();
    }
  }

 private:
  void value_prefix() {
    if (pending_key_) {
      pending_key_ = false;
    } else if (!first_) {
      out_ += ',';
    }
    first_ = false;
  }
  void string_raw(std::string_view s) {
    out_ += '"';
    std::size_t run = 0;  // start of the pending run of characters that need no escape
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto u = static_cast<unsigned char>(s[i]);
      if (u >= 0x20 && u != '"' && u != '\\') continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
      switch (u) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\b':
          out_ += "\\b";
          break;
        case '\f':
          out_ += "\\f";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          fmt::format_to(std::back_inserter(out_), "\\u{:04x}", u);
      }
    }
    out_.append(s.data() + run, s.size() - run);
    out_ += '"';
  }
  std::string& out_;
  bool first_{true};
  bool pending_key_{false};
};

constexpr std::string_view kLineHeader =
    "type,date,target,sessions,sale,item,quantity,rate,start,end,seconds,included_seconds_used,"
    "billable_seconds,unit_seconds,units,unit_price,busy_seconds,busy_units,idle_units,"
    "idle_unit_price,gross,minimum_applied,discount,cap_reduction,amount,rule,tax_class,tax_"
    "percent\r\n";

void excluded_rows(csv::Writer& w, std::string_view section,
                   const std::vector<ExcludedSession>& rows) {
  for (const auto& e : rows) {
    w.text(section).number(e.session_id).text(e.target).text(e.start).text(e.end);
    w.number(e.seconds).text(e.explanation).end_row();
  }
}

void excluded_json(JsonWriter& w, const std::vector<ExcludedSession>& rows) {
  w.open_array();
  for (const auto& e : rows) {
    w.open_object();
    w.key("session_id").num(e.session_id);
    w.key("target").str(e.target);
    w.key("start").str(e.start);
    if (e.end.empty()) {
      w.key("end").null();
    } else {
      w.key("end").str(e.end);
    }
    w.key("seconds").opt(e.seconds);
    w.key("explanation").str(e.explanation);
    w.close_object();
  }
  w.close_array();
}

}  // namespace

bool is_qualified_invoice(const Statement& s) {
  return !s.issuer.registration_number.empty();
}

std::string invoice_note(const Statement& s) {
  if (is_qualified_invoice(s)) {
    return "qualified invoice (適格請求書), registration number " + s.issuer.registration_number;
  }
  return "not a qualified invoice (適格請求書ではありません): the issuer has no registration "
         "number";
}

std::string to_csv(const Statement& s) {
  std::string out;
  append_csv(out, s);
  return out;
}

void append_csv(std::string& out, const Statement& s) {
  out.reserve(out.size() + 512 + s.lines.size() * 200);
  csv::Writer w(out);
  w.bom().row({"member_no", "name", "month", "plan", "time_zone", "currency"});
  w.text(s.member_no).text(s.name).text(s.month).text(s.plan).text(s.time_zone).text("JPY");
  w.end_row().end_row();
  out += kLineHeader;
  for (const auto& l : s.lines) {
    w.text(to_string(l.type)).text(l.date).text(l.target).numbers(l.session_ids);
    w.number(l.sale_id).text(l.item);
    if (is_sale(l.type)) {
      w.number(l.quantity);
    } else {
      w.empty();
    }
    w.number(l.rate_id).text(l.start).text(l.end);
    for (const std::int64_t v : {l.seconds, l.included_seconds_used, l.billable_seconds,
                                 l.unit_seconds, l.units, l.unit_price}) {
      w.number(v);
    }
    for (const auto& v : {l.busy_seconds, l.busy_units, l.idle_units, l.idle_unit_price}) {
      w.number(v);
    }
    w.number(l.gross).text(l.minimum_applied ? "yes" : "no").number(l.discount);
    w.number(l.cap_reduction).number(l.amount).text(l.rule);
    w.text(to_string(l.tax_class)).number(l.tax_percent).end_row();
  }
  w.end_row();
  w.text("subtotal").text("machine").number(s.subtotal_machine).end_row();
  w.text("subtotal").text("coworking").number(s.subtotal_coworking).end_row();
  w.text("subtotal").text("materials").number(s.subtotal_materials).end_row();
  w.text("subtotal").text("day_passes").number(s.subtotal_day_passes).end_row();
  w.text("tax").empty().number(s.tax_total).end_row();
  w.text("total").empty().number(s.total).end_row();
  w.end_row().row({"prices", "tax_rounding"});
  w.text(to_string(s.prices)).text(to_string(s.tax_rounding)).end_row();
  w.end_row().row({"tax_classes", "tax_percent", "taxable", "tax", "total"});
  for (const auto& t : s.taxes) {
    w.text(t.classes).number(t.percent).number(t.taxable).number(t.tax).number(t.total).end_row();
  }
  w.end_row().row({"issuer_name", "issuer_address", "registration_number", "qualified_invoice"});
  w.text(s.issuer.name).text(s.issuer.address).text(s.issuer.registration_number);
  w.text(is_qualified_invoice(s) ? "yes" : "no").end_row();
  w.text("invoice_note").text(invoice_note(s)).end_row();
  if (!s.held_for_review.empty() || !s.open_sessions.empty()) {
    w.end_row().row({"section", "session_id", "target", "start", "end", "seconds", "explanation"});
    excluded_rows(w, "held_for_review", s.held_for_review);
    excluded_rows(w, "open", s.open_sessions);
  }
  if (!s.note.empty()) w.end_row().text("note").text(s.note).end_row();
}

std::string to_json(const Statement& s) {
  std::string out;
  append_json(out, s);
  return out;
}

void append_json(std::string& out, const Statement& s) {
  out.reserve(out.size() + 512 + s.lines.size() * 600);
  JsonWriter w(out);
  w.open_object();
  w.key("member_no").str(s.member_no);
  w.key("name").str(s.name);
  w.key("month").str(s.month);
  w.key("plan").str(s.plan);
  w.key("time_zone").str(s.time_zone);
  w.key("currency").str("JPY");
  w.key("lines");
  w.open_array();
  for (const auto& l : s.lines) {
    w.open_object();
    w.key("type").str(to_string(l.type));
    w.key("date").str(l.date);
    w.key("target").str(l.target);
    w.key("session_ids");
    w.open_array();
    for (const auto id : l.session_ids) w.num(id);
    w.close_array();
    w.key("sale_id").opt(l.sale_id);
    w.key("item").str(l.item);
    w.key("quantity").num(l.quantity);
    w.key("rate_id").opt(l.rate_id);
    w.key("start").str(l.start);
    w.key("end").str(l.end);
    w.key("seconds").num(l.seconds);
    w.key("included_seconds_used").num(l.included_seconds_used);
    w.key("billable_seconds").num(l.billable_seconds);
    w.key("unit_seconds").num(l.unit_seconds);
    w.key("units").num(l.units);
    w.key("unit_price").num(l.unit_price);
    w.key("busy_seconds").opt(l.busy_seconds);
    w.key("busy_units").opt(l.busy_units);
    w.key("idle_units").opt(l.idle_units);
    w.key("idle_unit_price").opt(l.idle_unit_price);
    w.key("gross").num(l.gross);
    w.key("minimum_applied").boolean(l.minimum_applied);
    w.key("discount").num(l.discount);
    w.key("cap_reduction").num(l.cap_reduction);
    w.key("amount").num(l.amount);
    w.key("rule").str(l.rule);
    w.key("tax_class").str(to_string(l.tax_class));
    w.key("tax_percent").num(l.tax_percent);
    w.close_object();
  }
  w.close_array();
  w.key("subtotals");
  w.open_object();
  w.key("machine").num(s.subtotal_machine);
  w.key("coworking").num(s.subtotal_coworking);
  w.key("materials").num(s.subtotal_materials);
  w.key("day_passes").num(s.subtotal_day_passes);
  w.close_object();
  w.key("lines_total").num(s.lines_total);
  w.key("taxes");
  w.open_array();
  for (const auto& t : s.taxes) {
    w.open_object();
    w.key("classes").str(t.classes);
    w.key("percent").num(t.percent);
    w.key("taxable").num(t.taxable);
    w.key("tax").num(t.tax);
    w.key("total").num(t.total);
    w.close_object();
  }
  w.close_array();
  w.key("tax_total").num(s.tax_total);
  w.key("total").num(s.total);
  w.key("prices").str(to_string(s.prices));
  w.key("tax_rounding").str(to_string(s.tax_rounding));
  w.key("issuer");
  w.open_object();
  w.key("name").str(s.issuer.name);
  w.key("address").str(s.issuer.address);
  w.key("registration_number").str(s.issuer.registration_number);
  w.close_object();
  w.key("qualified_invoice").boolean(is_qualified_invoice(s));
  w.key("invoice_note").str(invoice_note(s));
  w.key("held_for_review");
  excluded_json(w, s.held_for_review);
  w.key("open_sessions");
  excluded_json(w, s.open_sessions);
  w.key("note").str(s.note);
  w.close_object();
}

void append_summary_row(std::string& out, const Statement& s) {
  csv::Writer w(out);
  w.text(s.member_no).text(s.name).text(s.month).text(s.plan);
  for (const std::int64_t v :
       {static_cast<std::int64_t>(s.lines.size()), s.subtotal_machine, s.subtotal_coworking,
        s.subtotal_materials, s.total, static_cast<std::int64_t>(s.held_for_review.size()),
        static_cast<std::int64_t>(s.open_sessions.size())}) {
    w.number(v);
  }
  // Day passes come last so the older columns keep their places in managers' spreadsheets.
  w.text(s.note).number(s.subtotal_day_passes).number(s.tax_total).end_row();
}

std::string summary_csv(const std::vector<Statement>& statements) {
  std::string out{kUtf8Bom};
  out += kSummaryHeader;
  for (const auto& s : statements) append_summary_row(out, s);
  return out;
}

}  // namespace labgate::gateway::billing
