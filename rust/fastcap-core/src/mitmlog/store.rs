//! Where the parser's output strings live, and the Arrow view columns that point at them.
//!
//! Every string column is `Utf8View`/`BinaryView`: a 16-byte view per value that either holds a
//! short value inline or points into a data buffer. Two kinds of buffers back the views:
//!
//! * the **input** itself (the memory map of the log, or an owned copy): URLs, header names and
//!   values without escapes, termlog lines, single-line bodies, … are views into it, zero-copy;
//! * the **arena**, an anonymous mapping the parser writes what it had to transform: multi-line
//!   bodies (the 4-space indent removed from every line, CR dropped), unescaped headers,
//!   ANSI-stripped lines, 11.x hex-dump bytes.
//!
//! The arena is reserved (not committed) at twice the input size, which bounds everything the
//! parser can write (each input byte yields at most two output bytes: a latin-1 unescape), so it
//! never reallocates in practice; pages are committed as they are written, as 2 MiB huge pages
//! where the kernel allows (`MADV_HUGEPAGE`): a 4 KiB page fault per 4 KiB of body text cost
//! more than parsing it. Views address a buffer with a 32-bit offset, so both regions are exposed
//! as windows of up to 4 GiB starting every 2 GiB; any value up to 2 GiB long fits one window.

use std::ptr::NonNull;
use std::sync::Arc;

use arrow_array::builder::make_view;
use arrow_array::{ArrayRef, BinaryViewArray, ListArray, StringViewArray};
use arrow_buffer::{Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};

/// Distance between the starts of two view windows (and the longest value a view can address).
pub(super) const WINDOW_STEP: usize = 1 << 31;

/// A string produced by the parser: a byte range of the input or of the arena.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Span {
    pub start: usize,
    pub end: usize,
    pub owned: bool,
}

impl Span {
    #[inline]
    pub fn src(start: usize, end: usize) -> Span {
        Span { start, end, owned: false }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.start
    }
}

/// Number of view windows over `len` bytes (at least one, so block ids are fixed up front).
fn window_count(len: usize) -> usize {
    len.div_ceil(WINDOW_STEP).max(1)
}

fn windows(buf: &Buffer) -> impl Iterator<Item = Buffer> + '_ {
    let len = buf.len();
    (0..window_count(len)).map(move |k| {
        let start = (k * WINDOW_STEP).min(len);
        let end = (start + 2 * WINDOW_STEP).min(len);
        buf.slice_with_length(start, end - start)
    })
}

const HUGE_PAGE: usize = 2 << 20;

/// An anonymous mapping written front to back through a raw pointer (held for its unmapping).
struct Region {
    _map: memmap2::MmapMut,
}

// The mapping is only read through `Buffer`s over its already-written prefix.
impl std::panic::RefUnwindSafe for Region {}

