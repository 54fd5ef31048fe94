// SimHub through a real Unix socket, with the hub on an io_context running on its own thread.

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "labgate/drivers/sim/sim_hub.hpp"
#include "support.hpp"

using namespace labgate::drivers;
using namespace labgate::drivers::sim;
using namespace labgate::drivers::test;
using Kind = ReaderEvent::Kind;

namespace {

// The hub logs every listen and close at info level; the test output needs only warnings.
const bool kQuietLogs = [] {
  spdlog::set_level(spdlog::level::warn);
  return true;
}();

SimHubOptions fast_options() {
  SimHubOptions o;
  o.ack_timeout = 3s;
  o.tap_dwell = 20ms;
  return o;
}

// Declaration order matters: the loop stops before the hub goes, the hub before its io_context.
struct Rig {
  explicit Rig(SimHubOptions options = fast_options())
      : hub(io, options), path(dir.file("sim.sock")) {}
  ~Rig() {
    if (loop) loop->stop();
  }
  void serve() {
    hub.listen(path);
    loop.emplace(io);
  }
  std::unique_ptr<LineClient> client() { return std::make_unique<LineClient>(path, 0ms); }

  // A reader whose sink records events and lets the "daemon" acknowledge each read on the loop.
  std::shared_ptr<SimReader> auto_ack_reader(const std::string& id, Recorder<ReaderEvent>& rec) {
    auto reader = hub.create_reader(id);
    reader->start([this, &rec](ReaderEvent e) {
      rec.sink()(e);
      if (e.kind == Kind::kCardPresent) {
        boost::asio::post(io, [this, e] {
          hub.acknowledge(e, "event " + e.reader_id + " " + to_hex(e.card->identifier));
        });
      }
    });
    return reader;
  }

  TempDir dir;
  boost::asio::io_context io;
  SimHub hub;
  std::string path;
  std::optional<LoopThread> loop;
};

// A distinct 4-byte UID per client.
std::string uid_hex(std::size_t i) {
  return to_hex({0x04, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                 static_cast<std::uint8_t>(i)});
}

std::vector<Kind> kinds(const std::vector<ReaderEvent>& events) {
  std::vector<Kind> out;
  for (const auto& e : events) out.push_back(e.kind);
  return out;
}

}  // namespace

TEST_CASE("tap reaches the sink and is answered once acknowledged", "[sim]") {
  Rig rig;
  Recorder<ReaderEvent> rec;
  auto reader = rig.auto_ack_reader("door1", rec);
  rig.serve();
  auto c = rig.client();

  CHECK(c->ask("tap door1 iso14443a 04A1B2C3") == "ok event door1 04a1b2c3");
  REQUIRE(rec.wait_for_count(2));
  auto events = rec.events();
  CHECK(kinds(events) == std::vector<Kind>{Kind::kCardPresent, Kind::kCardRemoved});
  REQUIRE(events[0].card);
  CHECK(events[0].reader_id == "door1");
  CHECK(events[0].card->technology == CardTechnology::kIso14443aUid);
  CHECK(events[0].card->identifier == std::vector<std::uint8_t>{0x04, 0xa1, 0xb2, 0xc3});
  CHECK(events[1].at > events[0].at);
  CHECK_FALSE(reader->card());

  CHECK(c->ask("tap door1 felica 01:02:03:04:05:06:07:08") == "ok event door1 0102030405060708");
  CHECK(c->ask("tap door1 desfire 04-11-22-33-44-55-66") == "ok event door1 04112233445566");
  REQUIRE(rec.wait_for_count(6));
  events = rec.events();
  CHECK(events[2].card->technology == CardTechnology::kFelica);
  CHECK(events[4].card->technology == CardTechnology::kDesfire);
  CHECK(rig.loop->call([&] { return rig.hub.pending("door1").empty(); }));
}

TEST_CASE("a tap with no dwell leaves the field at once", "[sim]") {
  auto options = fast_options();
  options.tap_dwell = 0ms;
  Rig rig(options);
  Recorder<ReaderEvent> rec;
  rig.auto_ack_reader("door1", rec);
  rig.serve();
  auto c = rig.client();
  CHECK(c->ask("tap door1 iso14443a 04a1b2c3d4e5f6") == "ok event door1 04a1b2c3d4e5f6");
  // Both events were delivered before the acknowledgement could be posted.
  CHECK(kinds(rec.events()) == std::vector<Kind>{Kind::kCardPresent, Kind::kCardRemoved});
}

