//! Tile coordinates and their C2SP tlog-tiles paths: `tile/<L>/<N>` for a full tile,
//! `tile/<L>/<N>.p/<W>` for a partial one, with `N` in groups of three digits, every group
//! but the last prefixed by `x` (`x001/x234/067` is 1234067).

use super::TILE_WIDTH;

/// The largest level a path may name: a tree of at most 2^64 leaves has 8 levels of tiles
/// (0 to 7); the specification allows up to 63, which no tree of ours reaches.
pub const MAX_LEVEL: u8 = 63;

/// One tile: its level (tile level `L` holds node hashes of height `8 L`; level 0 the leaf
/// hashes), its index within the level, and how many hashes it holds (`1..=256`; 256 is a
/// full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// The tile level `L`.
    pub level: u8,
    /// The tile index `N` within its level.
    pub index: u64,
    /// The number of hashes, `1..=256`.
    pub width: u16,
}

/// Why a string is not a tile path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a tile path (tile/<L>/<N>[.p/<W>], N in x-prefixed groups of three digits)")]
pub struct TilePathError;

impl TileId {
    /// Whether the tile holds all 256 hashes.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tile of `level` and `index` as a tree of `size` leaves has it: full, partial
    /// (with the hashes it has so far), or `None` when the tree has none of its hashes.
    pub fn in_tree(level: u8, index: u64, size: u64) -> Option<TileId> {
        let nodes = nodes_at(level, size);
        let first = index.checked_mul(TILE_WIDTH)?;
        let width = nodes.checked_sub(first)?.min(TILE_WIDTH);
        (width > 0).then_some(TileId {
            level,
            index,
            width: width as u16,
        })
    }

    /// The path of this tile, relative to the log's prefix.
    pub fn path(&self) -> String {
        let mut path = format!("tile/{}/{}", self.level, encode_index(self.index));
        if !self.is_full() {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// Parses a tile path (`tile/…`) in its one canonical form: no leading zeros but in
    /// the three-digit groups, no group of a larger number written as a smaller one, no
    /// width 0 or 256 on a partial tile.
    pub fn parse_path(path: &str) -> Result<TileId, TilePathError> {
        let rest = path.strip_prefix("tile/").ok_or(TilePathError)?;
        let (level, rest) = rest.split_once('/').ok_or(TilePathError)?;
        let level = parse_decimal(level).ok_or(TilePathError)?;
        let level = u8::try_from(level)
            .ok()
            .filter(|&level| level <= MAX_LEVEL)
            .ok_or(TilePathError)?;
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let width = parse_decimal(width)
                    .filter(|&width| width > 0 && width < TILE_WIDTH)
                    .ok_or(TilePathError)?;
                (index, width as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = decode_index(index).ok_or(TilePathError)?;
        Ok(TileId {
            level,
            index,
            width,
        })
    }
}

/// How many complete nodes of height `8 level` a tree of `size` leaves has.
pub(super) fn nodes_at(level: u8, size: u64) -> u64 {
    size.checked_shr(u32::from(level) * super::TILE_HEIGHT)
        .unwrap_or(0)
}

fn encode_index(index: u64) -> String {
    let digits = format!("{index}");
    let padded = format!("{:0>width$}", digits, width = digits.len().div_ceil(3) * 3);
    let groups: Vec<&str> = padded
        .as_bytes()
        .chunks(3)
        .map(|group| std::str::from_utf8(group).unwrap_or("000"))
        .collect();
    let (last, rest) = groups.split_last().unwrap_or((&"000", &[]));
    let mut out = String::new();
    for group in rest {
        out.push('x');
        out.push_str(group);
        out.push('/');
    }
    out.push_str(last);
    out
}

fn decode_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    let (last, rest) = groups.split_last()?;
    let mut digits = String::new();
    for group in rest {
        digits.push_str(group.strip_prefix('x')?);
    }
    digits.push_str(last);
    if digits.len() != groups.len() * 3 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let index: u64 = digits.parse().ok()?;
    // Canonical: the encoding of the number read is the text given.
    (encode_index(index) == text).then_some(index)
}

fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_those_of_the_specification() {
        let full = |level, index| TileId {
            level,
            index,
            width: 256,
        };
        assert_eq!(full(0, 0).path(), "tile/0/000");
        assert_eq!(full(1, 1234067).path(), "tile/1/x001/x234/067");
        assert_eq!(full(2, 1000).path(), "tile/2/x001/000");
        let partial = TileId {
            level: 0,
            index: 5,
            width: 17,
        };
        assert_eq!(partial.path(), "tile/0/005.p/17");
        for tile in [full(0, 0), full(1, 1234067), full(3, u64::MAX), partial] {
            assert_eq!(TileId::parse_path(&tile.path()), Ok(tile));
        }
    }

    #[test]
    fn only_canonical_paths_parse() {
        for bad in [
            "tile/0/0",
            "tile/0/0000",
            "tile/0/x000/001",
            "tile/00/000",
            "tile/0/001/002",
            "tile/0/x01/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/017",
            "tile/64/000",
            "tile/0/-01",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/entries/000",
            "tiles/0/000",
            "tile/0/000/",
        ] {
            assert_eq!(TileId::parse_path(bad), Err(TilePathError), "{bad}");
        }
    }

    #[test]
    fn a_tree_has_the_tiles_its_size_implies() {
        assert_eq!(TileId::in_tree(0, 0, 0), None);
        assert_eq!(TileId::in_tree(0, 0, 300).map(|t| t.width), Some(256));
        assert_eq!(TileId::in_tree(0, 1, 300).map(|t| t.width), Some(44));
        assert_eq!(TileId::in_tree(0, 2, 300), None);
        assert_eq!(TileId::in_tree(1, 0, 300).map(|t| t.width), Some(1));
        assert_eq!(TileId::in_tree(1, 0, 255), None);
        assert_eq!(TileId::in_tree(1, 0, 65_536).map(|t| t.width), Some(256));
        assert_eq!(TileId::in_tree(2, 0, 65_536).map(|t| t.width), Some(1));
        assert_eq!(TileId::in_tree(7, u64::MAX, u64::MAX), None);
    }
}
