//! The caches on every request's path (tokens, tenant existence, access
//! decisions): hash maps in shards under read-write locks, with a time to
//! live and a bound on their size. Their entries stay good until a change
//! is announced (see `changes`), so they need no order of use: a read is
//! one hash lookup under a shared lock. A general-purpose cache (moka)
//! also kept an order of use per read and probed a table of pointers;
//! with 10,000 tenants in play that was 4.8% of the server's CPU against
//! 1.2% with 10 (bench/README.md, `aerie-bench flows`).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Shards: locks held this briefly rarely meet on a few cores.
const SHARDS: usize = 16;

/// A bounded map from `K` to `V` whose entries expire `ttl` after they were
/// inserted. Cloning shares it.
pub struct Cache<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<K, V> {
    shards: Vec<RwLock<HashMap<K, Entry<V>>>>,
    /// Picks the shard; keyed at random per process (SipHash), like the
    /// maps themselves, so that callers' strings cannot aim at one shard.
    hasher: RandomState,
    shard_capacity: usize,
    ttl: Duration,
}

struct Entry<V> {
    value: V,
    inserted: Instant,
}

impl<K: Hash + Eq, V: Clone> Cache<K, V> {
    /// A cache of about `capacity` entries at most, each kept `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let shard_capacity = capacity.div_ceil(SHARDS).max(1);
        Cache {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
                hasher: RandomState::new(),
                shard_capacity,
                ttl,
            }),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &RwLock<HashMap<K, Entry<V>>> {
        let hash = self.inner.hasher.hash_one(key);
        // The high bits: the maps inside use the low ones.
        &self.inner.shards[(hash >> 56) as usize % SHARDS]
    }

    /// The value under `key`, unless absent or expired.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shard(key).read().unwrap_or_else(|p| p.into_inner());
        shard
            .get(key)
            .filter(|entry| entry.inserted.elapsed() < self.inner.ttl)
            .map(|entry| entry.value.clone())
    }

    /// Puts `value` under `key`. A full shard first drops what expired,
    /// then, if still full, a quarter of its entries (the map's order,
    /// which is random): a dropped answer is only asked for again.
    pub fn insert(&self, key: K, value: V) {
        self.insert_if(key, value, || true);
    }

    /// Room for `key` in its full `shard`.
    fn make_room(&self, shard: &mut HashMap<K, Entry<V>>, key: &K) {
        if shard.len() < self.inner.shard_capacity || shard.contains_key(key) {
            return;
        }
        let ttl = self.inner.ttl;
        shard.retain(|_, entry| entry.inserted.elapsed() < ttl);
        if shard.len() >= self.inner.shard_capacity {
            let mut dropped = 0;
            let quarter = (shard.len() / 4).max(1);
            shard.retain(|_, _| {
                dropped += 1;
                dropped > quarter
            });
        }
    }

    /// Puts `value` under `key` if `still()` holds, asked while no
    /// invalidation can run on that part of the cache: an answer read
    /// before a change is announced is either dropped by the change's
    /// invalidation or never stored (`still` compares the change epoch,
    /// which is advanced before invalidating).
    pub fn insert_if(&self, key: K, value: V, still: impl FnOnce() -> bool) -> bool {
        let mut shard = self.shard(&key).write().unwrap_or_else(|p| p.into_inner());
        if !still() {
            return false;
        }
        self.make_room(&mut shard, &key);
        shard.insert(
            key,
            Entry {
                value,
                inserted: Instant::now(),
            },
        );
        true
    }

    /// Drops the entry under `key`.
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key)
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Drops every entry.
    pub fn invalidate_all(&self) {
        for shard in &self.inner.shards {
            shard.write().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// Drops the entries `stale` says are, at once: a later read never
    /// sees them.
    pub fn invalidate_if(&self, stale: impl Fn(&K, &V) -> bool) {
        for shard in &self.inner.shards {
            shard
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|key, entry| !stale(key, &entry.value));
        }
    }

    /// How many entries are held (expired ones included until dropped).
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|shard| shard.read().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_answers_what_was_inserted_by_borrowed_key() {
        let cache: Cache<Arc<str>, u32> = Cache::new(100, Duration::from_secs(60));
        cache.insert(Arc::from("a"), 1);
        cache.insert(Arc::from("b"), 2);
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get("b"), Some(2));
        assert_eq!(cache.get("c"), None);
        cache.insert(Arc::from("a"), 3);
        assert_eq!(cache.get("a"), Some(3));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_conditional_insert_stores_only_while_its_condition_holds() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let cache: Cache<u32, u32> = Cache::new(100, Duration::from_secs(60));
        let epoch = AtomicU64::new(1);
        let read_at = epoch.load(Ordering::SeqCst);
        let unchanged = || epoch.load(Ordering::SeqCst) == read_at;
        assert!(cache.insert_if(1, 1, unchanged));
        // A change announced between the read and the store.
        epoch.fetch_add(1, Ordering::SeqCst);
        assert!(!cache.insert_if(2, 2, unchanged));
        assert_eq!(cache.get(&1), Some(1));
        assert_eq!(cache.get(&2), None);
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache: Cache<u32, u32> = Cache::new(100, Duration::from_millis(30));
        cache.insert(1, 1);
        assert_eq!(cache.get(&1), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn invalidation_drops_exactly_what_it_names() {
        let cache: Cache<(u32, u32), u32> = Cache::new(1000, Duration::from_secs(60));
        for tenant in 0..10 {
            for user in 0..10 {
                cache.insert((tenant, user), tenant * 100 + user);
            }
        }
        cache.invalidate_if(|(tenant, _), _| *tenant == 3);
        cache.invalidate(&(4, 4));
        for tenant in 0..10 {
            for user in 0..10 {
                let gone = tenant == 3 || (tenant, user) == (4, 4);
                assert_eq!(
                    cache.get(&(tenant, user)).is_none(),
                    gone,
                    "({tenant}, {user})"
                );
            }
        }
        cache.invalidate_all();
        assert!(cache.is_empty());
    }

    #[test]
    fn it_stays_within_its_capacity() {
        let capacity = 1_000;
        let cache: Cache<u32, u32> = Cache::new(capacity, Duration::from_secs(60));
        for key in 0..100_000 {
            cache.insert(key, key);
            // The newest entry is always kept.
            assert_eq!(cache.get(&key), Some(key));
        }
        assert!(
            cache.len() <= capacity.div_ceil(SHARDS) * SHARDS,
            "{}",
            cache.len()
        );
        // And the cache is not emptied to make room.
        assert!(cache.len() >= capacity / 2, "{}", cache.len());
    }

    #[test]
    fn a_full_shard_drops_expired_entries_first() {
        let cache: Cache<u32, u32> = Cache::new(SHARDS * 8, Duration::from_millis(30));
        let same_shard = |key: &u32| std::ptr::eq(cache.shard(key), cache.shard(&20_000));
        let full = || cache.shard(&20_000).read().unwrap().len() == 8;
        for key in (0..).filter(same_shard) {
            if full() {
                break;
            }
            cache.insert(key, key);
        }
        std::thread::sleep(Duration::from_millis(40));
        cache.insert(20_000, 1);
        let shard = cache.shard(&20_000).read().unwrap().len();
        // Not three quarters of a full shard: every expired entry went.
        assert_eq!(shard, 1);
        assert_eq!(cache.get(&20_000), Some(1));
    }
}
