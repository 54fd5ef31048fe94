#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "fake_transport.hpp"
#include "labgate/gateway/mqtt/command.hpp"
#include "labgate/gateway/mqtt/command_router.hpp"

using namespace labgate::gateway::mqtt;
using labgate::testing::FakeTransport;
using nlohmann::json;

namespace {

const CommandKey kKey = *parse_command_key(std::string(64, '7'));
const CommandKey kOtherKey = *parse_command_key(std::string(64, '8'));
constexpr std::int64_t kNow = 1'714'532'645'678;
const Topics kTopics("fablab", "gw1");
const std::string kNonce = "00112233445566778899aabbccddeeff";

std::string unlock(const CommandKey& key = kKey, std::int64_t ts = kNow,
                   const std::string& nonce = kNonce,
                   const std::string& args = R"({"door":"front"})",
                   const std::string& topic = kTopics.command("door_unlock")) {
  return sign_command(key, topic, "req-1", ts, args, nonce, "staff:aiko");
}

CommandVerifier verifier() {
  return CommandVerifier(kKey, kTopics.root() + "cmd/");
}

// Builds an envelope around a hand-written body, correctly signed.
std::string envelope(const std::string& topic, const std::string& body) {
  return json{{"body", body}, {"mac", command_mac(kKey, topic, body)}}.dump();
}

}  // namespace

TEST_CASE("command keys parse from 64 hex digits", "[unit][command]") {
  CHECK(parse_command_key(std::string(64, 'a')).has_value());
  CHECK(parse_command_key("  " + std::string(64, 'A') + "\n").has_value());
  CHECK_FALSE(parse_command_key(std::string(63, 'a')).has_value());
  CHECK_FALSE(parse_command_key(std::string(62, 'a') + "zz").has_value());
}

TEST_CASE("the MAC is HMAC-SHA-512-256 over topic, newline, body", "[unit][command]") {
  const auto payload = unlock();
  const auto env = json::parse(payload);
  const std::string body = env["body"];
  CHECK(env["mac"] == command_mac(kKey, kTopics.command("door_unlock"), body));
  CHECK(env["mac"].get<std::string>().size() == 64);
  const auto b = json::parse(body);
  CHECK(b["id"] == "req-1");
  CHECK(b["ts"] == kNow);
  CHECK(b["nonce"] == kNonce);
  CHECK(b["args"]["door"] == "front");
  CHECK(b["by"] == "staff:aiko");
  // Random nonce when none is given.
  const auto b2 = json::parse(
      json::parse(sign_command(kKey, kTopics.command("reload"), "r", kNow, "{}"))["body"]
          .get<std::string>());
  CHECK(b2["nonce"].get<std::string>().size() == 32);
  CHECK_THROWS_AS(sign_command(kKey, kTopics.command("reload"), "r", kNow, "[]"),
                  std::invalid_argument);
}

TEST_CASE("a good command is accepted once", "[unit][command]") {
  auto v = verifier();
  const auto r = v.verify(kTopics.command("door_unlock"), unlock(), kNow);
  REQUIRE(r.ok());
  CHECK(r.command->kind == CommandKind::kDoorUnlock);
  CHECK(r.command->id == "req-1");
  CHECK(r.command->target == "front");
  CHECK(r.command->by == "staff:aiko");
  CHECK(r.command->nonce == kNonce);
  CHECK(v.replay_cache_size() == 1);

  const auto again = v.verify(kTopics.command("door_unlock"), unlock(), kNow + 1000);
  REQUIRE_FALSE(again.ok());
  CHECK(again.reason == RejectReason::kReplayed);
  CHECK(again.reply_id == "req-1");
}