TEST_CASE("place keeps the card on the reader until remove", "[sim]") {
  Rig rig;
  Recorder<ReaderEvent> rec;
  Recorder<ReaderEvent> other;
  auto reader = rig.auto_ack_reader("laser", rec);
  rig.auto_ack_reader("door1", other);
  rig.serve();
  auto c = rig.client();

  CHECK(c->ask("place laser iso14443a 04a1b2c3") == "ok event laser 04a1b2c3");
  // A tap on another reader after the place has left its field: the dwell time has passed.
  CHECK(c->ask("tap door1 iso14443a 01020304") == "ok event door1 01020304");
  REQUIRE(other.wait_for_count(2));
  REQUIRE(reader->card());
  CHECK(reader->card()->identifier == std::vector<std::uint8_t>{0x04, 0xa1, 0xb2, 0xc3});
  CHECK(rec.size() == 1);

  CHECK(c->ask("remove laser") == "ok laser removed");
  REQUIRE(rec.wait_for_count(2));
  CHECK(rec.events()[1].kind == Kind::kCardRemoved);
  CHECK_FALSE(reader->card());
  CHECK(c->ask("remove laser") == "err no card on laser");

  SECTION("a tap over a placed card replaces it and leaves nothing behind") {
    CHECK(c->ask("place laser iso14443a 04a1b2c3") == "ok event laser 04a1b2c3");
    CHECK(c->ask("tap laser iso14443a 0a0b0c0d") == "ok event laser 0a0b0c0d");
    REQUIRE(rec.wait_for_count(6));
    CHECK(kinds(rec.events()) == std::vector<Kind>{Kind::kCardPresent, Kind::kCardRemoved,
                                                   Kind::kCardPresent, Kind::kCardRemoved,
                                                   Kind::kCardPresent, Kind::kCardRemoved});
    CHECK_FALSE(reader->card());
  }

  SECTION("a place during a tap's dwell is not taken away by the tap") {
    CHECK(c->ask("tap laser iso14443a 0a0b0c0d") == "ok event laser 0a0b0c0d");
    CHECK(c->ask("place laser iso14443a 04a1b2c3") == "ok event laser 04a1b2c3");
    CHECK(c->ask("tap door1 iso14443a 01020304") == "ok event door1 01020304");
    REQUIRE(other.wait_for_count(4));
    REQUIRE(reader->card());
    CHECK(reader->card()->identifier == std::vector<std::uint8_t>{0x04, 0xa1, 0xb2, 0xc3});
  }
}

