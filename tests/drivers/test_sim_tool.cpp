// The labgate-sim client against a live SimHub: replies, exit codes, stdin mode.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "labgate/drivers/sim/sim_hub.hpp"
#include "support.hpp"

extern char** environ;

using namespace labgate::drivers;
using namespace labgate::drivers::sim;
using namespace labgate::drivers::test;

namespace {

struct Run {
  int status{-1};
  std::string out;
  std::string err;
};

// posix_spawn, not fork: the test process runs threads.
Run run_tool(const TempDir& dir, std::vector<std::string> args, const std::string& input = "") {
  const auto in_path = dir.file("stdin.txt");
  const auto out_path = dir.file("stdout.txt");
  const auto err_path = dir.file("stderr.txt");
  { std::ofstream(in_path) << input; }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  args.insert(args.begin(), LABGATE_SIM_TOOL);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  Run run;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return run;
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  run.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  auto slurp = [](const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  run.out = slurp(out_path);
  run.err = slurp(err_path);
  return run;
}

}  // namespace

TEST_CASE("labgate-sim sends commands and reports the outcome in its exit status", "[sim]") {
  TempDir dir;
  boost::asio::io_context io;
  SimHub hub(io);
  auto reader = hub.create_reader("door1");
  reader->start([&](ReaderEvent e) {
    if (e.kind == ReaderEvent::Kind::kCardPresent) {
      boost::asio::post(io, [&hub, e] { hub.acknowledge(e, "granted"); });
    }
  });
  hub.create_output("relay1");
  const auto path = dir.file("sim.sock");
  hub.listen(path);
  LoopThread loop(io);

  SECTION("one command") {
    auto run = run_tool(dir, {"-s", path, "tap", "door1", "iso14443a", "04a1b2c3"});
    CHECK(run.status == 0);
    CHECK(run.out == "ok granted\n");
    run = run_tool(dir, {"--socket", path, "output", "relay1"});
    CHECK(run.status == 0);
    CHECK(run.out == "ok relay1 off\n");
  }

  SECTION("an err reply exits 1") {
    auto run = run_tool(dir, {"-s", path, "output", "nosuch"});
    CHECK(run.status == 1);
    CHECK(run.out == "err unknown output nosuch\n");
  }

  SECTION("commands from stdin, blank lines and comments skipped") {
    auto run = run_tool(dir, {"-s", path, "-"},
                        "# a comment\noutputs\n\ntap door1 felica 0102030405060708\nbogus\n"
                        "output relay1\n");
    CHECK(run.status == 1);
    CHECK(run.out ==
          "ok relay1=off\nok granted\nerr unknown command bogus (try help)\n"
          "ok relay1 off\n");
  }

  SECTION("nothing listening exits 3 with a clear message") {
    auto run = run_tool(dir, {"-s", dir.file("nobody.sock"), "outputs"});
    CHECK(run.status == 3);
    CHECK(run.err.find("no simulator is listening") != std::string::npos);
  }

  SECTION("usage errors exit 2") {
    CHECK(run_tool(dir, {"outputs"}).status == 2);  // no socket (unless the env names one)
    CHECK(run_tool(dir, {"-s", path}).status == 2);
    CHECK(run_tool(dir, {"-s", path, "--frob", "outputs"}).status == 2);
    CHECK(run_tool(dir, {"-s", path, "-t", "zero", "outputs"}).status == 2);
  }
}
