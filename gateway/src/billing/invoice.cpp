#include "labgate/gateway/billing/invoice.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "labgate/gateway/billing/render.hpp"
#include "labgate/gateway/text/text.hpp"

extern char** environ;

namespace labgate::gateway::billing {

namespace {

namespace fs = std::filesystem;

// The invoice's fixed texts. Japanese first: the centre's members and the tax office read it.
struct Labels {
  const char* title;
  const char* draft;
  const char* issued_on;
  const char* member;
  const char* honorific;  // after the member's name
  const char* plan;
  const char* period;
  const char* times_in;
  const char* amount_due;
  const char* of_which_tax;
  const char* issuer;
  const char* registration;
  const char* not_qualified;
  const char* col_date;
  const char* col_what;
  const char* col_source;
  const char* col_time;
  const char* col_rate;
  const char* col_amount;
  const char* session;
  const char* sessions;
  const char* sale;
  const char* machine;
  const char* coworking;
  const char* sale_type;
  const char* day_pass;
  const char* standard;
  const char* reduced;
  const char* exempt;
  const char* reduced_mark;
  const char* taxes;
  const char* col_taxable;
  const char* col_tax;
  const char* col_total;
  const char* inclusive;
  const char* exclusive;
  const char* rounding;
  const char* floor;
  const char* round;
  const char* ceil;
  const char* subtotals;
  const char* lines_total;
  const char* held;
  const char* open;
  const char* no_lines;
  const char* yen;
};

constexpr Labels kJa{
    "請求書",
    "下書き（未発行）: この月はまだ発行されていないため、請求書ではありません。",
    "発行日",
    "会員番号",
    " 様",
    "プラン",
    "対象期間",
    "時刻の基準",
    "ご請求金額",
    "うち消費税",
    "発行者",
    "登録番号",
    "適格請求書ではありません（発行者は適格請求書発行事業者の登録番号を持っていません）。",
    "日付",
    "内容",
    "根拠",
    "時間・数量",
    "税率",
    "金額",
    "利用",
    "利用",
    "販売",
    "機械利用",
    "コワーキング",
    "物品販売",
    "1日パス",
    "標準税率",
    "軽減税率",
    "非課税",
    "※は軽減税率対象",
    "税率ごとの合計",
    "対象額",
    "消費税額",
    "お支払額",
    "価格は税込（内税）です。",
    "価格は税抜（外税）です。消費税を加算して請求します。",
    "消費税は税率ごとに1回だけ計算し、1円未満は",
    "切り捨てています（floor）。",
    "四捨五入しています（round）。",
    "切り上げています（ceil）。",
    "小計",
    "明細の合計",
    "確認待ちの利用（請求に含まれません）",
    "継続中の利用（請求に含まれません）",
    "この月の利用はありません。",
    "円",
};

constexpr Labels kEn{
    "Invoice",
    "DRAFT (not issued): this month has not been issued yet, so this is not an invoice.",
    "Issued on",
    "Member",
    "",
    "Plan",
    "Period",
    "Times in",
    "Amount due",
    "of which consumption tax",
    "Issuer",
    "Registration number",
    "Not a qualified invoice: the issuer has no qualified-invoice registration number.",
    "Date",
    "Item",
    "Source",
    "Time / qty",
    "Tax",
    "Amount",
    "session",
    "sessions",
    "sale",
    "Machine time",
    "Coworking",
    "Sale",
    "Day pass",
    "standard",
    "reduced",
    "exempt",
    "* reduced-rate item",
    "Totals per tax rate",
    "Taxable",
    "Tax",
    "Paid",
    "Prices include consumption tax.",
    "Prices exclude consumption tax; the tax is added.",
    "Tax is worked out once per rate; fractions of a yen are ",
    "dropped (floor).",
    "rounded half up (round).",
    "rounded up (ceil).",
    "Subtotals",
    "Sum of the lines",
    "Held for review (not billed)",
    "Still open (not billed)",
    "No usage this month.",
    " yen",
};

const Labels& labels(InvoiceLang lang) {
  return lang == InvoiceLang::kJa ? kJa : kEn;
}

// Element content and double-quoted attribute values: the only places the invoice puts text.
void esc(std::string& out, std::string_view text) {
  out += text::html_escape(text);
}

std::string esc(std::string_view text) {
  return text::html_escape(text);
}

// 4020 -> "4,020": yen amounts as they are printed in Japan.
std::string grouped(std::int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -static_cast<unsigned long long>(v)
                                                  : static_cast<unsigned long long>(v));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string yen(const Labels& l, std::int64_t v) {
  return grouped(v) + l.yen;
}

const char* type_label(const Labels& l, LineType t) {
  switch (t) {
    case LineType::kMachine:
      return l.machine;
    case LineType::kCoworking:
      return l.coworking;
    case LineType::kSale:
      return l.sale_type;
    case LineType::kDayPass:
      return l.day_pass;
  }
  return "";
}

const char* class_label(const Labels& l, TaxClass c) {
  switch (c) {
    case TaxClass::kStandard:
      return l.standard;
    case TaxClass::kReduced:
      return l.reduced;
    case TaxClass::kExempt:
      return l.exempt;
  }
  return "";
}

// "standard+exempt" -> the labels of those classes.
std::string classes_label(const Labels& l, std::string_view classes) {
  std::string out;
  std::size_t at = 0;
  while (at <= classes.size()) {
    auto end = classes.find('+', at);
    if (end == std::string_view::npos) end = classes.size();
    const auto c = parse_tax_class(classes.substr(at, end - at));
    if (!out.empty()) out += ", ";
    out += c ? class_label(l, *c) : std::string(classes.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

// The sessions or the sale a line bills: the same numbers as the CSV's sessions and sale columns.
std::string source(const Labels& l, const StatementLine& line) {
  if (line.sale_id) return fmt::format("{} #{}", l.sale, *line.sale_id);
  std::string ids;
  for (const auto id : line.session_ids) {
    if (!ids.empty()) ids += ", ";
    ids += '#';
    ids += std::to_string(id);
  }
  return fmt::format("{} {}", line.session_ids.size() == 1 ? l.session : l.sessions, ids);
}

constexpr std::string_view kStyle =
    "@page{size:A4;margin:12mm 12mm 14mm 12mm}"
    "*{box-sizing:border-box}"
    "body{margin:0;font-family:\"IPAexGothic\",\"IPAGothic\",\"Noto Sans CJK JP\",sans-serif;"
    "font-size:8.5pt;color:#000;line-height:1.35}"
    ".invoice{page-break-after:always;break-after:page}"
    ".invoice:last-child{page-break-after:auto;break-after:auto}"
    "h1{font-size:16pt;margin:0 0 4mm 0;letter-spacing:0.2em}"
    ".draft{border:1px solid #000;padding:1.5mm;font-weight:bold}"
    ".parties{display:flex;justify-content:space-between;margin-bottom:3mm}"
    ".to .name{font-size:12pt;border-bottom:1px solid #000}"
    ".issuer{text-align:right}"
    ".due{font-size:12pt;border:1.5px solid #000;padding:2mm;margin:2mm 0 3mm 0}"
    "table{width:100%;border-collapse:collapse;margin-bottom:3mm}"
    "th,td{border-bottom:0.5px solid #888;padding:0.6mm 1mm;vertical-align:top;text-align:left}"
    "th{border-bottom:1px solid #000;font-weight:bold}"
    "td.n,th.n{text-align:right;white-space:nowrap}"
    ".rule{font-size:6.5pt;color:#333}"
    ".small{font-size:7.5pt}"
    "p{margin:0 0 1.5mm 0}";

void render_one(std::string& out, const Statement& s, const Labels& l,
                const InvoiceStanding& standing) {
  const auto mid = "invoice-" + esc(s.member_no);
  out += fmt::format("<section class=\"invoice\" id=\"{}\">\n", mid);
  out += fmt::format("<h1>{}</h1>\n", l.title);
  if (!standing.issued) out += fmt::format("<p class=\"draft\" id=\"draft\">{}</p>\n", l.draft);
  out += "<div class=\"parties\">\n<div class=\"to\">\n";
  out += "<p class=\"name\">";
  esc(out, s.name);
  out += l.honorific;
  out += "</p>\n";
  out += fmt::format("<p>{}: {}</p>\n", l.member, esc(s.member_no));
  if (!s.plan.empty()) out += fmt::format("<p>{}: {}</p>\n", l.plan, esc(s.plan));
  out += fmt::format("<p>{}: {}</p>\n", l.period, esc(s.month));
  out += fmt::format("<p class=\"small\">{}: {}</p>\n", l.times_in, esc(s.time_zone));
  if (standing.issued) {
    out += fmt::format("<p>{}: {}</p>\n", l.issued_on, esc(standing.issued_on));
  }
  out += "</div>\n<div class=\"issuer\">\n";
  out += fmt::format("<p>{}</p>\n", l.issuer);
  out += fmt::format("<p class=\"issuer-name\">{}</p>\n", esc(s.issuer.name));
  if (!s.issuer.address.empty()) out += fmt::format("<p>{}</p>\n", esc(s.issuer.address));
  if (is_qualified_invoice(s)) {
    out += fmt::format("<p id=\"registration\">{}: {}</p>\n", l.registration,
                       esc(s.issuer.registration_number));
  } else {
    out += fmt::format("<p id=\"not-qualified\">{}</p>\n", l.not_qualified);
  }
  out += "</div>\n</div>\n";
  out += fmt::format("<p class=\"due\" id=\"due\">{}: <strong>{}</strong> ({} {})</p>\n",
                     l.amount_due, yen(l, s.total), l.of_which_tax, yen(l, s.tax_total));

  bool any_reduced = false;
  if (s.lines.empty()) {
    out += fmt::format("<p>{}</p>\n", l.no_lines);
  } else {
    out += fmt::format(
        "<table class=\"lines\">\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th "
        "class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th></tr></thead>\n<tbody>\n",
        l.col_date, l.col_what, l.col_source, l.col_time, l.col_rate, l.col_amount);
    for (const auto& line : s.lines) {
      const bool reduced = line.tax_class == TaxClass::kReduced;
      any_reduced = any_reduced || reduced;
      out += "<tr><td>";
      esc(out, line.date);
      out += "</td><td>";
      out += type_label(l, line.type);
      out += ": ";
      esc(out, is_sale(line.type) ? line.item : line.target);
      if (reduced) out += " ※";
      out += "<div class=\"rule\">";
      esc(out, line.rule);
      out += "</div></td><td>";
      esc(out, source(l, line));
      out += "</td><td class=\"n\">";
      if (is_sale(line.type)) {
        out += fmt::format("x {}", line.quantity);
      } else {
        esc(out, line.start.size() >= 16 ? line.start.substr(11, 5) : line.start);
        out += "&ndash;";
        esc(out, line.end.size() >= 16 ? line.end.substr(11, 5) : line.end);
        out += "<br>";
        esc(out, format_duration(line.seconds));
      }
      out += fmt::format("</td><td class=\"n\">{}%</td><td class=\"n\">{}</td></tr>\n",
                         line.tax_percent, grouped(line.amount));
    }
    out += "</tbody>\n</table>\n";
    if (any_reduced) out += fmt::format("<p class=\"small\">{}</p>\n", l.reduced_mark);
  }

  out += fmt::format(
      "<table class=\"subtotals\">\n<thead><tr><th>{}</th><th class=\"n\">{}</th><th "
      "class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th><th "
      "class=\"n\">{}</th></tr></thead>\n<tbody><tr><td></td><td class=\"n\">{}</td><td "
      "class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td "
      "class=\"n\">{}</td></tr></tbody>\n</table>\n",
      l.subtotals, l.machine, l.coworking, l.sale_type, l.day_pass, l.lines_total,
      grouped(s.subtotal_machine), grouped(s.subtotal_coworking), grouped(s.subtotal_materials),
      grouped(s.subtotal_day_passes), grouped(s.lines_total));

  out += fmt::format(
      "<table class=\"taxes\" id=\"taxes\">\n<thead><tr><th>{}</th><th class=\"n\">{}</th><th "
      "class=\"n\">{}</th><th class=\"n\">{}</th><th class=\"n\">{}</th></tr></thead>\n<tbody>\n",
      l.taxes, l.col_rate, l.col_taxable, l.col_tax, l.col_total);
  for (const auto& t : s.taxes) {
    out += fmt::format(
        "<tr><td>{}</td><td class=\"n\">{}%</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td "
        "class=\"n\">{}</td></tr>\n",
        esc(classes_label(l, t.classes)), t.percent, grouped(t.taxable), grouped(t.tax),
        grouped(t.total));
  }
  out += "</tbody>\n</table>\n";
  out += fmt::format("<p class=\"small\" id=\"tax-mode\">{} {}{}</p>\n",
                     s.prices == PriceMode::kInclusive ? l.inclusive : l.exclusive, l.rounding,
                     s.tax_rounding == TaxRounding::kFloor   ? l.floor
                     : s.tax_rounding == TaxRounding::kRound ? l.round
                                                             : l.ceil);
  const auto excluded = [&](const char* heading, const std::vector<ExcludedSession>& rows) {
    if (rows.empty()) return;
    out +=
        fmt::format("<p class=\"small\"><strong>{}</strong></p>\n<ul class=\"small\">\n", heading);
    for (const auto& e : rows) {
      out += fmt::format("<li>{} #{} {} {}: {}</li>\n", l.session, e.session_id, esc(e.target),
                         esc(e.start), esc(e.explanation));
    }
    out += "</ul>\n";
  };
  excluded(l.held, s.held_for_review);
  excluded(l.open, s.open_sessions);
  out += "</section>\n";
}

void open_document(std::string& out, InvoiceLang lang, std::string_view title) {
  out += fmt::format(
      "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n"
      "<style>{}</style>\n</head>\n<body>\n",
      to_string(lang), esc(title), kStyle);
}

}  // namespace

std::optional<InvoiceLang> parse_invoice_lang(std::string_view text) {
  if (text == "ja") return InvoiceLang::kJa;
  if (text == "en") return InvoiceLang::kEn;
  return std::nullopt;
}

const char* to_string(InvoiceLang lang) {
  return lang == InvoiceLang::kJa ? "ja" : "en";
}

std::string invoice_html(const Statement& s, InvoiceLang lang, const InvoiceStanding& standing) {
  return invoice_html(std::vector<Statement>{s}, lang, std::vector<InvoiceStanding>{standing});
}

std::string invoice_html(const std::vector<Statement>& statements, InvoiceLang lang,
                         const std::vector<InvoiceStanding>& standings) {
  const Labels& l = labels(lang);
  std::string out;
  std::string title = l.title;
  if (!statements.empty()) {
    title += ' ' + statements.front().month;
    if (statements.size() == 1) title += ' ' + statements.front().member_no;
  }
  open_document(out, lang, title);
  for (std::size_t i = 0; i < statements.size(); ++i) {
    render_one(out, statements[i], l, i < standings.size() ? standings[i] : InvoiceStanding{});
  }
  out += "</body>\n</html>\n";
  return out;
}

st::Result<std::string> invoice_document(st::Database& db, std::string_view member_no,
                                         std::string_view month, std::int64_t now_ms,
                                         const date::time_zone* tz, const TaxPolicy& tax,
                                         InvoiceLang lang) {
  const Engine engine{tz};
  const auto standing_of = [&](const std::optional<st::IssuedStatementRow>& issued) {
    InvoiceStanding st;
    if (issued) {
      st.issued = true;
      st.issued_on = engine.local_date(issued->issued_at_ms);
    }
    return st;
  };
  if (!member_no.empty()) {
    auto view = view_statement(db, member_no, month, now_ms, tz, tax);
    if (!view) return view.error();
    return invoice_html(view->statement, lang, standing_of(view->issued));
  }
  auto range = month_range(month, tz);
  if (!range) return range.error();
  if (auto started = require_started(*range, now_ms, tz); !started) return started.error();
  auto statements = month_statements(db, month, tz, tax);
  if (!statements) return statements.error();
  auto rows = list_statements(db, std::string{month});
  if (!rows) return rows.error();
  std::vector<InvoiceStanding> standings;
  standings.reserve(statements->size());
  auto row = rows->begin();  // both in member_no order
  for (const auto& s : *statements) {
    while (row != rows->end() && row->member_no < s.member_no) ++row;
    standings.push_back(standing_of(row != rows->end() && row->member_no == s.member_no
                                        ? std::optional<st::IssuedStatementRow>(*row)
                                        : std::nullopt));
  }
  return invoice_html(*statements, lang, standings);
}

namespace {

store::Error unavailable(std::string message) {
  return store::Error{store::ErrorKind::kUnavailable, 0, std::move(message)};
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A private scratch folder removed on every way out, so a failed render leaves nothing behind.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "labgate-pdf-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

}  // namespace

store::Result<std::string> render_pdf(std::string_view html) {
  ScratchDir dir;
  if (dir.path.empty())
    return unavailable(fmt::format("cannot make a scratch folder: {}", std::strerror(errno)));
  const fs::path in = dir.path / "invoice.html";
  const fs::path out = dir.path / "invoice.pdf";
  const fs::path log = dir.path / "weasyprint.log";
  {
    std::ofstream f(in, std::ios::binary);
    f.write(html.data(), static_cast<std::streamsize>(html.size()));
    if (!f) return unavailable("cannot write the invoice for weasyprint");
  }
  const char* configured = std::getenv("LABGATE_WEASYPRINT");
  std::string program = configured && *configured ? configured : "weasyprint";
  std::string in_s = in.string(), out_s = out.string();
  std::array<char*, 4> argv{program.data(), in_s.data(), out_s.data(), nullptr};
  // The document's dates would otherwise be the clock's: fixing them (and so the identifier
  // weasyprint derives from the content) makes the same invoice the same bytes.
  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e) {
    if (std::string_view(*e).starts_with("SOURCE_DATE_EPOCH=")) continue;
    env_store.emplace_back(*e);
  }
  env_store.emplace_back("SOURCE_DATE_EPOCH=0");
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return unavailable(
        fmt::format("cannot run {}: {} (install Debian's weasyprint)", program, std::strerror(rc)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return unavailable("lost the weasyprint process");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string why = slurp(log);
    if (why.size() > 400) why = why.substr(why.size() - 400);
    return unavailable(fmt::format("{} failed: {}", program, why));
  }
  std::string pdf = slurp(out);
  if (!pdf.starts_with("%PDF")) return unavailable(fmt::format("{} wrote no PDF", program));
  return pdf;
}

}  // namespace labgate::gateway::billing
