// The console through real HTTP against a real labgate-console and labgated: every check here
// would fail if the server-side rule it names were missing.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "console_site.hpp"
#include "must.hpp"

using namespace labgate::testing;
namespace store = labgate::gateway::store;

TEST_CASE("console: login sets a strict session cookie; a wrong password does not log in",
          "[console]") {
  ConsoleSite site;
  Browser anonymous;
  auto r = site.get(anonymous, "/");
  CHECK(r.status == 303);
  CHECK(r.header("location") == "/login");

  Browser b;
  r = site.log_in(b, "sam", ConsoleSite::password_of("sam"));
  REQUIRE(r.status == 303);
  CHECK(r.header("location") == "/");
  const auto cookie = r.header("set-cookie");
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Strict") != std::string::npos);
  CHECK(cookie.find("Path=/") != std::string::npos);
  CHECK(cookie.find("Secure") == std::string::npos);  // plain HTTP on loopback
  r = site.get(b, "/");
  REQUIRE(r.status == 200);
  CHECK(r.body.find(R"(data-door="front")") != std::string::npos);
  CHECK(r.body.find(R"(data-machine="laser")") != std::string::npos);
  CHECK(r.body.find(R"(id="events")") != std::string::npos);

  Browser wrong;
  r = site.log_in(wrong, "sam", "not-the-password");
  CHECK(r.status == 401);
  CHECK(site.get(wrong, "/").status == 303);
  Browser no_password;
  CHECK(site.log_in(no_password, "nopw", "").status == 401);
  CHECK(site.log_in(no_password, "nopw", "anything-at-all").status == 401);
  // Neither password appears in the console's output.
  CHECK(site.console_log().find("not-the-password") == std::string::npos);
  CHECK(site.console_log().find(ConsoleSite::password_of("sam")) == std::string::npos);
}

TEST_CASE("console: a POST without the session's CSRF token is refused and changes nothing",
          "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  auto r = site.post(sam, "/machines/laser/lockout", "reason=x", false);
  CHECK(r.status == 403);
  auto forged = sam;
  forged.csrf = std::string(64, 'a');
  CHECK(site.post(forged, "/machines/laser/lockout", "reason=x").status == 403);
  CHECK_FALSE(site.machine("laser").locked_out);
  // The login form needs its token too.
  Browser b;
  site.get(b, "/login");
  r = site.post(b, "/login", "login=sam&password=" + ConsoleSite::password_of("sam"), false);
  CHECK(r.status == 403);
}

TEST_CASE("console: five failed logins lock the account out (429), even with the right password",
          "[console]") {
  ConsoleSite site;
  Browser b;
  for (int i = 0; i < 5; ++i) CHECK(site.log_in(b, "dina", "wrong-password").status == 401);
  CHECK(site.log_in(b, "dina", ConsoleSite::password_of("dina")).status == 429);
  // Another account is not locked by dina's failures.
  Browser other;
  CHECK(site.log_in(other, "sam", ConsoleSite::password_of("sam")).status == 303);
}

TEST_CASE("console: roles are enforced on the server", "[console]") {
  ConsoleSite site;
  auto dina = site.logged_in("dina");
  CHECK(site.post(dina, "/machines/laser/lockout", "reason=desk").status == 403);
  CHECK(site.post(dina, "/doors/front/unlock", "").status == 403);
  CHECK_FALSE(site.machine("laser").locked_out);
  auto tara = site.logged_in("tara");
  CHECK(site.post(tara, "/members", "member_no=M900&name=Trainer").status == 403);
  auto s = site.daemon().open_store();
  CHECK_FALSE(must(s->taps().member_by_no("M900")).has_value());
}

TEST_CASE("console: a lockout reaches labgated as the logged-in account", "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  auto r = site.post(sam, "/machines/laser/lockout", "reason=lens+cracked&confirm=1");
  REQUIRE(r.status == 303);
  const auto laser = site.machine("laser");
  CHECK(laser.locked_out);
  CHECK(laser.lockout_reason == "lens cracked");
  CHECK(audited(site, me("sam"), "machine.lockout", "laser"));
  CHECK(site.daemon().cmd("status").find("laser") != std::string::npos);
  REQUIRE(site.post(sam, "/machines/laser/release", "confirm=1").status == 303);
  CHECK_FALSE(site.machine("laser").locked_out);
  CHECK(site.post(sam, "/machines/nope/release", "confirm=1").status == 404);
}

