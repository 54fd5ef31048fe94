// The console's background jobs: one run per key at a time, progress as the job reports it, and
// a failure kept with its reason.

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>

#include "jobs.hpp"

using namespace labgate::gateway::console;

namespace {

JobState wait_end(const Jobs& jobs, const std::string& id) {
  for (int i = 0; i < 500; ++i) {
    const auto j = jobs.find(id);
    REQUIRE(j);
    if (j->stage != JobState::Stage::kRunning) return *j;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL("job did not end");
  return {};
}

}  // namespace

TEST_CASE("console jobs: a second start while running gets the running job", "[unit]") {
  Jobs jobs;
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::atomic<int> runs{0};
  const auto work = [&](JobProgress& p) {
    ++runs;
    p.phase("job.billing", 4);
    p.advance(3);
    gate.wait();
    p.advance();
    return std::string("done");
  };
  const auto [first, fresh] = jobs.start("issue:2026-11", "mona", work);
  CHECK(fresh);
  const auto [second, fresh2] = jobs.start("issue:2026-11", "other", work);
  CHECK_FALSE(fresh2);
  CHECK(second == first);
  // Another key runs beside it.
  const auto [third, fresh3] =
      jobs.start("export:2026-11", "mona", [](JobProgress&) { return std::string("zip"); });
  CHECK(fresh3);
  CHECK(third != first);
  for (int i = 0; i < 500; ++i) {
    if (jobs.find(first)->done == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto mid = jobs.find(first);
  CHECK(mid->stage == JobState::Stage::kRunning);
  CHECK(mid->phase == "job.billing");
  CHECK(mid->done == 3);
  CHECK(mid->total == 4);
  CHECK(jobs.running("issue:2026-11"));
  release.set_value();
  const auto end = wait_end(jobs, first);
  CHECK(end.stage == JobState::Stage::kDone);
  CHECK(end.result == "done");
  CHECK(end.done == 4);
  CHECK(runs == 1);
  CHECK_FALSE(jobs.running("issue:2026-11"));
  // Once it has ended, the same key starts a new run.
  const auto [again, fresh4] = jobs.start("issue:2026-11", "mona", work);
  CHECK(fresh4);
  CHECK(again != first);
  wait_end(jobs, again);
  CHECK(runs == 2);
}

TEST_CASE("console jobs: a failing job keeps its reason", "[unit]") {
  Jobs jobs;
  const auto [id, fresh] = jobs.start("export:2020-01", "mona", [](JobProgress&) -> std::string {
    throw std::runtime_error("no usage in 2020-01");
  });
  REQUIRE(fresh);
  const auto end = wait_end(jobs, id);
  CHECK(end.stage == JobState::Stage::kFailed);
  CHECK(end.error == "no usage in 2020-01");
  CHECK_FALSE(jobs.find("no-such-job"));
}
