#include <catch2/catch.hpp>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "labgate/gateway/config/site_config.hpp"

using namespace labgate::gateway::config;
using namespace labgate::gateway;

namespace {

const std::string kKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string site_header(const std::string& extra = "") {
  return "[site]\nid = \"t\"\ngateway = \"g\"\nkey = \"" + kKey + "\"\n" + extra;
}

// The 1-based line of the first line containing "# <-" (the line a refusal must point at).
int marked_line(const std::string& text) {
  int line = 1;
  std::size_t pos = 0;
  while (true) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view l(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    if (l.find("# <-") != std::string_view::npos) return line;
    if (nl == std::string::npos) return 0;
    pos = nl + 1;
    ++line;
  }
}

std::vector<ConfigError> errors_of(const std::string& text) {
  auto r = load_config_string(text, "test.toml");
  if (r) return {};
  return r.error();
}

}  // namespace

TEST_CASE("the demo site loads") {
  auto r = load_config_file(LABGATE_CONFIG_DIR "/demo-site.toml");
  INFO((r ? std::string() : to_string(r.error())));
  REQUIRE(r);
  const SiteConfig& c = r.value();
  CHECK(c.site.id == "demo");
  CHECK(c.site.gateway == "gw1");
  CHECK(c.site.timezone == "Asia/Tokyo");
  CHECK(c.site.accept.contains(policy::Technology::kIso14443a));
  CHECK(c.site.accept.contains(policy::Technology::kFelica));
  CHECK(c.site.holidays.size() == 35);
  CHECK(c.site.closing_minute == 22 * 60);
  REQUIRE(c.site.closure);
  CHECK(c.site.closure->from == policy::MonthDay{12, 29});

  CHECK(c.calendar.time_zone_name() == "Asia/Tokyo");
  using std::chrono::day;
  using std::chrono::month;
  using std::chrono::year;
  CHECK(c.calendar.is_holiday(year{2026} / month{3} / day{20}));
  CHECK(c.calendar.is_holiday(year{2027} / month{3} / day{22}));
  CHECK_FALSE(c.calendar.is_holiday(year{2026} / month{3} / day{19}));
  CHECK(c.calendar.in_closure(year{2026} / month{12} / day{29}));

  CHECK(c.readers.size() == 9);
  REQUIRE(c.doors.size() == 4);
  REQUIRE(c.rooms.size() == 1);
  CHECK(c.rooms[0].door == "room-a");
  CHECK(c.rooms[0].rules.capacity == 6);
  CHECK(c.rooms[0].rules.early_entry_minutes == 10);
  REQUIRE(c.lockers.size() == 2);
  CHECK(c.lockers[0].door == std::optional<std::string>("locker-1"));
  CHECK_FALSE(c.lockers[1].door);
  const DoorConfig* main = c.find_door("main");
  REQUIRE(main);
  CHECK(main->entry_reader == "main-in");
  CHECK(main->exit_reader == "main-out");
  CHECK(main->fail_mode == FailMode::kSecure);
  CHECK(main->presence);
  CHECK(main->strike.kind == DeviceSpec::Kind::kSim);
  CHECK(main->strike.id == "main.strike");
  REQUIRE(main->contact);
  CHECK(main->contact->id == "main.contact");
  REQUIRE(main->exit_button);
  CHECK(main->exit_button->id == "main.exit_button");
  CHECK(main->strike_pulse == std::chrono::seconds{5});
  const DoorConfig* lab = c.find_door("fablab");
  REQUIRE(lab);
  CHECK(lab->fail_mode == FailMode::kSafe);
  CHECK_FALSE(lab->exit_reader);

  REQUIRE(c.machines.size() == 4);
  const MachineConfig* laser = c.find_machine("laser");
  REQUIRE(laser);
  CHECK(laser->mode == SessionMode::kCardStays);
  CHECK(laser->relay.id == "laser.relay");
  REQUIRE(laser->busy);
  CHECK(laser->busy->id == "laser.busy");
  CHECK_FALSE(laser->needs_checkoff);
  CHECK(laser->certification == "laser-cutter");
  for (auto id : {"printer-1", "printer-2"}) {
    const MachineConfig* p = c.find_machine(id);
    REQUIRE(p);
    CHECK(p->mode == SessionMode::kTapOnOff);
    CHECK(p->busy);
  }
  const MachineConfig* cnc = c.find_machine("cnc");
  REQUIRE(cnc);
  CHECK(cnc->mode == SessionMode::kCardStays);
  CHECK_FALSE(c.find_machine("nope"));

  REQUIRE(c.fire_alarm.input);
  CHECK(c.fire_alarm.input->id == "fire_alarm.input");
  CHECK_FALSE(c.mqtt.enabled);
  CHECK(c.mqtt.client_id == "labgate-demo-gw1");
  CHECK(c.control.socket == "var/labgated.sock");
  CHECK(c.store.path == "var/labgate.db");

  const PlanConfig* staff = c.find_plan("staff");
  REQUIRE(staff);
  CHECK(staff->access.windows == policy::TimeWindows::always());
  CHECK(staff->access.closure);
}

