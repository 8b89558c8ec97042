@0xb32fc106f8e6db5d;
# What an expert server tells a client about the experts it hosts.
#
# Calls to an expert go to the service `expert/<uid>/<method>`:
# - `forward`:  body TensorList(inputs), reply TensorList(outputs);
# - `backward`: body TensorList(inputs ++ grad_outputs), one grad per output;
#               reply TensorList(one grad per input; zeros for inputs that
#               take no gradient, e.g. a bool mask);
# - `info`:     empty body, reply ExpertInfo.
# The service `experts` answers an empty body with an ExpertCatalog of every
# expert the server hosts. Every tensor has a leading batch dimension.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

using import "tensor.capnp".DType;
using import "tensor.capnp".Compression;

# One tensor an expert takes or returns.
struct TensorSchema {
  shape @0 :List(Int64);   # dimensions after the batch dimension
  dtype @1 :DType;
}

struct ExpertInfo {
  uid @0 :Text;
  expertClass @1 :Text;          # registry name, e.g. "ffn"
  parameterCount @2 :UInt64;
  inputs @3 :List(TensorSchema);
  outputs @4 :List(TensorSchema);
  maxBatchSize @5 :UInt64;       # rows per call at most
  compression @6 :Compression;   # codec of the server's replies
}

struct ExpertCatalog {
  experts @0 :List(ExpertInfo);
}
