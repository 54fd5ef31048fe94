// Staff accounts (admin only): list, add, change a role, deactivate and reactivate, reset a
// password. Every change goes through labgated's admin channel as the logged-in admin, so the
// audit row names them; the password is hashed here and only its argon2id string is sent.
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <array>

#include "app_context.hpp"
#include "labgate/gateway/console/password.hpp"
#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::console {

namespace {

using json = nlohmann::json;

constexpr std::array kRoles = {"desk", "trainer", "staff", "manager", "admin"};

json change_request(const std::string& op, json args) {
  return {{"op", "change"}, {"change", {{"op", op}, {"args", std::move(args)}}}};
}

std::string role_select(const Context& c, const std::string& current) {
  std::string out = R"(<select name="role">)";
  for (const std::string_view r : kRoles) {
    out += fmt::format(R"(<option value="{0}"{1}>{2}</option>)", r, r == current ? " selected" : "",
                       esc(tr(c.lang, "role." + std::string(r))));
  }
  return out + "</select>";
}

}  // namespace

std::optional<Response> App::route_users(Context& c) {
  if (c.path != "/users" && !c.path.starts_with("/users/")) return std::nullopt;
  // Refused on the server for every other role, whatever the page shows.
  if (!role_may(c.role(), Permission::kAdmin)) {
    spdlog::warn("console: {} ({}) refused {}", c.session->login, c.role(), c.path);
    return fail(c, http::status::forbidden, "error.forbidden");
  }
  if (c.req.method() == http::verb::get) {
    if (c.path != "/users") return fail(c, http::status::not_found, "error.not_found");
    return users_page(c);
  }
  return users_action(c);
}

Response App::users_page(Context& c) {
  std::vector<store::StaffAccount> accounts;
  {
    std::lock_guard lock(store_mu_);
    if (auto r = store_->staff().list_staff_accounts()) accounts = std::move(*r);
  }
  const std::string csrf = csrf_input(c.session->csrf);
  std::string rows;
  for (const auto& a : accounts) {
    const std::string base = "/users/" + url_encode(a.login);
    const bool self = a.login == c.session->login;
    std::string forms;
    if (!self) {
      forms += fmt::format(
          R"(<form method="post" action="{0}/role" class="inline">{1}{2} <button type="submit">{3}</button></form>)",
          esc(base), csrf, role_select(c, a.role), t(c, "users.set_role"));
      forms += fmt::format(
          R"(<form method="post" action="{0}/{1}" class="inline">{2}<button type="submit">{3}</button></form>)",
          esc(base), a.active ? "disable" : "enable", csrf,
          t(c, a.active ? "users.disable" : "users.enable"));
    }
    forms += fmt::format(
        R"(<form method="post" action="{0}/password" class="inline">{1}<input name="password" type="password" autocomplete="new-password" minlength="8" placeholder="{2}"> <button type="submit">{3}</button></form>)",
        esc(base), csrf, t(c, "users.new_password"), t(c, "users.reset_password"));
    rows += fmt::format(
        R"(<tr data-login="{0}" data-role="{2}" data-active="{3}"><td>{0}</td><td>{1}</td><td>{4}</td><td>{5}</td><td>{6}</td></tr>)",
        esc(a.login), esc(a.name), esc(a.role), a.active ? "1" : "0",
        esc(tr(c.lang, "role." + a.role)), t(c, a.active ? "users.active" : "users.inactive"),
        forms);
  }
  std::string body = fmt::format(
      R"(<table id="users"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>{}</tbody></table>)",
      t(c, "login.login"), t(c, "member.name"), t(c, "users.role"), t(c, "member.status"), rows);
  body += fmt::format(
      R"(<h2>{}</h2><form method="post" action="/users" id="user-add">{})"
      R"(<p><label>{} <input name="login" required maxlength="64"></label></p>)"
      R"(<p><label>{} <input name="name" maxlength="200"></label></p>)"
      R"(<p><label>{} {}</label></p>)"
      R"(<p><label>{} <input name="password" type="password" autocomplete="new-password" minlength="8" required></label></p>)"
      R"(<p><button type="submit">{}</button></p></form>)",
      t(c, "users.add"), csrf, t(c, "login.login"), t(c, "member.name"), t(c, "users.role"),
      role_select(c, "desk"), t(c, "users.initial_password"), t(c, "users.add_submit"));
  return c.html(http::status::ok, tr(c.lang, "nav.users"), body);
}

Response App::users_action(Context& c) {
  const std::string_view form = c.req.body();
  // The password is hashed here: neither it nor its hash goes further than the admin channel.
  std::string hash;
  const auto password_hash = [&]() -> std::optional<std::string> {
    std::string password = form_value(form, "password");
    if (auto why = password_problem(password)) return "password: " + *why;
    auto h = hash_password(password);
    sodium_memzero(password.data(), password.size());
    if (!h) return std::string("password: cannot hash");
    hash = std::move(*h);
    return std::nullopt;
  };
  if (c.path == "/users") {
    const std::string login = form_value(form, "login");
    const std::string name = form_value(form, "name");
    if (auto why = text::check(text::Field::kName, name)) {
      return fail(c, http::status::bad_request, "error.bad_request", " name: " + *why);
    }
    if (auto why = password_hash()) {
      return fail(c, http::status::bad_request, "error.bad_request", " " + *why);
    }
    auto added = change(
        c,
        change_request("staff.add",
                       {{"login", login}, {"name", name}, {"role", form_value(form, "role")}}),
        "/users");
    if (added.result() != http::status::see_other) return added;
    return change(c, change_request("staff.passwd", {{"login", login}, {"password_hash", hash}}),
                  "/users");
  }
  // /users/{login}/{what}
  const std::string rest = c.path.substr(7);
  const auto slash = rest.rfind('/');
  if (slash == std::string::npos || slash == 0) {
    return fail(c, http::status::not_found, "error.not_found");
  }
  const std::string login = rest.substr(0, slash);
  const std::string what = rest.substr(slash + 1);
  if (what == "role") {
    return change(
        c, change_request("staff.role", {{"login", login}, {"role", form_value(form, "role")}}),
        "/users");
  }
  if (what == "disable" || what == "enable") {
    return change(c, change_request("staff." + what, {{"login", login}}), "/users");
  }
  if (what == "password") {
    if (auto why = password_hash()) {
      return fail(c, http::status::bad_request, "error.bad_request", " " + *why);
    }
    return change(c, change_request("staff.passwd", {{"login", login}, {"password_hash", hash}}),
                  "/users");
  }
  return fail(c, http::status::not_found, "error.not_found");
}

}  // namespace labgate::gateway::console
