// The metrics registry: the text format, handles, label escaping, and
// per-thread shards merged at scrape.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "proxy/telemetry/metrics.h"

using namespace mag;

TEST_CASE("metrics: counters, gauges and histograms render in the text format") {
  metrics::Registry r;
  r.declare("t_requests_total", metrics::Type::kCounter, "Requests.");
  r.counter_add("t_requests_total", {{"route", "/mcp"}, {"status_class", "2xx"}});
  r.counter_add("t_requests_total", {{"route", "/mcp"}, {"status_class", "2xx"}}, 2);
  r.counter_add("t_requests_total", {{"route", "/mcp"}, {"status_class", "2xx"}}, -5);  // ignored
  r.gauge_set("t_active", {}, 3);
  r.gauge_add("t_active", {}, -1);
  r.declare("t_seconds", metrics::Type::kHistogram, "Durations.", {0.1, 1});
  r.observe("t_seconds", {{"route", "/mcp"}}, 0.05);
  r.observe("t_seconds", {{"route", "/mcp"}}, 0.5);
  r.observe("t_seconds", {{"route", "/mcp"}}, 5);
  CHECK(r.value("t_requests_total", {{"route", "/mcp"}, {"status_class", "2xx"}}) == 3);
  CHECK(r.value("t_active", {}) == 2);
  const std::string text = r.render_prometheus();
  CHECK(text.find("# TYPE t_requests_total counter\n") != std::string::npos);
  CHECK(text.find("t_requests_total{route=\"/mcp\",status_class=\"2xx\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("# TYPE t_active gauge\nt_active 2\n") != std::string::npos);
  CHECK(text.find("t_seconds_bucket{route=\"/mcp\",le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("t_seconds_bucket{route=\"/mcp\",le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("t_seconds_bucket{route=\"/mcp\",le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("t_seconds_sum{route=\"/mcp\"} 5.55\n") != std::string::npos);
  CHECK(text.find("t_seconds_count{route=\"/mcp\"} 3\n") != std::string::npos);
}

TEST_CASE("metrics: handles update the same series as the name-and-labels calls") {
  metrics::Registry r;
  r.declare("t_hits_total", metrics::Type::kCounter, "Hits.");
  r.declare("t_latency", metrics::Type::kHistogram, "Latency.", {0.1, 1});
  r.declare("t_open", metrics::Type::kGauge, "Open.");
  const metrics::Labels labels = {{"route", "/mcp"}};
  const auto hits = r.handle("t_hits_total", metrics::Type::kCounter, labels);
  const auto latency = r.handle("t_latency", metrics::Type::kHistogram, labels);
  const auto open = r.handle("t_open", metrics::Type::kGauge, {});
  REQUIRE(hits);
  r.add(hits);
  r.add(hits, 2);
  r.counter_add("t_hits_total", labels);
  CHECK(r.value("t_hits_total", labels) == 4);
  r.observe(latency, 0.05);
  r.observe("t_latency", labels, 0.5);
  r.observe(latency, 5);
  CHECK(r.value("t_latency", labels) == 3);
  const std::string text = r.render_prometheus();
  CHECK(text.find("t_latency_bucket{route=\"/mcp\",le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("t_latency_bucket{route=\"/mcp\",le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("t_latency_count{route=\"/mcp\"} 3\n") != std::string::npos);
  // clear_gauge keeps a series someone holds a handle to (at 0) and drops the others.
  r.add(open, 3);
  r.gauge_set("t_open", {{"other", "x"}}, 7);
  r.clear_gauge("t_open");
  CHECK(r.value("t_open", {}) == 0);
  CHECK(r.render_prometheus().find("t_open{other=") == std::string::npos);
  r.add(open, 1);
  CHECK(r.value("t_open", {}) == 1);
  // A handle of the wrong type is empty and updates nothing.
  CHECK_FALSE(r.handle("t_hits_total", metrics::Type::kGauge, labels));
  r.add(metrics::Registry::Handle{}, 5);
  CHECK(r.value("t_hits_total", labels) == 4);
  // Every registry has its own id (caches of handles are keyed by it).
  metrics::Registry other;
  CHECK(other.id() != r.id());
}

TEST_CASE("metrics: label values are escaped and methods are bounded") {
  CHECK(metrics::render_labels({{"a", "x\"y\\z\nw"}}) == "{a=\"x\\\"y\\\\z\\nw\"}");
  CHECK(metrics::method_label("POST") == "POST");
  CHECK(metrics::method_label("BREW") == "OTHER");
  CHECK(metrics::status_class(204) == "2xx");
  CHECK(metrics::status_class(499) == "4xx");
  CHECK(metrics::status_class(0) == "other");
}

TEST_CASE("workers: metrics shards of several threads add up at scrape") {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<metrics::Registry*> shards;
  for (int i = 0; i < kThreads; ++i) shards.push_back(&metrics::new_shard());
  const metrics::Labels labels{{"case", "shards"}};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      metrics::bind_thread_shard(shards[i]);
      for (int n = 0; n < kPerThread; ++n) {
        metrics::global().counter_add("test_workers_total", labels);
        metrics::global().gauge_add("test_workers_inflight", labels, 1);
        metrics::global().observe("test_workers_seconds", labels, 0.002);
        metrics::global().gauge_add("test_workers_inflight", labels, -1);
      }
      metrics::global().gauge_add("test_workers_inflight", labels, 1);  // one left open each
      metrics::bind_thread_shard(nullptr);
    });
  }
  // Scrapes while the threads count: never a torn or decreasing counter.
  double last = 0;
  for (int i = 0; i < 50; ++i) {
    const double now = metrics::merged().value("test_workers_total", labels);
    CHECK(now >= last);
    last = now;
  }
  for (auto& t : threads) t.join();
  metrics::Registry all = metrics::merged();
  CHECK(all.value("test_workers_total", labels) == kThreads * kPerThread);
  CHECK(all.value("test_workers_inflight", labels) == kThreads);
  CHECK(all.value("test_workers_seconds", labels) == kThreads * kPerThread);  // histogram count
  // The process registry itself saw none of it: the threads used their shards.
  CHECK(metrics::process().value("test_workers_total", labels) == 0);
  const std::string text = metrics::render_all();
  CHECK(text.find("test_workers_total{case=\"shards\"} 20000\n") != std::string::npos);
  CHECK(text.find("test_workers_seconds_bucket{case=\"shards\",le=\"0.0025\"} 20000\n") !=
        std::string::npos);
}