TEST_CASE("console: desk registers and approves a member; hostile text is escaped", "[console]") {
  ConsoleSite site;
  auto dina = site.logged_in("dina");
  const std::string hostile = "<script>alert(1)</script>\"'&";
  auto r = site.post(dina, "/members", "member_no=M900&name=" + form_escape(hostile) + "&email=");
  REQUIRE(r.status == 303);
  CHECK(r.header("location") == "/members/M900");
  r = site.get(dina, "/members/M900");
  REQUIRE(r.status == 200);
  CHECK(r.body.find("<script>alert") == std::string::npos);
  CHECK(r.body.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;") != std::string::npos);
  CHECK(r.body.find(R"(data-status="pending")") != std::string::npos);
  REQUIRE(site.post(dina, "/members/M900/approve", "").status == 303);
  auto s = site.daemon().open_store();
  auto m = must(s->taps().member_by_no("M900"));
  REQUIRE(m);
  CHECK(m->status == store::MemberStatus::kActive);
  CHECK(audited(site, me("dina"), "member.approve", "M900"));
  // The search finds them by name part, escaped in the list as well.
  r = site.get(dina, "/members?q=" + form_escape("alert"));
  CHECK(r.body.find(R"(data-member="M900")") != std::string::npos);
  CHECK(r.body.find("<script>alert") == std::string::npos);
  // A control character in a field is refused by the project's validator, and adds nothing.
  CHECK(site.post(dina, "/members", "member_no=M901&name=a%01b").status == 400);
  CHECK_FALSE(must(s->taps().member_by_no("M901")).has_value());
}

TEST_CASE("console: static files only from the static directory", "[console]") {
  ConsoleSite site;
  Browser b;
  auto r = site.get(b, "/static/console.js");
  CHECK(r.status == 200);
  CHECK(r.header("content-type").starts_with("text/javascript"));
  for (const std::string target :
       {"/static/../site.toml", "/static/%2e%2e/site.toml", "/static/..%2fsite.toml",
        "/static//etc/passwd", "/static/.hidden", "/static/"}) {
    INFO(target);
    r = site.get(b, target);
    CHECK(r.status >= 400);
    CHECK(r.status < 500);
    CHECK(r.body.find("[site]") == std::string::npos);
  }
}

TEST_CASE("console: an oversized body gets 413 and a wrong content type 415", "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  auto r = site.post(sam, "/machines/laser/lockout", "reason=" + std::string(20000, 'x'));
  CHECK(r.status == 413);
  HttpCall call;
  call.method = "POST";
  call.target = "/machines/laser/lockout";
  call.cookie = sam.cookie;
  call.content_type = "application/json";
  call.body = R"({"csrf":")" + sam.csrf + "\"}";
  CHECK(http(site.port(), call).status == 415);
  CHECK_FALSE(site.machine("laser").locked_out);
}

TEST_CASE("console: Japanese by default and by Accept-Language; ?lang= switches the session",
          "[console]") {
  ConsoleSite site;
  Browser b;
  auto r = site.get(b, "/login", "ja,en;q=0.8");
  CHECK(r.body.find(R"(<html lang="ja">)") != std::string::npos);
  CHECK(r.body.find("パスワード") != std::string::npos);
  Browser e;
  r = site.get(e, "/login", "en-US,en;q=0.9");
  CHECK(r.body.find(R"(<html lang="en">)") != std::string::npos);
  Browser chooser;
  r = site.get(chooser, "/login?lang=en", "ja");
  CHECK(r.body.find(R"(<html lang="en">)") != std::string::npos);
  r = site.get(chooser, "/login", "ja");
  CHECK(r.body.find(R"(<html lang="en">)") != std::string::npos);
  auto sam = site.logged_in("sam");
  r = site.get(sam, "/?lang=en", "ja");
  CHECK(r.body.find(R"(<html lang="en">)") != std::string::npos);
  r = site.get(sam, "/rollcall", "ja");  // the session keeps the choice
  CHECK(r.body.find(R"(<html lang="en">)") != std::string::npos);
}

