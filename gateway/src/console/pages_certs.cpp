// The certifications page (trainer and above): grant, revoke, list by type, expiring soon.
// Every value from the store or the request goes through esc().
#include <fmt/format.h>

#include <algorithm>

#include "app_context.hpp"

namespace labgate::gateway::console {

namespace {

std::optional<std::int64_t> expiring_days(const std::string& query) {
  const auto text = form_value(query, "expiring");
  if (text.empty()) return std::nullopt;
  try {
    return std::clamp<std::int64_t>(std::stoll(text), 0, 3650);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string filter_form(const Context& c, const std::vector<store::CertificationType>& types,
                        const std::string& type, std::optional<std::int64_t> days) {
  std::string options = fmt::format(R"(<option value="">{}</option>)", t(c, "certs.all_types"));
  for (const auto& ty : types) {
    options += fmt::format(R"(<option value="{0}"{2}>{0} {1}</option>)", esc(ty.code), esc(ty.name),
                           ty.code == type ? " selected" : "");
  }
  return fmt::format(
      R"(<form method="get" action="/certifications" id="cert-filter"><label>{} <select name="type">{}</select></label> )"
      R"(<label>{} <input name="expiring" type="number" min="0" max="3650" value="{}"></label> <button type="submit">{}</button></form>)",
      t(c, "certs.type"), options, t(c, "certs.expiring"), days ? std::to_string(*days) : "",
      t(c, "certs.show"));
}

std::string grant_form(const Context& c, const std::vector<store::CertificationType>& types) {
  std::string list;
  for (const auto& ty : types) list += fmt::format(R"(<option value="{}">)", esc(ty.code));
  return fmt::format(
      R"(<h2>{}</h2><form method="post" action="/certifications" id="cert-grant">{})"
      R"(<p><label>{} <input name="member_no" required></label></p>)"
      R"(<p><label>{} <input name="type" list="cert-types" required></label><datalist id="cert-types">{}</datalist></p>)"
      R"(<p><label>{} <input name="trainer" value="{}"></label></p>)"
      R"(<p><label>{} <input name="granted_on" type="date"></label></p>)"
      R"(<p><button type="submit">{}</button></p></form>)",
      t(c, "certs.grant"), csrf_input(c.session->csrf), t(c, "member.no"), t(c, "certs.type"), list,
      t(c, "certs.trainer"), esc(c.session->login), t(c, "certs.granted_on"),
      t(c, "certs.grant_submit"));
}

std::string cert_row(const Context& c, const store::Certification& cert) {
  const std::string revoke = fmt::format(
      R"(<form method="post" action="/certifications/revoke" class="inline">{}<input type="hidden" name="member_no" value="{}"><input type="hidden" name="type" value="{}"> <input name="reason" required maxlength="500" placeholder="{}"> <button type="submit">{}</button></form>)",
      csrf_input(c.session->csrf), esc(cert.member_no), esc(cert.type_code), t(c, "reason"),
      t(c, "certs.revoke"));
  return fmt::format(
      R"(<tr data-cert="{0}:{2}"><td><a href="/members/{0}">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td></tr>)",
      esc(cert.member_no), esc(cert.member_name), esc(cert.type_code), esc(cert.trainer),
      esc(cert.granted_on), esc(cert.expires_on.value_or("-")), revoke);
}

}  // namespace

Response App::certifications_page(Context& c) {
  const std::string type = form_value(c.query, "type");
  const auto days = expiring_days(c.query);
  std::vector<store::CertificationType> types;
  std::vector<store::Certification> certs;
  {
    std::lock_guard lock(store_mu_);
    if (auto r = store_->staff().list_certification_types()) types = std::move(*r);
    store::CertificationFilter filter;
    if (!type.empty()) filter.type_code = type;
    filter.expiring_within_days = days;
    if (auto r = store_->staff().list_certifications(filter)) certs = std::move(*r);
  }
  std::string rows;
  for (const auto& cert : certs) rows += cert_row(c, cert);
  std::string body = filter_form(c, types, type, days);
  if (days) body += fmt::format(R"(<p id="expiring">{} {}</p>)", t(c, "certs.expiring_in"), *days);
  body +=
      rows.empty()
          ? "<p id=\"none\">" + t(c, "certs.none") + "</p>"
          : fmt::format(
                R"(<table id="certs"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>{}</tbody></table>)",
                t(c, "member.no"), t(c, "member.name"), t(c, "certs.type"), t(c, "certs.trainer"),
                t(c, "certs.granted_on"), t(c, "certs.expires_on"), rows);
  body += grant_form(c, types);
  return c.html(http::status::ok, tr(c.lang, "nav.certs"), body);
}

}  // namespace labgate::gateway::console
