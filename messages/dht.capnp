@0xecd0f96031899c13;
# Body of the `dht` service: Kademlia RPCs between DHT nodes. Keys travel
# as their serialized bytes (so validators can read `[owner:...]` markers);
# a key's 160-bit id is SHA-1 of those bytes. Times are DHT time: seconds
# since the Unix epoch, as Float64.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("colony::wire");

# A DHT node as others reach it.
struct DhtPeer {
  peerId @0 :Text;         # base58 peer id
  address @1 :Text;        # HOST:PORT; empty for a client-mode node
}

struct DhtRequest {
  # The caller, so the callee can add it to its routing table. Client-mode
  # callers leave the address empty and are never added.
  sender @0 :DhtPeer;
  union {
    ping @1 :Void;
    store @2 :List(StoreItem);
    find @3 :List(Data);   # key ids (20 bytes each)
  }
}

struct StoreItem {
  key @0 :Data;            # serialized key
  subkey @1 :Data;         # serialized subkey, when hasSubkey
  hasSubkey @2 :Bool;
  value @3 :Data;
  expiration @4 :Float64;
  inCache @5 :Bool;        # store in the cache, not the main storage
}

struct SubkeyEntry {
  subkey @0 :Data;
  value @1 :Data;
  expiration @2 :Float64;
}

struct FindResult {
  union {
    notFound @0 :Void;
    plain @1 :PlainValue;
    dictionary @2 :List(SubkeyEntry);
  }
  expiration @3 :Float64;  # of the value (latest subkey for dictionaries)
  nearest @4 :List(DhtPeer); # nodes nearest to the key the callee knows
}

struct PlainValue {
  value @0 :Data;
}

struct DhtResponse {
  responder @0 :DhtPeer;
  union {
    ping @1 :Void;
    store @2 :List(Bool);  # per item: accepted
    find @3 :List(FindResult);
  }
  # With `store`: per item, why it was refused ("reason: detail", reason
  # one word of docs/wire.md); empty text for an accepted item.
  storeRefusals @4 :List(Text);
}
