//! The AppendEntries request as a follower decodes it (`ordo_node::rpc::
//! decode_append_entries`: the binary form, or JSON from an older leader):
//! arbitrary bytes either are refused or decode to a request that encodes
//! in the binary form and decodes back to itself. Nothing panics: a
//! follower decodes whatever reaches `/raft/append`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordo_node::{append_wire, rpc};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = rpc::decode_append_entries(data) else {
        return;
    };
    let seen = format!("{request:?}");
    let bytes = append_wire::encode(request).expect("a decoded request encodes");
    let again = append_wire::decode(&bytes).expect("an encoded request decodes");
    assert_eq!(format!("{again:?}"), seen);
});