TEST_CASE("acknowledge() completes the right client", "[sim]") {
  Rig rig;
  Recorder<ReaderEvent> rec;
  auto door1 = rig.hub.create_reader("door1");
  auto door2 = rig.hub.create_reader("door2");
  door1->start(rec.sink());
  door2->start(rec.sink());
  rig.serve();
  auto a = rig.client();
  auto b = rig.client();
  auto presents = [&] {
    std::vector<ReaderEvent> out;
    for (auto& e : rec.events()) {
      if (e.kind == Kind::kCardPresent) out.push_back(e);
    }
    return out;
  };
  auto wait_presents = [&](std::size_t n) {
    return wait_until([&] { return presents().size() >= n; }, 3s);
  };

  SECTION("oldest first on one reader") {
    REQUIRE(a->send("tap door1 iso14443a 0a0a0a0a"));
    REQUIRE(wait_presents(1));
    REQUIRE(b->send("tap door1 iso14443a 0b0b0b0b"));
    REQUIRE(wait_presents(2));
    CHECK(rig.loop->call([&] { return rig.hub.pending("door1").size(); }) == 2);
    CHECK(rig.loop->call([&] { return rig.hub.acknowledge("door1", "first"); }));
    CHECK(a->read_line() == "ok first");
    CHECK(rig.loop->call([&] { return rig.hub.acknowledge("door1", ""); }));
    CHECK(b->read_line() == "ok");
    CHECK_FALSE(rig.loop->call([&] { return rig.hub.acknowledge("door1", "none left"); }));
  }

  SECTION("by event, in any order") {
    REQUIRE(a->send("place door1 iso14443a 0a0a0a0a"));
    REQUIRE(wait_presents(1));
    REQUIRE(b->send("place door1 iso14443a 0b0b0b0b"));
    REQUIRE(wait_presents(2));
    const auto ev = presents();
    const auto pending = rig.loop->call([&] { return rig.hub.pending("door1"); });
    REQUIRE(pending.size() == 2);
    CHECK(pending[0] < pending[1]);
    CHECK(rig.loop->call([&] { return rig.hub.acknowledge(ev[1], "b"); }));
    CHECK(b->read_line() == "ok b");
    CHECK(rig.loop->call([&] { return rig.hub.pending("door1"); }) ==
          std::vector<std::uint64_t>{pending[0]});
    CHECK(rig.loop->call([&] { return rig.hub.acknowledge(ev[0], "a"); }));
    CHECK(a->read_line() == "ok a");
    CHECK_FALSE(rig.loop->call([&] { return rig.hub.acknowledge(ev[0], "again"); }));
    const auto removed = rec.events()[1];  // the second place took the first card away
    REQUIRE(removed.kind == Kind::kCardRemoved);
    CHECK_FALSE(rig.loop->call([&] { return rig.hub.acknowledge(removed, "x"); }));
  }

  SECTION("per reader") {
    REQUIRE(a->send("tap door1 iso14443a 0a0a0a0a"));
    REQUIRE(b->send("tap door2 iso14443a 0b0b0b0b"));
    REQUIRE(wait_presents(2));
    CHECK(rig.loop->call([&] { return rig.hub.acknowledge("door2", "two"); }));
    CHECK(b->read_line() == "ok two");
    CHECK(rig.loop->call([&] { return rig.hub.acknowledge("door1", "one"); }));
    CHECK(a->read_line() == "ok one");
  }

  SECTION("a sink acknowledging synchronously, inside the callback") {
    auto door3 = rig.loop->call([&] { return rig.hub.create_reader("door3"); });
    door3->start([&](ReaderEvent e) {
      if (e.kind == Kind::kCardPresent) rig.hub.acknowledge(e, "inline");
    });
    CHECK(a->ask("tap door3 iso14443a 0c0c0c0c") == "ok inline");
  }

  SECTION("a client that left still consumes its acknowledgement") {
    REQUIRE(a->send("tap door1 iso14443a 0a0a0a0a"));
    REQUIRE(wait_presents(1));
    a->close();
    REQUIRE(b->send("tap door1 iso14443a 0b0b0b0b"));
    REQUIRE(wait_presents(2));
    CHECK(rig.loop->call([&] { return rig.hub.acknowledge("door1", "for a"); }));
    CHECK(rig.loop->call([&] { return rig.hub.acknowledge("door1", "for b"); }));
    CHECK(b->read_line() == "ok for b");
  }
}

TEST_CASE("an unacknowledged tap times out", "[sim]") {
  auto options = fast_options();
  options.ack_timeout = 150ms;
  Rig rig(options);
  Recorder<ReaderEvent> rec;
  auto reader = rig.hub.create_reader("door1");
  reader->start(rec.sink());
  rig.serve();
  auto c = rig.client();
  const auto before = std::chrono::steady_clock::now();
  CHECK(c->ask("tap door1 iso14443a 04a1b2c3") == "err timeout");
  CHECK(std::chrono::steady_clock::now() - before >= 150ms);
  REQUIRE(rec.wait_for_count(1));
  const auto present = rec.events()[0];
  CHECK(rig.loop->call([&] { return rig.hub.pending("door1").empty(); }));
  CHECK_FALSE(rig.loop->call([&] { return rig.hub.acknowledge(present, "late"); }));
  CHECK(c->ask("outputs") == "ok");  // the connection is still usable
}