TEST_CASE("the embedded demo config is the file, and loads") {
  CHECK(embedded_demo_config() == read_file(LABGATE_CONFIG_DIR "/demo-site.toml"));
  auto r = load_config_string(embedded_demo_config(), "<embedded demo>");
  INFO((r ? std::string() : to_string(r.error())));
  REQUIRE(r);
  CHECK(r.value().source == "<embedded demo>");
}

TEST_CASE("the reference config loads and shows every section") {
  auto r = load_config_file(LABGATE_CONFIG_DIR "/labgate.reference.toml");
  INFO((r ? std::string() : to_string(r.error())));
  REQUIRE(r);
  const SiteConfig& c = r.value();
  CHECK(c.readers.size() == 5);
  REQUIRE(c.find_room("room-1"));
  CHECK(c.find_room("room-1")->rules.grid_minutes == 30);
  CHECK(c.find_room("room-1")->rate_per_hour == 1100);
  REQUIRE(c.find_locker("locker-01"));
  CHECK(c.find_locker("locker-01")->rate_per_month == 1500);
  REQUIRE(c.find_reader("desk"));
  CHECK(c.find_reader("desk")->desk);
  REQUIRE(c.find_reader("front-in"));
  CHECK_FALSE(c.find_reader("front-in")->desk);
  CHECK_FALSE(c.find_reader("front-in")->simulated);
  CHECK(c.find_reader("front-in")->accept == policy::TechnologySet{policy::Technology::kFelica});
  const DoorConfig* front = c.find_door("front");
  REQUIRE(front);
  CHECK(front->strike.kind == DeviceSpec::Kind::kGpio);
  CHECK(front->strike.chip == "gpiochip0");
  CHECK(front->strike.line == 17);
  REQUIRE(front->contact);
  CHECK(front->contact->active_low);
  CHECK(c.plans.size() == 1);
  CHECK(c.mqtt.port == 1883);
  CHECK_FALSE(c.mqtt.command_key);
}

TEST_CASE("defaults apply to a minimal config") {
  auto r = load_config_string(site_header(), "min.toml");
  INFO((r ? std::string() : to_string(r.error())));
  REQUIRE(r);
  const SiteConfig& c = r.value();
  CHECK(c.site.timezone == "Asia/Tokyo");
  CHECK(c.site.accept.empty());
  CHECK(c.site.key[0] == 0x00);
  CHECK(c.site.key[1] == 0x11);
  CHECK(c.site.key[31] == 0xff);
  CHECK(c.store.busy_timeout == std::chrono::milliseconds{2000});
  CHECK(c.store.heartbeat == std::chrono::milliseconds{5000});
  CHECK(c.log.level == "info");
  CHECK(c.mqtt.base_topic == "labgate/v1");
  CHECK(c.readers.empty());
}

