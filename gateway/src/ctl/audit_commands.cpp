// `labgatectl audit setup|verify|checkpoint`: the sealed record (docs/KEYS.md, "The sealed
// record"). setup prints the verification key once, on the terminal and as a QR code, and nowhere
// else; the box keeps only the current epoch's sealing key. verify reads and reports, never
// repairs.
#include <fmt/format.h>
#include <qrencode.h>
#include <sodium.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "context.hpp"
#include "labgate/gateway/store/seal.hpp"

namespace labgate::gateway::ctl {
namespace {

namespace seal = st::seal;
using json = nlohmann::ordered_json;

/// The key in groups of four hex digits, easier to copy on paper and to read back.
std::string grouped(const seal::Key& key) {
  std::string hex = st::to_hex(key);
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i != 0) out += (i % 32 == 0) ? "\n  " : "-";
    out += hex.substr(i, 4);
  }
  sodium_memzero(hex.data(), hex.size());
  return out;
}

/// The key as a QR code drawn with half-block characters (two modules per character row).
void print_qr(const seal::Key& key) {
  std::string hex = st::to_hex(key);
  std::unique_ptr<QRcode, void (*)(QRcode*)> qr(
      QRcode_encodeString(hex.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), QRcode_free);
  sodium_memzero(hex.data(), hex.size());
  if (!qr) {
    std::cout << "(the QR code could not be drawn; copy the key above)\n";
    return;
  }
  const int w = qr->width;
  constexpr int kQuiet = 2;
  const auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= w || y >= w) return false;
    return (qr->data[y * w + x] & 1) != 0;
  };
  // Light modules are drawn as full blocks so the code reads on a dark terminal.
  for (int y = -kQuiet; y < w + kQuiet; y += 2) {
    std::string line = "  ";
    for (int x = -kQuiet; x < w + kQuiet; ++x) {
      const bool top = !dark(x, y), bottom = !dark(x, y + 1);
      line += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    std::cout << line << '\n';
  }
  sodium_memzero(qr->data, static_cast<std::size_t>(w) * static_cast<std::size_t>(w));
}

/// The verification key from --key: 64 hex digits (dashes, spaces and new lines ignored), or
/// "-" to read it from standard input so it does not show in the process list.
seal::Key read_key(std::string text) {
  if (text == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto key = seal::parse_verification_key(text);
  sodium_memzero(text.data(), text.size());
  if (!key) usage_error("bad --key: expected the 64 hex digits printed by `audit setup`");
  return *key;
}

std::vector<seal::Checkpoint> read_checkpoints(const std::string& where) {
  std::string text;
  if (where == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(where, std::ios::binary);
    if (!in) usage_error(fmt::format("cannot read checkpoint file {}", where));
    std::stringstream buf;
    buf << in.rdbuf();
    text = buf.str();
  }
  auto parsed = seal::parse_checkpoints(text);
  if (!parsed) usage_error(fmt::format("--checkpoint {}: {}", where, parsed.error().message));
  return std::move(*parsed);
}

}  // namespace