TEST_CASE("taps on readers that are stopped or down are refused", "[sim]") {
  Rig rig;
  Recorder<ReaderEvent> rec;
  auto reader = rig.hub.create_reader("door1");
  rig.serve();
  auto c = rig.client();
  CHECK(c->ask("tap door1 iso14443a 04a1b2c3") == "err reader not started");
  CHECK(c->ask("place door1 iso14443a 04a1b2c3") == "err reader not started");
  CHECK(rig.loop->call([&] { return rig.hub.pending("door1").empty(); }));

  reader->start([&](ReaderEvent e) {
    rec.sink()(e);
    if (e.kind == Kind::kCardPresent) rig.hub.acknowledge(e, "done");
  });
  CHECK(c->ask("reader-down door1 cable cut") == "ok door1 down");
  REQUIRE(rec.wait_for_count(1));
  CHECK(rec.events()[0].kind == Kind::kReaderDown);
  CHECK(rec.events()[0].detail == "cable cut");
  CHECK(c->ask("tap door1 iso14443a 04a1b2c3") == "err reader down");
  CHECK(c->ask("reader-down door1") == "ok door1 down");  // already down: no second event
  CHECK(c->ask("reader-up door1") == "ok door1 up");
  REQUIRE(rec.wait_for_count(2));
  CHECK(rec.events()[1].kind == Kind::kReaderUp);
  CHECK(c->ask("place door1 iso14443a 04a1b2c3") == "ok done");
  // Down while the card is still in the field: it is forgotten, not reported removed.
  CHECK(c->ask("reader-down door1") == "ok door1 down");
  REQUIRE(rec.wait_for_count(4));
  CHECK(kinds(rec.events()) == std::vector<Kind>{Kind::kReaderDown, Kind::kReaderUp,
                                                 Kind::kCardPresent, Kind::kReaderDown});
  CHECK(rec.events()[3].detail == "simulated failure");
  CHECK_FALSE(reader->card());
}

TEST_CASE("malformed commands get err and the connection lives on", "[sim]") {
  Rig rig;
  Recorder<ReaderEvent> rec;
  rig.auto_ack_reader("door1", rec);
  rig.hub.create_input("contact", InputKind::kDoorContact);
  rig.hub.create_output("relay1");
  rig.serve();
  auto c = rig.client();

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "err empty command"},
      {"  \t ", "err empty command"},
      {"frobnicate now", "err unknown command frobnicate (try help)"},
      {"tap", "err usage: tap <reader> <tech> <hex>"},
      {"tap door1 iso14443a", "err usage: tap <reader> <tech> <hex>"},
      {"tap door1 iso14443a 04 a1 b2 c3", "err usage: tap <reader> <tech> <hex>"},
      {"place nosuch iso14443a 04a1b2c3", "err unknown reader nosuch"},
      {"tap door1 mifare 04a1b2c3", "err unknown technology mifare (iso14443a, felica, desfire)"},
      {"tap door1 iso14443a 04a1zz", "err bad hex 04a1zz"},
      {"tap door1 iso14443a 04a1b", "err bad hex 04a1b"},
      {"tap door1 iso14443a ::", "err bad hex ::"},
      {"tap door1 iso14443a 0102", "err iso14443a uid must be 4, 7 or 10 bytes"},
      {"tap door1 felica 0102030405", "err felica idm must be 8 bytes"},
      {"place door1 desfire 0102030405060708", "err desfire uid must be 4 or 7 bytes"},
      {"remove", "err usage: remove <reader>"},
      {"remove nosuch", "err unknown reader nosuch"},
      {"input", "err usage: input <id> on|off"},
      {"input contact maybe", "err usage: input <id> on|off"},
      {"input nosuch on", "err unknown input nosuch"},
      {"press", "err usage: press <id>"},
      {"press nosuch", "err unknown input nosuch"},
      {"output", "err usage: output <id>"},
      {"output nosuch", "err unknown output nosuch"},
      {std::string("output n\x01\xff") + "x", "err unknown output n??x"},
      {"outputs please", "err usage: outputs"},
      {"output-fault relay1 sometimes", "err usage: output-fault <id> none|retry|fatal"},
      {"output-fault nosuch none", "err unknown output nosuch"},
      {"reader-down", "err usage: reader-down <reader> [detail...]"},
      {"reader-down nosuch", "err unknown reader nosuch"},
      {"reader-up", "err usage: reader-up <reader>"},
      {"reader-up nosuch", "err unknown reader nosuch"},
      {std::string("tap\0door1", 9), "err unknown command tap?door1 (try help)"},
      {"output " + std::string(200, 'q'), "err unknown output " + std::string(64, 'q') + "..."},
  };
  for (const auto& [line, expected] : cases) {
    INFO("line: " << line);
    CHECK(c->ask(line) == expected);
  }
  CHECK(rec.size() == 0);
  CHECK(c->ask("help") ==
        "ok tap place remove input press output outputs output-fault reader-down reader-up help");
}

