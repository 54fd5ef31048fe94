// The money pages (docs/CONSOLE.md, "Money pages"): rates, the price list, desk sales with a
// receipt, accounts, held sessions and the ward report. Like every page they read the store
// read-only and change it only through labgated's admin channel as the logged-in account, so the
// audit row names them. A change of money asks on a confirmation page first (no script needed);
// bad input is refused before labgated is asked, with the field and the reason, and a refusal
// from labgated shows its reason beside the field it concerns. A fiscal year of the ward report
// is built by a background job (jobs.hpp) on a store connection of its own, not on the request
// thread under the console's store lock: a year of sessions takes long enough to stall every
// other page. Its page and files then show the newest year built.
#include <date/tz.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "app_context.hpp"
#include "labgate/gateway/billing/invoice.hpp"
#include "labgate/gateway/report/ward_report.hpp"
#include "labgate/gateway/store/changes.hpp"
#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::console {

namespace rp = labgate::gateway::report;
namespace st = labgate::gateway::store;

namespace {

using json = nlohmann::json;

// Largest amount or quantity a form may give: a typo of extra digits is refused here rather than
// becoming a balance nobody meant.
constexpr std::int64_t kMaxYen = 100'000'000;
constexpr std::int64_t kMaxQuantity = 10'000;
constexpr std::int64_t kMaxMinutes = 7 * 24 * 60;

/// A form value refused: which field, and the catalogue key (or labgated's text) of why.
struct Problem {
  std::string field;   ///< the form field's name ("" when the refusal names none)
  std::string reason;  ///< shown as is (already in the page's language or labgated's words)
};

std::vector<std::pair<std::string, std::string>> form_pairs(std::string_view form) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t at = 0;
  while (at < form.size()) {
    auto end = form.find('&', at);
    if (end == std::string_view::npos) end = form.size();
    const auto pair = form.substr(at, end - at);
    const auto eq = pair.find('=');
    if (!pair.empty()) {
      out.emplace_back(url_decode(pair.substr(0, eq)), eq == std::string_view::npos
                                                           ? std::string()
                                                           : url_decode(pair.substr(eq + 1)));
    }
    at = end + 1;
  }
  return out;
}

// A whole number in [min, max], or nullopt (anything else: signs, fractions, units, spaces).
std::optional<std::int64_t> whole(std::string_view text, std::int64_t min, std::int64_t max) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || text.front() == '-' || ec != std::errc() ||
      end != text.data() + text.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

