// The admin channel's pure parts: request parsing and the peer decision.

#include <catch2/catch.hpp>
#include <string>

#include "labgate/gateway/admin/protocol.hpp"

namespace admin = labgate::gateway::admin;

namespace {

admin::Request must_parse(const std::string& line) {
  auto r = admin::parse_request(line);
  INFO(line);
  REQUIRE(std::holds_alternative<admin::Request>(r));
  return std::get<admin::Request>(r);
}

admin::ErrorCode refusal(const std::string& line) {
  auto r = admin::parse_request(line);
  INFO(line);
  REQUIRE(std::holds_alternative<admin::Error>(r));
  return std::get<admin::Error>(r).code;
}

}  // namespace

TEST_CASE("each verb parses with its fields", "[admin][unit]") {
  auto r = must_parse(R"({"v":1,"op":"unlock","as":"alice","door":"front","id":7})");
  CHECK(r.op == admin::Op::kUnlock);
  CHECK(r.door == "front");
  CHECK(r.as == "alice");
  CHECK(r.id == 7);
  r = must_parse(R"({"v":1,"op":"lockout","as":"bob","machine":"laser","reason":"lens cracked"})");
  CHECK(r.op == admin::Op::kLockout);
  CHECK(r.reason == "lens cracked");
  CHECK(must_parse(R"({"v":1,"op":"lockout","as":"bob","machine":"laser"})").reason == "staff");
  CHECK(must_parse(R"({"v":1,"op":"release","as":"b","machine":"laser"})").op ==
        admin::Op::kRelease);
  CHECK(must_parse(R"({"v":1,"op":"confirm","as":"b","machine":"laser"})").op ==
        admin::Op::kConfirm);
  CHECK(must_parse(R"({"v":1,"op":"all-stop","as":"b"})").op == admin::Op::kAllStop);
  CHECK(must_parse(R"({"v":1,"op":"reload","as":"b"})").op == admin::Op::kReload);
  CHECK(must_parse(R"({"v":1,"op":"status","as":"b"})").op == admin::Op::kStatus);
  CHECK(must_parse(R"({"v":1,"op":"subscribe","as":"b"})").op == admin::Op::kSubscribe);
}

TEST_CASE("hostile requests are refused with their class of error", "[admin][unit]") {
  CHECK(refusal("") == admin::ErrorCode::kBadJson);
  CHECK(refusal("status") == admin::ErrorCode::kBadJson);
  CHECK(refusal("[1,2]") == admin::ErrorCode::kBadJson);
  CHECK(refusal(R"({"v":1,"op":"status","as":"a")") == admin::ErrorCode::kBadJson);
  CHECK(refusal("{\"v\":1,\"op\":\"status\",\"as\":\"\xff\xfe\"}") == admin::ErrorCode::kBadJson);
  CHECK(refusal(R"({"op":"status","as":"a"})") == admin::ErrorCode::kBadVersion);
  CHECK(refusal(R"({"v":2,"op":"status","as":"a"})") == admin::ErrorCode::kBadVersion);
  CHECK(refusal(R"({"v":"1","op":"status","as":"a"})") == admin::ErrorCode::kBadVersion);
  CHECK(refusal(R"({"v":1,"op":"format-disk","as":"a"})") == admin::ErrorCode::kUnknownOp);
  CHECK(refusal(R"({"v":1,"as":"a"})") == admin::ErrorCode::kUnknownOp);
  CHECK(refusal(R"({"v":1,"op":"status"})") == admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"status","as":"root\nevil"})") == admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"status","as":""})") == admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"status","as":42})") == admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"unlock","as":"a"})") == admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"unlock","as":"a","door":"../x"})") ==
        admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"lockout","as":"a","machine":"laser","reason":"a\u001b[31m"})") ==
        admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"status","as":"a","id":{"x":1}})") == admin::ErrorCode::kBadRequest);
  CHECK(refusal(std::string(admin::kMaxLineBytes + 1, ' ')) == admin::ErrorCode::kTooLong);
}