void build_audit_sealing(CLI::App* audit, Cli& cli) {
  auto* setup = audit->add_subcommand(
      "setup", "create the sealing key and print the verification key, once (docs/KEYS.md)");
  static int epoch_minutes = 60;
  static bool qr = false;
  static bool no_qr = false;
  setup->add_option("--epoch-minutes", epoch_minutes, "how often the sealing key moves forward")
      ->check(CLI::Range(1, 7 * 24 * 60));
  setup->add_flag("--qr", qr, "draw the QR code even when standard output is not a terminal");
  setup->add_flag("--no-qr", no_qr, "do not draw the QR code");
  on(setup, cli, [&cli](Context& ctx) {
    const std::filesystem::path path = cli.seal_key_file;
    auto k0 =
        check(seal::setup(ctx.store().database(), path, ctx.store().now_ms(),
                          std::int64_t{epoch_minutes} * 60'000, ctx.actor(st::Permission::kAdmin)));
    const std::string id = seal::key_id(k0);
    if (ctx.json_output()) {
      std::string hex = st::to_hex(k0);
      std::cout << json{{"sealing_key_file", path.string()},
                        {"key_id", id},
                        {"epoch_minutes", epoch_minutes},
                        {"verification_key", hex}}
                       .dump(2)
                << '\n';
      sodium_memzero(hex.data(), hex.size());
    } else {
      std::cout << fmt::format(
          "Sealing key written to {} (0600). It moves forward every {} minutes; the\n"
          "rows already in the database are sealed under epoch 0.\n\n"
          "VERIFICATION KEY (key id {}). Write it on paper or photograph the code now and keep it\n"
          "OFF this machine: it is shown only this once, and `labgatectl audit verify --key`\n"
          "needs it. Whoever holds it can verify the record, and could forge it: keep it safe.\n\n"
          "  {}\n\n",
          path.string(), epoch_minutes, id, grouped(k0));
      if (!no_qr && (qr || ::isatty(STDOUT_FILENO) == 1)) print_qr(k0);
    }
    sodium_memzero(k0.data(), k0.size());
    return kExitOk;
  });

  auto* verify = audit->add_subcommand(
      "verify", "check every sealed row with the verification key; exit 1 on tampering");
  static std::string key_text;
  static std::vector<std::string> checkpoint_files;
  verify->add_option("--key", key_text,
                     "the verification key from `audit setup` (- : stdin); required once the "
                     "record is sealed (before that only the unkeyed chain is recomputed, which "
                     "proves nothing)");
  verify->add_option("--checkpoint", checkpoint_files,
                     "a file holding checkpoints (MQTT message, statement, ward report; - : "
                     "stdin): shows deleted tail rows");
  on(verify, cli, [](Context& ctx) {
    if (key_text.empty()) {
      if (!checkpoint_files.empty()) usage_error("--checkpoint needs --key");
      // On a sealed record the unkeyed chain would answer "ok" to exactly the rewrite the seal
      // exists to catch, so it is not offered as an answer at all.
      if (auto sealed = check(ctx.store().meta("seal_key_id"))) {
        usage_error(fmt::format(
            "this record is sealed (key id {}): give the verification key from `audit setup` "
            "with --key (or --key - to read it from stdin); see docs/KEYS.md",
            *sealed));
      }
      // The old unkeyed chain: anyone can recompute it, so it only shows careless edits.
      auto legacy = check(ctx.store().audit().verify_audit_chain());
      if (ctx.json_output()) {
        std::cout << json{{"ok", legacy.ok},
                          {"keyed", false},
                          {"rows_checked", legacy.rows_checked},
                          {"first_bad_id", null_or(legacy.first_bad_id)},
                          {"message", legacy.message}}
                         .dump(2)
                  << '\n';
      } else if (legacy.ok) {
        std::cout << legacy.message << '\n';
      }
      std::cerr << "warning: without --key only the unkeyed chain of the audit rows was checked; "
                   "a rewritten or truncated record can pass it (see docs/KEYS.md)\n";
      if (!legacy.ok) {
        std::cerr << "labgatectl: audit chain broken: " << legacy.message << '\n';
        return kExitRefused;
      }
      return kExitOk;
    }
    auto k0 = read_key(key_text);
    std::vector<seal::Checkpoint> checkpoints;
    for (const auto& f : checkpoint_files) {
      auto more = read_checkpoints(f);
      checkpoints.insert(checkpoints.end(), more.begin(), more.end());
    }
    auto stored = check(ctx.store().meta("seal_key_id"));
    if (!stored) {
      sodium_memzero(k0.data(), k0.size());
      throw Failure{kExitRefused,
                    "this database was never sealed: run `labgatectl audit setup` (docs/KEYS.md)"};
    }
    if (*stored != seal::key_id(k0)) {
      sodium_memzero(k0.data(), k0.size());
      throw Failure{kExitUsage,
                    fmt::format("this is not the verification key of this database (key id {}, "
                                "the database was sealed under {})",
                                seal::key_id(k0), *stored)};
    }
    auto v = check(seal::verify(ctx.store().database(), k0, checkpoints));
    sodium_memzero(k0.data(), k0.size());
    if (ctx.json_output()) {
      json findings = json::array();
      for (const auto& f : v.findings) {
        if (findings.size() == 20) break;
        findings.push_back({{"kind", seal::to_string(f.kind)},
                            {"table", f.table},
                            {"row", f.row_id},
                            {"seal", f.seal_seq},
                            {"message", f.message}});
      }
      std::cout << json{{"ok", v.ok},
                        {"seals_checked", v.seals_checked},
                        {"rows_checked", v.rows_checked},
                        {"recorded_epoch_gaps", v.recorded_epoch_gaps},
                        {"checkpoints", checkpoints.size()},
                        {"findings_total", v.findings_total},
                        {"findings", findings},
                        {"message", v.message}}
                       .dump(2)
                << '\n';
    } else if (v.ok) {
      std::cout << v.message
                << (checkpoints.empty()
                        ? " (no checkpoint given: deleted tail rows cannot show)"
                        : fmt::format(", {} checkpoints reached", checkpoints.size()))
                << '\n';
    }
    if (!v.ok) {
      std::cerr << "labgatectl: the audit record was tampered with: " << v.message << '\n';
      if (v.findings_total > 1) {
        std::cerr << fmt::format(
            "labgatectl: {} findings in all (the first is the earliest in "
            "the chain; --json lists 20)\n",
            v.findings_total);
      }
      return kExitRefused;
    }
    return kExitOk;
  });

  auto* checkpoint = audit->add_subcommand(
      "checkpoint", "print the head of the sealed record, to keep off the box");
  on(checkpoint, cli, [](Context& ctx) {
    auto head = check(ctx.store().seal_head());
    if (!head) throw Failure{kExitRefused, "nothing is sealed yet (labgatectl audit setup)"};
    std::cout << seal::format_checkpoint(*head) << '\n';
    return kExitOk;
  });
}

}  // namespace labgate::gateway::ctl
