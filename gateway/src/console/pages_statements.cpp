// The statements pages (manager only, checked here on the server): preview a month for one member
// or for all, download its CSV, JSON and invoice (HTML, PDF: the bytes labgatectl writes, from the
// same renderer), export everything as a zip, and issue the month after a confirmation page that
// names the total and the number of members. Exporting and issuing run as background jobs
// (jobs.hpp) with a progress page; issuing goes through labgated's admin channel as the
// logged-in manager (statements.issue), whose one transaction per month keeps one statement per
// member however often, and from however many browsers, it is asked.
#include <archive.h>
#include <archive_entry.h>
#include <date/tz.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "app_context.hpp"
#include "labgate/gateway/billing/invoice.hpp"
#include "labgate/gateway/billing/render.hpp"
#include "labgate/gateway/billing/statements.hpp"
#include "labgate/gateway/files/files.hpp"
#include "pdf_pages.hpp"

namespace labgate::gateway::console {

namespace {

namespace bl = labgate::gateway::billing;
namespace fs = std::filesystem;
using json = nlohmann::json;

// A connection of the request's (or job's) own: a month of 10^6 sessions takes seconds to bill,
// and the console's shared store must stay free for every other page meanwhile.
std::unique_ptr<store::Database> open_reader(const fs::path& path) {
  store::DatabaseOptions o;
  o.read_only = true;
  o.busy_timeout = std::chrono::milliseconds(5000);
  auto db = store::Database::open(path, o);
  if (!db) throw std::runtime_error("cannot open the database: " + db.error().message);
  return std::move(db.value());
}

const date::time_zone* zone_of(const config::SiteConfig& site) {
  auto tz = bl::find_zone(site.site.timezone);
  if (!tz) throw std::runtime_error(tz.error().message);
  return *tz;
}

bool valid_month(const std::string& month) {
  return bl::month_range(month, date::locate_zone("UTC")).ok();
}

std::string yen(std::int64_t v) {
  return fmt::format("{}", v);
}

// A download's headers: its name (ASCII: member numbers go through file_name_part) as an
// attachment.
Response download(const Context& c, std::string body, std::string_view type,
                  const std::string& name) {
  auto res = c.respond(http::status::ok, std::move(body), type);
  res.set(http::field::content_disposition, "attachment; filename=\"" + name + "\"");
  return res;
}

// One zip of the month: per member its statement CSV and JSON, the summary CSV, the month's
// invoices in both languages as HTML and the Japanese ones as PDF. Written to a temporary file in
// `dir` and renamed into place only when complete: a failed export leaves no file behind.
std::string write_zip(const fs::path& dir, const std::string& month,
                      const std::vector<bl::Statement>& statements, const std::string& invoices_ja,
                      const std::string& invoices_en, const std::string& pdf, JobProgress& p) {
  const std::string name = fmt::format("statements-{}.zip", month);
  const fs::path final_path = dir / name;
  std::string tmpl = (dir / (name + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw std::runtime_error("cannot create the export file");
  const fs::path tmp = tmpl;
  struct Cleanup {
    fs::path path;
    bool keep{false};
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove(path, ec);
    }
  } cleanup{tmp};
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
    ::close(fd);
    archive_write_free(a);
    throw std::runtime_error("cannot start the zip");
  }
  std::string failure;
  const auto add = [&](const std::string& entry_name, std::string_view body) {
    if (!failure.empty()) return;
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, entry_name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(body.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0640);
    // A fixed time: the same month gives the same archive.
    archive_entry_set_mtime(e, 0, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        archive_write_data(a, body.data(), body.size()) != static_cast<la_ssize_t>(body.size())) {
      failure = archive_error_string(a) ? archive_error_string(a) : "write failed";
    }
    archive_entry_free(e);
  };
  p.phase("job.zipping", static_cast<std::int64_t>(statements.size()));
  std::string buffer;
  for (const auto& s : statements) {
    const std::string stem =
        fmt::format("statement-{}-{}", s.month, files::file_name_part(s.member_no));
    buffer.clear();
    bl::append_csv(buffer, s);
    add(stem + ".csv", buffer);
    buffer.clear();
    bl::append_json(buffer, s);
    buffer += '\n';
    add(stem + ".json", buffer);
    p.advance();
  }
  add(fmt::format("summary-{}.csv", month), bl::summary_csv(statements));
  add(fmt::format("invoices-{}-ja.html", month), invoices_ja);
  add(fmt::format("invoices-{}-en.html", month), invoices_en);
  // One PDF per member, cut from the month's one weasyprint run (pdf_pages.hpp): each invoice
  // starts with the one heading that gives it an outline entry. The invoices and `statements`
  // are both in member_no order (load_month); the count check catches a member come or gone
  // between their two reads.
  const auto parts = split_pdf_at_outline(pdf);
  if (parts.size() != statements.size()) {
    throw std::runtime_error(fmt::format("the invoices' PDF has {} parts for {} members",
                                         parts.size(), statements.size()));
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    add(fmt::format("invoice-{}-{}-ja.pdf", month, files::file_name_part(statements[i].member_no)),
        parts[i]);
  }
  const bool closed = archive_write_close(a) == ARCHIVE_OK;
  archive_write_free(a);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!failure.empty()) throw std::runtime_error("zip: " + failure);
  if (!closed || !synced) throw std::runtime_error("cannot finish the zip");
  ::chmod(tmp.c_str(), files::kExportMode);
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  if (ec) throw std::runtime_error("cannot move the zip into place: " + ec.message());
  cleanup.keep = true;
  return name;
}

// The month's statements, billed on `db`, counting members into `p`.
std::vector<bl::Statement> bill_month(store::Database& db, const std::string& month,
                                      const date::time_zone* tz, const bl::TaxPolicy& tax,
                                      std::int64_t expected, JobProgress& p) {
  auto range = bl::month_range(month, tz);
  if (!range) throw std::runtime_error(range.error().message);
  p.phase("job.billing", expected);
  const bl::Engine engine{tz, tax};
  std::vector<bl::Statement> out;
  auto n = bl::load_month(db, *range, [&](bl::StatementInput&& in) {
    out.push_back(engine.bill(in));
    p.advance();
  });
  if (!n) throw std::runtime_error(n.error().message);
  if (out.empty()) throw std::runtime_error(fmt::format("no usage in {}", month));
  return out;
}

// Why the month cannot be issued as a whole (not ended, held or open sessions), or "".
std::string issue_blocker(const Context& c, const std::string& month,
                          const std::vector<bl::Statement>& statements, const bl::MonthRange& range,
                          std::int64_t now_ms) {
  if (now_ms < range.end_ms) return fmt::format("{} ({})", t(c, "statements.still_open"), month);
  std::string held;
  for (const auto& s : statements) {
    if (!s.held_for_review.empty() || !s.open_sessions.empty()) {
      held += (held.empty() ? "" : ", ") + s.member_no;
    }
  }
  if (!held.empty()) return t(c, "statements.has_held") + " " + held;
  return {};
}

}  // namespace