TEST_CASE("[console]: loopback by default; a certificate needs its key") {
  auto r = load_config_string(site_header(), "min.toml");
  REQUIRE(r);
  CHECK(r.value().console.listen == "127.0.0.1:8080");
  CHECK(r.value().console.tls_cert.empty());
  r = load_config_string(site_header() +
                             "[console]\nlisten = \"0.0.0.0:8443\"\n"
                             "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n",
                         "tls.toml");
  REQUIRE(r);
  CHECK(r.value().console.listen == "0.0.0.0:8443");
  CHECK(r.value().console.tls_key == "k.pem");
  const auto errs = errors_of(site_header() + "[console]\ntls_cert = \"c.pem\"\n");
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].message.find("tls_cert and tls_key go together") != std::string::npos);
  CHECK(errors_of(site_header() + "[console]\nport = 80\n").size() == 1);
}

TEST_CASE("each refusal points at the offending line with a clear message") {
  struct Case {
    std::string name;
    std::string text;
    std::string message;
  };
  const std::string reader_r1 = "[[readers]]\nid = \"r1\"\ndevice = \"sim\"\n";
  const std::string door_head = reader_r1 + "[[doors]]\nid = \"d\"\nstrike = \"sim\"\n";
  const std::string machine_head =
      reader_r1 + "[[machines]]\nid = \"m\"\nreader = \"r1\"\nrelay = \"sim\"\n";
  std::string many_readers;
  for (int i = 0; i < 65; ++i) {
    many_readers += "[[readers]]" + std::string(i == 64 ? " # <-" : "") + "\nid = \"r" +
                    std::to_string(i) + "\"\ndevice = \"sim\"\n";
  }
  const std::vector<Case> cases = {
      {"unknown key (typo)", site_header("[store]\npaht = \"x.db\" # <-\n"),
       "unknown key 'store.paht' (did you mean 'path'?)"},
      {"unknown section", site_header("[stores] # <-\npath = \"x\"\n"),
       "unknown key 'stores' (did you mean 'store'?)"},
      {"unknown door key", door_head + "strike_puls_s = 5 # <-\n",
       "unknown key 'doors[0].strike_puls_s' (did you mean 'strike_pulse_s'?)"},
      {"wrong type", site_header("[store]\nbusy_timeout_ms = \"2000\" # <-\n"),
       "store.busy_timeout_ms: expected an integer, got a string"},
      {"wrong type: float seconds", door_head + "strike_pulse_s = 5.5 # <-\n",
       "expected an integer, got a floating-point number"},
      {"wrong type: boolean", door_head + "egress = \"yes\" # <-\n",
       "doors[0].egress: expected true or false, got a string"},
      {"escape-route door that stays locked in a fire",
       door_head + "fail_mode = \"safe\"\nfire_release = false # <-\n",
       "doors[0].fire_release: a fail_mode = \"safe\" door is on an escape route and must release "
       "on fire (fire_release = true)"},
      {"wrong type: section", "store = 5 # <-\n",
       "'store': expected a table ([store]), got an integer"},
      {"wrong type: array of tables", site_header("[readers] # <-\nid = \"x\"\n"),
       "expected an array of tables ([[readers]])"},
      {"duplicate reader id", reader_r1 + "[[readers]]\nid = \"r1\" # <-\ndevice = \"sim\"\n",
       "duplicate reader id 'r1'"},
      {"duplicate door/machine id",
       door_head + "[[readers]]\nid = \"r2\"\ndevice = \"sim\"\n[[machines]]\nid = \"d\" # <-\n"
                   "reader = \"r2\"\nrelay = \"sim\"\n",
       "duplicate door or machine id 'd'"},
      {"duplicate plan id",
       "[[plans]]\nid = \"p\"\nwindows = \"24h\"\n[[plans]]\nid = \"p\" # <-\nwindows = \"24h\"\n",
       "duplicate plan id 'p'"},
      {"dangling reader reference", door_head + "entry_reader = \"nope\" # <-\n",
       "unknown reader 'nope'"},
      {"dangling machine reader",
       "[[machines]]\nid = \"m\"\nreader = \"ghost\" # <-\nrelay = \"sim\"\n",
       "unknown reader 'ghost'"},
      {"reader used twice",
       door_head + "entry_reader = \"r1\"\n[[machines]]\nid = \"m\"\nreader = \"r1\" # <-\n"
                   "relay = \"sim\"\n",
       "reader 'r1' is already used by door 'd' (entry)"},
      {"strike pulse below 3 s", door_head + "strike_pulse_s = 2 # <-\n",
       "doors[0].strike_pulse_s: must be at least 3 s (got 2)"},
      {"bad time zone", site_header("timezone = \"Asia/Tokio\" # <-\n"),
       "unknown time zone 'Asia/Tokio'"},
      {"bad key hex",
       "[site]\nid = \"t\"\ngateway = \"g\"\nkey = \"" + kKey.substr(0, 62) + "zz\" # <-\n",
       "site.key: must be 64 hex characters"},
      {"short key", "[site]\nid = \"t\"\ngateway = \"g\"\nkey = \"abcd\" # <-\n",
       "must be 64 hex characters (a 32-byte key), got 4 characters"},
      {"all-zero key",
       "[site]\nid = \"t\"\ngateway = \"g\"\nkey = \"" + std::string(64, '0') + "\" # <-\n",
       "must not be all zeros"},
      {"negative duration", door_head + "held_open_s = -5 # <-\n",
       "doors[0].held_open_s: must not be negative (got -5)"},
      {"negative machine duration", machine_head + "idle_timeout_s = -1 # <-\n",
       "machines[0].idle_timeout_s: must not be negative"},
      {"bad window syntax", "[[plans]]\nid = \"p\"\nwindows = \"mon-fry 08:00-10:00\" # <-\n",
       "plans[0].windows: unknown day \"fry\""},
      {"unknown technology", site_header("accept = [\"felica\", \"mifare\"] # <-\n"),
       "unknown technology 'mifare'"},
      {"reader widens the site list", reader_r1 + "accept = [\"felica\"] # <-\n",
       "felica is not in [site] accept"},
      {"unknown device spec", door_head + "contact = \"relay:3\" # <-\n",
       "unknown device spec 'relay:3'"},
      {"bad gpio spec", door_head + "contact = \"gpio:gpiochip0:x\" # <-\n", "bad gpio line"},
      {"gpio line used twice",
       "[[doors]]\nid = \"a\"\nstrike = \"gpio:0:5\"\n[[doors]]\nid = \"b\"\n"
       "strike = \"gpio:0:5\" # <-\n",
       "'gpio:0:5' is already used by 'a.strike'"},
      {"smart plug without mqtt", machine_head + "busy = \"shelly:plug1\" # <-\n",
       "needs [mqtt] enabled = true"},
      {"unknown reader device", "[[readers]]\nid = \"r\"\ndevice = \"usb\" # <-\n",
       "unknown device spec 'usb'"},
      {"desk reader at a door",
       "[[readers]]\nid = \"k\"\ndevice = \"pn532_uart:/dev/ttyUSB3\"\nrole = \"desk\"\n"
       "[[doors]]\nid = \"d\"\nstrike = \"sim\"\nentry_reader = \"k\" # <-\n",
       "reader 'k' is a desk reader"},
      {"simulated desk reader", "[[readers]]\nid = \"k\"\ndevice = \"sim\"\nrole = \"desk\" # <-\n",
       "a desk reader needs a libnfc connstring"},
      {"unknown reader role", "[[readers]]\nid = \"k\"\ndevice = \"sim\"\nrole = \"door\" # <-\n",
       "unknown role 'door'"},
      {"too many readers", many_readers, "too many readers: at most 64"},
      {"missing required key", reader_r1 + "[[doors]] # <-\nid = \"d\"\n",
       "missing required key 'doors[0].strike'"},
      {"missing site", "[store] # <-\npath = \"x\"\n", "missing [site] section"},
      {"invalid id", site_header("[[readers]]\nid = \"Front Door\" # <-\ndevice = \"sim\"\n"),
       "invalid id 'Front Door'"},
      {"bad holiday", site_header("holidays = [\"2026-01-01\", \"2026-02-30\"] # <-\n"),
       "expected a date \"YYYY-MM-DD\", got '2026-02-30'"},
      {"duplicate holiday", site_header("holidays = [\"2026-01-01\", 2026-01-01] # <-\n"),
       "duplicate holiday 2026-01-01"},
      {"bad closure", site_header("closure = { from = \"13-29\", to = \"01-03\" } # <-\n"),
       "site.closure.from: expected a month-day"},
      {"bad closing time", site_header("closing_time = \"25:00\" # <-\n"),
       "site.closing_time: expected a time"},
      {"bad fail mode", door_head + "fail_mode = \"open\" # <-\n",
       "expected \"secure\" or \"safe\", got 'open'"},
      {"bad session mode", machine_head + "mode = \"always\" # <-\n",
       "expected \"card_stays\" or \"tap_on_off\""},
      {"mqtt port", site_header("[mqtt]\nport = 70000 # <-\n"), "mqtt.port: must be at most 65535"},
      {"mqtt command key", site_header("[mqtt]\ncommand_key = \"12\" # <-\n"),
       "mqtt.command_key: must be 64 hex characters"},
      {"log level", site_header("[log]\nlevel = \"verbose\" # <-\n"), "unknown level 'verbose'"},
      {"anti-passback without presence",
       door_head + "presence = false\nanti_passback = true # <-\n", "needs presence = true"},
      {"toml syntax error", site_header("[store]\npath = \"unterminated # <-\n"), ""},
      {"room on an unknown door",
       "[[rooms]]\nid = \"a\"\ndoor = \"nope\" # <-\ncapacity = 2\nhours = \"24h\"\n",
       "unknown door 'nope'"},
      {"room on a presence door",
       door_head + "entry_reader = \"r1\"\n" +
           "[[rooms]]\nid = \"a\"\ndoor = \"d\" # <-\ncapacity = 2\nhours = \"24h\"\n",
       "must have presence = false"},
      {"room door without an entry reader",
       door_head + "presence = false\n[[rooms]]\nid = \"a\"\ndoor = \"d\" # <-\n" +
           "capacity = 2\nhours = \"24h\"\n",
       "needs an entry_reader"},
      {"room grid not dividing a day",
       door_head + "entry_reader = \"r1\"\npresence = false\n[[rooms]]\nid = \"a\"\n" +
           "door = \"d\"\ncapacity = 2\nhours = \"24h\"\ngrid_minutes = 7 # <-\n",
       "must divide a day"},
      {"room capacity zero",
       door_head + "entry_reader = \"r1\"\npresence = false\n[[rooms]]\nid = \"a\"\n" +
           "door = \"d\"\ncapacity = 0 # <-\nhours = \"24h\"\n",
       "must be at least 1 people"},
      {"room hours malformed",
       door_head + "entry_reader = \"r1\"\npresence = false\n[[rooms]]\nid = \"a\"\n" +
           "door = \"d\"\ncapacity = 2\nhours = \"mon 25:00-26:00\" # <-\n",
       "rooms[0].hours"},
      {"locker and room on one door",
       door_head + "entry_reader = \"r1\"\npresence = false\n[[rooms]]\nid = \"a\"\n" +
           "door = \"d\"\ncapacity = 2\nhours = \"24h\"\n[[lockers]]\nid = \"l\"\n" +
           "door = \"d\" # <-\n",
       "already serves room 'a'"},
      {"duplicate locker id", "[[lockers]]\nid = \"l\"\n[[lockers]]\nid = \"l\" # <-\n",
       "duplicate room or locker id 'l'"},
      {"toml duplicate key", site_header("id = \"again\" # <-\n"), ""},
  };
  for (const auto& c : cases) {
    // Cases without [site] get one appended at the end, away from the marked line.
    const std::string text = c.text.find("[site]") == std::string::npos && c.name != "missing site"
                                 ? c.text + site_header()
                                 : c.text;
    INFO(c.name << "\n---\n" << text << "---");
    const auto errs = errors_of(text);
    REQUIRE_FALSE(errs.empty());
    INFO("first error: " << to_string(errs.front()));
    const int expected_line = c.name == "missing site" ? 1 : marked_line(text);
    CHECK(errs.front().line == expected_line);
    CHECK(errs.front().column >= 1);
    CHECK(errs.front().source == "test.toml");
    CHECK(errs.front().message.find(c.message) != std::string::npos);
    CHECK(errs.size() == 1);
  }
}

