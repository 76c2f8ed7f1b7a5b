// A small Prometheus metrics registry (text exposition format 0.0.4).
//
// Single-threaded: the gateway runs one event loop, and every update and
// scrape happens on it. When the gateway gets several workers, each worker
// gets its own Registry (a shard) and the scrape merges them by summing
// series with equal names and labels; nothing here needs locks until then.
//
// Labels must be bounded: route names (path_prefix), methods, status
// classes, reason codes, provider names. Never a raw path, subject or token.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mag::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge, kHistogram };

class Registry {
 public:
  // Declares a family; metrics that are updated before being declared get a
  // generic help text. Re-declaring is harmless.
  void declare(std::string_view name, Type type, std::string_view help,
               std::vector<double> buckets = {});

  void counter_add(std::string_view name, const Labels& labels, double value = 1);
  void gauge_set(std::string_view name, const Labels& labels, double value);
  void gauge_add(std::string_view name, const Labels& labels, double value);
  void observe(std::string_view name, const Labels& labels, double value);
  // Drops every series of a gauge family (for gauges recomputed at scrape time,
  // so that a provider removed by a reload disappears).
  void clear_gauge(std::string_view name);

  // Current value of a counter or gauge series; 0 when absent (for tests).
  double value(std::string_view name, const Labels& labels) const;

  std::string render_prometheus() const;

 private:
  struct Series {
    double value = 0;               // counter / gauge
    std::vector<uint64_t> buckets;  // histogram, cumulative at render time
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // key: rendered label set "{a="b"}"
  };
  Family& family(std::string_view name, Type type);

  std::map<std::string, Family, std::less<>> families_;
};

// The process's registry (see the threading note above).
Registry& global();

// Renders a label set as `{a="x",b="y"}` with Prometheus escaping ("" for none).
std::string render_labels(const Labels& labels);

// "2xx" .. "5xx"; "other" outside 100..599.
std::string status_class(int status);
// The method as a bounded label value: the standard ones, else "OTHER".
std::string method_label(std::string_view method);

// Declares every gateway metric with its help text and buckets.
void declare_gateway_metrics(Registry& registry);

}  // namespace mag::metrics