std::string job_progress(const Context& c, const JobState& j) {
  const auto pct = j.total > 0 ? std::min<std::int64_t>(100, j.done * 100 / j.total) : 0;
  return fmt::format(
      R"(<p id="job-phase" data-stage="{}">{}</p>)"
      R"(<p><progress id="job-progress" value="{}" max="{}">{}%</progress> <span id="job-count">{} / {}</span></p>)",
      j.stage == JobState::Stage::kRunning ? "running"
      : j.stage == JobState::Stage::kDone  ? "done"
                                           : "failed",
      t(c, j.phase), j.done, std::max<std::int64_t>(j.total, 1), pct, j.done, j.total);
}

Response App::route_statements(Context& c) {
  if (!role_may(c.role(), Permission::kManager)) {
    spdlog::warn("console: {} ({}) refused {}", c.session->login, c.role(), c.path);
    return fail(c, http::status::forbidden, "error.forbidden");
  }
  const bool get = c.req.method() == http::verb::get;
  if (get && c.path == "/statements") return statements_page(c);
  if (get && c.path == "/statements/download") return statements_download(c);
  if (get && c.path.starts_with("/statements/jobs/")) return statements_job(c, c.path.substr(17));
  if (get && c.path.starts_with("/statements/files/")) {
    return statements_file(c, c.path.substr(18));
  }
  if (!get && c.path == "/statements/export") return statements_export(c);
  if (!get && c.path == "/statements/issue") return statements_issue(c);
  return fail(c, http::status::not_found, "error.not_found");
}

