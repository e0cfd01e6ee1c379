//! Caps on open live streams (SSE), shared by the seat-map stream (keyed by client address)
//! and the waiting-room stream (keyed by user): at most `max_per_key` streams per key and
//! `max_total` in all on this instance. A stream holds a [`StreamSlot`] for as long as it is
//! open; dropping it (the client went away, the stream ended) frees the place.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex},
};

use crate::error::{AppError, ErrorCode};

/// How long a client refused by its own cap should wait before trying again, in seconds.
pub const RETRY_PER_KEY_SECS: u64 = 10;
/// How long a client refused because the instance is full should wait, in seconds.
pub const RETRY_INSTANCE_SECS: u64 = 30;

/// The caps on open streams.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Streams open on this instance.
    pub max_total: usize,
    /// Streams open on this instance for one key (a client address, a user).
    pub max_per_key: usize,
}

/// Counts open streams per key and in all, within [`StreamLimits`].
pub struct StreamCaps<K> {
    limits: StreamLimits,
    /// The counter of refusals (`cap` = `client`/`user` or `instance`).
    refused_metric: &'static str,
    /// The `cap` label of a refusal by the per-key cap.
    key_label: &'static str,
    counts: Mutex<Counts<K>>,
}

struct Counts<K> {
    total: usize,
    per_key: HashMap<K, usize>,
}

/// One open stream's place under the caps, freed when dropped.
pub struct StreamSlot<K: Hash + Eq + Clone> {
    caps: Arc<StreamCaps<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> StreamCaps<K> {
    /// Caps counting refusals in `refused_metric`, labelled `cap` = `key_label` or `instance`.
    pub fn new(
        limits: StreamLimits,
        refused_metric: &'static str,
        key_label: &'static str,
    ) -> Arc<StreamCaps<K>> {
        Arc::new(StreamCaps {
            limits,
            refused_metric,
            key_label,
            counts: Mutex::new(Counts { total: 0, per_key: HashMap::new() }),
        })
    }

    /// A place for one more stream of `key`: 429 `TOO_MANY_STREAMS` past the per-key cap, 503
    /// `STREAM_CAPACITY_REACHED` past the instance's, both with `Retry-After`.
    pub fn acquire(self: &Arc<Self>, key: K) -> Result<StreamSlot<K>, AppError> {
        let mut counts = self.counts.lock().expect("lock");
        let mine = counts.per_key.get(&key).copied().unwrap_or(0);
        if mine >= self.limits.max_per_key {
            metrics::counter!(self.refused_metric, "cap" => self.key_label).increment(1);
            return Err(AppError::Throttled {
                code: ErrorCode::TOO_MANY_STREAMS,
                retry_after_secs: RETRY_PER_KEY_SECS,
            });
        }
        if counts.total >= self.limits.max_total {
            metrics::counter!(self.refused_metric, "cap" => "instance").increment(1);
            return Err(AppError::Throttled {
                code: ErrorCode::STREAM_CAPACITY_REACHED,
                retry_after_secs: RETRY_INSTANCE_SECS,
            });
        }
        counts.total += 1;
        counts.per_key.insert(key.clone(), mine + 1);
        Ok(StreamSlot { caps: self.clone(), key })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.counts.lock().expect("lock").total
    }
}

impl<K: Hash + Eq + Clone> Drop for StreamSlot<K> {
    fn drop(&mut self) {
        let mut counts = self.caps.counts.lock().expect("lock");
        counts.total -= 1;
        if let Some(n) = counts.per_key.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.per_key.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max_total: usize, max_per_key: usize) -> Arc<StreamCaps<i64>> {
        StreamCaps::new(StreamLimits { max_total, max_per_key }, "test_refused_total", "user")
    }

    #[test]
    fn each_key_gets_its_cap_and_a_dropped_slot_frees_its_place() {
        let caps = caps(10, 2);
        let a1 = caps.acquire(1).unwrap();
        let _a2 = caps.acquire(1).unwrap();
        let refused = caps.acquire(1).err().unwrap();
        assert_eq!(refused.code(), ErrorCode::TOO_MANY_STREAMS);
        let _b = caps.acquire(2).unwrap();
        assert_eq!(caps.open(), 3);
        drop(a1);
        assert_eq!(caps.open(), 2);
        let _a3 = caps.acquire(1).unwrap();
    }

    #[test]
    fn the_instance_cap_holds_whatever_the_keys() {
        let caps = caps(2, 5);
        let _a = caps.acquire(1).unwrap();
        let b = caps.acquire(2).unwrap();
        assert_eq!(caps.acquire(3).err().unwrap().code(), ErrorCode::STREAM_CAPACITY_REACHED);
        drop(b);
        let _c = caps.acquire(3).unwrap();
        assert!(!caps.counts.lock().unwrap().per_key.contains_key(&2), "no empty entries kept");
    }
}
