// labgate-mqtt-sign: prints a signed command payload for mosquitto_pub.
//
//   topic=$(labgate-mqtt-sign --site fablab --gateway gw1 --command door_unlock --topic-only)
//   labgate-mqtt-sign --key-file cmd.key --site fablab --gateway gw1 --command door_unlock
//       --args '{"door":"front"}' | mosquitto_pub -t "$topic" -q 1 -s

#include <sodium.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "labgate/gateway/mqtt/command.hpp"
#include "labgate/gateway/mqtt/topics.hpp"
#include "labgate/version.hpp"

namespace mqtt = labgate::gateway::mqtt;

namespace {
std::string random_id() {
  unsigned char raw[8];
  randombytes_buf(raw, sizeof raw);
  char hex[sizeof raw * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return hex;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sign a labgate MQTT command (HMAC-SHA-512-256 over topic + \"\\n\" + body)"};
  std::string key_file;
  std::string key_env;
  std::string site;
  std::string gateway;
  std::string command;
  std::string args = "{}";
  std::string id;
  std::string by;
  std::string nonce;
  std::int64_t ts = 0;
  bool topic_only = false;
  app.add_option("--key-file", key_file, "file holding the site command key as 64 hex digits");
  app.add_option("--key-env", key_env, "environment variable holding the key instead");
  app.add_option("--site", site, "site id")->required();
  app.add_option("--gateway", gateway, "gateway id")->required();
  app.add_option("--command", command,
                 "door_unlock | machine_lockout | machine_release | all_stop | reload")
      ->required();
  app.add_option("--args", args, "command args as a JSON object");
  app.add_option("--id", id, "request id (default: random); the reply comes on reply/<id>");
  app.add_option("--by", by, "issuer recorded in the audit log");
  app.add_option("--nonce", nonce, "nonce hex (default: 16 random bytes); for tests only");
  app.add_option("--ts", ts, "timestamp in unix ms (default: now); for tests only");
  app.add_flag("--topic-only", topic_only, "print the command topic and exit");
  app.set_version_flag("--version", std::string("labgate-mqtt-sign ") + labgate::kVersionLine);
  CLI11_PARSE(app, argc, argv);

  try {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    const mqtt::Topics topics(site, gateway);
    if (!mqtt::parse_command_kind(command)) {
      throw std::invalid_argument("unknown command: " + command);
    }
    const std::string topic = topics.command(command);
    if (topic_only) {
      std::cout << topic << "\n";
      return 0;
    }
    std::string key_text;
    if (!key_file.empty()) {
      std::ifstream in(key_file);
      if (!in) throw std::runtime_error("cannot read key file " + key_file);
      std::stringstream ss;
      ss << in.rdbuf();
      key_text = ss.str();
    } else if (!key_env.empty()) {
      const char* v = std::getenv(key_env.c_str());
      if (v == nullptr) throw std::runtime_error("environment variable " + key_env + " not set");
      key_text = v;
    } else {
      throw std::invalid_argument("give --key-file or --key-env");
    }
    const auto key = mqtt::parse_command_key(key_text);
    if (!key) throw std::invalid_argument("the key must be 64 hex digits");
    if (id.empty()) id = random_id();
    if (ts == 0) ts = mqtt::unix_ms_now();
    std::cout << mqtt::sign_command(*key, topic, id, ts, args, nonce, by) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "labgate-mqtt-sign: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
