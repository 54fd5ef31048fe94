// `users passwd`, `users locale` and `users role`, and the password that `users add
// --password-stdin` sets: the console's side of staff accounts. The password is read from standard
// input, hashed here and sent as its argon2id string, so the clear text never leaves this process.
#include <sodium.h>

#include <iostream>
#include <string>

#include "commands.hpp"
#include "context.hpp"
#include "labgate/gateway/console/password.hpp"
#include "output.hpp"

namespace labgate::gateway::ctl {

std::string read_password_hash() {
  std::string line;
  if (!std::getline(std::cin, line)) usage_error("--password-stdin: no password on standard input");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const auto problem = console::password_problem(line);
  std::optional<std::string> hash;
  if (!problem) hash = console::hash_password(line);
  sodium_memzero(line.data(), line.size());
  if (problem) usage_error("--password-stdin: " + *problem);
  if (!hash) throw Failure{kExitUnavailable, "cannot hash the password (out of memory?)"};
  return *hash;
}

void set_password_hash(Context& ctx, const std::string& login, const std::string& hash) {
  ctx.change("staff.passwd", {{"login", login}, {"password_hash", hash}});
}

void build_user_settings(CLI::App* users, Cli& cli) {
  auto login = std::make_shared<std::string>();
  auto locale = std::make_shared<std::string>();
  auto* passwd = users->add_subcommand(
      "passwd", "set an account's web console password (read as one line from standard input)");
  passwd->add_option("--login", *login, "login")->required();
  auto from_stdin = std::make_shared<bool>(false);
  passwd->add_flag("--password-stdin", *from_stdin, "read the password from standard input")
      ->required();
  on(passwd, cli, [login](Context& ctx) {
    const auto hash = read_password_hash();
    set_password_hash(ctx, *login, hash);
    std::cout << "password set for staff account " << *login << '\n';
    return kExitOk;
  });
  auto role = std::make_shared<std::string>();
  auto* change_role = users->add_subcommand(
      "role", "change an account's role (an admin's to do, and never on its own account)");
  change_role->add_option("--login", *login, "login")->required();
  change_role->add_option("--role", *role, "desk, trainer, staff, manager or admin")
      ->required()
      ->check(CLI::IsMember({"desk", "trainer", "staff", "manager", "admin"}));
  on(change_role, cli, [login, role](Context& ctx) {
    // The same change the console's user page sends: the store refuses a non-admin actor and
    // an admin demoting itself, and audits the old role beside the new one.
    auto s = ctx.change("staff.role", {{"login", *login}, {"role", *role}});
    print_one(ctx, s,
              "staff account " + s.value("login", *login) + " is now " + s.value("role", *role));
    return kExitOk;
  });
  auto* lang = users->add_subcommand("locale", "set an account's web console language");
  lang->add_option("--login", *login, "login")->required();
  lang->add_option("--locale", *locale, "ja, en, or \"\" for the browser's language")
      ->required()
      ->check(CLI::IsMember({"ja", "en", ""}));
  on(lang, cli, [login, locale](Context& ctx) {
    ctx.change("staff.locale", {{"login", *login}, {"locale", *locale}});
    std::cout << "locale of staff account " << *login << " set to "
              << (locale->empty() ? "the browser's" : *locale) << '\n';
    return kExitOk;
  });
}

}  // namespace labgate::gateway::ctl