TEST_CASE("a bad window points at the character inside the string") {
  const std::string text =
      site_header("[[plans]]\nid = \"p\"\nwindows = \"mon 08:00-10:00 tue\"\n");
  const auto errs = errors_of(text);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].line == 7);
  // windows = "  : the quote is column 11, the schedule starts at 12, the bad token at +16.
  CHECK(errs[0].column == 12 + 16);
  CHECK(to_string(errs[0]) ==
        "test.toml:7:28: plans[0].windows: expected ';' or the end of the schedule (at character "
        "17 of the schedule)");
}

TEST_CASE("every error is reported at once, in file order") {
  const std::string text = site_header(
      "timezone = \"Nowhere/Land\"\n"
      "[store]\n"
      "heartbeat_ms = -1\n"
      "[[readers]]\n"
      "id = \"r\"\n"
      "devise = \"sim\"\n");
  const auto errs = errors_of(text);
  REQUIRE(errs.size() == 4);
  CHECK(errs[0].line == 5);
  CHECK(errs[0].message.find("unknown time zone") != std::string::npos);
  CHECK(errs[1].line == 7);
  CHECK(errs[2].line == 8);  // missing 'device' points at the [[readers]] header
  CHECK(errs[2].message.find("missing required key 'readers[0].device'") != std::string::npos);
  CHECK(errs[3].line == 10);
  CHECK(errs[3].message.find("did you mean 'device'") != std::string::npos);
  const std::string all = to_string(errs);
  CHECK(all.find("test.toml:5:12: site.timezone: unknown time zone 'Nowhere/Land'") == 0);
}

