//! Column sinks the entry parser writes into directly, one batch at a time.
//!
//! Why not arrow's builders: an entry carries 3–12 of the 44 metadata keys, and a row-wise builder
//! has to append a null to every absent column for every entry (44 appends) and copy every string
//! into its own buffer. These sinks are *sparse*: a value is written at its row and the gap before
//! it is left as the zeroed memory it already is, so an entry costs only the keys it has. Strings are
//! *zero-copy*: a text value stored definite-length in the file becomes a view into the batch's
//! window of the memory map (buffer 0), exactly like payloads; only values that had to be built
//! (indefinite-length strings, JSON renderings) are copied, into the column's own buffer 1.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

use arrow_array::builder::make_view;
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{ArrayRef, BinaryViewArray, BooleanArray, PrimitiveArray, StringViewArray};
use arrow_buffer::{ArrowNativeType, BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use memmap2::{MmapOptions, MmapRaw};
use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;

/// Zeroed memory for all the columns of one batch: one anonymous mapping, carved into regions.
///
/// Why not a `Vec` per column: a `Vec` of a batch's size comes zeroed only when the allocator hands
/// out fresh pages, otherwise it pays a memset, and growing one copies it. One mapping per batch
/// is zero without a memset, and the parts of it a batch never writes are never faulted in.
///
/// Columns take their region on their first value, so the regions in use sit together and a
/// column the batch never writes costs nothing: it is finished over `zeros`, one shared region
/// that is never written (all values 0, all null).
pub(super) struct Arena {
    map: Arc<AssertUnwindSafe<Mapping>>,
    used: Cell<usize>,
    zeros: NonNull<u8>,
    zeros_len: usize,
}

/// An arena's anonymous mapping. When the last Arrow buffer over it goes, it returns to a small
/// pool with the length of its written prefix, and the next batch of the same size reuses it:
/// re-zeroing what a batch wrote (a memset) costs a fraction of faulting in fresh pages, which
/// was a quarter of reading time; streaming reads drop each round's batches and reuse them all.
struct Mapping {
    map: Option<MmapRaw>,
    /// Where the batch's written regions start: the end of its zeros region, which is never
    /// written.
    written_from: usize,
    /// Bytes from the start that a batch wrote (set when the batch is finished).
    dirty: AtomicUsize,
}

impl std::ops::Deref for Mapping {
    type Target = MmapRaw;
    fn deref(&self) -> &MmapRaw {
        self.map.as_ref().expect("mapping present until dropped")
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(map) = self.map.take() {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < POOL_MAX {
                pool.push((map, self.written_from, *self.dirty.get_mut()));
            }
        }
    }
}

/// Mappings free for reuse, with the range their last batch may have written. A few batches'
/// worth: what a streaming read holds at once.
static POOL: Mutex<Vec<(MmapRaw, usize, usize)>> = Mutex::new(Vec::new());
const POOL_MAX: usize = 4;

impl Drop for Arena {
    fn drop(&mut self) {
        self.map.dirty.store(self.used.get(), Ordering::Relaxed);
    }
}

impl Arena {
    /// An arena with room for `bytes` bytes of regions besides a `zeros` region of `zeros_len`.
    /// Only the pages actually written are ever backed by memory, so sizing for the worst case
    /// (every column written) is free.
    pub fn new(bytes: usize, zeros_len: usize) -> Rc<Self> {
        let len = (bytes + Arena::region(zeros_len)).max(1).next_multiple_of(4096);
        let zeros_region = Arena::region(zeros_len);
        let reused = {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            pool.iter().position(|(m, _, _)| m.len() == len).map(|i| pool.swap_remove(i))
        };
        let map = match reused {
            Some((map, written_from, dirty)) => {
                // Re-zero what the last batch may have written: from the end of *its* zeros region.
                // Batches of different row counts can round to the same mapping length, and a
                // larger batch's zeros region then covers the start of the last one's columns
                // (zeroing from the new batch's region end once left stale views in null slots).
                let dirty = dirty.min(len);
                if dirty > written_from {
                    // SAFETY: the range lies inside the mapping, which no buffer references any
                    // more (it was returned to the pool when the last one was dropped).
                    unsafe { std::ptr::write_bytes(map.as_mut_ptr().add(written_from), 0, dirty - written_from) };
                }
                map
            }
            // No MADV_HUGEPAGE: with the usual `defrag=madvise` the kernel compacts memory inside
            // the page fault to find a huge page, and on a fragmented machine reads then took 4x
            // longer in one run out of three (median 2.3 GB/s with huge pages, 0.5 GB/s when the
            // kernel had to compact; 1.9 GB/s steadily with small pages).
            None => {
                MmapRaw::from(MmapOptions::new().len(len).map_anon().expect("anonymous memory for a batch of columns"))
            }
        };
        let zeros = NonNull::new(map.as_mut_ptr()).expect("mapping is not null");
        let mapping = Mapping { map: Some(map), written_from: zeros_region, dirty: AtomicUsize::new(0) };
        Rc::new(Arena { map: Arc::new(AssertUnwindSafe(mapping)), used: Cell::new(zeros_region), zeros, zeros_len })
    }

    /// Bytes to reserve for a region of `bytes` bytes (regions are 64-byte aligned, as Arrow
    /// recommends).
    pub const fn region(bytes: usize) -> usize {
        bytes.next_multiple_of(64)
    }

    fn take(&self, bytes: usize) -> NonNull<u8> {
        let size = Arena::region(bytes);
        let used = self.used.get();
        assert!(used + size <= self.map.len(), "batch arena sized too small");
        // SAFETY: the offset is inside the mapping (checked above).
        let p = unsafe { self.map.as_mut_ptr().add(used) };
        self.used.set(used + size);
        NonNull::new(p).expect("mapping is not null")
    }

    /// `len` bytes of the shared zeros region.
    fn zeros(&self, len: usize) -> NonNull<u8> {
        assert!(len <= self.zeros_len, "zeros region sized too small");
        self.zeros
    }

    /// An Arrow buffer over the first `len` bytes at `ptr` that keeps the whole arena alive.
    fn buffer(&self, ptr: NonNull<u8>, len: usize) -> Buffer {
        // SAFETY: `ptr..ptr+len` lies inside the mapping, which the Arc owner keeps alive and
        // which nobody writes once the batch is finished.
        unsafe { Buffer::from_custom_allocation(ptr, len, self.map.clone()) }
    }
}

/// A nullable column of fixed-width values filled sparsely by row number, in an [`Arena`].
/// An absent value costs nothing: the memory is already zero (value 0, null).
pub(super) struct Sparse<T: Copy + Default> {
    arena: Rc<Arena>,
    /// Values and validity, taken from the arena on the first value.
    region: Option<(NonNull<T>, NonNull<u8>)>,
    cap: usize,
}

impl<T: Copy + Default> Sparse<T> {
    /// Arena bytes one column of `cap` rows may need.
    pub const fn footprint(cap: usize) -> usize {
        Arena::region(cap * std::mem::size_of::<T>()) + Arena::region(cap.div_ceil(8))
    }

    pub fn new(arena: &Rc<Arena>, cap: usize) -> Self {
        Sparse { arena: Rc::clone(arena), region: None, cap }
    }

    #[cold]
    fn take_region(&mut self) -> (NonNull<T>, NonNull<u8>) {
        let vals = self.arena.take(self.cap * std::mem::size_of::<T>()).cast::<T>();
        let valid = self.arena.take(self.cap.div_ceil(8));
        *self.region.insert((vals, valid))
    }

    /// Set `row` (`row < cap`); writing a row again (a duplicate key) replaces its value: the
    /// last one wins.
    #[inline]
    pub fn put(&mut self, row: usize, v: T) {
        assert!(row < self.cap, "row beyond the batch capacity");
        let (vals, valid) = match self.region {
            Some(r) => r,
            None => self.take_region(),
        };
        // SAFETY: row < cap, and both regions were sized for cap rows.
        unsafe {
            vals.as_ptr().add(row).write(v);
            *valid.as_ptr().add(row >> 3) |= 1 << (row & 7);
        }
    }

    /// The value at `row` if it was written.
    #[inline]
    pub fn get(&self, row: usize) -> Option<T> {
        let (vals, valid) = self.region?;
        if row >= self.cap {
            return None;
        }
        // SAFETY: row < cap.
        unsafe {
            if *valid.as_ptr().add(row >> 3) & (1 << (row & 7)) != 0 {
                Some(vals.as_ptr().add(row).read())
            } else {
                None
            }
        }
    }

    /// Forget the value at `row` (an entry that failed half-way, or a duplicate key whose last
    /// value is unusable).
    #[inline]
    pub fn clear(&mut self, row: usize) {
        if let (Some((vals, valid)), true) = (self.region, row < self.cap) {
            // SAFETY: row < cap.
            unsafe {
                vals.as_ptr().add(row).write(T::default());
                *valid.as_ptr().add(row >> 3) &= !(1 << (row & 7));
            }
        }
    }

    /// The first `rows` values and their validity, as Arrow buffers over the arena.
    pub fn finish(&self, rows: usize) -> (ScalarBuffer<T>, Option<NullBuffer>)
    where
        T: ArrowNativeType,
    {
        assert!(rows <= self.cap);
        let bytes = rows * std::mem::size_of::<T>();
        let a = &self.arena;
        let (vals, valid) = match self.region {
            Some((vals, valid)) => (vals.cast::<u8>(), valid),
            None => (a.zeros(bytes), a.zeros(rows.div_ceil(8))),
        };
        (ScalarBuffer::new(a.buffer(vals, bytes), 0, rows), nulls_of(a, valid, rows))
    }

    pub fn primitive<P: ArrowPrimitiveType<Native = T>>(&self, rows: usize) -> ArrayRef
    where
        T: ArrowNativeType,
    {
        let (vals, nulls) = self.finish(rows);
        Arc::new(PrimitiveArray::<P>::new(vals, nulls))
    }
}

/// A nullable boolean column (flags): values and validity both bit-packed in an [`Arena`],
/// taken on the first value.
pub(super) struct Flags {
    arena: Rc<Arena>,
    region: Option<(NonNull<u8>, NonNull<u8>)>,
    cap: usize,
}

impl Flags {
    pub const fn footprint(cap: usize) -> usize {
        Arena::region(cap.div_ceil(8)) * 2
    }

    pub fn new(arena: &Rc<Arena>, cap: usize) -> Self {
        Flags { arena: Rc::clone(arena), region: None, cap }
    }

    #[inline]
    pub fn put(&mut self, row: usize, v: bool) {
        assert!(row < self.cap, "row beyond the batch capacity");
        let (values, valid) = match self.region {
            Some(r) => r,
            None => *self.region.insert((self.arena.take(self.cap.div_ceil(8)), self.arena.take(self.cap.div_ceil(8)))),
        };
        // SAFETY: row < cap and both bitmaps hold cap bits.
        unsafe {
            let b = values.as_ptr().add(row >> 3);
            if v {
                *b |= 1 << (row & 7);
            } else {
                *b &= !(1 << (row & 7));
            }
            *valid.as_ptr().add(row >> 3) |= 1 << (row & 7);
        }
    }

    #[inline]
    pub fn clear(&mut self, row: usize) {
        if let (Some((values, valid)), true) = (self.region, row < self.cap) {
            // SAFETY: row < cap.
            unsafe {
                *values.as_ptr().add(row >> 3) &= !(1 << (row & 7));
                *valid.as_ptr().add(row >> 3) &= !(1 << (row & 7));
            }
        }
    }

    pub fn boolean(&self, rows: usize) -> ArrayRef {
        assert!(rows <= self.cap);
        let a = &self.arena;
        let n = rows.div_ceil(8);
        let (values, valid) = self.region.unwrap_or_else(|| (a.zeros(n), a.zeros(n)));
        let values = BooleanBuffer::new(a.buffer(values, n), 0, rows);
        Arc::new(BooleanArray::new(values, nulls_of(a, valid, rows)))
    }
}

/// The validity bitmap at `valid` as a null buffer (`None` when nothing is null).
fn nulls_of(arena: &Arena, valid: NonNull<u8>, rows: usize) -> Option<NullBuffer> {
    let nulls = NullBuffer::new(BooleanBuffer::new(arena.buffer(valid, rows.div_ceil(8)), 0, rows));
    if nulls.null_count() == 0 {
        None
    } else {
        Some(nulls)
    }
}

/// A view column (Utf8View or BinaryView): views into the batch window (buffer 0) or into the
/// column's own buffer (buffer 1), plus any extra buffers appended by the caller.
pub(super) struct Views {
    pub views: Sparse<u128>,
    pub owned: Vec<u8>,
    pub extra: Vec<Buffer>,
}

impl Views {
    pub const fn footprint(cap: usize) -> usize {
        Sparse::<u128>::footprint(cap)
    }

    pub fn new(arena: &Rc<Arena>, cap: usize) -> Self {
        Views { views: Sparse::new(arena, cap), owned: Vec::new(), extra: Vec::new() }
    }

    /// Store `v` at `row`; `base` is the address where the batch window starts in the file.
    #[inline(always)]
    pub fn put(&mut self, row: usize, v: Cow<'_, [u8]>, base: usize) {
        let view = match v {
            Cow::Borrowed(b) if b.len() > 12 => {
                let off = b.as_ptr() as usize - base;
                make_view(b, 0, u32::try_from(off).expect("batch window under 4 GiB"))
            }
            ref b if b.len() <= 12 => make_view(b, 0, 0),
            b => self.own(&b),
        };
        self.views.put(row, view);
    }

    #[inline]
    pub fn put_str(&mut self, row: usize, s: Cow<'_, str>, base: usize) {
        let b = match s {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        self.put(row, b, base);
    }

    /// Store a value built in memory (copied into buffer 1).
    #[inline]
    pub fn put_owned(&mut self, row: usize, b: &[u8]) {
        let view = if b.len() <= 12 { make_view(b, 0, 0) } else { self.own(b) };
        self.views.put(row, view);
    }

    fn own(&mut self, b: &[u8]) -> u128 {
        let off = self.owned.len();
        self.owned.extend_from_slice(b);
        make_view(b, 1, u32::try_from(off).expect("owned values under 4 GiB per batch"))
    }

    fn buffers(&mut self, window: &Buffer) -> Vec<Buffer> {
        let mut bufs = vec![window.clone(), Buffer::from_vec(std::mem::take(&mut self.owned))];
        bufs.append(&mut self.extra);
        bufs
    }

    /// SAFETY contract of the callers: every view was made by `put*` from bytes that lie in the
    /// window (buffer 0), in `owned` (buffer 1) or in an `extra` buffer at the index recorded.
    pub fn binary(&mut self, rows: usize, window: &Buffer) -> ArrayRef {
        let (views, nulls) = self.views.finish(rows);
        let buffers = self.buffers(window);
        // SAFETY: see above; the views were built from slices of exactly these buffers.
        Arc::new(unsafe { BinaryViewArray::new_unchecked(views, buffers.into(), nulls) })
    }

    /// As [`Views::binary`]; additionally every value was UTF-8 (checked while decoding, or
    /// produced by serde_json).
    pub fn utf8(&mut self, rows: usize, window: &Buffer) -> ArrayRef {
        let (views, nulls) = self.views.finish(rows);
        let buffers = self.buffers(window);
        // SAFETY: views are in bounds (see `binary`) and every value was validated as UTF-8.
        Arc::new(unsafe { StringViewArray::new_unchecked(views, buffers.into(), nulls) })
    }

    #[inline]
    pub fn clear(&mut self, row: usize) {
        self.views.clear(row);
    }
}