std::string yen(std::int64_t v) {
  // Thousands separators as the centre's paper receipts print them.
  // Built by appending: GCC 12 reports a false -Wrestrict for inserts into the string.
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string minutes_text(std::int64_t seconds) {
  if (seconds % 60 == 0) return std::to_string(seconds / 60);
  return fmt::format("{:.2f}", static_cast<double>(seconds) / 60.0);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Local midnight starting `day` in `zone`; nullopt when the zone is unknown.
std::optional<std::int64_t> local_midnight(const std::string& day, const std::string& zone) {
  int y = 0;
  unsigned m = 0, d = 0;
  if (std::sscanf(day.c_str(), "%d-%u-%u", &y, &m, &d) != 3) return std::nullopt;
  try {
    const date::local_days local{date::year{y} / date::month{m} / date::day{d}};
    const auto zoned = date::make_zoned(zone, local, date::choose::earliest);
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               zoned.get_sys_time().time_since_epoch())
        .count();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The JSON inside a <script type="application/json">: no "</script>" can end it early.
std::string script_json(const json& j) {
  std::string out;
  for (const char ch : j.dump(-1, ' ', false, json::error_handler_t::replace)) {
    if (ch == '<') {
      out += "\\u003c";
    } else {
      out += ch;
    }
  }
  return out;
}

// The report as `labgatectl report ward` builds it (as of `as_of_ms`, with the audit checkpoint
// note), so that the files are the same bytes.
st::Result<rp::WardReport> ward_report_as_of(st::Store& store, const rp::Period& period,
                                             std::int64_t as_of_ms) {
  rp::ReportOptions options;
  options.as_of_ms = as_of_ms;
  auto report = rp::build_ward_report(store, period, options);
  if (!report) return report;
  auto head = store.seal_head();
  if (!head) return head.error();
  if (*head) {
    report->notes.push_back("Audit record checkpoint (labgatectl audit verify --checkpoint): " +
                            st::seal::format_checkpoint(**head));
  }
  return report;
}

// The report's files in the order the page links them: those `labgatectl report ward --out`
// writes, and the PDF.
std::vector<std::string> ward_file_names(const rp::WardReport& r, const rp::Period& period) {
  const std::string base = rp::base_name(period);
  std::vector<std::string> files{base + ".json", base + ".html", base + ".pdf"};
  for (const auto& csv : rp::render_csv(r)) files.push_back(base + "-" + csv.suffix + ".csv");
  return files;
}

// `ms` as local time in `zone` ("2026-12-07 12:53:00 JST"), or the UTC time when the zone is
// unknown.
std::string ward_built_time(std::int64_t ms, const std::string& zone) {
  const date::sys_time<std::chrono::seconds> at{std::chrono::seconds{ms / 1000}};
  try {
    return date::format("%F %T %Z", date::make_zoned(zone, at));
  } catch (const std::exception&) {
    return date::format("%F %T UTC", at);
  }
}

// Fiscal years kept built at once, in memory: each holds its report and every file rendered,
// the PDF included.
constexpr std::size_t kWardYearsKept = 4;

}  // namespace

/// One file of the ward report, rendered.
struct WardFile {
  std::string bytes;
  std::string type;   ///< its Content-Type
  std::string error;  ///< not empty: the PDF renderer failed, and why
};

/// The file `name` of `r`, or nullopt when the report has no file of that name.
static std::optional<WardFile> render_ward_file(const rp::WardReport& r, const rp::Period& period,
                                                const std::string& name) {
  const std::string base = rp::base_name(period);
  if (name == base + ".json") return WardFile{rp::render_json(r), "application/json", {}};
  if (name == base + ".html") return WardFile{rp::render_html(r), "text/html; charset=utf-8", {}};
  if (name == base + ".pdf") {
    // The HTML file printed by the invoices' renderer: the same report gives the same bytes.
    auto pdf = labgate::gateway::billing::render_pdf(rp::render_html(r));
    if (!pdf) return WardFile{{}, {}, pdf.error().message};
    return WardFile{std::move(*pdf), "application/pdf", {}};
  }
  for (auto& csv : rp::render_csv(r)) {
    if (name == base + "-" + csv.suffix + ".csv") {
      return WardFile{std::move(csv.content), "text/csv; charset=utf-8", {}};
    }
  }
  return std::nullopt;
}

/// A fiscal year's report built by a job, with every file already rendered.
struct BuiltWardReport {
  rp::Period period;
  rp::WardReport report;
  std::map<std::string, WardFile> files;  ///< by name (ward_file_names)
};

/// The money routes, with access to the App's store, confirmation and failure pages.
class MoneyPages {
 public:
  MoneyPages(App& app, Context& c) : app_(app), c_(c), form_(c.req.body()) {}

  std::optional<Response> route();

 private:
  // ---- common ----
  std::string v(std::string_view name) const {
    return c_.req.method() == http::verb::post ? form_value(form_, name)
                                               : form_value(c_.query, name);
  }
  std::string t(std::string_view key) const { return std::string(tr(c_.lang, key)); }
  Response forbidden() {
    spdlog::warn("console: {} ({}) refused {}", c_.session->login, c_.role(), c_.path);
    return app_.fail(c_, http::status::forbidden, "error.forbidden");
  }
  std::string problem_html(const std::optional<Problem>& p) const;
  Response confirm(const std::string& what);
  /// Sends a change; on success redirects to `back`, on a refusal answers `again` with it.
  template <typename Again>
  Response send(json request, const std::string& back, const std::string& field, Again again);
  /// The first text field the project's validator refuses.
  std::optional<Problem> bad_text(
      std::initializer_list<std::pair<const char*, text::Field>> fields);
  std::optional<Problem> need_yen(const char* field, std::int64_t min, std::int64_t& out);

  // ---- rates ----
  Response rates_page(http::status status, const std::optional<Problem>& p);
  Response rate_post(const std::vector<std::string>& parts);
  std::optional<Problem> read_terms(st::RateAmendment& r);
  /// The rooms' and lockers' rates and the form setting one (under the machines' rates).
  std::string resource_rates_html();
  Response resource_rate_post();
  Response resource_rate_withdraw();
  /// The form's `resource` ("room:ID" or "locker:ID") split into its kind and id.
  std::optional<Problem> read_resource(std::string& kind, std::string& id);
  // ---- prices ----
  Response prices_page(http::status status, const std::optional<Problem>& p);
  Response price_post(const std::string& what);
  // ---- desk ----
  Response desk_page(http::status status, const std::optional<Problem>& p);
  Response sell_post();
  Response receipt_page(const std::string& id);
  // ---- accounts ----
  Response accounts_page(http::status status, const std::optional<Problem>& p);
  Response account_post(const std::string& what);
  // ---- held sessions ----
  Response held_page(http::status status, const std::optional<Problem>& p);
  Response held_post(const std::string& id, const std::string& what);
  // ---- ward report ----
  Response reports_page(http::status status, const std::optional<Problem>& p);
  Response report_page();
  /// The report on screen; `head` goes above it (a fiscal year's build form and age).
  Response report_view(const rp::WardReport& r, const rp::Period& period, const std::string& head);
  /// A fiscal year: the newest report built, the running build or a form to start one.
  Response fiscal_year_page(const rp::Period& period);
  Response report_build_post();
  Response report_job_page(const std::string& id);
  Response report_file();
  std::shared_ptr<const BuiltWardReport> built_year(const std::string& label);

  std::optional<st::Member> member(const std::string& no);

  App& app_;
  Context& c_;
  std::string_view form_;
};

std::optional<Response> App::route_money(Context& c) {
  return MoneyPages(*this, c).route();
}

std::optional<Response> MoneyPages::route() {
  const auto p = split_path(c_.path);
  if (p.empty()) return std::nullopt;
  static const std::vector<std::string> kOurs{"rates",    "prices", "desk",
                                              "accounts", "held",   "reports"};
  if (std::find(kOurs.begin(), kOurs.end(), p[0]) == kOurs.end()) return std::nullopt;
  // Desk sales and accounts are the desk's; everything else is the manager's. The credit limit
  // is checked again in its own action.
  const bool desk_area = p[0] == "desk" || p[0] == "accounts";
  if (!role_may(c_.role(), desk_area ? Permission::kMembers : Permission::kManager)) {
    return forbidden();
  }
  const bool get = c_.req.method() == http::verb::get;
  if (get) {
    if (p.size() == 1) {
      if (p[0] == "rates") return rates_page(http::status::ok, std::nullopt);
      if (p[0] == "prices") return prices_page(http::status::ok, std::nullopt);
      if (p[0] == "desk") return desk_page(http::status::ok, std::nullopt);
      if (p[0] == "accounts") return accounts_page(http::status::ok, std::nullopt);
      if (p[0] == "held") return held_page(http::status::ok, std::nullopt);
      if (p[0] == "reports") return reports_page(http::status::ok, std::nullopt);
    }
    if (p.size() == 3 && p[0] == "desk" && p[1] == "receipts") return receipt_page(p[2]);
    if (p.size() == 2 && p[0] == "reports" && p[1] == "ward") return report_page();
    if (p.size() == 3 && p[0] == "reports" && p[1] == "ward" && p[2] == "file") {
      return report_file();
    }
    if (p.size() == 4 && p[0] == "reports" && p[1] == "ward" && p[2] == "jobs") {
      return report_job_page(p[3]);
    }
    return app_.fail(c_, http::status::not_found, "error.not_found");
  }
  if (p[0] == "rates") return rate_post(p);
  if (p[0] == "prices" && p.size() == 2) return price_post(p[1]);
  if (p[0] == "desk" && p.size() == 2 && p[1] == "sell") return sell_post();
  if (p[0] == "accounts" && p.size() == 2) return account_post(p[1]);
  if (p[0] == "held" && p.size() == 3) return held_post(p[1], p[2]);
  if (p.size() == 3 && p[0] == "reports" && p[1] == "ward" && p[2] == "build") {
    return report_build_post();
  }
  return app_.fail(c_, http::status::not_found, "error.not_found");
}

// ---- common ----

std::string MoneyPages::problem_html(const std::optional<Problem>& p) const {
  if (!p) return {};
  const std::string label = p->field.empty() ? std::string() : t("money.field." + p->field);
  return fmt::format(
      R"(<p class="error" id="error" data-field="{}">{}{}</p>)", esc(p->field),
      label.empty() ? std::string() : "<strong>" + esc(label) + "</strong>: ", esc(p->reason));
}

Response MoneyPages::confirm(const std::string& what) {
  // The second step: the same POST again with confirm=1, every value carried over as given.
  std::string hidden;
  for (const auto& [name, value] : form_pairs(form_)) {
    if (name == "csrf" || name == "confirm") continue;
    hidden += fmt::format(R"(<input type="hidden" name="{}" value="{}">)", esc(name), esc(value));
  }
  const std::string body = fmt::format(
      R"(<p id="confirm-what" data-action="{0}">{1}</p>)"
      R"(<form method="post" action="{0}" id="confirm-form">{2}{3})"
      R"(<input type="hidden" name="confirm" value="1"> <button type="submit" id="confirm-yes">{4}</button>)"
      R"( <a href="/{5}" id="confirm-cancel">{6}</a></form>)",
      esc(c_.path), what, csrf_input(c_.session->csrf), hidden, esc(t("confirm.yes")),
      esc(split_path(c_.path).front()), esc(t("confirm.cancel")));
  return c_.html(http::status::ok, t("confirm"), body);
}

template <typename Again>
Response MoneyPages::send(json request, const std::string& back, const std::string& field,
                          Again again) {
  request["as"] = c_.session->login;
  auto reply = admin_request(app_.options_.site.admin.socket, request, std::chrono::seconds(10));
  if (!reply) return app_.fail(c_, http::status::service_unavailable, "error.unavailable");
  if (!reply->value("ok", false)) {
    const std::string code = reply->value("code", "bad_request");
    const auto status = code == "conflict"    ? http::status::conflict
                        : code == "not_found" ? http::status::not_found
                        : code == "forbidden" ? http::status::forbidden
                                              : http::status::bad_request;
    return again(status, Problem{field, t("error.refused") + reply->value("error", code)});
  }
  spdlog::info("console: {} {}", c_.session->login, c_.path);
  std::string to = back;
  if (to.find("{id}") != std::string::npos) {
    const auto& rec = reply->contains("record") ? (*reply)["record"] : json::object();
    to.replace(to.find("{id}"), 4, std::to_string(rec.value("id", std::int64_t{0})));
  }
  return c_.redirect(to);
}

std::optional<Problem> MoneyPages::bad_text(
    std::initializer_list<std::pair<const char*, text::Field>> fields) {
  for (const auto& [name, kind] : fields) {
    if (auto why = text::check(kind, form_value(form_, name))) return Problem{name, *why};
  }
  return std::nullopt;
}

std::optional<Problem> MoneyPages::need_yen(const char* field, std::int64_t min,
                                            std::int64_t& out) {
  const auto got = whole(form_value(form_, field), min, kMaxYen);
  if (!got) {
    return Problem{
        field, fmt::format(fmt::runtime(t(min > 0 ? "money.bad.positive_yen" : "money.bad.yen")),
                           yen(kMaxYen))};
  }
  out = *got;
  return std::nullopt;
}

std::optional<st::Member> MoneyPages::member(const std::string& no) {
  if (no.empty()) return std::nullopt;
  std::lock_guard lock(app_.store_mu_);
  auto found = app_.store_->staff().search_members(no, 5, 0);
  if (!found) return std::nullopt;
  for (auto& m : *found) {
    if (m.member_no == no) return std::move(m);
  }
  return std::nullopt;
}

// ---- rates ----

namespace {

// "coming", "ended" or "in_force" at `now`: the rate rows' data-state and their label's key.
std::string money_rate_state(std::int64_t from_ms, const std::optional<std::int64_t>& until_ms,
                             std::int64_t now) {
  if (from_ms > now) return "coming";
  return until_ms && *until_ms <= now ? "ended" : "in_force";
}

}  // namespace

Response MoneyPages::rates_page(http::status status, const std::optional<Problem>& p) {
  std::vector<st::Rate> rates;
  std::vector<st::Machine> machines;
  {
    std::lock_guard lock(app_.store_mu_);
    if (auto r = app_.store_->ledger().list_rates(std::nullopt, true)) rates = std::move(*r);
    if (auto m = app_.store_->staff().list_machines()) machines = std::move(*m);
  }
  const auto now = now_ms();
  const std::string csrf = csrf_input(c_.session->csrf);
  std::string body = problem_html(p);
  body += fmt::format(
      R"(<table id="rates"><thead><tr><th>ID</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>)"
      R"(<th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>)",
      t("money.field.target"), t("money.field.from"), t("money.until"), t("money.field.unit_min"),
      t("money.field.price"), t("money.field.idle_price"), t("money.field.minimum"),
      t("money.field.grace_min"), t("money.field.daily_cap"), t("money.field.note"), t("money.by"),
      t("money.rate_state"));
  for (const auto& r : rates) {
    const std::string state = money_rate_state(r.effective_from_ms, r.effective_until_ms, now);
    const bool coming = state == "coming";
    std::string actions;
    if (coming) {
      const std::string base = fmt::format("/rates/{}", r.id);
      actions = fmt::format(
          R"(<form method="post" action="{0}/replace" class="rate-replace" id="replace-{1}">{2})"
          R"(<label>{3} <input name="from" type="date"></label> <label>{4} <input name="price" inputmode="numeric" size="7"></label> )"
          R"(<label>{5} <input name="unit_min" inputmode="numeric" size="4"></label> <label>{6} <input name="note" maxlength="200"></label> )"
          R"(<button type="submit">{7}</button></form>)"
          R"(<form method="post" action="{0}/withdraw" class="inline" id="withdraw-{1}">{2}<button type="submit">{8}</button></form>)",
          base, r.id, csrf, t("money.field.from"), t("money.field.price"),
          t("money.field.unit_min"), t("money.field.note"), t("money.rate.replace"),
          t("money.rate.withdraw"));
    }
    body += fmt::format(
        R"(<tr data-rate="{0}" data-target="{1}" data-state="{2}"><td>{0}</td><td>{1}</td><td>{3}</td><td>{4}</td>)"
        R"(<td>{5}</td><td>{6}</td><td>{7}</td><td>{8}</td><td>{9}</td><td>{10}</td><td>{11}</td><td>{12}</td><td>{13}</td><td>{14}</td></tr>)",
        r.id, esc(r.target()), state, esc(local_time(r.effective_from_ms)),
        r.effective_until_ms ? esc(local_time(*r.effective_until_ms)) : "-",
        minutes_text(r.unit_seconds), yen(r.price_per_unit),
        r.idle_price_per_unit ? yen(*r.idle_price_per_unit) : "-", yen(r.minimum_charge),
        minutes_text(r.grace_seconds), r.daily_cap ? yen(*r.daily_cap) : "-", esc(r.note),
        esc(r.created_by), t("money.rate." + state), actions);
  }
  body += "</tbody></table>";
  std::string targets;
  for (const auto& m : machines) {
    targets += fmt::format(R"(<option value="{0}">{0} — {1}</option>)", esc(m.id), esc(m.name));
  }
  targets += fmt::format(R"(<option value="coworking">{}</option>)", t("money.coworking"));
  body += fmt::format(
      R"(<h2>{0}</h2><p>{1}</p><form method="post" action="/rates/set" id="rate-set">{2})"
      R"(<p><label>{3} <select name="target" id="rate-target">{4}</select></label> )"
      R"(<label>{5} <input name="from" id="rate-from" type="date"></label></p>)"
      R"(<p><label>{6} <input name="unit_min" id="rate-unit" inputmode="numeric" size="4"></label> )"
      R"(<label>{7} <input name="price" id="rate-price" inputmode="numeric" size="7"></label> )"
      R"(<label>{8} <input name="idle_price" inputmode="numeric" size="7"></label> )"
      R"(<label>{9} <input name="minimum" inputmode="numeric" size="7"></label> )"
      R"(<label>{10} <input name="grace_min" inputmode="numeric" size="4"></label> )"
      R"(<label>{11} <input name="daily_cap" inputmode="numeric" size="7"></label></p>)"
      R"(<p><label>{12} <input name="note" id="rate-note" maxlength="200"></label> <button type="submit" id="rate-set-submit">{13}</button></p></form>)",
      t("money.rate.set_heading"), t("money.rate.set_help"), csrf, t("money.field.target"), targets,
      t("money.field.from"), t("money.field.unit_min"), t("money.field.price"),
      t("money.field.idle_price"), t("money.field.minimum"), t("money.field.grace_min"),
      t("money.field.daily_cap"), t("money.field.note"), t("money.rate.set"));
  body += resource_rates_html();
  return c_.html(status, t("nav.rates"), body);
}

std::string MoneyPages::resource_rates_html() {
  std::vector<st::ResourceRate> rates;
  std::vector<st::Room> rooms;
  std::vector<st::LockerState> lockers;
  {
    std::lock_guard lock(app_.store_mu_);
    if (auto r = app_.store_->bookings().resource_rates(std::nullopt, true)) rates = std::move(*r);
    if (auto r = app_.store_->bookings().rooms()) rooms = std::move(*r);
    if (auto l = app_.store_->bookings().lockers()) lockers = std::move(*l);
  }
  if (rooms.empty() && lockers.empty() && rates.empty()) return {};
  const auto now = now_ms();
  std::string body = fmt::format(
      R"(<h2 id="resource-rates-heading">{}</h2><table id="resource-rates"><thead><tr><th>ID</th>)"
      R"(<th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
      t("money.resource_rate.heading"), t("money.field.resource"), t("money.field.from"),
      t("money.until"), t("money.field.price"), t("money.field.note"), t("money.by"),
      t("money.rate_state"));
  for (const auto& r : rates) {
    const std::string state = money_rate_state(r.effective_from_ms, r.effective_until_ms, now);
    // A rate that has not started can be withdrawn (a mistyped price or date).
    const std::string withdraw =
        state != "coming"
            ? std::string()
            : fmt::format(
                  R"( <form method="post" action="/rates/resource/withdraw" class="inline" )"
                  R"(id="withdraw-{0}-{1}">{2}<input type="hidden" name="resource" value="{0}">)"
                  R"(<input type="hidden" name="id" value="{1}"><button type="submit">{3}</button></form>)",
                  esc(r.target()), r.id, csrf_input(c_.session->csrf), t("money.rate.withdraw"));
    body += fmt::format(
        R"(<tr data-rate="{0}" data-target="{1}" data-state="{2}"><td>{0}</td><td>{1}</td><td>{3}</td>)"
        R"(<td>{4}</td><td>{5} / {6}</td><td>{7}</td><td>{8}</td><td>{9}{10}</td></tr>)",
        r.id, esc(r.target()), state,
        r.effective_from_ms == 0 ? esc(t("money.resource_rate.always"))
                                 : esc(local_time(r.effective_from_ms)),
        r.effective_until_ms ? esc(local_time(*r.effective_until_ms)) : "-", yen(r.price),
        esc(t(r.kind == "room" ? "money.per.hour" : "money.per.month")), esc(r.note),
        esc(r.created_by), t("money.rate." + state), withdraw);
  }
  body += "</tbody></table>";
  std::string targets;
  for (const auto& r : rooms) {
    targets += fmt::format(R"(<option value="room:{0}">{0} — {1} ({2})</option>)", esc(r.id),
                           esc(r.name), esc(t("money.per.hour")));
  }
  for (const auto& l : lockers) {
    targets += fmt::format(R"(<option value="locker:{0}">{0} — {1} ({2})</option>)",
                           esc(l.locker.id), esc(l.locker.name), esc(t("money.per.month")));
  }
  body += fmt::format(
      R"(<p>{0}</p><form method="post" action="/rates/resource" id="resource-rate-set">{1})"
      R"(<p><label>{2} <select name="resource" id="resource-rate-target">{3}</select></label> )"
      R"(<label>{4} <input name="from" id="resource-rate-from" type="date"></label> )"
      R"(<label>{5} <input name="price" id="resource-rate-price" inputmode="numeric" size="7"></label> )"
      R"(<label>{6} <input name="note" id="resource-rate-note" maxlength="200"></label> )"
      R"(<button type="submit" id="resource-rate-submit">{7}</button></p></form>)",
      t("money.resource_rate.help"), csrf_input(c_.session->csrf), t("money.field.resource"),
      targets, t("money.field.from"), t("money.field.price"), t("money.field.note"),
      t("money.rate.set"));
  return body;
}

std::optional<Problem> MoneyPages::read_resource(std::string& kind, std::string& id) {
  const std::string target = form_value(form_, "resource");
  const auto colon = target.find(':');
  kind = colon == std::string::npos ? "" : target.substr(0, colon);
  if ((kind != "room" && kind != "locker") || colon + 1 == target.size())
    return Problem{"resource", t("money.bad.choice")};
  id = target.substr(colon + 1);
  return bad_text({{"resource", text::Field::kName}});
}

Response MoneyPages::resource_rate_post() {
  const auto again = [this](http::status s, const Problem& pr) { return rates_page(s, pr); };
  const std::string target = form_value(form_, "resource");
  if (target.empty())
    return rates_page(http::status::bad_request, Problem{"resource", t("money.bad.required")});
  std::string kind, resource;
  if (auto e = read_resource(kind, resource)) return rates_page(http::status::bad_request, *e);
  if (auto e = bad_text({{"note", text::Field::kNote}}))
    return rates_page(http::status::bad_request, *e);
  if (form_value(form_, "price").empty())
    return rates_page(http::status::bad_request, Problem{"price", t("money.bad.required")});
  std::int64_t price = 0;
  if (auto e = need_yen("price", 0, price)) return rates_page(http::status::bad_request, *e);
  json args{{"kind", kind},
            {"resource", resource},
            {"price", price},
            {"note", form_value(form_, "note")}};
  std::optional<std::int64_t> from_ms;
  if (const auto from = form_value(form_, "from"); !from.empty()) {
    from_ms = st::is_valid_date(from) ? local_midnight(from, app_.options_.site.site.timezone)
                                      : std::nullopt;
    if (!from_ms)
      return rates_page(http::status::bad_request, Problem{"from", t("money.bad.date")});
    args["effective_from_ms"] = *from_ms;
  }
  if (form_value(form_, "confirm") != "1") {
    return confirm(fmt::format(
        R"({} <strong>{}</strong><ul id="confirm-terms"><li>{}: {} / {}</li><li>{}: {}</li></ul>)",
        esc(t("money.rate.confirm_set")), esc(target), esc(t("money.field.price")), yen(price),
        esc(t(kind == "room" ? "money.per.hour" : "money.per.month")), esc(t("money.field.from")),
        esc(from_ms ? local_time(*from_ms) : t("money.now"))));
  }
  return send({{"op", "change"}, {"change", {{"op", "resource_rate.set"}, {"args", args}}}},
              "/rates", "from", again);
}

Response MoneyPages::resource_rate_withdraw() {
  const auto again = [this](http::status s, const Problem& pr) { return rates_page(s, pr); };
  const std::string target = form_value(form_, "resource");
  std::string kind, resource;
  if (auto e = read_resource(kind, resource)) return rates_page(http::status::bad_request, *e);
  const auto id = whole(form_value(form_, "id"), 1, std::numeric_limits<std::int64_t>::max());
  if (!id) return rates_page(http::status::bad_request, Problem{"id", t("money.bad.choice")});
  if (form_value(form_, "confirm") != "1") {
    return confirm(fmt::format("{} <strong>{} ({})</strong>", esc(t("money.rate.confirm_withdraw")),
                               *id, esc(target)));
  }
  return send({{"op", "change"},
               {"change",
                {{"op", "resource_rate.withdraw"},
                 {"args", {{"kind", kind}, {"resource", resource}, {"id", *id}}}}}},
              "/rates", "from", again);
}

std::optional<Problem> MoneyPages::read_terms(st::RateAmendment& r) {
  const auto opt = [&](const char* field, std::int64_t min, std::int64_t max, const char* reason,
                       std::optional<std::int64_t>& out) -> std::optional<Problem> {
    const auto text = form_value(form_, field);
    if (text.empty()) return std::nullopt;
    const auto got = whole(text, min, max);
    if (!got) return Problem{field, fmt::format(fmt::runtime(t(reason)), yen(max))};
    out = *got;
    return std::nullopt;
  };
  // Idle price and daily cap: empty keeps the term, "none" removes it.
  const auto removable =
      [&](const char* field,
          std::optional<std::optional<std::int64_t>>& out) -> std::optional<Problem> {
    const auto text = form_value(form_, field);
    if (text.empty()) return std::nullopt;
    if (text == "none") {
      out = std::optional<std::int64_t>{};
      return std::nullopt;
    }
    const auto got = whole(text, 0, kMaxYen);
    if (!got)
      return Problem{field, fmt::format(fmt::runtime(t("money.bad.yen_or_none")), yen(kMaxYen))};
    out = std::optional<std::int64_t>{*got};
    return std::nullopt;
  };
  std::optional<std::int64_t> unit_min, grace_min;
  if (auto e = opt("unit_min", 1, kMaxMinutes, "money.bad.minutes", unit_min)) return e;
  if (unit_min) r.unit_seconds = *unit_min * 60;
  if (auto e = opt("price", 0, kMaxYen, "money.bad.yen", r.price_per_unit)) return e;
  if (auto e = removable("idle_price", r.idle_price_per_unit)) return e;
  if (auto e = opt("minimum", 0, kMaxYen, "money.bad.yen", r.minimum_charge)) return e;
  if (auto e = opt("grace_min", 0, 24 * 60 - 1, "money.bad.grace", grace_min)) return e;
  if (grace_min) r.grace_seconds = *grace_min * 60;
  if (auto e = removable("daily_cap", r.daily_cap)) return e;
  const auto from = form_value(form_, "from");
  if (!from.empty()) {
    const auto ms = st::is_valid_date(from) ? local_midnight(from, app_.options_.site.site.timezone)
                                            : std::nullopt;
    if (!ms) return Problem{"from", t("money.bad.date")};
    r.effective_from_ms = *ms;
  }  // no date: a new rate starts now, a replaced one keeps its start
  if (auto e = bad_text({{"note", text::Field::kNote}})) return e;
  if (const auto note = form_value(form_, "note"); !note.empty()) r.note = note;
  return std::nullopt;
}

Response MoneyPages::rate_post(const std::vector<std::string>& p) {
  if (p.size() == 2 && p[1] == "resource") return resource_rate_post();
  if (p.size() == 3 && p[1] == "resource" && p[2] == "withdraw") return resource_rate_withdraw();
  const auto again = [this](http::status s, const Problem& pr) { return rates_page(s, pr); };
  const bool set = p.size() == 2 && p[1] == "set";
  const bool replace = p.size() == 3 && p[2] == "replace";
  const bool withdraw = p.size() == 3 && p[2] == "withdraw";
  if (!set && !replace && !withdraw) {
    return app_.fail(c_, http::status::not_found, "error.not_found");
  }
  std::optional<std::int64_t> id;
  if (!set) {
    id = whole(p[1], 1, std::numeric_limits<std::int64_t>::max());
    if (!id) return app_.fail(c_, http::status::not_found, "error.not_found");
  }
  const bool confirmed = form_value(form_, "confirm") == "1";
  if (withdraw) {
    if (!confirmed) {
      return confirm(
          fmt::format("{} <strong>{}</strong>", esc(t("money.rate.confirm_withdraw")), *id));
    }
    return send({{"op", "change"}, {"change", {{"op", "rate.withdraw"}, {"args", {{"id", *id}}}}}},
                "/rates", "from", again);
  }
  st::RateAmendment r;
  std::string target;
  if (set) {
    target = form_value(form_, "target");
    if (target.empty())
      return rates_page(http::status::bad_request, Problem{"target", t("money.bad.required")});
    if (auto e = bad_text({{"target", text::Field::kName}}))
      return rates_page(http::status::bad_request, *e);
    r.kind = target == "coworking" ? st::SessionKind::kCoworking : st::SessionKind::kMachine;
    if (target != "coworking") r.machine_id = target;
  }
  if (auto e = read_terms(r)) return rates_page(http::status::bad_request, *e);
  if (!confirmed) {
    std::string terms;
    const auto add = [&](const char* key, const std::string& value) {
      terms += fmt::format("<li>{}: {}</li>", esc(t(key)), esc(value));
    };
    if (r.unit_seconds) add("money.field.unit_min", minutes_text(*r.unit_seconds));
    if (r.price_per_unit) add("money.field.price", yen(*r.price_per_unit));
    if (r.idle_price_per_unit) {
      add("money.field.idle_price", *r.idle_price_per_unit ? yen(**r.idle_price_per_unit) : "none");
    }
    if (r.minimum_charge) add("money.field.minimum", yen(*r.minimum_charge));
    if (r.grace_seconds) add("money.field.grace_min", minutes_text(*r.grace_seconds));
    if (r.daily_cap) add("money.field.daily_cap", *r.daily_cap ? yen(**r.daily_cap) : "none");
    add("money.field.from", r.effective_from_ms ? local_time(*r.effective_from_ms)
                                                : t(set ? "money.now" : "money.unchanged"));
    const std::string head =
        set ? fmt::format("{} <strong>{}</strong>", esc(t("money.rate.confirm_set")), esc(target))
            : fmt::format("{} <strong>{}</strong>", esc(t("money.rate.confirm_replace")), *id);
    return confirm(head + "<ul id=\"confirm-terms\">" + terms + "</ul>");
  }
  auto args = st::to_json(r);
  if (set) {
    return send(
        {{"op", "change"}, {"change", {{"op", "rate.set"}, {"args", json::parse(args.dump())}}}},
        "/rates", "from", again);
  }
  json a = json::parse(args.dump());
  a["id"] = *id;
  return send({{"op", "change"}, {"change", {{"op", "rate.replace"}, {"args", a}}}}, "/rates",
              "from", again);
}

// ---- prices ----

Response MoneyPages::prices_page(http::status status, const std::optional<Problem>& p) {
  std::vector<st::PriceItem> items;
  {
    std::lock_guard lock(app_.store_mu_);
    if (auto r = app_.store_->ledger().list_price_items(true)) items = std::move(*r);
  }
  const std::string csrf = csrf_input(c_.session->csrf);
  std::string body = problem_html(p);
  body += fmt::format(
      R"(<table id="prices"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>)",
      t("money.field.code"), t("money.field.name"), t("money.field.unit"), t("money.field.price"),
      t("money.field.tax_class"), t("money.field.day_pass"), t("money.active"));
  for (const auto& i : items) {
    std::string action;
    if (i.active) {
      action = fmt::format(
          R"(<form method="post" action="/prices/deactivate" class="inline">{}<input type="hidden" name="code" value="{}"><button type="submit">{}</button></form>)",
          csrf, esc(i.code), t("money.price.deactivate"));
    }
    body += fmt::format(
        R"(<tr data-code="{0}" data-active="{6}"><td>{0}</td><td class="item-name">{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{7}</td><td>{8}</td></tr>)",
        esc(i.code), esc(i.name), esc(i.unit), yen(i.price), esc(t("money.tax." + i.tax_class)),
        i.day_pass ? t("money.yes") : "", i.active ? "true" : "false",
        i.active ? t("money.yes") : t("money.no"), action);
  }
  body += "</tbody></table>";
  body += fmt::format(
      R"(<h2>{0}</h2><form method="post" action="/prices/set" id="price-set">{1})"
      R"(<label>{2} <input name="code" id="price-code" maxlength="40" required></label> )"
      R"(<label>{3} <input name="name" id="price-name" maxlength="200" required></label> )"
      R"(<label>{4} <input name="unit" id="price-unit" value="pcs" maxlength="20"></label> )"
      R"(<label>{5} <input name="price" id="price-price" inputmode="numeric" size="7" required></label> )"
      R"(<label>{6} <select name="tax_class"><option value="standard">{7}</option><option value="reduced">{8}</option><option value="exempt">{9}</option></select></label> )"
      R"(<label><input type="checkbox" name="day_pass" value="1"> {10}</label> <button type="submit" id="price-set-submit">{11}</button></form>)",
      t("money.price.set_heading"), csrf, t("money.field.code"), t("money.field.name"),
      t("money.field.unit"), t("money.field.price"), t("money.field.tax_class"),
      t("money.tax.standard"), t("money.tax.reduced"), t("money.tax.exempt"),
      t("money.field.day_pass"), t("money.price.set"));
  return c_.html(status, t("nav.prices"), body);
}

Response MoneyPages::price_post(const std::string& what) {
  const auto again = [this](http::status s, const Problem& pr) { return prices_page(s, pr); };
  const bool confirmed = form_value(form_, "confirm") == "1";
  const std::string code = form_value(form_, "code");
  if (what == "deactivate") {
    if (code.empty())
      return prices_page(http::status::bad_request, Problem{"code", t("money.bad.required")});
    if (auto e = bad_text({{"code", text::Field::kName}}))
      return prices_page(http::status::bad_request, *e);
    if (!confirmed) {
      return confirm(fmt::format("{} <strong>{}</strong>", esc(t("money.price.confirm_deactivate")),
                                 esc(code)));
    }
    return send(
        {{"op", "change"}, {"change", {{"op", "price.deactivate"}, {"args", {{"code", code}}}}}},
        "/prices", "code", again);
  }
  if (what != "set") return app_.fail(c_, http::status::not_found, "error.not_found");
  const std::string name = form_value(form_, "name");
  std::string unit = form_value(form_, "unit");
  if (unit.empty()) unit = "pcs";
  const std::string tax = form_value(form_, "tax_class");
  for (const char* field : {"code", "name"}) {
    if (form_value(form_, field).empty()) {
      return prices_page(http::status::bad_request, Problem{field, t("money.bad.required")});
    }
  }
  if (auto e = bad_text({{"code", text::Field::kName},
                         {"name", text::Field::kItemName},
                         {"unit", text::Field::kName}})) {
    return prices_page(http::status::bad_request, *e);
  }
  std::int64_t price = 0;
  if (auto e = need_yen("price", 0, price)) return prices_page(http::status::bad_request, *e);
  if (!tax.empty() && tax != "standard" && tax != "reduced" && tax != "exempt") {
    return prices_page(http::status::bad_request, Problem{"tax_class", t("money.bad.choice")});
  }
  const bool day_pass = form_value(form_, "day_pass") == "1";
  if (!confirmed) {
    return confirm(fmt::format("{} <strong>{}</strong> ({}): {} {} / {}{}",
                               esc(t("money.price.confirm_set")), esc(code), esc(name), yen(price),
                               esc(t("money.yen")), esc(unit),
                               tax.empty() ? "" : ", " + esc(t("money.tax." + tax))));
  }
  json args{
      {"code", code}, {"name", name}, {"unit", unit}, {"price", price}, {"day_pass", day_pass}};
  if (!tax.empty()) args["tax_class"] = tax;
  return send({{"op", "change"}, {"change", {{"op", "price.set"}, {"args", args}}}}, "/prices",
              "price", again);
}

// ---- desk sales ----

Response MoneyPages::desk_page(http::status status, const std::optional<Problem>& p) {
  const std::string q = v("q");
  const std::string no = v("member_no");
  std::string body = problem_html(p);
  body += fmt::format(
      R"(<form method="get" action="/desk" id="desk-lookup"><label>{} <input name="q" id="desk-q" value="{}"></label> <button type="submit">{}</button></form>)",
      t("members.query"), esc(q), t("members.search"));
  if (!q.empty() && no.empty()) {
    std::vector<st::Member> found;
    {
      std::lock_guard lock(app_.store_mu_);
      if (auto r = app_.store_->staff().search_members(q, 20, 0)) found = std::move(*r);
    }
    if (found.empty()) body += "<p id=\"desk-none\">" + t("members.none") + "</p>";
    body += "<ul id=\"desk-found\">";
    for (const auto& m : found) {
      body += fmt::format(R"(<li><a href="/desk?member_no={0}" data-member="{1}">{1} {2}</a></li>)",
                          url_encode(m.member_no), esc(m.member_no), esc(m.name));
    }
    body += "</ul>";
  }
  if (!no.empty()) {
    const auto m = member(no);
    if (!m) {
      body += "<p class=\"error\" id=\"error\" data-field=\"member_no\">" +
              esc(t("money.bad.no_member")) + "</p>";
      return c_.html(status == http::status::ok ? http::status::not_found : status, t("nav.desk"),
                     body);
    }
    std::vector<st::PriceItem> items;
    std::optional<st::Account> account;
    {
      std::lock_guard lock(app_.store_mu_);
      if (auto r = app_.store_->ledger().list_price_items(false)) items = std::move(*r);
      if (auto a = app_.store_->ledger().account(no)) account = std::move(*a);
    }
    std::string options;
    for (const auto& i : items) {
      options +=
          fmt::format(R"(<option value="{0}">{0} — {1} ({2} {3} / {4})</option>)", esc(i.code),
                      esc(i.name), yen(i.price), esc(t("money.yen")), esc(i.unit));
    }
    body += fmt::format(
        R"(<section id="desk-member" data-member="{0}"><h2>{0} {1}</h2><p>{2}: <span id="desk-balance">{3}</span> {4}</p>)"
        R"(<form method="post" action="/desk/sell" id="desk-sell">{5}<input type="hidden" name="member_no" value="{0}">)"
        R"(<label>{6} <select name="item" id="desk-item">{7}</select></label> )"
        R"(<label>{8} <input name="quantity" id="desk-qty" value="1" inputmode="numeric" size="4"></label> )"
        R"(<label>{9} <input name="note" maxlength="200"></label> <button type="submit" id="desk-sell-submit">{10}</button></form></section>)",
        esc(m->member_no), esc(m->name), t("money.balance"), account ? yen(account->balance) : "0",
        t("money.yen"), csrf_input(c_.session->csrf), t("money.field.item"), options,
        t("money.field.quantity"), t("money.field.note"), t("money.sell"));
  }
  return c_.html(status, t("nav.desk"), body);
}

Response MoneyPages::sell_post() {
  const auto again = [this](http::status s, const Problem& pr) { return desk_page(s, pr); };
  const std::string no = form_value(form_, "member_no");
  const std::string code = form_value(form_, "item");
  if (auto e = bad_text({{"member_no", text::Field::kName},
                         {"item", text::Field::kName},
                         {"note", text::Field::kNote}})) {
    return desk_page(http::status::bad_request, *e);
  }
  const auto m = member(no);
  if (!m)
    return desk_page(http::status::bad_request, Problem{"member_no", t("money.bad.no_member")});
  const auto qty = whole(form_value(form_, "quantity"), 1, kMaxQuantity);
  if (!qty) {
    return desk_page(
        http::status::bad_request,
        Problem{"quantity", fmt::format(fmt::runtime(t("money.bad.quantity")), kMaxQuantity)});
  }
  std::optional<st::PriceItem> item;
  {
    std::lock_guard lock(app_.store_mu_);
    if (auto r = app_.store_->ledger().list_price_items(false)) {
      for (auto& i : *r) {
        if (i.code == code) item = std::move(i);
      }
    }
  }
  if (!item) return desk_page(http::status::bad_request, Problem{"item", t("money.bad.no_item")});
  if (form_value(form_, "confirm") != "1") {
    return confirm(fmt::format(
        R"({} <strong>{}</strong> {}: <span id="confirm-qty">{}</span> × {} ({}) × {} {} = <strong id="confirm-total">{} {}</strong>)",
        esc(t("money.sell.confirm")), esc(m->member_no), esc(m->name), *qty, esc(item->name),
        esc(item->code), yen(item->price), esc(t("money.yen")), yen(*qty * item->price),
        esc(t("money.yen"))));
  }
  return send({{"op", "change"},
               {"change",
                {{"op", "sale.add"},
                 {"args",
                  {{"member_no", no},
                   {"item", code},
                   {"quantity", *qty},
                   {"note", form_value(form_, "note")}}}}}},
              "/desk/receipts/{id}?member_no=" + url_encode(no), "item", again);
}

Response MoneyPages::receipt_page(const std::string& id_text) {
  const auto id = whole(id_text, 1, std::numeric_limits<std::int64_t>::max());
  const std::string no = v("member_no");
  std::optional<st::Sale> sale;
  std::optional<st::PriceItem> item;
  if (id && !no.empty()) {
    std::lock_guard lock(app_.store_mu_);
    if (auto r = app_.store_->ledger().list_sales(no)) {
      for (auto& s : *r) {
        if (s.id == *id) sale = std::move(s);
      }
    }
    if (sale) {
      if (auto r = app_.store_->ledger().list_price_items(true)) {
        for (auto& i : *r) {
          if (i.code == sale->item_code) item = std::move(i);
        }
      }
    }
  }
  if (!sale) return app_.fail(c_, http::status::not_found, "error.not_found");
  const auto m = member(no);
  const std::string body = fmt::format(
      R"(<section id="receipt" data-sale="{0}"><table><tbody>)"
      R"(<tr><th>{1}</th><td id="receipt-no">{0}</td></tr><tr><th>{2}</th><td>{3}</td></tr>)"
      R"(<tr><th>{4}</th><td id="receipt-member">{5} {6}</td></tr><tr><th>{7}</th><td id="receipt-item">{8} ({9})</td></tr>)"
      R"(<tr><th>{10}</th><td id="receipt-qty">{11}</td></tr><tr><th>{12}</th><td>{13} {14}</td></tr>)"
      R"(<tr><th>{15}</th><td id="receipt-total">{16} {14}</td></tr><tr><th>{17}</th><td>{18}</td></tr>)"
      R"(<tr><th>{19}</th><td>{20}</td></tr></tbody></table>)"
      R"(<p><a href="/desk?member_no={21}" id="receipt-again">{22}</a></p></section>)",
      sale->id, t("money.receipt.no"), t("history.time"), esc(local_time(sale->at_ms)),
      t("member.no"), esc(sale->member_no), m ? esc(m->name) : std::string(), t("money.field.item"),
      item ? esc(item->name) : esc(sale->item_code), esc(sale->item_code),
      t("money.field.quantity"), sale->quantity, t("money.unit_price"), yen(sale->unit_price),
      esc(t("money.yen")), t("money.total"), yen(sale->amount()), t("money.field.tax_class"),
      esc(t("money.tax." + sale->tax_class)), t("money.sold_by"), esc(sale->actor),
      url_encode(sale->member_no), t("money.sell.another"));
  return c_.html(http::status::ok, t("money.receipt"), body);
}

// ---- accounts ----

Response MoneyPages::accounts_page(http::status status, const std::optional<Problem>& p) {
  const std::string no = v("member_no");
  std::string body = problem_html(p);
  body += fmt::format(
      R"(<form method="get" action="/accounts" id="account-lookup"><label>{} <input name="member_no" id="account-member" value="{}"></label> <button type="submit">{}</button></form>)",
      t("member.no"), esc(no), t("members.search"));
  if (no.empty()) return c_.html(status, t("nav.accounts"), body);
  const auto m = member(no);
  std::optional<st::Account> a;
  if (m) {
    std::lock_guard lock(app_.store_mu_);
    if (auto r = app_.store_->ledger().account(no)) a = std::move(*r);
  }
  if (!m || !a) {
    body += "<p class=\"error\" id=\"error\" data-field=\"member_no\">" +
            esc(t("money.bad.no_member")) + "</p>";
    return c_.html(status == http::status::ok ? http::status::not_found : status, t("nav.accounts"),
                   body);
  }
  const std::string csrf = csrf_input(c_.session->csrf);
  const std::string hidden =
      fmt::format(R"(<input type="hidden" name="member_no" value="{}">)", esc(no));
  body += fmt::format(
      R"(<section id="account" data-member="{0}"><h2>{0} {1}</h2><table><tbody>)"
      R"(<tr><th>{2}</th><td id="account-balance">{3}</td></tr><tr><th>{4}</th><td id="account-limit">{5}</td></tr>)"
      R"(<tr><th>{6}</th><td id="account-available">{7}</td></tr></tbody></table>)",
      esc(no), esc(m->name), t("money.balance"), yen(a->balance), t("money.field.credit_limit"),
      yen(a->credit_limit), t("money.available"), yen(a->balance + a->credit_limit));
  body += fmt::format(
      R"(<form method="post" action="/accounts/topup" id="account-topup">{}{}<label>{} <input name="amount" id="topup-amount" inputmode="numeric" size="7"></label> )"
      R"(<label>{} <input name="note" maxlength="200"></label> <button type="submit">{}</button></form>)",
      csrf, hidden, t("money.field.amount"), t("money.field.note"), t("money.topup"));
  if (role_may(c_.role(), Permission::kManager)) {
    body += fmt::format(
        R"(<form method="post" action="/accounts/credit-limit" id="account-credit">{}{}<label>{} <input name="credit_limit" id="credit-limit" inputmode="numeric" size="7" value="{}"></label> <button type="submit">{}</button></form>)",
        csrf, hidden, t("money.field.credit_limit"), a->credit_limit, t("money.set_limit"));
  }
  body += fmt::format(
      R"(<table id="account-entries"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
      t("history.time"), t("history.kind"), t("money.field.amount"), t("money.reference"),
      t("money.by"));
  for (const auto& e : a->entries) {
    body += fmt::format("<tr><td>{}</td><td>{}</td><td>{:+}</td><td>{}</td><td>{}</td></tr>",
                        esc(local_time(e.at_ms)), esc(e.kind), e.amount, esc(e.reference),
                        esc(e.actor));
  }
  body += "</tbody></table></section>";
  return c_.html(status, t("nav.accounts"), body);
}

Response MoneyPages::account_post(const std::string& what) {
  const auto again = [this](http::status s, const Problem& pr) { return accounts_page(s, pr); };
  const bool topup = what == "topup";
  if (!topup && what != "credit-limit") {
    return app_.fail(c_, http::status::not_found, "error.not_found");
  }
  if (!topup && !role_may(c_.role(), Permission::kManager)) return forbidden();
  const std::string no = form_value(form_, "member_no");
  if (auto e = bad_text({{"member_no", text::Field::kName}, {"note", text::Field::kNote}})) {
    return accounts_page(http::status::bad_request, *e);
  }
  const auto m = member(no);
  if (!m) {
    return accounts_page(http::status::bad_request, Problem{"member_no", t("money.bad.no_member")});
  }
  std::int64_t amount = 0;
  if (auto e = need_yen(topup ? "amount" : "credit_limit", topup ? 1 : 0, amount)) {
    return accounts_page(http::status::bad_request, *e);
  }
  const std::string back = "/accounts?member_no=" + url_encode(no);
  if (form_value(form_, "confirm") != "1") {
    return confirm(
        fmt::format(R"({} <strong>{}</strong> {}: <strong id="confirm-amount">{} {}</strong>)",
                    esc(t(topup ? "money.topup.confirm" : "money.limit.confirm")), esc(no),
                    esc(m->name), yen(amount), esc(t("money.yen"))));
  }
  if (topup) {
    return send(
        {{"op", "change"},
         {"change",
          {{"op", "account.topup"},
           {"args",
            {{"member_no", no}, {"amount", amount}, {"note", form_value(form_, "note")}}}}}},
        back, "amount", again);
  }
  return send(
      {{"op", "change"},
       {"change",
        {{"op", "account.credit_limit"}, {"args", {{"member_no", no}, {"amount", amount}}}}}},
      back, "credit_limit", again);
}

// ---- held sessions ----

Response MoneyPages::held_page(http::status status, const std::optional<Problem>& p) {
  std::vector<st::Session> held;
  {
    std::lock_guard lock(app_.store_mu_);
    if (auto r = app_.store_->ledger().list_held_sessions()) held = std::move(*r);
  }
  const std::string csrf = csrf_input(c_.session->csrf);
  std::string body = problem_html(p) + "<p>" + t("money.held.help") + "</p>";
  if (held.empty()) body += "<p id=\"held-none\">" + t("money.held.none") + "</p>";
  body += fmt::format(
      R"(<table id="held"><thead><tr><th>ID</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>)",
      t("history.kind"), t("member.no"), t("history.machine"), t("history.started"),
      t("history.ended"), t("money.length_min"));
  for (const auto& s : held) {
    const auto end = s.ended_at_ms.value_or(s.started_at_ms);
    const std::int64_t minutes = (end - s.started_at_ms) / 60000;
    body += fmt::format(
        R"(<tr data-session="{0}"><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td><td>)"
        R"(<form method="post" action="/held/{0}/bill" class="inline" id="bill-{0}">{7}<label>{8} <input name="minutes" inputmode="numeric" size="5"></label> <label>{9} <input name="note" maxlength="200"></label> <button type="submit">{10}</button></form> )"
        R"(<form method="post" action="/held/{0}/waive" class="inline" id="waive-{0}">{7}<label>{9} <input name="note" maxlength="200"></label> <button type="submit">{11}</button></form></td></tr>)",
        s.id, esc(st::to_string(s.kind)), esc(s.member_no.value_or("")),
        esc(s.machine_id.value_or("")), esc(local_time(s.started_at_ms)),
        s.ended_at_ms ? esc(local_time(*s.ended_at_ms)) : "-", minutes, csrf,
        t("money.field.minutes"), t("money.field.note"), t("money.held.bill"),
        t("money.held.waive"));
  }
  body += "</tbody></table>";
  return c_.html(status, t("nav.held"), body);
}

Response MoneyPages::held_post(const std::string& id_text, const std::string& what) {
  const auto again = [this](http::status s, const Problem& pr) { return held_page(s, pr); };
  const auto id = whole(id_text, 1, std::numeric_limits<std::int64_t>::max());
  if (!id || (what != "bill" && what != "waive")) {
    return app_.fail(c_, http::status::not_found, "error.not_found");
  }
  if (auto e = bad_text({{"note", text::Field::kNote}}))
    return held_page(http::status::bad_request, *e);
  std::int64_t minutes = 0;
  if (what == "bill") {
    const auto got = whole(form_value(form_, "minutes"), 1, kMaxMinutes);
    if (!got) {
      return held_page(
          http::status::bad_request,
          Problem{"minutes", fmt::format(fmt::runtime(t("money.bad.bill_minutes")), kMaxMinutes)});
    }
    minutes = *got;
  }
  if (form_value(form_, "confirm") != "1") {
    return confirm(
        what == "bill"
            ? fmt::format(R"({} <strong>{}</strong>: <strong id="confirm-minutes">{}</strong> {})",
                          esc(t("money.held.confirm_bill")), *id, minutes, esc(t("money.minutes")))
            : fmt::format("{} <strong>{}</strong>", esc(t("money.held.confirm_waive")), *id));
  }
  return send({{"op", "change"},
               {"change",
                {{"op", "session.review"},
                 {"args",
                  {{"session_id", *id},
                   {"billed_seconds", minutes * 60},
                   {"note", form_value(form_, "note")}}}}}},
              "/held", what == "bill" ? "minutes" : "", again);
}

// ---- ward report ----

Response MoneyPages::reports_page(http::status status, const std::optional<Problem>& p) {
  const std::string body =
      problem_html(p) +
      fmt::format(
          R"(<form method="get" action="/reports/ward" id="report-month"><label>{} <input type="month" name="period" id="report-month-input" placeholder="2026-11"></label> <button type="submit">{}</button></form>)"
          R"(<form method="get" action="/reports/ward" id="report-fy"><label>{} <input name="period" id="report-fy-input" placeholder="FY2026"></label> <button type="submit">{}</button></form>)",
          t("money.report.month"), t("money.report.show"), t("money.report.fiscal_year"),
          t("money.report.show"));
  return c_.html(status, t("nav.reports"), body);
}

Response MoneyPages::report_page() {
  auto period = rp::parse_period(v("period"), app_.options_.site.site.timezone);
  if (!period) {
    return reports_page(http::status::bad_request, Problem{"period", t("money.bad.period")});
  }
  if (period->kind == rp::PeriodKind::kFiscalYear) return fiscal_year_page(*period);
  // A month is quick enough to build on the request thread, as of now.
  st::Result<rp::WardReport> built = [&] {
    std::lock_guard lock(app_.store_mu_);
    return ward_report_as_of(*app_.store_, *period, app_.store_->now_ms());
  }();
  if (!built)
    return reports_page(http::status::not_found, Problem{"period", built.error().message});
  return report_view(*built, *period, {});
}

Response MoneyPages::report_view(const rp::WardReport& r, const rp::Period& period,
                                 const std::string& head) {
  const std::string q = "period=" + url_encode(period.label);
  std::string body = head;
  body +=
      fmt::format(R"(<p id="report-period" data-period="{0}">{0}: {1} .. {2} ({3}){4}</p>)",
                  esc(period.label), esc(period.first_day), esc(period.last_day),
                  esc(period.time_zone), r.complete ? "" : " — " + esc(t("money.report.partial")));
  for (const auto& n : r.notes) body += "<p class=\"note\">" + esc(n) + "</p>";
  // The files `labgatectl report ward` writes, the same bytes.
  body += "<p id=\"report-files\">" + t("money.report.files") + ": ";
  for (const auto& f : ward_file_names(r, period)) {
    body += fmt::format(R"(<a href="/reports/ward/file?{}&amp;name={}" download="{}">{}</a> )", q,
                        url_encode(f), esc(f), esc(f));
  }
  body += "</p>";
  // The charts draw from this data (report.js); the tables below carry the same numbers.
  json data{{"days", json::array()}, {"machines", json::array()}, {"hours", json::array()}};
  const double day_count = r.days.empty() ? 1.0 : static_cast<double>(r.days.size());
  for (const auto& d : r.days) {
    data["days"].push_back(
        {{"date", d.date}, {"machine_hours", static_cast<double>(d.machines_total_ms) / 3.6e6}});
  }
  for (const auto& m : r.machines)
    data["machines"].push_back({{"id", m.id}, {"sessions", m.sessions}});
  for (std::size_t h = 0; h < 24; ++h) {
    data["hours"].push_back(static_cast<double>(r.coworking_hour_ms[h]) / 3.6e6 / day_count);
  }
  body += R"(<link rel="stylesheet" href="/static/uPlot.min.css">)";
  body += "<script type=\"application/json\" id=\"report-data\">" + script_json(data) + "</script>";
  body += fmt::format(
      R"(<section class="charts"><h2>{}</h2><div class="chart" id="chart-daily"></div><h2>{}</h2><div class="chart" id="chart-hourly"></div><h2>{}</h2><div class="chart" id="chart-machines"></div></section>)",
      t("money.report.chart_daily"), t("money.report.chart_hourly"),
      t("money.report.chart_machines"));
  body +=
      R"(<script src="/static/uPlot.iife.min.js"></script><script src="/static/report.js"></script>)";
  // Summary.
  body += fmt::format(
      R"(<h2>{}</h2><table id="report-summary"><tbody><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr>)"
      R"(<tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr></tbody></table>)",
      t("money.report.summary"), t("money.report.unique_users"), r.unique_users,
      t("money.report.machine_sessions"), r.machine_sessions(), t("money.report.machine_hours"),
      rp::format_hours(r.machine_ms()), t("money.report.coworking_hours"),
      rp::format_hours(r.coworking.ms), t("money.report.coworking_peak"),
      r.coworking.peak_occupancy, t("money.report.new_members"), r.new_members);
  body += fmt::format(
      R"(<h2>{}</h2><table id="report-machines"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
      t("money.report.chart_machines"), t("history.machine"), t("money.report.machine_sessions"),
      t("money.report.machine_hours"), t("money.report.unique_users"));
  for (const auto& m : r.machines) {
    body += fmt::format(
        R"(<tr data-machine="{0}"><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}</td></tr>)",
        esc(m.id), m.sessions, rp::format_hours(m.ms), m.unique_users);
  }
  body += "</tbody></table>";
  body += ward_rooms_section(c_, r);
  if (r.months.size() > 1) {  // a fiscal year: its months side by side
    body += fmt::format(
        R"(<h2>{}</h2><table id="report-months"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
        t("money.report.months"), t("money.report.month"), t("money.report.machine_sessions"),
        t("money.report.machine_hours"), t("money.report.coworking_hours"),
        t("money.report.unique_users"));
    for (const auto& m : r.months) {
      body += fmt::format(
          R"(<tr data-month="{0}"><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td></tr>)",
          esc(m.month), m.machine_sessions, rp::format_hours(m.machine_ms),
          rp::format_hours(m.coworking_ms), m.unique_users);
    }
    body += "</tbody></table>";
  }
  body += fmt::format(
      R"(<h2>{}</h2><table id="report-hourly"><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>)",
      t("money.report.chart_hourly"), t("money.report.hour"), t("money.report.occupancy"));
  for (std::size_t h = 0; h < 24; ++h) {
    body += fmt::format("<tr><td>{:02}:00</td><td>{:.2f}</td></tr>", h,
                        static_cast<double>(r.coworking_hour_ms[h]) / 3.6e6 / day_count);
  }
  body += "</tbody></table>";
  body += fmt::format(
      R"(<h2>{}</h2><table id="report-daily"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>)",
      t("money.report.chart_daily"), t("money.report.date"), t("money.report.machine_hours"),
      t("money.report.coworking_hours"));
  for (const auto& d : r.days) {
    body += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(d.date),
                        rp::format_hours(d.machines_total_ms), rp::format_hours(d.coworking_ms));
  }
  body += "</tbody></table>";
  return c_.html(http::status::ok, t("nav.reports") + " " + period.label, body);
}

std::shared_ptr<const BuiltWardReport> MoneyPages::built_year(const std::string& label) {
  std::lock_guard lock(app_.ward_mu_);
  const auto it = app_.ward_built_.find(label);
  return it == app_.ward_built_.end() ? nullptr : it->second;
}

Response MoneyPages::fiscal_year_page(const rp::Period& period) {
  const auto built = built_year(period.label);
  const auto running = app_.jobs_.running("ward:" + period.label);
  // The build is a POST (with the CSRF token): it costs a year's worth of reading, which a link
  // from another site must not be able to start.
  std::string head = fmt::format(
      R"(<form method="post" action="/reports/ward/build" class="inline" id="report-build">{}<input type="hidden" name="period" value="{}"><button type="submit" id="report-build-button">{}</button></form> )",
      csrf_input(c_.session->csrf), esc(period.label),
      t(built ? "money.report.rebuild" : "money.report.build"));
  if (running) {
    head += fmt::format(R"(<a href="/reports/ward/jobs/{}" id="report-running">{}</a>)",
                        esc(running->id), t("job.running"));
  }
  if (!built) {
    head += fmt::format(R"(<p id="report-not-built" data-period="{}">{}</p>)", esc(period.label),
                        esc(t("money.report.not_built")));
    return c_.html(http::status::ok, t("nav.reports") + " " + period.label, head);
  }
  head += fmt::format(R"(<p id="report-built" data-as-of-ms="{}">{} {}</p>)",
                      built->report.as_of_ms, t("money.report.built_at"),
                      esc(ward_built_time(built->report.as_of_ms, period.time_zone)));
  return report_view(built->report, built->period, head);
}

Response MoneyPages::report_build_post() {
  auto parsed = rp::parse_period(v("period"), app_.options_.site.site.timezone);
  // A month is shown at once (report_page); only a fiscal year is built in the background.
  if (!parsed || parsed->kind != rp::PeriodKind::kFiscalYear) {
    return reports_page(http::status::bad_request, Problem{"period", t("money.bad.period")});
  }
  const rp::Period period = *parsed;
  const auto& site = app_.options_.site;
  // A connection of the job's own, opened as labgate-console opens its store: the console's
  // store and its lock stay free for every other page while the year is read.
  const st::StoreOptions options = reader_store_options(site);
  const std::filesystem::path db_path = app_.store_->database().path();
  const std::int64_t as_of = app_.store_->now_ms();
  App* app = &app_;
  auto [id, fresh] =
      app_.jobs_.start("ward:" + period.label, c_.session->login, [=](JobProgress& p) {
        p.phase("job.report.building", 1);
        auto store = st::Store::open(db_path, options);
        if (!store) throw std::runtime_error("cannot open the database: " + store.error().message);
        auto report = ward_report_as_of(**store, period, as_of);
        if (!report) throw std::runtime_error(report.error().message);
        p.advance();
        auto built = std::make_shared<BuiltWardReport>();
        built->period = period;
        built->report = std::move(*report);
        const auto names = ward_file_names(built->report, period);
        // Rendered here, the PDF too: downloading then costs nothing on the request thread.
        p.phase("job.report.rendering", static_cast<std::int64_t>(names.size()));
        for (const auto& name : names) {
          auto file = render_ward_file(built->report, period, name);
          if (!file) throw std::runtime_error("no file " + name);
          if (!file->error.empty()) throw std::runtime_error(name + ": " + file->error);
          built->files.emplace(name, std::move(*file));
          p.advance();
        }
        std::lock_guard lock(app->ward_mu_);
        app->ward_built_[period.label] = built;
        // The years built longest ago go first.
        while (app->ward_built_.size() > kWardYearsKept) {
          const auto oldest = std::min_element(
              app->ward_built_.begin(), app->ward_built_.end(), [](const auto& a, const auto& b) {
                return a.second->report.as_of_ms < b.second->report.as_of_ms;
              });
          app->ward_built_.erase(oldest);
        }
        return period.label;
      });
  if (fresh) spdlog::info("console: {} builds the ward report {}", c_.session->login, period.label);
  return c_.redirect("/reports/ward/jobs/" + id);
}

Response MoneyPages::report_job_page(const std::string& id) {
  const auto job = app_.jobs_.find(id);
  // Only the report's jobs here; the statements' have their own page.
  if (!job || !job->key.starts_with("ward:")) {
    return app_.fail(c_, http::status::not_found, "error.not_found");
  }
  const std::string label = job->key.substr(5);
  std::string body = fmt::format(R"(<h2 id="job" data-kind="ward">{} {}</h2>)",
                                 t("money.report.build"), esc(label));
  body += job_progress(c_, *job);
  if (job->stage == JobState::Stage::kFailed) {
    body += fmt::format(R"(<p class="error" id="job-error">{}</p>)", esc(job->error));
  } else if (job->stage == JobState::Stage::kDone) {
    body += fmt::format(R"(<p><a href="/reports/ward?period={}" id="job-report">{}</a></p>)",
                        esc(url_encode(label)), t("money.report.show_built"));
  }
  Frame f = c_.frame();
  // Without JavaScript the page reloads itself while the job runs.
  if (job->stage == JobState::Stage::kRunning) f.refresh_s = 1;
  return c_.respond(http::status::ok, page(f, t("nav.reports"), body), "text/html; charset=utf-8");
}

Response MoneyPages::report_file() {
  auto period = rp::parse_period(v("period"), app_.options_.site.site.timezone);
  if (!period) {
    return reports_page(http::status::bad_request, Problem{"period", t("money.bad.period")});
  }
  const std::string name = v("name");
  std::optional<WardFile> file;
  if (period->kind == rp::PeriodKind::kFiscalYear) {
    // The year built last, whose page links here: building it again per download would take
    // the time the job exists to keep off the request thread.
    const auto built = built_year(period->label);
    if (!built) {
      return reports_page(http::status::conflict, Problem{"period", t("money.report.not_built")});
    }
    if (const auto it = built->files.find(name); it != built->files.end()) file = it->second;
  } else {
    st::Result<rp::WardReport> built = [&] {
      std::lock_guard lock(app_.store_mu_);
      return ward_report_as_of(*app_.store_, *period, app_.store_->now_ms());
    }();
    if (!built) {
      return reports_page(http::status::not_found, Problem{"period", built.error().message});
    }
    file = render_ward_file(*built, *period, name);
  }
  if (!file) return app_.fail(c_, http::status::not_found, "error.not_found");
  if (!file->error.empty()) {
    return app_.fail(c_, http::status::service_unavailable, "error.refused", file->error);
  }
  auto res = c_.respond(http::status::ok, std::move(file->bytes), file->type);
  // The name is one of ours (checked above), so it needs no quoting beyond the quotes.
  res.set(http::field::content_disposition, "attachment; filename=\"" + name + "\"");
  return res;
}

}  // namespace labgate::gateway::console
