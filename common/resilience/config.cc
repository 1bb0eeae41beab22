#include "common/resilience/config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "google/protobuf/util/json_util.h"

namespace sagaworks::resilience {
namespace {

absl::Status Bad(const std::string& where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

absl::Status ApplyRetry(const v1::RetrySettings& s, const std::string& where,
                        RetryConfig* c) {
  if (s.has_max_attempts()) c->max_attempts = s.max_attempts();
  if (s.has_initial_backoff_ms()) {
    c->initial_backoff = absl::Milliseconds(s.initial_backoff_ms());
  }
  if (s.has_max_backoff_ms())
    c->max_backoff = absl::Milliseconds(s.max_backoff_ms());
  if (s.has_multiplier()) c->multiplier = s.multiplier();
  if (s.has_jitter()) {
    if (s.jitter() == "full") {
      c->jitter = Jitter::kFull;
    } else if (s.jitter() == "decorrelated") {
      c->jitter = Jitter::kDecorrelated;
    } else {
      return Bad(
          where + ".jitter",
          absl::StrCat("'", s.jitter(), "' is not full or decorrelated"));
    }
  }
  if (s.has_honor_pushback()) c->honor_pushback = s.honor_pushback();
  return absl::OkStatus();
}

absl::Status ApplyCall(const v1::CallSettings& s, const std::string& where,
                       CallPolicy* c) {
  if (s.has_attempt_timeout_ms()) {
    c->attempt_timeout = absl::Milliseconds(s.attempt_timeout_ms());
  }
  if (s.has_total_timeout_ms()) {
    c->total_timeout = absl::Milliseconds(s.total_timeout_ms());
  }
  if (s.has_retry()) {
    if (absl::Status st = ApplyRetry(s.retry(), where + ".retry", &c->retry);
        !st.ok()) {
      return st;
    }
  }
  if (absl::Status st = c->Validate(); !st.ok())
    return Bad(where, st.message());
  return absl::OkStatus();
}

absl::Status ApplyDownstream(const v1::DownstreamSettings& s,
                             const std::string& where, DownstreamConfig* c) {
  if (s.has_call()) {
    if (absl::Status st = ApplyCall(s.call(), where + ".call", &c->call);
        !st.ok()) {
      return st;
    }
  }
  for (const auto& [method, call] : s.methods()) {
    // A method's settings start from the downstream's call settings.
    auto [it, inserted] = c->methods.emplace(method, c->call);
    if (absl::Status st = ApplyCall(
            call, absl::StrCat(where, ".methods.", method), &it->second);
        !st.ok()) {
      return st;
    }
  }
  if (s.has_breaker()) {
    const v1::BreakerSettings& b = s.breaker();
    CircuitBreakerConfig& cb = c->breaker;
    if (b.has_window_type()) {
      if (b.window_type() == "count") {
        cb.window_type = SlidingWindow::Type::kCount;
      } else if (b.window_type() == "time") {
        cb.window_type = SlidingWindow::Type::kTime;
      } else {
        return Bad(
            where + ".breaker.window_type",
            absl::StrCat("'", b.window_type(), "' is not count or time"));
      }
    }
    if (b.has_window_size()) cb.window_size = b.window_size();
    if (b.has_minimum_calls()) cb.minimum_calls = b.minimum_calls();
    if (b.has_failure_rate_threshold()) {
      cb.failure_rate_threshold = b.failure_rate_threshold();
    }
    if (b.has_slow_call_rate_threshold()) {
      cb.slow_call_rate_threshold = b.slow_call_rate_threshold();
    }
    if (b.has_slow_call_duration_ms()) {
      cb.slow_call_duration = absl::Milliseconds(b.slow_call_duration_ms());
    }
    if (b.has_consecutive_failures()) {
      cb.consecutive_failures = b.consecutive_failures();
    }
    if (b.has_open_wait_ms())
      cb.open_wait = absl::Milliseconds(b.open_wait_ms());
    if (b.has_half_open_probes()) cb.half_open_probes = b.half_open_probes();
    if (b.has_per_method()) c->breaker_per_method = b.per_method();
    if (absl::Status st = cb.Validate(); !st.ok()) {
      return Bad(where + ".breaker", st.message());
    }
  }
  if (s.has_bulkhead()) {
    if (s.bulkhead().has_max_concurrent()) {
      c->bulkhead.max_concurrent = s.bulkhead().max_concurrent();
    }
    if (s.bulkhead().has_max_wait_ms()) {
      c->bulkhead.max_wait = absl::Milliseconds(s.bulkhead().max_wait_ms());
    }
    if (absl::Status st = c->bulkhead.Validate(); !st.ok()) {
      return Bad(where + ".bulkhead", st.message());
    }
  }
  if (s.has_retry_budget()) {
    const v1::RetryBudgetSettings& r = s.retry_budget();
    if (r.has_ratio()) c->retry_budget.ratio = r.ratio();
    if (r.has_min_retries_per_second()) {
      c->retry_budget.min_retries_per_second = r.min_retries_per_second();
    }
    if (r.has_window_ms()) {
      c->retry_budget.window = absl::Milliseconds(r.window_ms());
    }
    if (absl::Status st = c->retry_budget.Validate(); !st.ok()) {
      return Bad(where + ".retry_budget", st.message());
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::ResilienceSettings> ParseResilienceSettings(
    const std::string& json, const std::set<std::string>& known) {
  v1::ResilienceSettings settings;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed =
      google::protobuf::util::JsonStringToMessage(json, &settings, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(std::string(parsed.message()));
  }
  for (const auto& [name, section] : settings.downstreams()) {
    if (known.count(name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("downstreams.", name,
                       ": this process calls no such service (it "
                       "calls: ",
                       absl::StrJoin(known, ", "), ")"));
    }
  }
  // Check every section now, against the library defaults, so a bad value
  // stops the process at start.
  for (const std::string& name : known) {
    if (absl::StatusOr<DownstreamConfig> c = ConfigFor(settings, name, {});
        !c.ok()) {
      return c.status();
    }
  }
  return settings;
}

absl::StatusOr<v1::ResilienceSettings> LoadResilienceSettings(
    const std::string& path, const std::set<std::string>& known) {
  std::optional<std::string> text = ReadFile(path);
  if (!text.has_value()) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  absl::StatusOr<v1::ResilienceSettings> settings =
      ParseResilienceSettings(*text, known);
  if (!settings.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", settings.status().message()));
  }
  return settings;
}

absl::StatusOr<DownstreamConfig> ConfigFor(
    const v1::ResilienceSettings& settings, const std::string& downstream,
    DownstreamConfig base) {
  if (absl::Status s = ApplyDownstream(settings.defaults(), "defaults", &base);
      !s.ok()) {
    return s;
  }
  auto it = settings.downstreams().find(downstream);
  if (it != settings.downstreams().end()) {
    if (absl::Status s = ApplyDownstream(
            it->second, absl::StrCat("downstreams.", downstream), &base);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = base.Validate(); !s.ok()) {
    return Bad(absl::StrCat("downstreams.", downstream), s.message());
  }
  return base;
}

}  // namespace sagaworks::resilience