TEST_CASE("files that cannot be read give one error") {
  auto r = load_config_file("no/such/dir/labgate.toml");
  REQUIRE_FALSE(r);
  REQUIRE(r.error().size() == 1);
  CHECK(r.error()[0].line == 0);
  CHECK(to_string(r.error()[0]) == "no/such/dir/labgate.toml:0:0: cannot open the file");

  auto big = load_config_string(std::string(kMaxConfigBytes + 1, '#'), "big.toml");
  REQUIRE_FALSE(big);
  CHECK(big.error()[0].message.find("too large") != std::string::npos);
}

TEST_CASE("device specs") {
  std::string err;
  auto sim = parse_device_spec("sim", "door.strike", err);
  REQUIRE(sim);
  CHECK(sim->kind == DeviceSpec::Kind::kSim);
  CHECK(sim->id == "door.strike");

  auto gpio = parse_device_spec("gpio:gpiochip1:23:active_low", "x", err);
  REQUIRE(gpio);
  CHECK(gpio->kind == DeviceSpec::Kind::kGpio);
  CHECK(gpio->chip == "gpiochip1");
  CHECK(gpio->line == 23);
  CHECK(gpio->active_low);

  auto shelly = parse_device_spec("shelly:plug-7", "x", err);
  REQUIRE(shelly);
  CHECK(shelly->kind == DeviceSpec::Kind::kShelly);
  CHECK(shelly->id == "plug-7");
  auto tasmota = parse_device_spec("tasmota:t1", "x", err);
  REQUIRE(tasmota);
  CHECK(tasmota->kind == DeviceSpec::Kind::kTasmota);

  for (auto bad : {"", "SIM", "gpio", "gpio:0", "gpio::1", "gpio:0:1:active_high", "gpio:0:-1",
                   "gpio:0:99999", "shelly:", "shelly:a/b", "tasmota:a:b", "relay:1"}) {
    INFO(bad);
    err.clear();
    CHECK_FALSE(parse_device_spec(bad, "x", err));
    CHECK_FALSE(err.empty());
  }
}

