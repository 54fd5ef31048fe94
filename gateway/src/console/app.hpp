#pragma once
// The console's request handling: sessions, CSRF, roles and the routes (docs/CONSOLE.md). The
// HTTP transport (server.cpp) hands each request here and writes the response; the live event
// stream is the transport's, since it holds its connection open.

#include <boost/beast/http.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "admin_link.hpp"
#include "jobs.hpp"
#include "labgate/gateway/config/site_config.hpp"
#include "labgate/gateway/store/store.hpp"
#include "roles.hpp"
#include "sessions.hpp"

namespace labgate::gateway::console {

namespace http = boost::beast::http;
/// A request with its whole (size-limited) body.
using Request = http::request<http::string_body>;
/// A response.
using Response = http::response<http::string_body>;

/// Beast's string_view (Boost's own in 1.74) as the standard one.
inline std::string_view sv(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

/// Largest request body accepted (bytes); a larger one is answered 413.
inline constexpr std::size_t kMaxBodyBytes = 16 * 1024;

/// Where a request came from.
struct Peer {
  std::string address;  ///< the client's IP address (login limits per address)
  bool tls{false};      ///< the connection is TLS (cookies get Secure)
};

/// A fiscal-year ward report a background job built, with its files (pages_money.cpp).
struct BuiltWardReport;

/// The console: everything but the transport.
class App {
 public:
  /// Settings from the command line and the config.
  struct Options {
    config::SiteConfig site;
    std::filesystem::path static_dir;
    int max_failures{5};
    std::chrono::seconds lockout{60};
    /// Where month exports (zip) are written; empty: a private folder made at start and removed
    /// at exit.
    std::filesystem::path export_dir;
  };
  App(Options options, std::unique_ptr<store::Store> store);
  ~App();

  /// Answers one request.
  Response handle(const Request& request, const Peer& peer);
  /// The logged-in session a request's cookie names, if any (the live stream checks it).
  std::optional<Session> logged_in(const Request& request);
  /// The live stream.
  LiveFeed& feed() { return feed_; }

  struct Context;  ///< one request being answered (app_context.hpp)

 private:
  Response route(Context& c);
  Response route_get(Context& c);
  Response route_post(Context& c);
  Response login_form(Context& c, int status, std::string_view message);
  Response do_login(Context& c);
  Response do_action(Context& c);
  Response confirm_page(Context& c);
  Response certifications_page(Context& c);
  Response machines_page(Context& c);
  Response events_page(Context& c);
  Response audit_page(Context& c);
  Response audit_verify(Context& c);
  Response sessions_page(Context& c);
  Response enrol_page(Context& c, const std::string& member_no);
  Response serve_static(Context& c, std::string_view rel);
  Response live_page(Context& c);
  Response rollcall_page(Context& c);
  Response members_page(Context& c);
  Response member_page(Context& c, const std::string& member_no);
  // Staff accounts, admin only (pages_users.cpp); nullopt when the path is not theirs.
  std::optional<Response> route_users(Context& c);
  Response users_page(Context& c);
  Response users_action(Context& c);
  Response fail(Context& c, http::status status, std::string_view key,
                const std::string& detail = {});
  Response change(Context& c, nlohmann::json request, const std::string& back);
  // The money pages (pages_money.cpp): their response, or nullopt when the path is not theirs.
  friend class MoneyPages;
  std::optional<Response> route_money(Context& c);
  // Room calendars, bookings and the locker map (pages_bookings.cpp): their response, or nullopt
  // when the path is not theirs.
  friend class BookingPages;
  std::optional<Response> route_bookings(Context& c);
  // The statements pages (pages_statements.cpp).
  Response route_statements(Context& c);
  Response statements_page(Context& c);
  Response statements_download(Context& c);
  Response statements_export(Context& c);
  Response statements_issue(Context& c);
  Response statements_job(Context& c, const std::string& id);
  Response statements_file(Context& c, const std::string& name);

  Options options_;
  std::unique_ptr<store::Store> store_;
  std::mutex store_mu_;  // a Store is used from one thread at a time
  Sessions sessions_;
  FailureLimit per_account_;
  FailureLimit per_address_;
  LiveFeed feed_;
  std::filesystem::path export_dir_;
  bool own_export_dir_{false};
  // The newest fiscal-year ward report built per period ("FY2026"), which its page and downloads
  // show: a year takes too long to build again for each request (pages_money.cpp).
  std::mutex ward_mu_;
  std::map<std::string, std::shared_ptr<const BuiltWardReport>> ward_built_;
  Jobs jobs_;  // last: destroyed first, so running jobs end before the rest goes
};

/// How the console opens the site's database: read-only (every change goes through labgated),
/// with the site's key, time zone and busy timeout. For its own store and for a job's connection.
store::StoreOptions reader_store_options(const config::SiteConfig& site);

}  // namespace labgate::gateway::console
