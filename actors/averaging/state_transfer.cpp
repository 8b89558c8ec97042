#include "actors/averaging/state_transfer.hpp"

#include "messages/error.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <iterator>
#include <tuple>
#include <utility>

namespace colony::averaging {

namespace {

/// Chunks a snapshot puts in one part at most, well below the receiver's
/// `max_chunks_per_part`, so that a state of many scalars still decodes.
constexpr size_t max_chunks_in_part = 4096;

uint64_t numel_of(const state_tensor_info& info) {
  uint64_t n = 1;
  for (auto d : info.shape)
    n *= static_cast<uint64_t>(d);
  return n;
}

} // namespace

// -- server side -------------------------------------------------------------

caf::expected<state_snapshot>
state_snapshot::make(uint64_t id, std::string metadata,
                     std::vector<at::Tensor> tensors,
                     const part_options& options) {
  if (id == 0)
    return make_error(errc::invalid_argument, "a snapshot id must be nonzero");
  if (options.part_size_bytes == 0)
    return make_error(errc::invalid_argument, "part size must be positive");
  state_snapshot out;
  out.id_ = id;
  out.metadata_ = std::move(metadata);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    auto name = "state tensor " + std::to_string(i);
    if (!t.defined() || t.layout() != at::kStrided || !t.device().is_cpu())
      return make_error(errc::invalid_argument,
                        name + " is not a defined dense CPU tensor");
    if (!to_wire_dtype(t.scalar_type()))
      return make_error(errc::invalid_argument,
                        name + " has dtype " + c10::toString(t.scalar_type()) +
                            ", which the wire lacks");
    out.infos_.push_back(
        {t.scalar_type(),
         std::vector<int64_t>(t.sizes().begin(), t.sizes().end())});
    out.flat_.push_back(t.detach().contiguous().view({-1}));
  }
  // Pack chunks greedily: a tensor runs on into the next part when the
  // current one is full, small tensors share parts.
  out.plan_.emplace_back(); // part 0, also for an empty state
  uint64_t left = options.part_size_bytes;
  for (size_t t = 0; t < out.flat_.size(); ++t) {
    auto dtype = out.infos_[t].dtype;
    auto total = out.flat_[t].numel();
    auto codec = options.compression.for_tensor(total, dtype);
    for (int64_t offset = 0; offset < total;) {
      auto& current = out.plan_.back();
      bool full = encoded_part_bytes(codec, dtype, 1) > left ||
                  current.size() >= max_chunks_in_part;
      if (full && !current.empty()) {
        out.plan_.emplace_back();
        left = options.part_size_bytes;
        continue;
      }
      auto n = std::min(total - offset, max_part_numel(codec, dtype, left));
      auto chunk_codec = averaging_compression::for_part(codec, n, dtype);
      current.push_back({static_cast<uint32_t>(t), offset, n, chunk_codec});
      left -= std::min(left, encoded_part_bytes(chunk_codec, dtype, n));
      offset += n;
    }
  }
  return out;
}

caf::error state_snapshot::encode_all() {
  std::vector<envelope> out;
  out.reserve(plan_.size());
  for (uint32_t i = 0; i < part_count(); ++i) {
    auto p = part(i);
    if (!p)
      return std::move(p.error());
    auto bytes = encode_state_part(*p);
    if (!bytes)
      return std::move(bytes.error());
    out.push_back(std::move(*bytes));
  }
  encoded_ = std::move(out);
  flat_.clear();
  return {};
}

caf::expected<envelope> state_snapshot::encoded_part(uint32_t index) const {
  if (encoded_.empty()) {
    auto p = part(index);
    if (!p)
      return std::move(p.error());
    return encode_state_part(*p);
  }
  if (index >= encoded_.size())
    return make_error(errc::invalid_argument,
                      "no part " + std::to_string(index) + " of " +
                          std::to_string(encoded_.size()));
  return encoded_[index];
}

caf::expected<state_part> state_snapshot::part(uint32_t index) const {
  if (!encoded_.empty())
    return make_error(errc::invalid_argument,
                      "the snapshot holds encoded parts only");
  if (index >= plan_.size())
    return make_error(errc::invalid_argument,
                      "no part " + std::to_string(index) + " of " +
                          std::to_string(plan_.size()));
  state_part out;
  out.snapshot = id_;
  out.part_index = index;
  out.part_count = part_count();
  if (index == 0) {
    out.metadata = metadata_;
    out.tensors = infos_;
  }
  for (const auto& c : plan_[index])
    out.chunks.push_back({c.tensor, static_cast<uint64_t>(c.offset),
                          flat_[c.tensor].narrow(0, c.offset, c.numel),
                          c.codec});
  return out;
}

// -- downloader side ---------------------------------------------------------

state_assembler::state_assembler(
    state_limits limits, std::optional<std::vector<state_tensor_info>> expected)
    : limits_(std::move(limits)), expected_(std::move(expected)) {
  // nop
}

