@0xc651410a3b88294c;
# The DHT value that announces an expert: stored under the expert's uid and,
# for each prefix of the uid, under that prefix with the next coordinate as
# subkey (see actors/moe/expert_declaration.hpp).

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

struct ExpertRecord {
  uid @0 :Text;            # e.g. "ffn.0.13"
  peerId @1 :Text;         # base58 peer id of the server hosting the expert
  address @2 :Text;        # HOST:PORT where that server listens
}
