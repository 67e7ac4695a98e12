//! Which Kafka APIs the listener serves, at which versions: Apache Kafka
//! 2.8's newest version of each API key it serves, so that clients that
//! infer a broker's release from ApiVersions (kafka-python does) see 2.8,
//! and every client picks versions that carry topic names rather than
//! topic ids (Fetch stops at 12, before ids); and the oldest versions
//! Kafka 4.0 still serves (KIP-896 removed the older ones, and the
//! protocol crate, generated from 4.x, no longer decodes them): clients
//! from 2017 on (Kafka 0.11, librdkafka 0.11) use none of those. Pure.

use kafka_protocol::messages::ApiKey;

/// One served API key and the versions of it the listener decodes and
/// answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    pub key: ApiKey,
    pub min: i16,
    pub max: i16,
}

const fn served(key: ApiKey, min: i16, max: i16) -> Served {
    Served { key, min, max }
}

/// Every API key served, in key order, with its version range.
pub const SERVED: &[Served] = &[
    served(ApiKey::Produce, 3, 9),
    served(ApiKey::Fetch, 4, 12),
    served(ApiKey::ListOffsets, 1, 6),
    served(ApiKey::Metadata, 0, 11),
    served(ApiKey::OffsetCommit, 2, 8),
    served(ApiKey::OffsetFetch, 1, 7),
    served(ApiKey::FindCoordinator, 0, 3),
    served(ApiKey::JoinGroup, 0, 7),
    served(ApiKey::Heartbeat, 0, 4),
    served(ApiKey::LeaveGroup, 0, 4),
    served(ApiKey::SyncGroup, 0, 5),
    served(ApiKey::DescribeGroups, 0, 5),
    served(ApiKey::ListGroups, 0, 4),
    served(ApiKey::SaslHandshake, 0, 1),
    served(ApiKey::ApiVersions, 0, 3),
    served(ApiKey::CreateTopics, 2, 7),
    served(ApiKey::DeleteTopics, 1, 6),
    served(ApiKey::InitProducerId, 0, 4),
    served(ApiKey::DescribeConfigs, 1, 4),
    served(ApiKey::SaslAuthenticate, 0, 2),
];

/// Whether `version` of `key` is served.
pub fn is_served(key: ApiKey, version: i16) -> bool {
    SERVED
        .iter()
        .any(|s| s.key == key && (s.min..=s.max).contains(&version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_range_is_one_the_protocol_crate_can_decode() {
        for s in SERVED {
            let known = s.key.valid_versions();
            assert!(
                known.min <= s.min && s.max <= known.max,
                "{:?} {}..{} outside {known}",
                s.key,
                s.min,
                s.max
            );
        }
    }

    #[test]
    fn keys_are_in_order_and_each_once() {
        let keys: Vec<i16> = SERVED.iter().map(|s| s.key as i16).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn kafka_python_infers_release_2_8_from_these_ranges() {
        // kafka-python's rule: the newest release whose probe fits. Produce
        // v9 is 2.8's; Fetch v13 (3.1) and ListOffsets v7 (3.0) are not
        // served, so nothing newer matches.
        assert!(is_served(ApiKey::Produce, 9));
        assert!(!is_served(ApiKey::Fetch, 13));
        assert!(!is_served(ApiKey::ListOffsets, 7));
        assert!(!is_served(ApiKey::JoinGroup, 9));
    }
}
