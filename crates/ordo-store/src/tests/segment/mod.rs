//! The segment engine's promises, one file per promise: the file media keep
//! their durability contract (`files`).

mod files;
mod support;