TEST_CASE("console: the live stream carries a tap to a logged-in page", "[console]") {
  ConsoleSite site;
  auto sam = site.logged_in("sam");
  RawStream refused(site.port(), "GET /live/events HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(refused.read_until("\r\n\r\n", std::chrono::seconds(5)).starts_with("HTTP/1.1 403"));
  RawStream live(site.port(),
                 "GET /live/events HTTP/1.1\r\nHost: x\r\nCookie: " + sam.cookie + "\r\n\r\n");
  REQUIRE(live.read_until(": live", std::chrono::seconds(5)).starts_with("HTTP/1.1 200"));
  // The subscription may still be connecting: tap until the event arrives.
  const std::string want = R"("stream":"event","topic":"labgate/v1/test/gw-test/door/front/event")";
  std::string got;
  for (int i = 0; i < 20 && got.find(want) == std::string::npos; ++i) {
    site.daemon().cmd("tap front-in iso14443a 04000001");
    got = live.read_until(want, std::chrono::milliseconds(500));
  }
  INFO(got);
  CHECK(got.find("data: {") != std::string::npos);
  REQUIRE(got.find(want) != std::string::npos);
  CHECK(got.find("M1") != std::string::npos);
  // Subscribed now: the next tap reaches the page within the issue's second.
  const auto before = got.size();
  const auto t0 = std::chrono::steady_clock::now();
  site.daemon().cmd("tap front-in iso14443a 04000002");
  got = live.read_until("\"M2\"", std::chrono::seconds(2));
  CHECK(got.find("\"M2\"", before) != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  // The member's page lists the tap.
  auto page = site.get(sam, "/members/M1");
  CHECK(page.body.find(R"(id="member-events")") != std::string::npos);
  CHECK(page.body.find("front") != std::string::npos);
}

TEST_CASE("console: a non-loopback address without TLS is refused at start", "[console]") {
  TempDir dir("labgate-console-tls");
  Daemon d(dir);  // writes the config; the daemon need not run
  auto r = run_console({"--config", d.config_path(), "--listen", "0.0.0.0:0"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("without TLS") != std::string::npos);
  CHECK(r.out.find("listening") == std::string::npos);
}

TEST_CASE("console: labgatectl users add --password-stdin makes an account that logs in",
          "[console]") {
  ConsoleSite site;
  const std::string pw = "a long pass phrase";
  auto r = run_command({"sh", "-c",
                        "printf '%s\\n' '" + pw + "' | " + LABGATECTL_PATH + " --config " +
                            site.daemon().config_path() +
                            " --actor test users add --login newbie --role desk --password-stdin"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find(pw) == std::string::npos);
  Browser b;
  CHECK(site.log_in(b, "newbie", pw).status == 303);
  CHECK(audited(site, me("test"), "staff.passwd", "newbie"));
  // Adding accounts is for admins: a staff account is refused, and no account is made.
  r = run_command({"sh", "-c",
                   "printf 'another long phrase\\n' | " + std::string(LABGATECTL_PATH) +
                       " --config " + site.daemon().config_path() +
                       " --actor sam users add --login sneaky --role admin --password-stdin"});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("may not do this") != std::string::npos);
  // A desk account may not reset another account's password.
  r = run_command({"sh", "-c",
                   "printf 'taken-over-pw\\n' | " + std::string(LABGATECTL_PATH) + " --config " +
                       site.daemon().config_path() +
                       " --actor newbie users passwd --login sam --password-stdin"});
  CHECK(r.exit_code != 0);
  Browser c;
  CHECK(site.log_in(c, "sam", "taken-over-pw").status == 401);
  // Too short a password is refused before anything is made.
  r = run_command({"sh", "-c",
                   "printf 'short\\n' | " + std::string(LABGATECTL_PATH) + " --config " +
                       site.daemon().config_path() +
                       " --actor test users add --login tiny --role desk --password-stdin"});
  CHECK(r.exit_code == 2);
  auto s = site.daemon().open_store();
  CHECK_FALSE(must(s->staff().staff_login("tiny")).has_value());
  CHECK_FALSE(must(s->staff().staff_login("sneaky")).has_value());
}

TEST_CASE("console: with a certificate it speaks TLS and marks the cookie Secure", "[console]") {
  TempDir dir("labgate-console-tls");
  const auto cert = dir.file("console.crt").string();
  const auto key = dir.file("console.key").string();
  auto made = run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                           key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"});
  REQUIRE(made.exit_code == 0);
  Daemon d(dir, test_config(dir.path().string(), "\n[console]\ntls_cert = \"" + cert +
                                                     "\"\ntls_key = \"" + key + "\"\n"));
  d.open_store().reset();  // makes the database the console opens
  Child console({LABGATE_CONSOLE_PATH, "--config", d.config_path(), "--listen", "127.0.0.1:0"},
                dir.file("console.log"));
  const std::string marker = "listening on https://127.0.0.1:";
  REQUIRE(wait_until(
      [&] { return read_file(dir.file("console.log")).find(marker) != std::string::npos; },
      std::chrono::seconds(10)));
  const auto log = read_file(dir.file("console.log"));
  const auto port = log.substr(log.find(marker) + marker.size(), 5);
  auto r =
      run_command({"sh", "-c",
                   "printf 'GET /login HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | "
                   "openssl s_client -connect 127.0.0.1:" +
                       std::to_string(std::stoi(port)) + " -quiet 2>/dev/null"});
  CHECK(r.out.find("HTTP/1.1 200") != std::string::npos);
  CHECK(r.out.find("; Secure") != std::string::npos);
  CHECK(r.out.find(R"(id="password")") != std::string::npos);
  // Plain HTTP on the TLS port gets no page.
  HttpCall plain;
  plain.target = "/login";
  CHECK_THROWS(http(static_cast<unsigned short>(std::stoi(port)), plain));
}
