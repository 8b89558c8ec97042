#include "apps/output/metrics_csv.hpp"

#include "messages/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace colony::apps {

namespace {

std::vector<std::string> split_fields(const std::string& row) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in{row};
  while (std::getline(in, field, ','))
    fields.push_back(field);
  if (!row.empty() && row.back() == ',')
    fields.emplace_back();
  return fields;
}

bool parse_double(const std::string& text, double& out) {
  if (text.empty())
    return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(text.c_str(), &end);
  return errno == 0 && end == text.c_str() + text.size();
}

bool parse_unsigned(const std::string& text, uint64_t& out) {
  if (text.empty() || text[0] == '-')
    return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(text.c_str(), &end, 10);
  return errno == 0 && end == text.c_str() + text.size();
}

} // namespace

std::string format_metrics_row(const trainer::training_record& r) {
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer), "%.3f,%llu,%llu,%.6f,%.1f,%u,%.4f,",
                r.time_s, static_cast<unsigned long long>(r.step),
                static_cast<unsigned long long>(r.samples), r.train_loss,
                r.samples_per_s, r.live_experts, r.failed_calls);
  std::string row = buffer;
  if (r.test_accuracy) {
    std::snprintf(buffer, sizeof(buffer), "%.6f", *r.test_accuracy);
    row += buffer;
  }
  row += ",";
  if (r.test_loss) {
    std::snprintf(buffer, sizeof(buffer), "%.6f", *r.test_loss);
    row += buffer;
  }
  std::snprintf(buffer, sizeof(buffer), ",%llu,%.4f",
                static_cast<unsigned long long>(r.epoch), r.averaging_s);
  row += buffer;
  return row;
}

caf::expected<trainer::training_record>
parse_metrics_row(const std::string& row) {
  auto fields = split_fields(row);
  if (fields.size() != 11)
    return make_error(errc::malformed, "expected 11 fields, got " +
                                           std::to_string(fields.size()));
  trainer::training_record r;
  uint64_t live = 0;
  double x = 0;
  bool ok = parse_double(fields[0], r.time_s) &&
            parse_unsigned(fields[1], r.step) &&
            parse_unsigned(fields[2], r.samples) &&
            parse_double(fields[3], r.train_loss) &&
            parse_double(fields[4], r.samples_per_s) &&
            parse_unsigned(fields[5], live) &&
            parse_double(fields[6], r.failed_calls) &&
            parse_unsigned(fields[9], r.epoch) &&
            parse_double(fields[10], r.averaging_s);
  if (!ok || live > UINT32_MAX)
    return make_error(errc::malformed, "bad number in '" + row + "'");
  r.live_experts = static_cast<uint32_t>(live);
  if (!fields[7].empty()) {
    if (!parse_double(fields[7], x))
      return make_error(errc::malformed, "bad test_accuracy in '" + row + "'");
    r.test_accuracy = x;
  }
  if (!fields[8].empty()) {
    if (!parse_double(fields[8], x))
      return make_error(errc::malformed, "bad test_loss in '" + row + "'");
    r.test_loss = x;
  }
  return r;
}

caf::expected<metrics_csv_writer>
metrics_csv_writer::open(const std::string& path) {
  metrics_csv_writer w;
  w.path_ = path;
  w.file_.reset(std::fopen(path.c_str(), "w"));
  if (!w.file_)
    return make_error(errc::io_error, "cannot write metrics file " + path +
                                          ": " + std::strerror(errno));
  if (std::fprintf(w.file_.get(), "%s\n", metrics_csv_header) < 0 ||
      std::fflush(w.file_.get()) != 0)
    return make_error(errc::io_error, "cannot write metrics file " + path);
  return w;
}

caf::error metrics_csv_writer::append(const trainer::training_record& r) {
  auto row = format_metrics_row(r) + "\n";
  // One write per row: a reader never sees half of one unless it races
  // this very call, and then it waits for the newline.
  if (std::fwrite(row.data(), 1, row.size(), file_.get()) != row.size() ||
      std::fflush(file_.get()) != 0)
    return make_error(errc::io_error, "cannot write metrics file " + path_);
  return {};
}

std::vector<trainer::training_record> metrics_csv_reader::read_new() {
  std::vector<trainer::training_record> rows;
  std::ifstream in{path_, std::ios::binary};
  if (!in)
    return rows;
  in.seekg(offset_);
  std::string chunk{std::istreambuf_iterator<char>(in), {}};
  size_t start = 0;
  for (auto nl = chunk.find('\n'); nl != std::string::npos;
       nl = chunk.find('\n', start)) {
    auto line = chunk.substr(start, nl - start);
    start = nl + 1;
    if (line == metrics_csv_header || line.empty())
      continue;
    if (auto r = parse_metrics_row(line))
      rows.push_back(*r);
  }
  offset_ += static_cast<long>(start);
  return rows;
}

caf::expected<std::vector<trainer::training_record>>
read_metrics_csv(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return make_error(errc::io_error, "cannot read metrics file " + path);
  std::vector<trainer::training_record> rows;
  size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (number == 1 && line == metrics_csv_header)
      continue;
    if (line.empty())
      continue;
    auto r = parse_metrics_row(line);
    if (!r)
      return make_error(errc::malformed, path + ":" + std::to_string(number) +
                                             ": " + error_reason(r.error()));
    rows.push_back(*r);
  }
  return rows;
}

} // namespace colony::apps