TEST_CASE("forged commands are rejected", "[unit][command]") {
  auto v = verifier();
  const auto topic = kTopics.command("door_unlock");
  SECTION("wrong key") {
    const auto r = v.verify(topic, unlock(kOtherKey), kNow);
    CHECK(r.reason == RejectReason::kBadMac);
    CHECK(r.reply_id == "req-1");
  }
  SECTION("body altered after signing") {
    auto env = json::parse(unlock());
    std::string body = env["body"];
    body.replace(body.find("front"), 5, "back!");
    env["body"] = body;
    CHECK(v.verify(topic, env.dump(), kNow).reason == RejectReason::kBadMac);
  }
  SECTION("signed for another gateway") {
    const auto other = Topics("fablab", "gw2").command("door_unlock");
    CHECK(v.verify(topic, unlock(kKey, kNow, kNonce, R"({"door":"front"})", other), kNow).reason ==
          RejectReason::kBadMac);
  }
  SECTION("signed for another command, replayed on this one") {
    const auto payload = sign_command(kKey, kTopics.command("machine_release"), "x", kNow,
                                      R"({"machine":"front"})", kNonce);
    CHECK(v.verify(kTopics.command("door_unlock"), payload, kNow).reason == RejectReason::kBadMac);
  }
  SECTION("mac not hex / wrong length / missing") {
    auto env = json::parse(unlock());
    env["mac"] = std::string(64, 'g');
    CHECK(v.verify(topic, env.dump(), kNow).reason == RejectReason::kBadMac);
    env["mac"] = "abcd";
    CHECK(v.verify(topic, env.dump(), kNow).reason == RejectReason::kBadMac);
    env.erase("mac");
    CHECK(v.verify(topic, env.dump(), kNow).reason == RejectReason::kMalformed);
  }
  CHECK(v.replay_cache_size() == 0);
}