caf::error state_assembler::add(state_part part) {
  const bool first = !started();
  if (first) {
    if (part.part_index != 0)
      return make_error(errc::invalid_argument,
                        "state part " + std::to_string(part.part_index) +
                            " before part 0");
    if (part.snapshot == 0 || part.part_count == 0 ||
        part.part_count > limits_.max_parts)
      return make_error(errc::invalid_argument,
                        "part 0 names no snapshot or an invalid part count");
    if (part.metadata.size() > limits_.max_metadata_bytes)
      return make_error(errc::too_large, "metadata above the limit");
    if (auto err = check_state_tensors(part.tensors, limits_))
      return err;
    if (expected_ && *expected_ != part.tensors)
      return make_error(errc::bad_shape,
                        "the peer's state tensors differ in number, dtype or "
                        "shape from the local ones");
  } else {
    if (part.snapshot != snapshot_ || part.part_count != part_count_)
      return make_error(errc::invalid_argument,
                        "part of another snapshot or part count");
    if (part.part_index >= part_count_ || received_[part.part_index])
      return make_error(errc::invalid_argument,
                        "state part " + std::to_string(part.part_index) +
                            " again or out of range");
    if (!part.metadata.empty() || !part.tensors.empty())
      return make_error(errc::invalid_argument,
                        "metadata or tensor list outside part 0");
  }
  const auto& infos = first ? part.tensors : infos_;
  if (part.chunks.size() > limits_.max_chunks_per_part)
    return make_error(errc::too_large, "too many chunks in a state part");
  // Check every chunk before writing any.
  std::vector<std::tuple<uint32_t, uint64_t, uint64_t>> ranges;
  for (size_t i = 0; i < part.chunks.size(); ++i) {
    const auto& c = part.chunks[i];
    auto name = "chunk " + std::to_string(i) + " of part " +
                std::to_string(part.part_index);
    if (c.tensor_index >= infos.size())
      return make_error(errc::bad_shape, name + " names no tensor");
    const auto& info = infos[c.tensor_index];
    if (!c.values.defined() || c.values.dim() != 1 ||
        c.values.scalar_type() != info.dtype)
      return make_error(errc::bad_shape,
                        name + " is not 1-D of its tensor's dtype");
    auto n = static_cast<uint64_t>(c.values.numel());
    auto size = numel_of(info);
    if (c.offset > size || n > size - c.offset)
      return make_error(errc::bad_shape, name + " lies outside its tensor");
    if (n > 0)
      ranges.emplace_back(c.tensor_index, c.offset, c.offset + n);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 0; i < ranges.size(); ++i) {
    auto [t, b, e] = ranges[i];
    if (i > 0 && std::get<0>(ranges[i - 1]) == t &&
        std::get<2>(ranges[i - 1]) > b)
      return make_error(errc::bad_shape, "chunks of one part overlap");
    if (first)
      continue;
    const auto& cov = covered_[t];
    auto next = cov.upper_bound(b);
    if ((next != cov.end() && next->first < e) ||
        (next != cov.begin() && std::prev(next)->second > b))
      return make_error(errc::bad_shape,
                        "a chunk overlaps elements received before");
  }
  if (first) {
    snapshot_ = part.snapshot;
    part_count_ = part.part_count;
    received_.assign(part_count_, false);
    metadata_ = std::move(part.metadata);
    infos_ = std::move(part.tensors);
    covered_.resize(infos_.size());
    for (const auto& info : infos_) {
      auto n = numel_of(info);
      total_numel_ += n;
      tensors_.push_back(at::empty({static_cast<int64_t>(n)},
                                   at::TensorOptions{}.dtype(info.dtype)));
    }
  }
  for (const auto& c : part.chunks) {
    auto n = c.values.numel();
    if (n == 0)
      continue;
    tensors_[c.tensor_index]
        .narrow(0, static_cast<int64_t>(c.offset), n)
        .copy_(c.values);
    // Record the range, merged with its neighbours.
    auto& cov = covered_[c.tensor_index];
    uint64_t b = c.offset;
    uint64_t e = c.offset + static_cast<uint64_t>(n);
    auto next = cov.lower_bound(e);
    if (next != cov.end() && next->first == e) {
      e = next->second;
      cov.erase(next);
    }
    auto it = cov.lower_bound(b);
    if (it != cov.begin() && std::prev(it)->second == b) {
      std::prev(it)->second = e;
    } else {
      cov.emplace(b, e);
    }
    covered_total_ += static_cast<uint64_t>(n);
  }
  received_[part.part_index] = true;
  ++received_count_;
  return {};
}

std::vector<uint32_t> state_assembler::missing_parts() const {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < received_.size(); ++i)
    if (!received_[i])
      out.push_back(i);
  return out;
}

bool state_assembler::complete() const noexcept {
  return started() && received_count_ == part_count_ &&
         covered_total_ == total_numel_;
}

caf::expected<downloaded_state> state_assembler::take() {
  if (!started() || received_count_ != part_count_)
    return make_error(errc::invalid_argument,
                      "state download incomplete: " +
                          std::to_string(part_count_ - received_count_) +
                          " parts missing");
  if (covered_total_ != total_numel_)
    return make_error(errc::invalid_argument,
                      "every part arrived but " +
                          std::to_string(total_numel_ - covered_total_) +
                          " elements were never sent");
  downloaded_state out;
  out.metadata = std::move(metadata_);
  for (size_t i = 0; i < tensors_.size(); ++i)
    out.tensors.push_back(tensors_[i].view(infos_[i].shape));
  tensors_.clear();
  return out;
}

} // namespace colony::averaging