Response App::statements_page(Context& c) {
  const std::string month = form_value(c.query, "month");
  const std::string member = form_value(c.query, "member");
  std::string body = fmt::format(
      R"(<form method="get" action="/statements" id="statements-form"><label>{} <input name="month" id="month" value="{}" placeholder="YYYY-MM" required></label> )"
      R"(<label>{} <input name="member" id="member" value="{}"></label> <button type="submit" id="preview">{}</button></form>)",
      t(c, "statements.month"), esc(month), t(c, "statements.member"), esc(member),
      t(c, "statements.preview"));
  if (month.empty()) return c.html(http::status::ok, t(c, "statements"), body);
  if (!valid_month(month)) {
    return fail(c, http::status::bad_request, "error.bad_request", " month: YYYY-MM");
  }
  const auto* tz = zone_of(options_.site);
  const auto& tax = options_.site.billing;
  auto db = open_reader(store_->database().path());
  const std::int64_t now = store_->now_ms();
  const std::string q = "month=" + url_encode(month) +
                        (member.empty() ? std::string() : "&member=" + url_encode(member));
  const auto links = [&](bool one) {
    std::string out = R"(<p id="downloads">)";
    for (const auto& [format, label] :
         {std::pair{"csv", "CSV"}, {"json", "JSON"}, {"pdf", "PDF"}, {"html", "HTML"}}) {
      out +=
          fmt::format(R"(<a href="/statements/download?{}&amp;format={}" id="download-{}">{}</a> )",
                      esc(q), format, format, label);
    }
    out += fmt::format(
        R"(<a href="/statements/download?{}&amp;format=pdf&amp;lang=en" id="download-pdf-en">PDF (English)</a></p>)",
        esc(q));
    (void)one;
    return out;
  };
  if (!member.empty()) {
    auto view = bl::view_statement(*db, member, month, now, tz, tax);
    if (!view) return fail(c, http::status::not_found, "error.refused", view.error().message);
    const auto& s = view->statement;
    body += fmt::format(R"(<h2 id="statement-of">{} {} {}</h2><p id="standing">{}</p>)",
                        esc(s.month), esc(s.member_no), esc(s.name), esc(view->standing));
    body += links(true);
    body += "<table id=\"lines\"><tr><th>" + t(c, "statements.date") + "</th><th>" +
            t(c, "statements.what") + "</th><th>" + t(c, "statements.sessions") + "</th><th>" +
            t(c, "statements.amount") + "</th><th>" + t(c, "statements.rule") + "</th></tr>";
    for (const auto& l : s.lines) {
      std::string ids;
      for (const auto id : l.session_ids) ids += (ids.empty() ? "#" : ", #") + std::to_string(id);
      if (l.sale_id) ids = "sale #" + std::to_string(*l.sale_id);
      body += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                          esc(l.date), esc(bl::is_sale(l.type) ? l.item : l.target), esc(ids),
                          l.amount, esc(l.rule));
    }
    body += "</table>";
    for (const auto& tx : s.taxes) {
      body += fmt::format(R"(<p class="tax">{}% ({}): {} / {} {}</p>)", tx.percent, esc(tx.classes),
                          tx.taxable, t(c, "statements.tax"), tx.tax);
    }
    body += fmt::format(R"(<p id="total" data-total="{}">{} {}</p>)", s.total,
                        t(c, "statements.total"), yen(s.total));
    return c.html(http::status::ok, t(c, "statements"), body);
  }
  auto started = bl::month_range(month, tz);
  if (!started) return fail(c, http::status::bad_request, "error.bad_request", " month");
  if (auto r = bl::require_started(*started, now, tz); !r) {
    return fail(c, http::status::bad_request, "error.refused", r.error().message);
  }
  auto statements = bl::month_statements(*db, month, tz, tax);
  if (!statements) {
    return fail(c, http::status::not_found, "error.refused", statements.error().message);
  }
  auto issued = bl::list_statements(*db, month);
  std::set<std::string> issued_members;
  if (issued) {
    for (const auto& r : *issued) issued_members.insert(r.member_no);
  }
  std::int64_t total = 0;
  std::string rows;
  for (const auto& s : *statements) {
    total += s.total;
    rows += fmt::format(
        R"(<tr data-member="{0}"><td><a href="/statements?month={1}&amp;member={2}">{0}</a></td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td><td>{7}</td><td>{8}</td></tr>)",
        esc(s.member_no), esc(url_encode(month)), esc(url_encode(s.member_no)), esc(s.name),
        s.lines.size(), s.held_for_review.size() + s.open_sessions.size(), s.tax_total, s.total,
        issued_members.contains(s.member_no) ? t(c, "statements.issued") : "");
  }
  body += fmt::format(
      R"(<h2 id="month-of">{}</h2><p id="month-total" data-members="{}" data-total="{}">{} {} / {} {}</p>)",
      esc(month), statements->size(), total, t(c, "statements.members"), statements->size(),
      t(c, "statements.total"), yen(total));
  body += links(false);
  for (const auto& [kind, label] :
       {std::pair{"export", "statements.export"}, {"issue", "statements.issue"}}) {
    const auto job = jobs_.running(std::string(kind) + ":" + month);
    body += fmt::format(
        R"(<form method="post" action="/statements/{0}" class="inline" id="{0}-form">{1}<input type="hidden" name="month" value="{2}"><button type="submit" id="{0}-button">{3}</button></form> )",
        kind, csrf_input(c.session->csrf), esc(month), t(c, label));
    if (job) {
      body += fmt::format(R"(<a href="/statements/jobs/{}" id="{}-running">{}</a> )", esc(job->id),
                          kind, t(c, "job.running"));
    }
  }
  body += "<table id=\"members\"><tr><th>" + t(c, "statements.member") + "</th><th>" +
          t(c, "statements.name") + "</th><th>" + t(c, "statements.lines") + "</th><th>" +
          t(c, "statements.held") + "</th><th>" + t(c, "statements.tax") + "</th><th>" +
          t(c, "statements.total") + "</th><th></th></tr>" + rows + "</table>";
  return c.html(http::status::ok, t(c, "statements"), body);
}