TEST_CASE("an error reply carries the version, the id and the code", "[admin][unit]") {
  auto r = admin::parse_request(R"({"v":9,"op":"status","as":"a","id":"q1"})");
  REQUIRE(std::holds_alternative<admin::Error>(r));
  auto j = nlohmann::json::parse(admin::error_line(std::get<admin::Error>(r)));
  CHECK(j["v"] == admin::kProtocolVersion);
  CHECK(j["id"] == "q1");
  CHECK(j["ok"] == false);
  CHECK(j["code"] == "bad_version");
}

TEST_CASE("a stream line carries the store's seq, also inside a payload written before it",
          "[admin][unit]") {
  auto j = nlohmann::json::parse(admin::stream_line(
      {42, "labgate/x/machine/laser/session", R"({"seq":0,"kind":"k"})", false}));
  CHECK(j["stream"] == "event");
  CHECK(j["seq"] == 42);
  CHECK(j["data"]["seq"] == 42);
  CHECK(j["data"]["kind"] == "k");
  CHECK(nlohmann::json::parse(admin::stream_line({1, "t", "{}", true}))["stream"] == "state");
}

TEST_CASE("the peer decision: root, the daemon's user, the admin group", "[admin][unit]") {
  const admin::AccessRule rule{998, 997};
  CHECK(admin::peer_allowed({1, 0, 0, {}}, rule));               // root
  CHECK(admin::peer_allowed({1, 998, 998, {}}, rule));           // the daemon's own user
  CHECK(admin::peer_allowed({1, 1000, 997, {}}, rule));          // primary group
  CHECK(admin::peer_allowed({1, 1000, 1000, {27, 997}}, rule));  // supplementary group
  CHECK_FALSE(admin::peer_allowed({1, 1000, 1000, {27, 100}}, rule));
  CHECK_FALSE(admin::peer_allowed({1, 65534, 65534, {}}, rule));
  CHECK(admin::actor_label("alice", 1000) == "alice@uid:1000");
}

TEST_CASE("the enrolment verbs parse with their reader, member and timeout", "[admin][unit]") {
  auto r = must_parse(
      R"({"v":1,"op":"enroll","as":"dina","reader":"lab-in","member_no":"M2","timeout_s":45})");
  CHECK(r.op == admin::Op::kEnroll);
  CHECK(r.reader == "lab-in");
  CHECK(r.member_no == "M2");
  CHECK(r.timeout_s == 45);
  CHECK(must_parse(R"({"v":1,"op":"enroll","as":"d","reader":"r","member_no":"M2"})").timeout_s ==
        0);
  r = must_parse(R"({"v":1,"op":"enroll-status","as":"d","reader":"lab-in"})");
  CHECK(r.op == admin::Op::kEnrollStatus);
  CHECK(r.reader == "lab-in");
  CHECK(must_parse(R"({"v":1,"op":"enroll-cancel","as":"d","reader":"r"})").op ==
        admin::Op::kEnrollCancel);
  CHECK(refusal(R"({"v":1,"op":"enroll","as":"d","reader":"r"})") == admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"enroll","as":"d","member_no":"M2"})") ==
        admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"enroll","as":"d","reader":"r","member_no":"M2","timeout_s":0})") ==
        admin::ErrorCode::kBadRequest);
  CHECK(
      refusal(R"({"v":1,"op":"enroll","as":"d","reader":"r","member_no":"M2","timeout_s":601})") ==
      admin::ErrorCode::kBadRequest);
  CHECK(
      refusal(R"({"v":1,"op":"enroll","as":"d","reader":"r","member_no":"M2","timeout_s":"9"})") ==
      admin::ErrorCode::kBadRequest);
  CHECK(refusal(R"({"v":1,"op":"enroll-status","as":"d","reader":"../x"})") ==
        admin::ErrorCode::kBadRequest);
}
