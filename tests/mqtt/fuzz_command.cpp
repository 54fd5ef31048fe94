// libFuzzer target over the command parser and verifier. The first byte picks how the input is
// used: raw payload (parser paths, almost always rejected at the MAC), or a body that gets signed
// with the test key so the fuzzer reaches the body, nonce, replay and args checks.

#include <cstddef>
#include <cstdint>
#include <string>

#include "labgate/gateway/mqtt/command.hpp"
#include "labgate/gateway/mqtt/topics.hpp"

namespace mq = labgate::gateway::mqtt;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mq::CommandKey key = *mq::parse_command_key(std::string(64, '5'));
  static const mq::Topics topics("fablab", "gw1");
  static mq::CommandVerifier verifier(key, topics.root() + "cmd/");
  static const char* const kNames[] = {"door_unlock", "machine_lockout", "machine_release",
                                       "all_stop",    "reload",          "nope"};
  if (size < 2) return 0;
  const std::uint8_t mode = data[0];
  const std::string topic = topics.command(kNames[data[1] % 6]);
  const std::string rest(reinterpret_cast<const char*>(data + 2), size - 2);
  constexpr std::int64_t kNow = 1'714'532'645'678;
  if (mode & 1) {
    // JSON-escape the fuzzed body by hand so invalid UTF-8 reaches the parser as-is.
    std::string escaped;
    for (char c : rest) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      if (static_cast<unsigned char>(c) < 0x20) {
        static const char kHex[] = "0123456789abcdef";
        escaped += "\\u00";
        escaped.push_back(kHex[(c >> 4) & 0xf]);
        escaped.push_back(kHex[c & 0xf]);
        continue;
      }
      escaped.push_back(c);
    }
    const std::string signed_payload =
        "{\"body\":\"" + escaped + "\",\"mac\":\"" + mq::command_mac(key, topic, rest) + "\"}";
    (void)verifier.verify(topic, signed_payload, kNow + (mode >> 1));
  } else {
    (void)verifier.verify(topic, rest, kNow);
  }
  return 0;
}
