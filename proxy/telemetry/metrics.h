// A small Prometheus metrics registry (text exposition format 0.0.4).
//
// Sharded per thread: global() is the calling thread's
// shard. Each worker thread binds its own shard (bind_thread_shard) when it
// starts; the main thread (admin, key providers, reloads) uses the process
// registry. A scrape (render_all) merges the process registry and every
// shard, summing series with equal names and labels (counters, gauges and
// histogram buckets alike), so a gauge maintained with +1/-1 per worker adds
// up to the process total. Each Registry has its own mutex: a worker takes
// only its own, which nobody else takes except a scrape copying it, so the
// request path never waits for another worker.
//
// Labels must be bounded: route names (path_prefix), methods, status
// classes, reason codes, provider names, worker numbers. Never a raw path,
// subject or token.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mag::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge, kHistogram };

class Registry {
  struct Series;  // below

 public:
  Registry() = default;
  Registry(Registry&& other);  // for merged(); not while others use `other`
  Registry& operator=(Registry&&) = delete;

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

  // A series found once, then updated without rendering its labels or
  // searching the maps: what the request path uses. The series
  // lives as long as the registry: counter and histogram series are never
  // removed, and clear_gauge zeroes a gauge series that has a handle instead
  // of removing it. A default-constructed handle is empty; updating through
  // an empty handle does nothing.
  class Handle {
   public:
    Handle() = default;
    explicit operator bool() const { return series_ != nullptr; }

   private:
    friend class Registry;
    Handle(Series* series, const std::vector<double>* bounds) : series_(series), bounds_(bounds) {}
    Series* series_ = nullptr;
    const std::vector<double>* bounds_ = nullptr;  // histograms: the family's buckets
  };
  Handle handle(std::string_view name, Type type, const Labels& labels);
  void add(Handle handle, double value = 1);  // counter (value >= 0) or gauge
  void observe(Handle handle, double value);  // histogram
  // Distinct for every Registry ever made in this process (a cache of
  // handles remembers which registry they belong to).
  uint64_t id() const { return id_; }

  std::string render_prometheus() const;
  // Adds every series of `other` to this registry (see the note at the top).
  void merge_from(const Registry& other);
  // Declares the families of `other` here (types, help, buckets; no series).
  void copy_declarations_from(const Registry& other);

 private:
  struct Series {
    double value = 0;               // counter / gauge
    std::vector<uint64_t> buckets;  // histogram, cumulative at render time
    double sum = 0;
    uint64_t count = 0;
    bool has_handle = false;  // clear_gauge must not remove it (see Handle)
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // key: rendered label set "{a="b"}"
  };
  Family& family(std::string_view name, Type type);
  static void observe_locked(Series& series, const std::vector<double>& bounds, double value);

  const uint64_t id_ = next_id();
  static uint64_t next_id();
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

// The calling thread's shard, or the process registry (see the note above).
Registry& global();
// The main thread's registry, whatever thread asks.
Registry& process();
// A new shard, declared like process(), alive until the process exits.
Registry& new_shard();
// Makes `shard` the calling thread's global() (nullptr: back to process()).
void bind_thread_shard(Registry* shard);
// The scrape: process() and every shard, merged.
Registry merged();
std::string render_all();

// Renders a label set as `{a="x",b="y"}` with Prometheus escaping ("" for none).
std::string render_labels(const Labels& labels);

// "2xx" .. "5xx"; "other" outside 100..599.
std::string status_class(int status);
// The method as a bounded label value: the standard ones, else "OTHER".
std::string method_label(std::string_view method);

// Declares every gateway metric with its help text and buckets.
void declare_gateway_metrics(Registry& registry);

}  // namespace mag::metrics