TEST_CASE("timestamps outside the skew are stale, at the boundary they pass", "[unit][command]") {
  auto v = verifier();
  const auto topic = kTopics.command("door_unlock");
  auto nonce = [](int i) { return std::string(30, '0') + std::to_string(10 + i); };
  CHECK(v.verify(topic, unlock(kKey, kNow - 30'000, nonce(1)), kNow).ok());
  CHECK(v.verify(topic, unlock(kKey, kNow + 30'000, nonce(2)), kNow).ok());
  CHECK(v.verify(topic, unlock(kKey, kNow - 30'001, nonce(3)), kNow).reason ==
        RejectReason::kStale);
  CHECK(v.verify(topic, unlock(kKey, kNow + 30'001, nonce(4)), kNow).reason ==
        RejectReason::kStale);
  // Extreme values must not overflow.
  CHECK(v.verify(topic, unlock(kKey, INT64_MIN, nonce(5)), kNow).reason == RejectReason::kStale);
  CHECK(v.verify(topic, unlock(kKey, INT64_MAX, nonce(6)), kNow).reason == RejectReason::kStale);

  CommandVerifier tight(kKey, kTopics.root() + "cmd/",
                        VerifierConfig{4096, std::chrono::seconds(5), 16});
  CHECK(tight.verify(topic, unlock(kKey, kNow - 5'001, nonce(7)), kNow).reason ==
        RejectReason::kStale);
}

TEST_CASE("the replay cache covers the skew window and is bounded", "[unit][command]") {
  const auto topic = kTopics.command("door_unlock");
  SECTION("a replay is refused for as long as its timestamp is acceptable") {
    auto v = verifier();
    REQUIRE(v.verify(topic, unlock(kKey, kNow), kNow).ok());
    CHECK(v.verify(topic, unlock(kKey, kNow), kNow + 30'000).reason == RejectReason::kReplayed);
    // One millisecond later the message is stale anyway, and the nonce may be forgotten.
    CHECK(v.verify(topic, unlock(kKey, kNow), kNow + 30'001).reason == RejectReason::kStale);
    CHECK(v.verify(topic, unlock(kKey, kNow + 40'000, std::string(32, 'b')), kNow + 40'000).ok());
    CHECK(v.replay_cache_size() == 1);
  }
  SECTION("when full of fresh nonces it fails closed, and recovers as they expire") {
    CommandVerifier v(kKey, kTopics.root() + "cmd/",
                      VerifierConfig{4096, std::chrono::seconds(30), 4});
    for (int i = 0; i < 4; ++i) {
      REQUIRE(
          v.verify(topic, unlock(kKey, kNow, std::string(31, 'c') + std::to_string(i)), kNow).ok());
    }
    CHECK(v.verify(topic, unlock(kKey, kNow, std::string(32, 'd')), kNow).reason ==
          RejectReason::kReplayCacheFull);
    CHECK(v.verify(topic, unlock(kKey, kNow + 30'001, std::string(32, 'd')), kNow + 30'001).ok());
  }
  SECTION("nonce case does not make a new nonce") {
    auto v = verifier();
    REQUIRE(v.verify(topic, unlock(kKey, kNow, std::string(32, 'a')), kNow).ok());
    CHECK(v.verify(topic, unlock(kKey, kNow, std::string(32, 'A')), kNow).reason ==
          RejectReason::kReplayed);
  }
}

namespace {

// A journal kept in this process: two verifiers sharing one play the daemon before and after a
// restart. The store's own journal (SQLite) is tested in store.unit and mqttint.restart.
class MemoryJournal final : public NonceJournal {
 public:
  Outcome record(std::string_view nonce, std::int64_t forget_after_ms,
                 std::int64_t now_ms) override {
    ++calls;
    if (failing) return Outcome::kFailed;
    for (auto it = rows.begin(); it != rows.end();) {
      it = it->second < now_ms ? rows.erase(it) : std::next(it);
    }
    return rows.emplace(std::string(nonce), forget_after_ms).second ? Outcome::kRecorded
                                                                    : Outcome::kAlreadySeen;
  }
  std::map<std::string, std::int64_t> rows;
  bool failing{false};
  int calls{0};
};

}  // namespace

TEST_CASE("with a journal, a replay is refused after a restart", "[unit][command]") {
  const auto topic = kTopics.command("door_unlock");
  MemoryJournal journal;
  {
    CommandVerifier before(kKey, kTopics.root() + "cmd/", {}, &journal);
    REQUIRE(before.verify(topic, unlock(kKey, kNow), kNow).ok());
    CHECK(journal.rows.at(kNonce) == kNow + 30'000);
  }
  // A new verifier remembers nothing in memory; the journal still knows the nonce.
  CommandVerifier after(kKey, kTopics.root() + "cmd/", {}, &journal);
  const auto replay = after.verify(topic, unlock(kKey, kNow), kNow + 5'000);
  CHECK(replay.reason == RejectReason::kReplayed);
  CHECK(replay.reply_id == "req-1");
  CHECK(after.verify(topic, unlock(kKey, kNow + 5'000, std::string(32, 'e')), kNow + 5'000).ok());
  // Once remembered in memory again, a further replay costs no journal write.
  const int calls = journal.calls;
  CHECK(after.verify(topic, unlock(kKey, kNow), kNow + 6'000).reason == RejectReason::kReplayed);
  CHECK(journal.calls == calls);
  // Messages refused before the nonce check are never written.
  CHECK(after.verify(topic, unlock(kOtherKey, kNow, std::string(32, 'f')), kNow).reason ==
        RejectReason::kBadMac);
  CHECK(after.verify(topic, unlock(kKey, kNow - 60'000, std::string(32, 'f')), kNow).reason ==
        RejectReason::kStale);
  CHECK(journal.calls == calls);
  CHECK(journal.rows.count(std::string(32, 'f')) == 0);
}

TEST_CASE("with a journal that cannot record, commands are refused", "[unit][command]") {
  const auto topic = kTopics.command("door_unlock");
  MemoryJournal journal;
  journal.failing = true;
  CommandVerifier v(kKey, kTopics.root() + "cmd/", {}, &journal);
  const auto r = v.verify(topic, unlock(kKey, kNow), kNow);
  CHECK_FALSE(r.ok());
  CHECK(r.reason == RejectReason::kNotRecorded);
  CHECK(std::string(to_string(r.reason)) == "not_recorded");
  // Not remembered either: once the journal works again the same command is accepted.
  CHECK(v.replay_cache_size() == 0);
  journal.failing = false;
  CHECK(v.verify(topic, unlock(kKey, kNow), kNow + 1'000).ok());
}

TEST_CASE("oversized and malformed payloads are rejected", "[unit][command]") {
  auto v = verifier();
  const auto topic = kTopics.command("door_unlock");
  CHECK(v.verify(topic, std::string(4097, ' '), kNow).reason == RejectReason::kOversized);
  // A correctly signed command padded past the limit is still refused.
  const auto big = sign_command(kKey, topic, "req-big", kNow,
                                json{{"door", std::string(4000, 'a')}}.dump(), kNonce);
  CHECK(v.verify(topic, big, kNow).reason == RejectReason::kOversized);

  CHECK(v.verify(topic, "", kNow).reason == RejectReason::kMalformed);
  CHECK(v.verify(topic, "{", kNow).reason == RejectReason::kMalformed);
  CHECK(v.verify(topic, "[]", kNow).reason == RejectReason::kMalformed);
  CHECK(v.verify(topic, R"({"body":{},"mac":"00"})", kNow).reason == RejectReason::kMalformed);
  auto env = json::parse(unlock());
  env["extra"] = 1;
  CHECK(v.verify(topic, env.dump(), kNow).reason == RejectReason::kMalformed);

  // Signed but structurally wrong bodies.
  const std::string ts = std::to_string(kNow);
  CHECK(v.verify(topic, envelope(topic, "not json"), kNow).reason == RejectReason::kMalformed);
  CHECK(v.verify(topic,
                 envelope(topic, R"({"ts":)" + ts + R"(,"nonce":")" + kNonce +
                                     R"(","args":{"door":"a"}})"),
                 kNow)
            .reason == RejectReason::kMalformed);  // no id
  const auto no_ts = envelope(topic, R"({"id":"q","nonce":")" + kNonce + R"(","args":{}})");
  const auto r = v.verify(topic, no_ts, kNow);
  CHECK(r.reason == RejectReason::kMalformed);
  CHECK(r.reply_id == "q");
  CHECK(v.verify(topic,
                 envelope(topic, R"({"id":"q","ts":1.5e12,"nonce":")" + kNonce + R"(","args":{}})"),
                 kNow)
            .reason == RejectReason::kMalformed);  // float ts
  CHECK(v.verify(
             topic,
             envelope(topic, R"({"id":"q","ts":)" + ts + R"(,"nonce":"0011","args":{"door":"a"}})"),
             kNow)
            .reason == RejectReason::kMalformed);  // short nonce
  CHECK(v.verify(topic,
                 envelope(topic, R"({"id":"q","ts":)" + ts + R"(,"nonce":")" +
                                     std::string(32, 'z') + R"(","args":{"door":"a"}})"),
                 kNow)
            .reason == RejectReason::kMalformed);  // nonce not hex
  CHECK(v.verify(topic,
                 envelope(topic, R"({"id":"q","ts":)" + ts + R"(,"nonce":")" + kNonce +
                                     R"(","args":{"door":"a"},"admin":true})"),
                 kNow)
            .reason == RejectReason::kMalformed);  // unknown key
  // An id that cannot be a topic level is never echoed.
  const auto bad_id = envelope(
      topic, R"({"id":"a/b#","ts":)" + ts + R"(,"nonce":")" + kNonce + R"(","args":{"door":"a"}})");
  const auto r2 = v.verify(topic, bad_id, kNow);
  CHECK(r2.reason == RejectReason::kMalformed);
  CHECK(r2.reply_id.empty());
}

TEST_CASE("unknown commands and wrong args are rejected", "[unit][command]") {
  auto v = verifier();
  int n = 0;
  auto check = [&](const std::string& name, const std::string& args) {
    const auto topic = kTopics.command(name);
    const std::string nonce = std::string(28, 'e') + std::to_string(1000 + n++);
    return v.verify(topic, sign_command(kKey, topic, "q", kNow, args, nonce), kNow);
  };
  CHECK(check("open_sesame", "{}").reason == RejectReason::kUnknownCommand);
  CHECK(check("door_unlock", "{}").reason == RejectReason::kBadArgs);
  CHECK(check("door_unlock", R"({"door":5})").reason == RejectReason::kBadArgs);
  CHECK(check("door_unlock", R"({"door":"a/b"})").reason == RejectReason::kBadArgs);
  CHECK(check("door_unlock", R"({"door":"a","pulse_ms":99999})").reason == RejectReason::kBadArgs);
  CHECK(check("machine_lockout", R"({"machine":"laser"})").reason == RejectReason::kBadArgs);
  CHECK(check("machine_lockout", R"({"machine":"laser","reason":""})").reason ==
        RejectReason::kBadArgs);
  CHECK(check("reload", R"({"x":1})").reason == RejectReason::kBadArgs);
  CHECK(check("all_stop", R"({"reason":7})").reason == RejectReason::kBadArgs);

  auto ok = check("machine_lockout", R"({"machine":"laser","reason":"smoke seen"})");
  REQUIRE(ok.ok());
  CHECK(ok.command->kind == CommandKind::kMachineLockout);
  CHECK(ok.command->target == "laser");
  CHECK(ok.command->reason == "smoke seen");
  CHECK(check("machine_release", R"({"machine":"laser"})").ok());
  CHECK(check("all_stop", "{}").ok());
  CHECK(check("all_stop", R"({"reason":"drill"})").command->reason == "drill");
  CHECK(check("reload", "{}").ok());
  // A topic outside the command prefix is not a command.
  const auto outside = kTopics.root() + "cmdx/reload";
  CHECK(v.verify(outside, sign_command(kKey, outside, "q", kNow, "{}", std::string(32, '9')), kNow)
            .reason == RejectReason::kUnknownCommand);
}

TEST_CASE("signed commands carrying control characters in their text are refused",
          "[unit][command]") {
  // The signature proves who sent it, not that the text is fit to store: a reason or a "by"
  // with a line break or a terminal escape would reach the audit log and the store.
  auto v = verifier();
  int n = 0;
  auto check = [&](const std::string& name, const json& args, const std::string& by) {
    const auto topic = kTopics.command(name);
    const std::string nonce = std::string(28, 'd') + std::to_string(1000 + n++);
    return v.verify(topic, sign_command(kKey, topic, "q", kNow, args.dump(), nonce, by), kNow);
  };
  CHECK(check("machine_lockout", {{"machine", "laser"}, {"reason", "smoke\nseen"}}, "").reason ==
        RejectReason::kBadArgs);
  CHECK(check("machine_lockout", {{"machine", "laser"}, {"reason", "\x1b[31mred"}}, "").reason ==
        RejectReason::kBadArgs);
  CHECK(check("all_stop", {{"reason", "drill\u202e"}}, "").reason == RejectReason::kBadArgs);
  CHECK(check("reload", json::object(), "staff:aiko\r\nforged").reason == RejectReason::kMalformed);
  // The same text without them passes.
  CHECK(check("machine_lockout", {{"machine", "laser"}, {"reason", "smoke seen"}}, "staff:aiko")
            .ok());
}

TEST_CASE("the router dispatches verified commands and answers every usable id",
          "[unit][command]") {
  FakeTransport link;
  link.connect();
  CommandRouter router(link, kTopics, kKey, {}, [] { return kNow; });
  router.start();
  REQUIRE(link.subscription_count() == 1);
  std::vector<Command> seen;
  router.on(CommandKind::kDoorUnlock, [&](const Command& c) {
    seen.push_back(c);
    if (c.target == "nowhere") return CommandOutcome::failure("unknown_door");
    return CommandOutcome::success({{"pulsed", c.target}});
  });
  router.on(CommandKind::kAllStop,
            [](const Command&) -> CommandOutcome { throw std::runtime_error("boom"); });
  const auto topic = kTopics.command("door_unlock");

  link.deliver(topic, unlock());
  REQUIRE(seen.size() == 1);
  REQUIRE(link.log().size() == 1);
  CHECK(link.log()[0].topic == kTopics.reply("req-1"));
  CHECK_FALSE(link.log()[0].retain);
  CHECK(link.log()[0].qos == 1);
  auto reply = json::parse(link.log()[0].payload);
  CHECK(reply == json{{"id", "req-1"}, {"ok", true}, {"result", {{"pulsed", "front"}}}});

  link.deliver(topic, unlock());  // replay
  CHECK(seen.size() == 1);
  reply = json::parse(link.log().at(1).payload);
  CHECK(reply == json{{"id", "req-1"}, {"ok", false}, {"error", "replayed"}});

  link.deliver(topic, unlock(kKey, kNow, std::string(32, '1'), R"({"door":"nowhere"})"));
  CHECK(json::parse(link.log().at(2).payload)["error"] == "unknown_door");

  const auto stop_topic = kTopics.command("all_stop");
  link.deliver(stop_topic, sign_command(kKey, stop_topic, "s1", kNow, "{}", std::string(32, '2')));
  CHECK(json::parse(link.log().at(3).payload) ==
        json{{"id", "s1"}, {"ok", false}, {"error", "handler_failed"}});

  const auto reload = kTopics.command("reload");
  link.deliver(reload, sign_command(kKey, reload, "r1", kNow, "{}", std::string(32, '3')));
  CHECK(json::parse(link.log().at(4).payload)["error"] == "no_handler");

  link.deliver(topic, "garbage");  // no id: logged, not answered
  CHECK(link.log().size() == 5);
  CHECK(router.stats().accepted == 4);
  CHECK(router.stats().rejected == 2);
  CHECK(router.stats().rejected_by_reason.at("replayed") == 1);
  CHECK(router.stats().rejected_by_reason.at("malformed") == 1);

  router.stop();
  CHECK(link.subscription_count() == 0);
}
