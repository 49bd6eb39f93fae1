//! Building Arrow `Utf8View` / `BinaryView` columns whose values point straight into the input
//! bodies.
//!
//! A view is 16 bytes: the length, then either the value itself (≤ 12 bytes, inline) or its first
//! four bytes, a block index and an offset into that block. [`ViewArena`] holds the blocks of one
//! record batch: the input buffers the values were found in ("shared" blocks, kept alive by their
//! owner: a Python `bytes` object or an imported Arrow array) and one owned block for values that
//! exist nowhere in the input (multi-line SSE data joined with LF, text repaired from invalid
//! UTF-8, values of bodies given as plain slices). Columns built from one arena share its blocks.

use std::sync::Arc;

use arrow_array::{BinaryViewArray, StringViewArray};
use arrow_buffer::{Buffer, NullBuffer, ScalarBuffer};

/// Largest value stored inline in the view.
pub const MAX_INLINE: usize = 12;

/// Offsets are kept below 2^31: the format stores them as 32-bit integers that some readers treat
/// as signed.
const MAX_OFFSET: usize = i32::MAX as usize;

/// Bodies smaller than this are not registered as blocks (their values are copied instead), so that
/// many tiny bodies do not become many tiny Arrow buffers.
pub const MIN_SHARED_BLOCK: usize = 4096;

/// An inline view (`v.len() <= 12`).
#[inline(always)]
pub const fn inline_view(v: &[u8]) -> u128 {
    assert!(v.len() <= MAX_INLINE);
    // A byte loop rather than a `memcpy` call: the values are at most 12 bytes.
    let mut x = v.len() as u128;
    let mut i = 0;
    while i < v.len() {
        x |= (v[i] as u128) << (32 + 8 * i);
        i += 1;
    }
    x
}

/// A view of `len > 12` bytes at `offset` of block `block`; `prefix` is the value's first 4 bytes.
#[inline(always)]
fn ref_view(v: &[u8], block: u32, offset: u32) -> u128 {
    let prefix = u32::from_le_bytes([v[0], v[1], v[2], v[3]]);
    (v.len() as u128) | (u128::from(prefix) << 32) | (u128::from(block) << 64) | (u128::from(offset) << 96)
}

#[derive(Debug, Clone, Copy)]
struct Shared {
    index: u32,
    /// Address and length of the block's bytes.
    start: usize,
    len: usize,
}

/// The data blocks of one record batch of view columns.
#[derive(Debug, Default)]
pub struct ViewArena {
    blocks: Vec<Buffer>,
    own: Vec<u8>,
    own_index: Option<u32>,
    /// The block that the current body's values are taken from, if any.
    current: Option<Shared>,
}

impl ViewArena {
    pub fn new() -> Self {
        Self::default()
    }

    /// Values of the next body are found in `owner` (`body` must lie inside it; otherwise, or
    /// when the body is small and not already registered, its values will be copied).
    /// Consecutive bodies of one owner (rows of one Arrow array) share one block.
    pub fn set_source(&mut self, owner: Option<&Buffer>, body: &[u8]) {
        let Some(owner) = owner else {
            self.current = None;
            return;
        };
        let start = owner.as_ptr() as usize;
        let len = owner.len();
        let b = body.as_ptr() as usize;
        if b < start || b + body.len() > start + len {
            self.current = None;
            return;
        }
        if let Some(c) = self.current {
            if c.start == start && c.len == len {
                return;
            }
        }
        if body.len() < MIN_SHARED_BLOCK && len < MIN_SHARED_BLOCK {
            self.current = None;
            return;
        }
        let index = self.blocks.len() as u32;
        self.blocks.push(owner.clone());
        self.current = Some(Shared { index, start, len });
    }

    /// Values of the current body are taken from a shared block.
    #[inline]
    pub fn has_source(&self) -> bool {
        self.current.is_some()
    }

    /// The view of `v`. `in_source` says `v` is a slice of the body given to
    /// [`set_source`](Self::set_source); otherwise (or if that body has no block) it is copied.
    #[inline(always)]
    pub fn view(&mut self, v: &[u8], in_source: bool) -> u128 {
        if v.len() <= MAX_INLINE {
            return inline_view(v);
        }
        if in_source {
            if let Some(c) = self.current {
                let off = (v.as_ptr() as usize).wrapping_sub(c.start);
                if off <= MAX_OFFSET && off + v.len() <= c.len {
                    return ref_view(v, c.index, off as u32);
                }
            }
        }
        self.copy(v)
    }

