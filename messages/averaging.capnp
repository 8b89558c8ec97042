@0xc599fb7634f76465;
# Decentralized averaging on colony's wire (actors/averaging): matchmaking
# through DHT group keys, butterfly all-reduce in parts, state download.
# Served under the transport service name `averager/<prefix>`.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

using import "tensor.capnp".Tensor;

# ---------------------------------------------------------------------------
# Matchmaking
# ---------------------------------------------------------------------------

# (matchmaking messages go here)

# ---------------------------------------------------------------------------
# All-reduce
# ---------------------------------------------------------------------------

# (all-reduce messages go here)

# ---------------------------------------------------------------------------
# State download
# ---------------------------------------------------------------------------

# (state download messages go here)