Response App::statements_download(Context& c) {
  const std::string month = form_value(c.query, "month");
  const std::string member = form_value(c.query, "member");
  const std::string format = form_value(c.query, "format");
  const auto lang = bl::parse_invoice_lang(
      form_value(c.query, "lang").empty() ? std::string("ja") : form_value(c.query, "lang"));
  if (!valid_month(month) || !lang ||
      (format != "csv" && format != "json" && format != "pdf" && format != "html")) {
    return fail(c, http::status::bad_request, "error.bad_request",
                " month=YYYY-MM, format=csv|json|pdf|html, lang=ja|en");
  }
  const auto* tz = zone_of(options_.site);
  const auto& tax = options_.site.billing;
  auto db = open_reader(store_->database().path());
  const std::int64_t now = store_->now_ms();
  const auto refused = [&](const store::Error& e) {
    const auto status = e.kind == store::ErrorKind::kNotFound  ? http::status::not_found
                        : e.kind == store::ErrorKind::kInvalid ? http::status::bad_request
                                                               : http::status::service_unavailable;
    return fail(c, status, "error.refused", e.message);
  };
  const std::string who = member.empty() ? std::string() : "-" + files::file_name_part(member);
  if (format == "html" || format == "pdf") {
    auto html = bl::invoice_document(*db, member, month, now, tz, tax, *lang);
    if (!html) return refused(html.error());
    const std::string name =
        fmt::format("invoice-{}{}-{}.{}", month, who, bl::to_string(*lang), format);
    if (format == "html") return download(c, std::move(*html), "text/html; charset=utf-8", name);
    auto pdf = bl::render_pdf(*html);
    if (!pdf) return refused(pdf.error());
    return download(c, std::move(*pdf), "application/pdf", name);
  }
  if (!member.empty()) {
    auto view = bl::view_statement(*db, member, month, now, tz, tax);
    if (!view) return refused(view.error());
    const std::string name = fmt::format("statement-{}{}.{}", month, who, format);
    if (format == "csv") {
      return download(c, bl::to_csv(view->statement), "text/csv; charset=utf-8", name);
    }
    return download(c, bl::to_json(view->statement) + "\n", "application/json", name);
  }
  auto range = bl::month_range(month, tz);
  if (auto r = bl::require_started(*range, now, tz); !r) return refused(r.error());
  auto statements = bl::month_statements(*db, month, tz, tax);
  if (!statements) return refused(statements.error());
  if (format == "csv") {
    return download(c, bl::summary_csv(*statements), "text/csv; charset=utf-8",
                    fmt::format("summary-{}.csv", month));
  }
  // The month as one JSON array of the statement bodies, each as `statements show` prints it.
  std::string out = "[";
  for (std::size_t i = 0; i < statements->size(); ++i) {
    if (i != 0) out += ",\n";
    bl::append_json(out, (*statements)[i]);
  }
  out += "]\n";
  return download(c, std::move(out), "application/json", fmt::format("statements-{}.json", month));
}