    /// Copy `v` (> 12 bytes) into the owned block.
    #[inline]
    pub fn copy(&mut self, v: &[u8]) -> u128 {
        if v.len() <= MAX_INLINE {
            return inline_view(v);
        }
        if self.own.len() + v.len() > MAX_OFFSET {
            self.seal_own();
        }
        let index = match self.own_index {
            Some(i) => i,
            None => {
                let i = self.blocks.len() as u32;
                // Placeholder until the block is sealed.
                self.blocks.push(Buffer::from_vec(Vec::<u8>::new()));
                self.own_index = Some(i);
                i
            }
        };
        let off = self.own.len() as u32;
        self.own.extend_from_slice(v);
        ref_view(v, index, off)
    }

    fn seal_own(&mut self) {
        if let Some(i) = self.own_index.take() {
            self.blocks[i as usize] = Buffer::from_vec(std::mem::take(&mut self.own));
        }
    }

    /// Bytes held in the owned block (values copied so far in this batch).
    pub fn owned_bytes(&self) -> usize {
        self.own.len()
    }

    /// The blocks of the batch, leaving the arena empty for the next one.
    pub fn take_blocks(&mut self) -> Arc<[Buffer]> {
        self.seal_own();
        self.current = None;
        std::mem::take(&mut self.blocks).into()
    }
}

/// A `Utf8View` array.
///
/// # Safety
/// Every view must have been made by `inline_view` or a [`ViewArena`] whose blocks are `blocks`,
/// from valid UTF-8.
pub unsafe fn string_view_array(views: Vec<u128>, blocks: Arc<[Buffer]>, nulls: Option<NullBuffer>) -> StringViewArray {
    // SAFETY: `new_unchecked` needs every view in bounds of `blocks` and every value UTF-8; views
    // made by `inline_view` or by the arena that owned `blocks` are in bounds, and the caller
    // vouches for the UTF-8 (this function's contract).
    unsafe { StringViewArray::new_unchecked(ScalarBuffer::from(views), blocks, nulls) }
}

/// A `BinaryView` array.
///
/// # Safety
/// Every view must have been made by `inline_view` or a [`ViewArena`] whose blocks are `blocks`.
pub unsafe fn binary_view_array(views: Vec<u128>, blocks: Arc<[Buffer]>, nulls: Option<NullBuffer>) -> BinaryViewArray {
    // SAFETY: `new_unchecked` needs every view in bounds of `blocks`, which holds for views made
    // by `inline_view` or by the arena that owned `blocks` (this function's contract).
    unsafe { BinaryViewArray::new_unchecked(ScalarBuffer::from(views), blocks, nulls) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn views_inline_shared_and_owned() {
        let body: Vec<u8> = b"event: content_block_delta\ndata: short\n\n".repeat(200);
        let owner = Buffer::from_vec(body.clone());
        let mut a = ViewArena::new();
        a.set_source(Some(&owner), &owner);
        let mut views = Vec::new();
        let ty = &owner[7..26];
        views.push(a.view(ty, true));
        views.push(a.view(&owner[33..38], true));
        views.push(a.view(b"not in the body, copied", false));
        views.push(a.view(b"", true));
        let blocks = a.take_blocks();
        assert_eq!(blocks.len(), 2);
        // SAFETY: views made by `a`, from ASCII.
        let arr = unsafe { string_view_array(views, blocks, None) };
        arr.to_data().validate_full().unwrap();
        assert_eq!(arr.value(0), "content_block_delta");
        assert_eq!(arr.value(1), "short");
        assert_eq!(arr.value(2), "not in the body, copied");
        assert_eq!(arr.value(3), "");
        // The shared value points into the owner's memory: no copy.
        assert_eq!(arr.data_buffers()[0].as_ptr(), owner.as_ptr());
    }

    #[test]
    fn small_or_foreign_bodies_are_copied() {
        let small = Buffer::from_vec(b"data: a small body of forty bytes....\n\n".to_vec());
        let mut a = ViewArena::new();
        a.set_source(Some(&small), &small);
        let v = a.view(&small[6..30], true);
        let other = b"some other memory entirely, not the owner".to_vec();
        let big = Buffer::from_vec(vec![b'x'; 10_000]);
        a.set_source(Some(&big), &other);
        let w = a.view(&other[..20], true);
        let blocks = a.take_blocks();
        assert_eq!(blocks.len(), 1);
        // SAFETY: as above.
        let arr = unsafe { binary_view_array(vec![v, w], blocks, None) };
        arr.to_data().validate_full().unwrap();
        assert_eq!(arr.value(0), &small[6..30]);
        assert_eq!(arr.value(1), &other[..20]);
    }
}