TEST_CASE("overlong lines are refused and the connection closed", "[sim]") {
  Rig rig;
  rig.serve();
  auto bystander = rig.client();
  auto c = rig.client();
  const std::string longest(SimHub::kMaxLine, 'x');
  CHECK(c->ask(longest) == "err unknown command " + std::string(64, 'x') + "... (try help)");

  SECTION("one byte too many") {
    CHECK(c->ask(longest + "y") == "err line too long (max 1024 bytes)");
    CHECK(c->closed_by_peer());
  }
  SECTION("a flood without a line break") {
    c->send_raw(std::string(100 * 1024, 'z'));
    CHECK(c->read_line() == "err line too long (max 1024 bytes)");
    CHECK(c->closed_by_peer());
  }
  CHECK(bystander->ask("outputs") == "ok");
}

TEST_CASE("many clients at once", "[sim]") {
  Rig rig;
  constexpr int kReaders = 8;
  std::vector<std::unique_ptr<Recorder<ReaderEvent>>> recs;
  for (int i = 0; i < kReaders; ++i) {
    recs.push_back(std::make_unique<Recorder<ReaderEvent>>());
    rig.auto_ack_reader("r" + std::to_string(i), *recs.back());
  }
  rig.hub.create_output("relay1");
  rig.serve();

  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < 24; ++i) clients.push_back(rig.client());
  // Everybody speaks before anybody listens.
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto reader = "r" + std::to_string(i % kReaders);
    const auto hex = uid_hex(i);
    REQUIRE(clients[i]->send("tap " + reader + " iso14443a " + hex));
    REQUIRE(clients[i]->send("output relay1"));
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto hex = uid_hex(i);
    CHECK(clients[i]->read_line() == "ok event r" + std::to_string(i % kReaders) + " " + hex);
    CHECK(clients[i]->read_line() == "ok relay1 off");
  }
  CHECK(rig.loop->call([&] { return rig.hub.client_count(); }) == clients.size());
}

TEST_CASE("clients beyond the limit are turned away", "[sim]") {
  auto options = fast_options();
  options.max_clients = 2;
  Rig rig(options);
  rig.serve();
  auto a = rig.client();
  auto b = rig.client();
  CHECK(a->ask("outputs") == "ok");
  CHECK(b->ask("outputs") == "ok");
  auto c = rig.client();
  CHECK(c->read_line() == "err too many clients");
  CHECK(c->closed_by_peer());
  a->close();
  REQUIRE(
      wait_until([&] { return rig.loop->call([&] { return rig.hub.client_count(); }) == 1; }, 3s));
  auto d = rig.client();
  CHECK(d->ask("outputs") == "ok");
}

TEST_CASE("outputs reflect set()", "[sim]") {
  Rig rig;
  auto relay = rig.hub.create_output("relay1");
  auto strike = rig.hub.create_output("strike");
  rig.hub.create_output("beeper");
  rig.serve();
  auto c = rig.client();
  CHECK(c->ask("output strike") == "ok strike off");
  CHECK(c->ask("outputs") == "ok beeper=off relay1=off strike=off");
  CHECK(rig.loop->call([&] { return strike->set(true); }) == IoResult::kDone);
  CHECK(c->ask("output strike") == "ok strike on");
  CHECK(c->ask("outputs") == "ok beeper=off relay1=off strike=on");

  CHECK(c->ask("output-fault relay1 retry") == "ok relay1 fault retry");
  CHECK(rig.loop->call([&] { return relay->set(true); }) == IoResult::kRetry);
  CHECK(c->ask("output relay1") == "ok relay1 off");
  CHECK(c->ask("output-fault relay1 fatal") == "ok relay1 fault fatal");
  CHECK(rig.loop->call([&] { return relay->set(true); }) == IoResult::kFatal);
  CHECK(c->ask("output-fault relay1 none") == "ok relay1 fault none");
  CHECK(rig.loop->call([&] { return relay->set(true); }) == IoResult::kDone);
  CHECK(c->ask("output relay1") == "ok relay1 on");
  CHECK(rig.hub.output("relay1") == relay);
  CHECK(rig.hub.output("nosuch") == nullptr);
}

