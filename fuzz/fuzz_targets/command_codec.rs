//! The command codec's JSON side: arbitrary bytes decoded as the Raft log
//! store decodes every command but an append (serde_json, `ordo-store`'s
//! `codec`; an append ordo wrote before its binary layout decodes this way
//! too), either one `Command` or a list of them. The binary layout of an
//! append is fuzzed through `append_entries_wire`, which carries it. Whatever decodes must re-encode to itself,
//! and applying it, in order, to a fresh `State` must not panic, whatever
//! it holds: `apply` is total, and a replica that panics on a committed
//! entry panics again on every restart.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordo_core::{apply, Command, LogIndex, State};

fuzz_target!(|data: &[u8]| {
    let commands = match serde_json::from_slice::<Command>(data) {
        Ok(command) => vec![command],
        Err(_) => match serde_json::from_slice::<Vec<Command>>(data) {
            Ok(commands) => commands,
            Err(_) => return,
        },
    };
    let mut state = State::default();
    for (index, command) in commands.iter().enumerate() {
        let bytes = serde_json::to_vec(command).expect("a Command always encodes");
        let again: Command = serde_json::from_slice(&bytes).expect("an encoded Command decodes");
        assert_eq!(&again, command, "{}", String::from_utf8_lossy(&bytes));
        // The edge checks may refuse it; apply must cope either way.
        let _ = command.validate();
        let _ = apply(&mut state, LogIndex(index as u64 + 1), command);
    }
    // The state itself round-trips, as snapshots carry it.
    let bytes = serde_json::to_vec(&state).expect("a State always encodes");
    let again: State = serde_json::from_slice(&bytes).expect("an encoded State decodes");
    assert_eq!(again, state);
});