Response App::statements_export(Context& c) {
  const std::string month = form_value(c.req.body(), "month");
  if (!valid_month(month)) {
    return fail(c, http::status::bad_request, "error.bad_request", " month: YYYY-MM");
  }
  const fs::path db_path = store_->database().path();
  const auto* tz = zone_of(options_.site);
  const auto tax = options_.site.billing;
  const fs::path dir = export_dir_;
  const std::int64_t now = store_->now_ms();
  auto [id, fresh] = jobs_.start("export:" + month, c.session->login, [=](JobProgress& p) {
    auto db = open_reader(db_path);
    auto range = bl::month_range(month, tz);
    if (!range) throw std::runtime_error(range.error().message);
    if (auto r = bl::require_started(*range, now, tz); !r) {
      throw std::runtime_error(r.error().message);
    }
    const auto statements = bill_month(*db, month, tz, tax, 0, p);
    p.phase("job.rendering", 3);
    auto ja = bl::invoice_document(*db, "", month, now, tz, tax, bl::InvoiceLang::kJa);
    if (!ja) throw std::runtime_error(ja.error().message);
    p.advance();
    auto en = bl::invoice_document(*db, "", month, now, tz, tax, bl::InvoiceLang::kEn);
    if (!en) throw std::runtime_error(en.error().message);
    p.advance();
    auto pdf = bl::render_pdf(*ja);
    if (!pdf) throw std::runtime_error(pdf.error().message);
    p.advance();
    return write_zip(dir, month, statements, *ja, *en, *pdf, p);
  });
  if (fresh) spdlog::info("console: {} exports {}", c.session->login, month);
  return c.redirect("/statements/jobs/" + id);
}

