#include "actors/averaging/tensor_parts.hpp"

#include "messages/error.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

namespace colony::averaging {

namespace {

caf::error check_tensor(const at::Tensor& t, size_t index) {
  auto name = "tensor " + std::to_string(index);
  if (!t.defined())
    return make_error(errc::invalid_argument, name + " is undefined");
  if (t.layout() != at::kStrided)
    return make_error(errc::invalid_argument, name + " is not dense");
  if (!t.device().is_cpu())
    return make_error(errc::invalid_argument,
                      name + " is not on the CPU (averaged tensors are "
                             "written in place)");
  if (!t.is_contiguous())
    return make_error(errc::invalid_argument,
                      name + " is not contiguous (averaged tensors are "
                             "written in place through a flat view)");
  if (!at::isFloatingType(t.scalar_type()))
    return make_error(errc::invalid_argument,
                      name + " has dtype " + c10::toString(t.scalar_type()) +
                          "; only floating tensors are averaged");
  return {};
}

} // namespace

caf::expected<tensor_parts>
tensor_parts::make(std::vector<at::Tensor> tensors,
                   const std::vector<int64_t>& span_sizes,
                   const part_options& options) {
  if (options.part_size_bytes == 0)
    return make_error(errc::invalid_argument, "part size must be positive");
  if (!options.tensor_compression.empty() &&
      options.tensor_compression.size() != tensors.size())
    return make_error(errc::invalid_argument,
                      "a codec policy for " +
                          std::to_string(options.tensor_compression.size()) +
                          " tensors, the group has " +
                          std::to_string(tensors.size()));
  tensor_parts out;
  std::vector<compression_type> codecs;
  codecs.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (auto err = check_tensor(tensors[i], i))
      return err;
    auto numel = tensors[i].numel();
    out.total_ += numel;
    out.ends_.push_back(out.total_);
    // A detached view: writing into it bypasses autograd (as an averager
    // writes into parameters under no_grad) but shares the storage.
    out.flat_.push_back(tensors[i].detach().view({-1}));
    codecs.push_back(options.of(i).for_tensor(numel, tensors[i].scalar_type()));
  }
  out.tensors_ = std::move(tensors);
  int64_t sum = 0;
  for (auto size : span_sizes) {
    if (size < 0)
      return make_error(errc::invalid_argument, "negative span size");
    sum += size;
  }
  if (sum != out.total_)
    return make_error(errc::invalid_argument,
                      "spans cover " + std::to_string(sum) +
                          " elements, the tensors have " +
                          std::to_string(out.total_));
  auto& ends = out.ends_;
  auto& flat = out.flat_;
  int64_t span_begin = 0;
  for (auto size : span_sizes) {
    std::vector<part_info> parts;
    int64_t span_end = span_begin + size;
    for (int64_t pos = span_begin; pos < span_end;) {
      // The first tensor that ends after pos is the one holding it (empty
      // tensors end where they begin and are skipped).
      auto t = static_cast<size_t>(
          std::upper_bound(ends.begin(), ends.end(), pos) - ends.begin());
      auto dtype = flat[t].scalar_type();
      auto codec = codecs[t];
      int64_t limit =
          std::min(span_end,
                   pos + max_part_numel(codec, dtype, options.part_size_bytes));
      int64_t end = std::min(limit, ends[t]);
      // Run on over the following tensors while dtype and codec agree.
      for (size_t u = t + 1; end < limit && u < flat.size(); ++u) {
        if (flat[u].numel() == 0)
          continue;
        if (flat[u].scalar_type() != dtype || codecs[u] != codec)
          break;
        end = std::min(limit, ends[u]);
      }
      parts.push_back(
          {pos, end, dtype,
           averaging_compression::for_part(codec, end - pos, dtype)});
      pos = end;
    }
    out.spans_.push_back(std::move(parts));
    span_begin = span_end;
  }
  return out;
}

template <class F>
void tensor_parts::for_each_piece(const part_info& info, F&& f) const {
  auto t = static_cast<size_t>(
      std::upper_bound(ends_.begin(), ends_.end(), info.begin) - ends_.begin());
  for (int64_t pos = info.begin; pos < info.end; ++t) {
    int64_t n = std::min(info.end, ends_[t]) - pos;
    if (n <= 0)
      continue; // an empty tensor
    int64_t tensor_begin = ends_[t] - flat_[t].numel();
    f(piece{t, pos - tensor_begin, pos - info.begin, n});
    pos += n;
  }
}

at::Tensor tensor_parts::read(size_t span, size_t part) const {
  const auto& info = spans_.at(span).at(part);
  auto out = at::empty({info.numel()}, at::TensorOptions{}.dtype(info.dtype));
  for_each_piece(info, [&](const piece& p) {
    out.narrow(0, p.part_offset, p.numel)
        .copy_(flat_[p.tensor].narrow(0, p.tensor_offset, p.numel));
  });
  return out;
}

at::Tensor tensor_parts::view(size_t span, size_t part) const {
  const auto& info = spans_.at(span).at(part);
  at::Tensor out;
  size_t pieces = 0;
  for_each_piece(info, [&](const piece& p) {
    ++pieces;
    out = flat_[p.tensor].narrow(0, p.tensor_offset, p.numel);
  });
  return pieces == 1 ? out : read(span, part);
}

caf::error tensor_parts::check_values(size_t span, size_t part,
                                      const at::Tensor& values) const {
  if (span >= spans_.size() || part >= spans_[span].size())
    return make_error(errc::invalid_argument,
                      "no part " + std::to_string(part) + " in span " +
                          std::to_string(span));
  const auto& info = spans_[span][part];
  if (!values.defined() || values.numel() != info.numel())
    return make_error(errc::invalid_argument,
                      "part " + std::to_string(part) + " of span " +
                          std::to_string(span) + " has " +
                          std::to_string(info.numel()) + " elements, got " +
                          (values.defined() ? std::to_string(values.numel())
                                            : std::string{"none"}));
  if (!at::isFloatingType(values.scalar_type()))
    return make_error(errc::invalid_argument,
                      std::string{"values of dtype "} +
                          c10::toString(values.scalar_type()) +
                          " cannot be averaged into a floating part");
  return {};
}

caf::error tensor_parts::write(size_t span, size_t part,
                               const at::Tensor& values) {
  if (auto err = check_values(span, part, values))
    return err;
  auto flat_values = values.reshape({-1});
  for_each_piece(spans_[span][part], [&](const piece& p) {
    flat_[p.tensor]
        .narrow(0, p.tensor_offset, p.numel)
        .copy_(flat_values.narrow(0, p.part_offset, p.numel));
  });
  return {};
}

caf::error tensor_parts::add(size_t span, size_t part, const at::Tensor& delta,
                             double alpha) {
  if (auto err = check_values(span, part, delta))
    return err;
  auto flat_delta = delta.reshape({-1});
  for_each_piece(spans_[span][part], [&](const piece& p) {
    flat_[p.tensor]
        .narrow(0, p.tensor_offset, p.numel)
        .add_(flat_delta.narrow(0, p.part_offset, p.numel), alpha);
  });
  return {};
}

} // namespace colony::averaging