fn reserve(cap: usize) -> std::io::Result<(Arc<Region>, *mut u8, usize)> {
    // Large arenas: a whole number of 2 MiB pages, so the kernel aligns the mapping for huge
    // pages. Small ones stay on 4 KiB pages (a huge page would be zeroed for a few bytes).
    let huge = cap >= 2 * HUGE_PAGE;
    let cap = if huge { cap.next_multiple_of(HUGE_PAGE) } else { cap.max(4096) };
    let mut map = memmap2::MmapOptions::new().len(cap).no_reserve_swap().map_anon()?;
    #[cfg(target_os = "linux")]
    if huge {
        // Best effort: without transparent huge pages this is 4 KiB pages as usual.
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    let ptr = map.as_mut_ptr();
    Ok((Arc::new(Region { _map: map }), ptr, cap))
}

/// The owned output bytes of one parse.
pub(super) struct Arena {
    region: Arc<Region>,
    ptr: *mut u8,
    len: usize,
    cap: usize,
    /// Bytes below this are exposed through a `Buffer` already and must not be rewritten.
    frozen: usize,
}

// SAFETY: `ptr` points into `region`, which the arena keeps alive; only the arena writes.
unsafe impl Send for Arena {}

impl Arena {
    pub fn new(cap: usize) -> std::io::Result<Arena> {
        // Where address space is committed strictly (vm.overcommit_memory = 2 ignores
        // MAP_NORESERVE), a large reservation can fail: start smaller and let `grow` copy.
        let mut want = cap;
        loop {
            match reserve(want) {
                Ok((region, ptr, cap)) => return Ok(Arena { region, ptr, len: 0, cap, frozen: 0 }),
                Err(e) if want <= 1 << 20 => return Err(e),
                Err(_) => want /= 8,
            }
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[cold]
    fn grow(&mut self, need: usize) {
        let cap = (self.cap * 2).max(self.len + need + 4096);
        let (region, ptr, cap) = reserve(cap).expect("reserving address space for the mitmlog arena");
        // SAFETY: both regions are valid for `len` bytes and distinct. Buffers handed out so far
        // keep the old region alive; positions stay the same in the new one.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr, ptr, self.len) };
        self.region = region;
        self.ptr = ptr;
        self.cap = cap;
    }

    #[inline]
    pub fn push(&mut self, bytes: &[u8]) -> Span {
        let start = self.len;
        if self.cap - self.len < bytes.len() {
            self.grow(bytes.len());
        }
        // SAFETY: capacity checked above; the source never overlaps the arena's unwritten tail.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(start), bytes.len()) };
        self.len += bytes.len();
        Span { start, end: self.len, owned: true }
    }

    /// Append `src[from..to]`: the same as `push`, for the short lines of a body. Lines up to
    /// 256 bytes are copied 16 bytes at a time, reading up to 15 bytes past `to` (when `src` has
    /// them) and writing as far past the end (overwritten by the next append), which beats a
    /// `memcpy` call for 40-byte lines.
    #[inline(always)]
    pub fn push_from(&mut self, src: &[u8], from: usize, to: usize) {
        const CHUNK: usize = 16;
        let n = to - from;
        if n > 256 || to + CHUNK > src.len() {
            self.push(&src[from..to]);
            return;
        }
        if self.cap - self.len < n + CHUNK {
            self.grow(n + CHUNK);
        }
        // SAFETY: reads `[from, from + k*16)` with k*16 < n + 16, inside `src` (checked above);
        // writes as many bytes from `len`, inside the capacity (checked above).
        unsafe {
            let s = src.as_ptr().add(from);
            let d = self.ptr.add(self.len);
            let mut i = 0;
            while i < n {
                let v = (s.add(i) as *const [u8; CHUNK]).read_unaligned();
                (d.add(i) as *mut [u8; CHUNK]).write_unaligned(v);
                i += CHUNK;
            }
        }
        self.len += n;
    }

    #[inline]
    pub fn push_byte(&mut self, b: u8) {
        if self.cap == self.len {
            self.grow(1);
        }
        // SAFETY: capacity checked above.
        unsafe { *self.ptr.add(self.len) = b };
        self.len += 1;
    }

    /// Forget everything written from `len` on (a body that turned out to need no copy).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        debug_assert!(len >= self.frozen && len <= self.len);
        self.len = len.max(self.frozen).min(self.len);
    }

    #[inline]
    pub fn bytes(&self, start: usize, end: usize) -> &[u8] {
        assert!(start <= end && end <= self.len);
        // SAFETY: `[start, end)` was written (checked above) and the region is alive.
        unsafe { std::slice::from_raw_parts(self.ptr.add(start), end - start) }
    }

    /// Everything written so far as a `Buffer` (sharing the mapping); freezes it.
    pub fn buffer(&mut self) -> Buffer {
        self.frozen = self.len;
        let ptr = NonNull::new(self.ptr).expect("mapping is never null");
        // SAFETY: the first `len` bytes are initialised and are never written again (`frozen`);
        // the Arc keeps the mapping alive as long as any Buffer uses it.
        unsafe { Buffer::from_custom_allocation(ptr, self.len, Arc::clone(&self.region) as _) }
    }
}

/// The input text and the arena, with the block ids their windows take in every view column.
pub(super) struct Store {
    pub src: Buffer,
    pub arena: Arena,
    src_windows: u32,
}

impl Store {
    pub fn new(src: Buffer) -> std::io::Result<Store> {
        // Bound on what the parser writes: see the module comment.
        let arena = Arena::new(src.len().saturating_mul(2).saturating_add(64))?;
        let src_windows = window_count(src.len()) as u32;
        Ok(Store { src, arena, src_windows })
    }

    #[inline]
    pub fn bytes(&self, s: Span) -> &[u8] {
        if s.owned {
            self.arena.bytes(s.start, s.end)
        } else {
            &self.src.as_slice()[s.start..s.end]
        }
    }

    /// The text of a span (every span holds UTF-8: the input was validated, the arena only ever
    /// receives whole lines or `String`s).
    pub fn str(&self, s: Span) -> &str {
        std::str::from_utf8(self.bytes(s)).unwrap_or_default()
    }

    /// The Arrow view of a span. Spans are at most `WINDOW_STEP` long (the parser checks).
    #[inline]
    pub fn view(&self, s: Span) -> u128 {
        let bytes = self.bytes(s);
        let base = if s.owned { self.src_windows } else { 0 };
        let k = s.start / WINDOW_STEP;
        make_view(bytes, base + k as u32, (s.start - k * WINDOW_STEP) as u32)
    }

    /// The data buffers of a batch's view columns: input windows, then arena windows.
    pub fn buffers(&mut self) -> Arc<[Buffer]> {
        let arena = self.arena.buffer();
        windows(&self.src).chain(windows(&arena)).collect()
    }
}

/// A view column under construction.
#[derive(Default)]
pub(super) struct ViewCol {
    views: Vec<u128>,
    nulls: Option<NullBufferBuilder>,
}

impl ViewCol {
    #[inline]
    pub fn push(&mut self, view: u128) {
        self.views.push(view);
        if let Some(n) = self.nulls.as_mut() {
            n.append_non_null();
        }
    }

    pub fn push_null(&mut self) {
        let n = self.nulls.get_or_insert_with(|| {
            let mut n = NullBufferBuilder::new(self.views.capacity());
            n.append_n_non_nulls(self.views.len());
            n
        });
        n.append_null();
        self.views.push(0);
    }

    #[inline]
    pub fn push_opt(&mut self, view: Option<u128>) {
        match view {
            Some(v) => self.push(v),
            None => self.push_null(),
        }
    }

    pub fn len(&self) -> usize {
        self.views.len()
    }

    fn take(&mut self) -> (ScalarBuffer<u128>, Option<arrow_buffer::NullBuffer>) {
        let views = ScalarBuffer::from(std::mem::take(&mut self.views));
        let nulls = self.nulls.take().and_then(|mut n| n.finish());
        (views, nulls)
    }

    pub fn finish_str(&mut self, buffers: &Arc<[Buffer]>) -> ArrayRef {
        let (views, nulls) = self.take();
        // SAFETY: every view was made by `Store::view` over a span of valid UTF-8 inside one of
        // `buffers` (block ids and offsets as `Store::buffers` lays them out).
        Arc::new(unsafe { StringViewArray::new_unchecked(views, Arc::clone(buffers), nulls) })
    }

    pub fn finish_bin(&mut self, buffers: &Arc<[Buffer]>) -> ArrayRef {
        let (views, nulls) = self.take();
        // SAFETY: as above (binary needs no UTF-8).
        Arc::new(unsafe { BinaryViewArray::new_unchecked(views, Arc::clone(buffers), nulls) })
    }
}

/// A `List<Utf8View>` column under construction (headers, trailers, termlog context).
pub(super) struct ListCol {
    offsets: Vec<i32>,
    pub values: ViewCol,
}

impl Default for ListCol {
    fn default() -> Self {
        ListCol { offsets: vec![0], values: ViewCol::default() }
    }
}

impl ListCol {
    /// Close the current row's list.
    #[inline]
    pub fn close(&mut self) {
        self.offsets.push(i32::try_from(self.values.len()).expect("list values per batch under 2^31"));
    }

    pub fn finish(&mut self, buffers: &Arc<[Buffer]>) -> ArrayRef {
        let values = self.values.finish_str(buffers);
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let field = Arc::new(Field::new("item", DataType::Utf8View, true));
        // Offsets start at 0 and never decrease (one `close` per row).
        Arc::new(ListArray::new(field, OffsetBuffer::new(ScalarBuffer::from(offsets)), values, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_grows_and_keeps_handed_out_buffers() {
        let mut a = Arena::new(10).unwrap();
        let first = a.push(b"hello ");
        let frozen = a.buffer();
        let line = b"0123456789abcdefghij\n";
        for _ in 0..1000 {
            a.push_from(&line[..], 0, line.len() - 1);
            a.push_byte(b'\n');
        }
        assert_eq!(a.bytes(first.start, first.end), b"hello ");
        assert_eq!(frozen.as_slice(), b"hello ");
        assert_eq!(a.len(), 6 + 1000 * 21);
        assert_eq!(a.bytes(6, 27), &line[..]);
        let all = a.buffer();
        assert!(all.as_slice()[6..].chunks(21).all(|c| c == line));
    }

    /// An input over 4 GiB (an untouched anonymous mapping: no memory is used) with values
    /// across the 2 GiB window edges, and an arena value: every view reads back its own bytes.
    #[test]
    fn views_beyond_4gib() {
        use arrow_array::cast::AsArray;
        let len = 5usize << 30;
        let Ok(mut map) = memmap2::MmapOptions::new().len(len).no_reserve_swap().map_anon() else {
            return; // address space refused here: nothing to test
        };
        let spots = [0usize, (1 << 31) - 3, (1 << 31) + 40, (1 << 32) - 20, (1 << 32) + 40, len - 30];
        let text = |i: usize| format!("value number {i}, long enough");
        for (i, &p) in spots.iter().enumerate() {
            map[p..p + text(i).len()].copy_from_slice(text(i).as_bytes());
        }
        let ptr = NonNull::new(map.as_mut_ptr()).unwrap();
        // SAFETY: the mapping is alive as long as the Buffer and is not written any more.
        let buf = unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(Region { _map: map })) };
        let mut st = Store::new(buf).unwrap();
        let mut col = ViewCol::default();
        for (i, &p) in spots.iter().enumerate() {
            col.push(st.view(Span::src(p, p + text(i).len())));
        }
        let owned = st.arena.push(b"an owned value, longer than twelve bytes");
        col.push(st.view(owned));
        let arr = col.finish_str(&st.buffers());
        let arr = arr.as_string_view();
        for i in 0..spots.len() {
            assert_eq!(arr.value(i), text(i));
        }
        assert_eq!(arr.value(spots.len()), "an owned value, longer than twelve bytes");
    }

    #[test]
    fn windows_cover_every_value() {
        assert_eq!(window_count(0), 1);
        assert_eq!(window_count(WINDOW_STEP), 1);
        assert_eq!(window_count(WINDOW_STEP + 1), 2);
    }
}