TEST_CASE("mqtt section is parsed when enabled, and smart plugs become legal") {
  const std::string text = site_header(
      "[mqtt]\nenabled = true\nhost = \"broker.local\"\nport = 8883\nusername = \"gw\"\n"
      "password = \"pw\"\nca_file = \"ca.pem\"\nbase_topic = \"fab/labgate\"\ncommand_key = \"" +
      kKey +
      "\"\noutbox_retention_days = 7\n"
      "[[readers]]\nid = \"r\"\ndevice = \"sim\"\n"
      "[[machines]]\nid = \"m\"\nreader = \"r\"\nrelay = \"shelly:plug1\"\n"
      "busy = \"tasmota:sense1\"\n");
  auto r = load_config_string(text, "mqtt.toml");
  INFO((r ? std::string() : to_string(r.error())));
  REQUIRE(r);
  const MqttConfig& m = r.value().mqtt;
  CHECK(m.enabled);
  CHECK(m.host == "broker.local");
  CHECK(m.port == 8883);
  CHECK(m.ca_file == "ca.pem");
  CHECK(m.base_topic == "fab/labgate");
  REQUIRE(m.command_key);
  CHECK((*m.command_key)[31] == 0xff);
  CHECK(m.outbox_retention_days == 7);
  CHECK(r.value().machines.at(0).relay.kind == DeviceSpec::Kind::kShelly);
}

