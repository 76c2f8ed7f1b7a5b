// The Mailbox / LoopThread hand-off between threads.
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "common/core/event_loop.h"

using namespace mag;
using namespace std::chrono_literals;

TEST_CASE("workers: LoopThread runs posted tasks in order on its own thread") {
  LoopThread loop;
  REQUIRE(loop.ok());
  loop.start();
  std::vector<int> seen;
  std::thread::id where;
  for (int i = 0; i < 100; ++i) loop.mailbox()->post([&seen, i] { seen.push_back(i); });
  loop.run_sync([&] { where = std::this_thread::get_id(); });
  CHECK(where != std::this_thread::get_id());
  loop.stop();
  REQUIRE(seen.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(seen[i] == i);
  // Stopped: run_sync runs inline, nothing is lost.
  bool ran = false;
  loop.run_sync([&] { ran = true; });
  CHECK(ran);
}
