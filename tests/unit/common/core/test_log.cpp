// common/core/log.h: the rate-limited diagnostics (REL-RES-02). stderr is
// redirected to a temporary file for the length of a test.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/core/log.h"

using namespace mag;

namespace {

// Redirects fd 2 to a temporary file; lines() reads what was written.
class CapturedStderr {
 public:
  CapturedStderr() : file_(std::tmpfile()) {
    REQUIRE(file_ != nullptr);
    fflush(stderr);
    saved_ = dup(2);
    REQUIRE(dup2(fileno(file_), 2) == 2);
  }
  ~CapturedStderr() {
    fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    fclose(file_);
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  std::vector<std::string> lines() {
    fflush(stderr);
    std::vector<std::string> out;
    std::rewind(file_);
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, file_)) out.emplace_back(buffer);
    std::fseek(file_, 0, SEEK_END);
    return out;
  }

 private:
  FILE* file_;
  int saved_ = -1;
};

}  // namespace

TEST_CASE("log::limited: a burst per key, then one line per interval with a count") {
  log::set_rate_limit({.burst = 3, .interval = std::chrono::milliseconds(300)});
  CapturedStderr captured;
  for (int i = 0; i < 1000; ++i) log::limited(log::Level::kInfo, "k1", "test", "refused");
  for (int i = 0; i < 10; ++i) log::limited(log::Level::kInfo, "k2", "test", "other");
  auto lines = captured.lines();
  REQUIRE(lines.size() == 6);  // 3 of each key: the keys do not share a budget
  CHECK(lines[0].find("info [test] refused") != std::string::npos);
  CHECK(lines[3].find("[test] other") != std::string::npos);

  // After the interval, the next line reports what was dropped meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  log::limited(log::Level::kInfo, "k1", "test", "refused");
  lines = captured.lines();
  REQUIRE(lines.size() == 7);
  CHECK(lines[6].find("refused (suppressed 997 similar messages)") != std::string::npos);
  // The budget came back by one line only: the next one is counted again.
  log::limited(log::Level::kInfo, "k1", "test", "refused");
  CHECK(captured.lines().size() == 7);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  log::limited(log::Level::kInfo, "k1", "test", "refused");
  lines = captured.lines();
  REQUIRE(lines.size() == 8);
  CHECK(lines[7].find("refused (suppressed 1 similar messages)") != std::string::npos);
  log::set_rate_limit({});
}

TEST_CASE("log::limited: at debug level every line is written") {
  log::set_rate_limit({.burst = 1, .interval = std::chrono::milliseconds(60000)});
  log::set_level(log::Level::kDebug);
  CapturedStderr captured;
  int built = 0;
  for (int i = 0; i < 50; ++i) {
    log::limited(log::Level::kInfo, "k", "test", [&] {
      ++built;
      return std::string("refused");
    });
  }
  log::set_level(log::Level::kInfo);
  const auto lines = captured.lines();
  CHECK(lines.size() == 50);
  CHECK(built == 50);
  for (const auto& line : lines) CHECK(line.find("suppressed") == std::string::npos);
  log::set_rate_limit({});
}

TEST_CASE("log::limited: a line over the budget is not even built") {
  log::set_rate_limit({.burst = 2, .interval = std::chrono::milliseconds(60000)});
  CapturedStderr captured;
  int built = 0;
  for (int i = 0; i < 100; ++i) {
    log::limited(log::Level::kInfo, "lazy", "test", [&] {
      ++built;
      return std::string("detail");
    });
  }
  CHECK(captured.lines().size() == 2);
  CHECK(built == 2);
  log::set_rate_limit({});
}

TEST_CASE("log::limited: below the log level nothing is written or counted") {
  log::set_rate_limit({.burst = 1, .interval = std::chrono::milliseconds(60000)});
  log::set_level(log::Level::kWarn);
  CapturedStderr captured;
  for (int i = 0; i < 100; ++i) log::limited(log::Level::kInfo, "quiet", "test", "hidden");
  log::limited(log::Level::kWarn, "loud", "test", "shown");
  log::set_level(log::Level::kInfo);
  log::limited(log::Level::kInfo, "quiet", "test", "first");
  const auto lines = captured.lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("warn [test] shown") != std::string::npos);
  // The hidden ones used no budget and are not reported as suppressed.
  CHECK(lines[1].find("info [test] first\n") != std::string::npos);
  log::set_rate_limit({});
}
