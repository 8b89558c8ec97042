#pragma once

// The metrics CSV of a trainer: one row per progress record, written as it
// goes (each row flushed whole) so that another process (the swarm, the
// harness) can follow the file while training runs.

#include "actors/trainer/training_record.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace colony::apps {

/// The header row.
inline constexpr const char* metrics_csv_header =
    "time_s,step,samples,train_loss,samples_per_s,live_experts,failed_calls,"
    "test_accuracy,test_loss,epoch,averaging_s";

/// One record as a CSV row (no newline); unset evaluations are empty.
[[nodiscard]] std::string format_metrics_row(const trainer::training_record& r);

/// Parses a row written by `format_metrics_row`. Errors: malformed.
[[nodiscard]] caf::expected<trainer::training_record>
parse_metrics_row(const std::string& row);

class metrics_csv_writer {
 public:
  /// Creates (truncates) `path` and writes the header. Errors: io_error.
  [[nodiscard]] static caf::expected<metrics_csv_writer>
  open(const std::string& path);

  /// Appends one row and flushes it. Errors: io_error.
  caf::error append(const trainer::training_record& r);

 private:
  struct closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::string path_;
  std::unique_ptr<std::FILE, closer> file_;
};

/// Follows a metrics CSV that another process writes.
class metrics_csv_reader {
 public:
  metrics_csv_reader() = default;
  explicit metrics_csv_reader(std::string path) : path_(std::move(path)) {}

  /// The rows completed since the last call. A missing file, a row still
  /// being written and the header give nothing; a malformed row is skipped.
  std::vector<trainer::training_record> read_new();

 private:
  std::string path_;
  long offset_ = 0; // bytes consumed (whole lines only)
};

/// Reads every row of the file at `path`. Errors: io_error, malformed
/// (naming the line).
[[nodiscard]] caf::expected<std::vector<trainer::training_record>>
read_metrics_csv(const std::string& path);

} // namespace colony::apps
