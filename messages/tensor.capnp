@0xd19ba3cc1623643f;
# Tensors on colony's wire. A tensor travels as one `Tensor` struct: its
# element type, its shape, the codec that produced `data`, the encoded bytes,
# and whatever side data the codec needs to decode. All multi-byte values in
# `data` are little-endian, elements in row-major (C-contiguous) order.
#
# A receiver accepts a Tensor only if (checked before any allocation):
# - `dtype` and `compression` are values listed below and the compression
#   applies to the dtype (lossy codecs apply to floating dtypes only);
# - no dimension is negative, the number of dimensions and the number of
#   elements are within the receiver's bounds;
# - `data` has exactly the length the codec implies for the shape (below);
# - the side data the codec uses has exactly the length given below.
# Side-data fields a codec does not use are ignored; senders leave them empty.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

# Element type of the decoded tensor (the type the sender encoded from).
enum DType {
  float32 @0;    # IEEE 754 binary32, 4 bytes
  float16 @1;    # IEEE 754 binary16, 2 bytes
  bfloat16 @2;   # upper half of a binary32, 2 bytes
  float64 @3;    # IEEE 754 binary64, 8 bytes
  int64 @4;      # two's complement, 8 bytes
  int32 @5;      # two's complement, 4 bytes
  uint8 @6;      # 1 byte
  bool @7;       # 1 byte, 0 or 1 (any other byte is rejected)
}

# How `data` encodes the elements. `n` below is the number of elements (the
# product of `shape`; 1 for a 0-dimensional tensor), `last` is the last
# dimension (1 for a 0-dimensional tensor) and `rows = n / last` (0 if n = 0).
enum Compression {
  # Raw elements of `dtype`: n * itemsize bytes. Lossless; the receiver may
  # use the bytes in place (zero-copy).
  none @0;

  # Elements clamped to [-65504, 65504] and rounded to binary16: 2n bytes.
  # Floating dtypes only. Relative error about 2^-11.
  float16 @1;

  # Per row of the last axis: x = (y - mean) / std with std = norm(y - mean)
  # / sqrt(last), floored at binary32's epsilon, then x as binary16 (clamped
  # like `float16`): 2n bytes, plus `means` and `stds` (rows float32 each).
  # Decoded as x * std + mean. Floating dtypes only.
  scaledFloat16 @2;

  # One byte per element: q = clamp(round((y - mean) / scale) + 128, 0, 255)
  # with scale = 6 * std / 256 over the whole tensor (std unbiased), i.e.
  # 256 equal buckets covering mean +- 3 std. `lookup` (256 float32) holds
  # the average of the original values in each bucket; the decoded value of
  # q is lookup[q]. n bytes. Floating dtypes only.
  uniform8bit @3;

  # One byte per element: the bucket of the value among 256 buckets whose
  # borders are the 1/256, ..., 255/256 quantiles of the values (estimated
  # from a sample for large tensors). `lookup` as for uniform8bit. n bytes.
  # Floating dtypes only.
  quantile8bit @4;
}

struct Tensor {
  dtype @0 :DType;
  # Dimensions, outermost first; empty for a 0-dimensional (scalar) tensor.
  shape @1 :List(Int64);
  compression @2 :Compression;
  # The encoded elements; length as given by `compression`.
  data @3 :Data;

  # scaledFloat16: per-row mean and std (rows entries each), rows in
  # row-major order of all but the last dimension.
  means @4 :List(Float32);
  stds @5 :List(Float32);

  # uniform8bit and quantile8bit: the decoded value of each byte value
  # (exactly 256 entries).
  lookup @6 :List(Float32);
}

# Several tensors in one message, e.g. the inputs or outputs of an expert.
struct TensorList {
  tensors @0 :List(Tensor);
}