Response App::statements_issue(Context& c) {
  const std::string month = form_value(c.req.body(), "month");
  if (!valid_month(month)) {
    return fail(c, http::status::bad_request, "error.bad_request", " month: YYYY-MM");
  }
  // A run already going: its page, not a second run.
  if (const auto job = jobs_.running("issue:" + month)) {
    return c.redirect("/statements/jobs/" + job->id);
  }
  const auto* tz = zone_of(options_.site);
  const auto& tax = options_.site.billing;
  const std::int64_t now = store_->now_ms();
  auto range = bl::month_range(month, tz);
  if (!range) return fail(c, http::status::bad_request, "error.bad_request", " month");
  if (form_value(c.req.body(), "confirm") != "1") {
    auto db = open_reader(store_->database().path());
    if (auto r = bl::require_started(*range, now, tz); !r) {
      return fail(c, http::status::conflict, "error.refused", r.error().message);
    }
    // The issue settles unused bookings into no-shows before it bills; so must the total shown
    // here, or a month with a no-show would never match its confirmation.
    const json settle = {{"op", "change"},
                         {"as", c.session->login},
                         {"change", {{"op", "bookings.settle"}, {"args", json::object()}}}};
    auto settled = admin_request(options_.site.admin.socket, settle, std::chrono::seconds(30));
    if (!settled || !settled->value("ok", false)) {
      return fail(c, http::status::conflict, "error.refused",
                  settled ? settled->value("error", std::string("refused"))
                          : std::string("labgated did not answer"));
    }
    auto statements = bl::month_statements(*db, month, tz, tax);
    if (!statements) {
      return fail(c, http::status::conflict, "error.refused", statements.error().message);
    }
    if (auto why = issue_blocker(c, month, *statements, *range, now); !why.empty()) {
      return fail(c, http::status::conflict, "error.refused", why);
    }
    std::set<std::string> issued;
    if (auto rows = bl::list_statements(*db, month)) {
      for (const auto& r : *rows) issued.insert(r.member_no);
    }
    std::int64_t total = 0;
    std::size_t members = 0;
    for (const auto& s : *statements) {
      if (issued.contains(s.member_no)) continue;
      total += s.total;
      ++members;
    }
    if (members == 0) {
      return fail(c, http::status::conflict, "error.refused", t(c, "statements.all_issued"));
    }
    const std::string body = fmt::format(
        R"(<p id="confirm-what" data-members="{0}" data-total="{1}">{2}</p>)"
        R"(<form method="post" action="/statements/issue" id="confirm-form">{3})"
        R"(<input type="hidden" name="month" value="{4}"><input type="hidden" name="confirm" value="1">)"
        R"(<input type="hidden" name="expected" value="{0}"><input type="hidden" name="expected_total" value="{1}"> <button type="submit" id="confirm-yes">{5}</button>)"
        R"( <a href="/statements?month={6}" id="confirm-cancel">{7}</a></form>)",
        members, total,
        esc(fmt::format(fmt::runtime(t(c, "statements.confirm")), month, members, yen(total))),
        csrf_input(c.session->csrf), esc(month), t(c, "confirm.yes"), esc(url_encode(month)),
        t(c, "confirm.cancel"));
    return c.html(http::status::ok, t(c, "confirm"), body);
  }
  // What the confirmation page showed: labgated issues exactly that or nothing, so the month is
  // not billed again here to check it (at 10^6 sessions a billing takes seconds).
  std::int64_t expected_members = -1;
  std::int64_t expected_total = -1;
  try {
    expected_members = std::stoll(form_value(c.req.body(), "expected"));
    expected_total = std::stoll(form_value(c.req.body(), "expected_total"));
  } catch (const std::exception&) {
    return fail(c, http::status::bad_request, "error.bad_request",
                " expected, expected_total: confirm again");
  }
  const std::string socket = options_.site.admin.socket;
  const std::string login = c.session->login;
  const std::string still_open = t(c, "statements.still_open");
  if (now < range->end_ms) {
    return fail(c, http::status::conflict, "error.refused", still_open + " (" + month + ")");
  }
  auto [id, fresh] = jobs_.start("issue:" + month, login, [=](JobProgress& p) {
    p.phase("job.issuing", 1);
    // whole_month: sessions reviewed, opened or closed since the confirmation make labgated
    // refuse the month rather than issue part of it.
    const json request = {
        {"op", "change"},
        {"as", login},
        {"change",
         {{"op", "statements.issue"},
          {"args",
           {{"month", month},
            {"whole_month", true},
            {"expected", {{"members", expected_members}, {"total", expected_total}}}}}}}};
    auto reply = admin_request(socket, request, std::chrono::minutes(5));
    if (!reply) throw std::runtime_error("labgated did not answer");
    if (!reply->value("ok", false)) {
      throw std::runtime_error(reply->value("error", std::string("refused")));
    }
    p.advance();
    const json& rec = reply->contains("record") ? reply->at("record") : *reply;
    std::int64_t total = 0;
    for (const auto& i : rec.value("issued", json::array())) total += i.value("total", 0LL);
    return json{{"issued", rec.value("issued", json::array()).size()},
                {"already_issued", rec.value("already_issued", json::array()).size()},
                {"refused", rec.value("refused", json::array()).size()},
                {"total", total}}
        .dump();
  });
  if (fresh) spdlog::info("console: {} issues {}", login, month);
  return c.redirect("/statements/jobs/" + id);
}