TEST_CASE("closure can be moved or disabled, closing time disabled") {
  auto moved = load_config_string(
      site_header("closure = { from = \"08-13\", to = \"08-16\" }\nclosing_time = \"\"\n"), "t");
  REQUIRE(moved);
  CHECK(moved.value().calendar.in_closure(std::chrono::year{2026} / 8 / 14));
  CHECK_FALSE(moved.value().calendar.in_closure(std::chrono::year{2026} / 12 / 30));
  CHECK_FALSE(moved.value().site.closing_minute);

  auto off = load_config_string(
      site_header("closure = { from = \"12-29\", to = \"01-03\", enabled = false }\n"), "t");
  REQUIRE(off);
  CHECK_FALSE(off.value().site.closure);
  CHECK_FALSE(off.value().calendar.in_closure(std::chrono::year{2026} / 12 / 30));
}

TEST_CASE("random truncations and byte flips of the demo config never crash") {
  const std::string demo(embedded_demo_config());
  std::mt19937 rng(20260101);
  const std::string specials = "[]{}=\"'#,.\n\\\0\xff-:0123456789abc";
  int valid = 0;
  int refused = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string text = demo;
    const int mode = static_cast<int>(rng() % 4);
    if (mode == 0) {
      text.resize(rng() % (text.size() + 1));
    } else {
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips; ++f) {
        const std::size_t at = rng() % text.size();
        if (mode == 1)
          text[at] = static_cast<char>(rng() % 256);
        else if (mode == 2)
          text[at] = specials[rng() % specials.size()];
        else
          text.insert(at, 1, specials[rng() % specials.size()]);
      }
    }
    auto r = load_config_string(text, "fuzz.toml");
    if (r) {
      ++valid;
      CHECK_FALSE(r.value().site.id.empty());
    } else {
      ++refused;
      REQUIRE_FALSE(r.error().empty());
      for (const auto& e : r.error()) {
        CHECK(e.line >= 0);
        CHECK_FALSE(e.message.empty());
      }
    }
  }
  CHECK(valid + refused == 1500);
  CHECK(refused > 0);
}
