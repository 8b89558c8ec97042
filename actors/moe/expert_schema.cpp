#include "actors/moe/expert_schema.hpp"

#include "messages/error.hpp"

#include <sstream>

namespace colony::moe {

namespace {

std::string shape_text(const std::vector<int64_t>& dims, bool with_batch) {
  std::ostringstream out;
  out << '[';
  bool first = true;
  if (with_batch) {
    out << 'B';
    first = false;
  }
  for (auto d : dims) {
    if (!first)
      out << ", ";
    out << d;
    first = false;
  }
  out << ']';
  return out.str();
}

std::string tensor_text(const at::Tensor& t) {
  auto sizes = t.sizes();
  return std::string{dtype_name(t.scalar_type())} +
         shape_text({sizes.begin(), sizes.end()}, false);
}

} // namespace

const char* dtype_name(at::ScalarType dtype) noexcept {
  switch (dtype) {
    case at::kFloat:
      return "float32";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kDouble:
      return "float64";
    case at::kLong:
      return "int64";
    case at::kInt:
      return "int32";
    case at::kByte:
      return "uint8";
    case at::kBool:
      return "bool";
    default:
      return "unsupported";
  }
}

std::string tensor_schema::to_string() const {
  return std::string{dtype_name(dtype)} + shape_text(shape, true);
}

tensor_schema tensor_schema::of(const at::Tensor& sample) {
  tensor_schema result;
  auto sizes = sample.sizes();
  if (!sizes.empty())
    result.shape.assign(sizes.begin() + 1, sizes.end());
  result.dtype = sample.scalar_type();
  return result;
}

std::string to_string(const std::vector<tensor_schema>& schemas) {
  std::string result = "(";
  for (size_t i = 0; i < schemas.size(); ++i) {
    if (i > 0)
      result += ", ";
    result += schemas[i].to_string();
  }
  return result + ")";
}

caf::error check_tensors(const std::vector<tensor_schema>& expected,
                         const std::vector<at::Tensor>& tensors,
                         const char* what, int64_t& rows) {
  if (tensors.size() != expected.size())
    return make_error(errc::bad_shape,
                      std::string{"expected "} +
                          std::to_string(expected.size()) + " " + what + " " +
                          to_string(expected) + ", got " +
                          std::to_string(tensors.size()));
  rows = -1;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto& t = tensors[i];
    auto& s = expected[i];
    auto prefix = std::string{what} + "[" + std::to_string(i) + "]: ";
    if (!t.defined())
      return make_error(errc::bad_shape, prefix + "missing tensor");
    if (t.scalar_type() != s.dtype)
      return make_error(errc::unknown_dtype,
                        prefix + "expected dtype " + dtype_name(s.dtype) +
                            ", got " + dtype_name(t.scalar_type()));
    auto sizes = t.sizes();
    bool same = sizes.size() == s.shape.size() + 1 &&
                std::equal(s.shape.begin(), s.shape.end(), sizes.begin() + 1);
    if (!same) {
      std::string hint;
      // Name the wrong width explicitly: the most common mistake.
      if (sizes.size() == s.shape.size() + 1 && !s.shape.empty() &&
          sizes.back() != s.shape.back())
        hint = " (width " + std::to_string(sizes.back()) + ", expected " +
               std::to_string(s.shape.back()) + ")";
      return make_error(errc::bad_shape, prefix + "expected shape " +
                                             s.to_string() + ", got " +
                                             tensor_text(t) + hint);
    }
    if (rows >= 0 && sizes[0] != rows)
      return make_error(errc::bad_shape,
                        prefix + "batch size " + std::to_string(sizes[0]) +
                            " differs from " + std::to_string(rows) +
                            " of the first tensor");
    rows = sizes[0];
  }
  if (rows < 0)
    rows = 0;
  return caf::none;
}

} // namespace colony::moe
