// Sessions, CSRF, roles and dispatch. Pages are in pages.cpp, actions in actions.cpp.
#include "app.hpp"

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include "app_context.hpp"
#include "html.hpp"
#include "labgate/gateway/console/password.hpp"
#include "labgate/gateway/text/text.hpp"

namespace labgate::gateway::console {

store::StoreOptions reader_store_options(const config::SiteConfig& site) {
  store::StoreOptions options;
  options.database.read_only = true;  // every change goes through labgated
  options.database.busy_timeout = site.store.busy_timeout;
  options.site_key = site.site.key;
  options.time_zone = site.site.timezone;
  return options;
}

namespace {

constexpr std::string_view kCookie = "labgate_session";

std::string request_cookie(const Request& req, std::string_view name) {
  const auto it = req.find(http::field::cookie);
  return it == req.end() ? std::string() : cookie_value(sv(it->value()), name);
}

}  // namespace

std::string Context::cookie_header(const std::string& id) const {
  return std::string(kCookie) + "=" + id + "; HttpOnly; SameSite=Strict; Path=/" +
         (peer.tls ? "; Secure" : "");
}

Response Context::respond(http::status status, std::string body, std::string_view type) const {
  Response res{status, req.version()};
  res.set(http::field::content_type, boost::beast::string_view(type.data(), type.size()));
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "same-origin");
  res.set("Content-Security-Policy",
          "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
          "form-action 'self'");
  if (!set_cookie.empty()) res.set(http::field::set_cookie, set_cookie);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response Context::html(http::status status, std::string_view title, const std::string& body) const {
  return respond(status, page(frame(), title, body), "text/html; charset=utf-8");
}

Response Context::redirect(const std::string& location) const {
  auto res = respond(http::status::see_other, {}, "text/plain; charset=utf-8");
  res.set(http::field::location, location);
  return res;
}

Frame Context::frame() const {
  return {lang, session ? session->login : std::string(), session ? session->role : std::string(),
          session ? session->csrf : std::string(), path};
}

App::App(Options options, std::unique_ptr<store::Store> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      per_account_(options_.max_failures, options_.lockout),
      per_address_(options_.max_failures * 4, options_.lockout),
      feed_(options_.site.admin.socket),
      export_dir_(options_.export_dir) {
  if (export_dir_.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "labgate-exports-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("cannot make the export folder");
    export_dir_ = tmpl;
    own_export_dir_ = true;
  }
}

App::~App() {
  feed_.stop();
  if (own_export_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(export_dir_, ec);
  }
}

std::optional<Session> App::logged_in(const Request& request) {
  auto s = sessions_.find(request_cookie(request, kCookie));
  if (!s || s->login.empty()) return std::nullopt;
  return s;
}

Response App::handle(const Request& request, const Peer& peer) {
  Context c{request, peer, {}, {}, std::nullopt, Lang::kJa, {}};
  const std::string_view target = sv(request.target());
  const auto q = target.find('?');
  c.path = url_decode(target.substr(0, q));
  c.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  c.session = sessions_.find(request_cookie(request, kCookie));
  const auto accept = request.find(http::field::accept_language);
  c.lang =
      from_accept_language(accept == request.end() ? std::string_view("") : sv(accept->value()));
  if (const auto chosen = form_value(c.query, "lang"); !chosen.empty()) {
    if (!c.session) {  // a choice on the login page outlives it
      c.session = sessions_.create();
      c.set_cookie = c.cookie_header(c.session->id);
    }
    sessions_.set_lang(c.session->id, parse_lang(chosen, c.lang));
    c.session->lang = parse_lang(chosen, c.lang);
  }
  if (c.session && c.session->lang) c.lang = *c.session->lang;
  try {
    return route(c);
  } catch (const std::exception& e) {
    spdlog::error("console: {} {}: {}", std::string(sv(request.method_string())), c.path, e.what());
    return c.respond(http::status::internal_server_error, "internal error\n",
                     "text/plain; charset=utf-8");
  }
}

Response App::fail(Context& c, http::status status, std::string_view key,
                   const std::string& detail) {
  std::string body = "<p class=\"error\" id=\"error\">" + std::string(tr(c.lang, key)) +
                     esc(detail) + "</p><p><a href=\"/\">" + std::string(tr(c.lang, "back")) +
                     "</a></p>";
  return c.html(status, tr(c.lang, key), body);
}

Response App::route(Context& c) {
  const auto method = c.req.method();
  if (method == http::verb::get && c.path.starts_with("/static/")) {
    return serve_static(c, std::string_view(c.path).substr(8));
  }
  if (method == http::verb::get && c.path == "/login") return login_form(c, 200, {});
  if (method == http::verb::post) {
    const auto type = c.req.find(http::field::content_type);
    const std::string_view t = type == c.req.end() ? "" : sv(type->value());
    if (!t.starts_with("application/x-www-form-urlencoded")) {
      return fail(c, http::status::unsupported_media_type, "error.media_type");
    }
    // Every POST, the login included, carries its session's token: a form from elsewhere fails.
    if (!c.session || !same_token(form_value(c.req.body(), "csrf"), c.session->csrf)) {
      return fail(c, http::status::forbidden, "error.csrf");
    }
    if (c.path == "/login") return do_login(c);
  }
  if (!c.session || c.session->login.empty()) {
    if (method == http::verb::get) return c.redirect("/login");
    return fail(c, http::status::forbidden, "error.forbidden");
  }
  if (method == http::verb::get) return route_get(c);
  if (method == http::verb::post) return route_post(c);
  return fail(c, http::status::method_not_allowed, "error.bad_request");
}

Response App::route_get(Context& c) {
  if (auto money = route_money(c)) return std::move(*money);
  if (auto bookings = route_bookings(c)) return std::move(*bookings);
  if (c.path == "/") return live_page(c);
  if (c.path == "/statements" || c.path.starts_with("/statements/")) return route_statements(c);
  if (c.path == "/rollcall") return rollcall_page(c);
  if (c.path == "/members") return members_page(c);
  if (c.path.starts_with("/members/") && c.path.ends_with("/enrol")) {
    if (!role_may(c.role(), Permission::kMembers)) {
      return fail(c, http::status::forbidden, "error.forbidden");
    }
    return enrol_page(c, c.path.substr(9, c.path.size() - 9 - 6));
  }
  if (c.path.starts_with("/members/")) return member_page(c, c.path.substr(9));
  if (c.path == "/certifications") {
    if (!role_may(c.role(), Permission::kCertifications)) {
      return fail(c, http::status::forbidden, "error.forbidden");
    }
    return certifications_page(c);
  }
  if (c.path == "/events" || c.path == "/sessions") {
    if (!role_may(c.role(), Permission::kMachines)) {
      return fail(c, http::status::forbidden, "error.forbidden");
    }
    return c.path == "/events" ? events_page(c) : sessions_page(c);
  }
  if (c.path == "/audit") {
    if (!role_may(c.role(), Permission::kManager)) {
      return fail(c, http::status::forbidden, "error.forbidden");
    }
    return audit_page(c);
  }
  if (c.path == "/machines") {
    if (!role_may(c.role(), Permission::kMachines)) {
      return fail(c, http::status::forbidden, "error.forbidden");
    }
    return machines_page(c);
  }
  if (auto users = route_users(c)) return std::move(*users);
  return fail(c, http::status::not_found, "error.not_found");
}

Response App::route_post(Context& c) {
  if (c.path == "/logout") {
    sessions_.end(c.session->id);
    c.set_cookie = std::string(kCookie) + "=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/";
    return c.redirect("/login");
  }
  if (c.path == "/audit/verify") {
    if (!role_may(c.role(), Permission::kManager)) {
      return fail(c, http::status::forbidden, "error.forbidden");
    }
    return audit_verify(c);
  }
  if (c.path.starts_with("/statements/")) return route_statements(c);
  if (auto money = route_money(c)) return std::move(*money);
  if (auto bookings = route_bookings(c)) return std::move(*bookings);
  if (auto users = route_users(c)) return std::move(*users);
  return do_action(c);
}

Response App::login_form(Context& c, int status, std::string_view message) {
  if (!c.session) {
    c.session = sessions_.create();
    c.set_cookie = c.cookie_header(c.session->id);
  }
  std::string body;
  if (!message.empty()) body += "<p class=\"error\" id=\"error\">" + esc(message) + "</p>";
  body += "<form method=\"post\" action=\"/login\" id=\"login-form\">" +
          csrf_input(c.session->csrf) + "<p><label>" + std::string(tr(c.lang, "login.login")) +
          " <input id=\"login\" name=\"login\" autocomplete=\"username\" required></label></p>"
          "<p><label>" +
          std::string(tr(c.lang, "login.password")) +
          " <input id=\"password\" name=\"password\" type=\"password\" "
          "autocomplete=\"current-password\" required></label></p>"
          "<p><button type=\"submit\">" +
          std::string(tr(c.lang, "login.submit")) + "</button></p></form>";
  Frame f = c.frame();
  f.login.clear();
  auto res = c.respond(static_cast<http::status>(status),
                       page(f, tr(c.lang, "login.heading"), body), "text/html; charset=utf-8");
  return res;
}

Response App::do_login(Context& c) {
  const std::string login = form_value(c.req.body(), "login");
  std::string password = form_value(c.req.body(), "password");
  const std::string account_key = "account:" + login;
  const std::string address_key = "address:" + c.peer.address;
  if (per_account_.locked(account_key) || per_address_.locked(address_key)) {
    spdlog::warn("console: login of '{}' from {} refused: locked", text::visible(login),
                 c.peer.address);
    return login_form(c, 429, tr(c.lang, "login.locked"));
  }
  std::optional<store::StaffLogin> found;
  {
    std::lock_guard lock(store_mu_);
    auto r = store_->staff().staff_login(login);
    if (r && *r) found = std::move(**r);
  }
  // A missing account costs a hash as well, so timing does not tell which logins exist.
  static const std::string kDummy = hash_password("not a password of anyone").value_or("");
  const bool ok = found && found->account.active && found->password_hash &&
                  verify_password(*found->password_hash, password);
  if (!found || !found->password_hash) verify_password(kDummy, password);
  std::fill(password.begin(), password.end(), '\0');
  if (!ok) {
    per_account_.fail(account_key);
    per_address_.fail(address_key);
    spdlog::warn("console: login of '{}' from {} failed", text::visible(login), c.peer.address);
    return login_form(c, 401, tr(c.lang, "login.failed"));
  }
  per_account_.clear(account_key);
  std::optional<Lang> locale;
  if (found->locale) locale = parse_lang(*found->locale, c.lang);
  c.session = sessions_.log_in(c.session->id, found->account.login, found->account.role, locale);
  c.set_cookie = c.cookie_header(c.session->id);
  spdlog::info("console: {} logged in from {}", found->account.login, c.peer.address);
  return c.redirect("/");
}

}  // namespace labgate::gateway::console