TEST_CASE("inputs report their level at start and every change", "[sim]") {
  Rig rig;
  auto contact = rig.hub.create_input("contact", InputKind::kDoorContact, true);
  auto exit = rig.hub.create_input("exit", InputKind::kExitButton);
  Recorder<InputEvent> rec;
  contact->start(rec.sink());
  exit->start(rec.sink());
  REQUIRE(rec.size() == 2);
  CHECK(rec.events()[0].input_id == "contact");
  CHECK(rec.events()[0].active);
  CHECK(rec.events()[1].input_id == "exit");
  CHECK_FALSE(rec.events()[1].active);
  rig.serve();
  auto c = rig.client();

  CHECK(c->ask("input contact off") == "ok contact off");
  CHECK(c->ask("input contact off") == "ok contact off");  // no change, no event
  CHECK(c->ask("input contact on") == "ok contact on");
  CHECK(c->ask("press exit") == "ok exit pressed");
  REQUIRE(rec.wait_for_count(6));
  const auto events = rec.events();
  REQUIRE(events.size() == 6);
  CHECK((events[2].input_id == "contact" && !events[2].active));
  CHECK((events[3].input_id == "contact" && events[3].active));
  CHECK((events[4].input_id == "exit" && events[4].active));
  CHECK((events[5].input_id == "exit" && !events[5].active));
  CHECK(events[4].at <= events[5].at);
  CHECK(rig.hub.input("exit") == exit);
}

TEST_CASE("added commands", "[sim]") {
  Rig rig;
  std::vector<std::string> seen;
  rig.hub.add_command("status", [&](const std::vector<std::string>& args) {
    seen = args;
    return "ok 2 doors";
  });
  rig.hub.add_command("plain", [](const std::vector<std::string>&) { return "hello\nworld"; });
  rig.hub.add_command("broken", [](const std::vector<std::string>&) { return "err broken"; });
  rig.hub.add_command("okay", [](const std::vector<std::string>&) { return "okay"; });
  rig.hub.add_command("boom", [](const std::vector<std::string>&) -> std::string {
    throw std::runtime_error("boom");
  });
  CHECK_THROWS_AS(rig.hub.add_command("status", [](const auto&) { return "x"; }),
                  std::invalid_argument);
  CHECK_THROWS_AS(rig.hub.add_command("tap", [](const auto&) { return "x"; }),
                  std::invalid_argument);
  CHECK_THROWS_AS(rig.hub.add_command("two words", [](const auto&) { return "x"; }),
                  std::invalid_argument);
  CHECK_THROWS_AS(rig.hub.add_command("empty", nullptr), std::invalid_argument);
  rig.serve();
  auto c = rig.client();
  CHECK(c->ask("status  a   b") == "ok 2 doors");
  CHECK(seen == std::vector<std::string>{"a", "b"});
  CHECK(c->ask("plain") == "ok hello world");
  CHECK(c->ask("broken") == "err broken");
  CHECK(c->ask("okay") == "ok okay");
  CHECK(c->ask("boom") == "err boom");
  CHECK(c->ask("help") ==
        "ok tap place remove input press output outputs output-fault reader-down reader-up help "
        "boom broken okay plain status");
}

TEST_CASE("devices declared hardware are refused with the reason", "[sim]") {
  Rig rig;
  rig.hub.create_input("front.contact", InputKind::kDoorContact);
  rig.hub.declare_hardware(DeviceClass::kReader, "front-in", "a hardware reader (pn532_uart:x)");
  rig.hub.declare_hardware(DeviceClass::kOutput, "front.strike", "a gpio output (gpio:0:17)");
  rig.hub.declare_hardware(DeviceClass::kInput, "front.exit_button", "a gpio input (gpio:0:4)");
  CHECK_THROWS_AS(rig.hub.declare_hardware(DeviceClass::kInput, "front.contact", "a gpio input"),
                  std::invalid_argument);
  rig.serve();
  auto c = rig.client();
  const std::string reader = "err reader front-in is a hardware reader (pn532_uart:x): ";
  CHECK(c->ask("tap front-in iso14443a 04a1b2c3") == reader + "tap drives simulated readers only");
  CHECK(c->ask("reader-down front-in") == reader + "reader-down drives simulated readers only");
  CHECK(c->ask("press front.exit_button") ==
        "err input front.exit_button is a gpio input (gpio:0:4): press drives simulated inputs "
        "only");
  CHECK(c->ask("input front.exit_button on") ==
        "err input front.exit_button is a gpio input (gpio:0:4): input drives simulated inputs "
        "only");
  CHECK(c->ask("output front.strike") ==
        "err output front.strike is a gpio output (gpio:0:17): output reads simulated outputs "
        "only");
  // Every output is hardware: an empty list would look like a site with no outputs.
  CHECK(c->ask("outputs") ==
        "err no simulated outputs here (1 hardware): outputs lists simulated outputs only");
  // A simulated input next to them works, and an id declared for one class is unknown in another.
  CHECK(c->ask("input front.contact on") == "ok front.contact on");
  CHECK(c->ask("input front.strike on") == "err unknown input front.strike");
}