Response App::statements_job(Context& c, const std::string& id) {
  const auto job = jobs_.find(id);
  if (!job) return fail(c, http::status::not_found, "error.not_found");
  const auto colon = job->key.find(':');
  const std::string kind = job->key.substr(0, colon);
  const std::string month = job->key.substr(colon + 1);
  std::string body = fmt::format(R"(<h2 id="job" data-kind="{}">{} {}</h2>)", esc(kind),
                                 t(c, "statements." + kind), esc(month));
  body += job_progress(c, *job);
  if (job->stage == JobState::Stage::kFailed) {
    body += fmt::format(R"(<p class="error" id="job-error">{}</p>)", esc(job->error));
  } else if (job->stage == JobState::Stage::kDone && kind == "export") {
    body += fmt::format(R"(<p><a href="/statements/files/{0}" id="job-file">{0}</a></p>)",
                        esc(job->result));
  } else if (job->stage == JobState::Stage::kDone) {
    const auto r = json::parse(job->result, nullptr, false);
    body += fmt::format(
        R"(<p id="job-result" data-issued="{}" data-already="{}" data-refused="{}" data-total="{}">{} {} / {} {} / {} {} / {} {}</p>)",
        r.value("issued", 0), r.value("already_issued", 0), r.value("refused", 0),
        r.value("total", 0LL), t(c, "statements.issued"), r.value("issued", 0),
        t(c, "statements.already"), r.value("already_issued", 0), t(c, "statements.refused"),
        r.value("refused", 0), t(c, "statements.total"), r.value("total", 0LL));
  }
  body += fmt::format(R"(<p><a href="/statements?month={}">{}</a></p>)", esc(url_encode(month)),
                      t(c, "back"));
  Frame f = c.frame();
  // Without JavaScript the page reloads itself while the job runs.
  if (job->stage == JobState::Stage::kRunning) f.refresh_s = 1;
  return c.respond(http::status::ok, page(f, t(c, "statements"), body), "text/html; charset=utf-8");
}

Response App::statements_file(Context& c, const std::string& name) {
  // Only the names the export writes: statements-YYYY-MM.zip.
  if (name.size() != 22 || !name.starts_with("statements-") || !name.ends_with(".zip") ||
      !valid_month(name.substr(11, 7))) {
    return fail(c, http::status::not_found, "error.not_found");
  }
  std::ifstream in(export_dir_ / name, std::ios::binary);
  if (!in) return fail(c, http::status::not_found, "error.not_found");
  std::ostringstream s;
  s << in.rdbuf();
  return download(c, s.str(), "application/zip", name);
}

}  // namespace labgate::gateway::console