TEST_CASE("pipelined commands are answered in order", "[sim]") {
  Rig rig;
  Recorder<ReaderEvent> rec;
  auto reader = rig.hub.create_reader("door1");
  reader->start(rec.sink());
  rig.hub.create_output("relay1");
  rig.serve();
  auto c = rig.client();
  REQUIRE(c->send_raw("output relay1\r\noutputs\nhelp\n"));
  CHECK(c->read_line() == "ok relay1 off");
  CHECK(c->read_line() == "ok relay1=off");
  CHECK(c->read_line().value_or("").rfind("ok tap", 0) == 0);

  REQUIRE(c->send_raw("tap door1 iso14443a 04a1b2c3\noutputs\n"));
  REQUIRE(rec.wait_for_count(1));
  CHECK(rig.loop->call([&] { return rig.hub.acknowledge("door1", "acked"); }));
  CHECK(c->read_line() == "ok acked");
  CHECK(c->read_line() == "ok relay1=off");
}

TEST_CASE("the socket file: mode, stale files, close", "[sim]") {
  Rig rig;

  SECTION("created with mode 0600 and removed by close()") {
    rig.serve();
    struct stat st {};
    REQUIRE(::stat(rig.path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(rig.hub.socket_path() == rig.path);
    auto c = rig.client();
    CHECK(c->ask("outputs") == "ok");
    rig.loop->call([&] {
      rig.hub.close();
      return 0;
    });
    CHECK(c->closed_by_peer());
    CHECK_FALSE(std::filesystem::exists(rig.path));
    CHECK(rig.hub.socket_path().empty());
    CHECK_THROWS(LineClient(rig.path, 0ms));
  }

  SECTION("a stale socket left by a crash is replaced") {
    {
      boost::asio::io_context other;
      boost::asio::local::stream_protocol::acceptor dead(other);
      dead.open();
      dead.bind(boost::asio::local::stream_protocol::endpoint(rig.path));
    }  // closed without unlinking, like a killed daemon
    REQUIRE(std::filesystem::is_socket(rig.path));
    rig.serve();
    CHECK(rig.client()->ask("outputs") == "ok");
  }

  SECTION("a socket still served by somebody is left alone") {
    rig.serve();
    boost::asio::io_context other_io;
    SimHub other(other_io);
    CHECK_THROWS_AS(other.listen(rig.path), std::system_error);
    CHECK(rig.client()->ask("outputs") == "ok");
  }

  SECTION("a path that is not a socket is left alone") {
    { std::ofstream(rig.path) << "precious"; }
    CHECK_THROWS_AS(rig.hub.listen(rig.path), std::system_error);
    CHECK(std::filesystem::is_regular_file(rig.path));
  }

  SECTION("listening twice is a programming error") {
    rig.serve();
    CHECK_THROWS_AS(rig.hub.listen(rig.dir.file("second.sock")), std::logic_error);
  }
}

TEST_CASE("idle clients are disconnected", "[sim]") {
  auto options = fast_options();
  options.idle_timeout = 100ms;
  Rig rig(options);
  rig.serve();
  auto c = rig.client();
  CHECK(c->ask("outputs") == "ok");
  CHECK(c->closed_by_peer());
  REQUIRE(
      wait_until([&] { return rig.loop->call([&] { return rig.hub.client_count(); }) == 0; }, 3s));
}

TEST_CASE("device ids are checked", "[sim]") {
  boost::asio::io_context io;
  SimHub hub(io);
  hub.create_reader("door1");
  CHECK_THROWS_AS(hub.create_reader("door1"), std::invalid_argument);
  CHECK_THROWS_AS(hub.create_reader(""), std::invalid_argument);
  CHECK_THROWS_AS(hub.create_output("two words"), std::invalid_argument);
  CHECK_NOTHROW(hub.create_output("door1"));  // ids are per kind
  CHECK(hub.reader("door1"));
  CHECK_FALSE(hub.reader("nosuch"));
}
