//! `model.tar.gz` the way SageMaker makes and reads it: the model folder's
//! contents at the archive's root. Packing is deterministic (sorted entries,
//! fixed owners and times) and keeps symbolic links as links, as the content
//! hash does. Unpacking refuses any entry, or link, that would land outside
//! the destination. Both run on blocking threads.

use std::io::{self, Read, Write};
use std::path::{Component, Path};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::errors::local;
use super::progress::Meter;

/// Packs the contents of `dir` as a gzipped tar into `out`, counting the
/// bytes and files packed on `meter`. Gzip at its fastest level: model
/// weights hardly compress, and the archive is made on every upload.
pub(crate) fn pack(dir: &Path, out: impl Write, meter: &Meter) -> Result<(), String> {
    let mut builder = tar::Builder::new(GzEncoder::new(out, Compression::fast()));
    append_dir(&mut builder, dir, Path::new(""), meter)?;
    let failed = |e: io::Error| local("packing", dir, &e);
    let gzip = builder.into_inner().map_err(failed)?;
    let mut out = gzip.finish().map_err(failed)?;
    out.flush().map_err(failed)
}

fn append_dir<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    relative: &Path,
    meter: &Meter,
) -> Result<(), String> {
    let dir = root.join(relative);
    let mut entries = std::fs::read_dir(&dir)
        .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
        .map_err(|e| local("listing", &dir, &e))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let name = relative.join(entry.file_name());
        let failed = |e: io::Error| local("packing", &path, &e);
        let meta = std::fs::symlink_metadata(&path).map_err(failed)?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(failed)?;
            header.set_size(0);
            builder.append_link(&mut header, &name, &target).map_err(failed)?;
        } else if meta.is_dir() {
            header.set_size(0);
            builder.append_data(&mut header, &name, io::empty()).map_err(failed)?;
            append_dir(builder, root, &name, meter)?;
        } else {
            let file = std::fs::File::open(&path).map_err(failed)?;
            let counted = Counted { inner: file, meter };
            builder.append_data(&mut header, &name, counted).map_err(failed)?;
            meter.file_done();
        }
    }
    Ok(())
}

/// A reader that counts what passes through it on a meter.
struct Counted<'a, R> {
    inner: R,
    meter: &'a Meter,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter.add_bytes(n as u64);
        Ok(n)
    }
}

/// Unpacks a gzipped tar from `input` into `dest` (made if missing) and
/// returns the number of files written. `what` names the archive in errors.
pub(crate) fn unpack(input: impl Read, dest: &Path, what: &str) -> Result<usize, String> {
    std::fs::create_dir_all(dest).map_err(|e| local("creating", dest, &e))?;
    let mut archive = tar::Archive::new(MultiGzDecoder::new(input));
    archive.set_overwrite(true);
    let broken = |e: io::Error| format!("unpacking {what} into `{}` failed: {e}", dest.display());
    let mut files = 0;
    for entry in archive.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let path = entry.path().map_err(broken)?.into_owned();
        let escapes = |what_escapes: &str| {
            format!(
                "unpacking {what} refused: its entry `{}` {what_escapes} would land outside `{}`",
                path.display(),
                dest.display()
            )
        };
        if !stays_inside(&path, Path::new("")) {
            return Err(escapes(""));
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name().map_err(broken)?.unwrap_or_default().into_owned();
            // A symbolic link resolves from its own folder; a hard link names
            // a path inside the archive.
            let from = if kind.is_symlink() {
                path.parent().unwrap_or(Path::new(""))
            } else {
                Path::new("")
            };
            if !stays_inside(&target, from) {
                return Err(escapes(&format!("(a link to `{}`)", target.display())));
            }
        }
        if !entry.unpack_in(dest).map_err(broken)? {
            return Err(escapes(""));
        }
        if kind.is_file() {
            files += 1;
        }
    }
    Ok(files)
}

/// Whether `path`, taken relative to the folder `from` (itself relative to
/// the destination), stays inside the destination.
fn stays_inside(path: &Path, from: &Path) -> bool {
    let mut depth = from.components().filter(|c| matches!(c, Component::Normal(_))).count();
    for component in path.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for (path, kind, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(0o644);
            if kind.is_symlink() || kind.is_hard_link() {
                header.set_size(0);
                // Written by hand: `append_link` itself refuses `..`.
                header.set_link_name_literal(content).expect("link name");
                header.set_path_literal(path);
            } else {
                header.set_size(content.len() as u64);
                header.set_path_literal(path);
            }
            header.set_cksum();
            let body: &[u8] = if kind.is_file() { content.as_bytes() } else { b"" };
            builder.append(&header, body).expect("append");
        }
        builder.into_inner().expect("tar").finish().expect("gzip")
    }

    trait Literal {
        fn set_path_literal(&mut self, path: &str);
    }

    impl Literal for tar::Header {
        fn set_path_literal(&mut self, path: &str) {
            let name = &mut self.as_old_mut().name;
            name.fill(0);
            name[..path.len()].copy_from_slice(path.as_bytes());
        }
    }

    #[test]
    fn packs_contents_at_the_root_and_unpacks_them_back() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("sub/empty")).expect("mkdir");
        std::fs::write(dir.path().join("model.bin"), b"weights").expect("write");
        std::fs::write(dir.path().join("sub/config.json"), b"{}").expect("write");
        let meter = Meter::new(9, 2);
        let mut packed = Vec::new();
        pack(dir.path(), &mut packed, &meter).expect("pack");
        assert_eq!(meter.snapshot().done_bytes, 9);
        assert_eq!(meter.snapshot().done_files, 2);

        let names: Vec<String> = tar::Archive::new(MultiGzDecoder::new(&packed[..]))
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry").path().expect("path").display().to_string())
            .collect();
        assert_eq!(names, ["model.bin", "sub", "sub/config.json", "sub/empty"]);

        let out = tempfile::tempdir().expect("tmp");
        assert_eq!(unpack(&packed[..], out.path(), "the model").expect("unpack"), 2);
        assert_eq!(std::fs::read(out.path().join("model.bin")).expect("read"), b"weights");
        assert!(out.path().join("sub/empty").is_dir());
        let again = wharf_runtime::hash::hash_path(out.path()).expect("hash");
        assert_eq!(again, wharf_runtime::hash::hash_path(dir.path()).expect("hash"));
    }

    #[test]
    fn refuses_entries_and_links_that_escape() {
        use tar::EntryType::{Regular, Symlink};
        let table = [
            (archive(&[("../evil", Regular, "x")]), "`../evil`"),
            (archive(&[("/etc/evil", Regular, "x")]), "`/etc/evil`"),
            (archive(&[("a/../../evil", Regular, "x")]), "`a/../../evil`"),
            (archive(&[("link", Symlink, "/etc/passwd")]), "a link to `/etc/passwd`"),
            (archive(&[("a/link", Symlink, "../../x")]), "a link to `../../x`"),
        ];
        for (bytes, wanted) in table {
            let out = tempfile::tempdir().expect("tmp");
            let error = unpack(&bytes[..], &out.path().join("dest"), "the model").expect_err(wanted);
            assert!(error.contains(wanted) && error.contains("outside"), "{error}");
        }
        let fine = archive(&[("./a/b.txt", Regular, "x"), ("a/link", Symlink, "b.txt")]);
        let out = tempfile::tempdir().expect("tmp");
        assert_eq!(unpack(&fine[..], out.path(), "the model").expect("unpack"), 1);
        assert_eq!(std::fs::read(out.path().join("a/link")).expect("read"), b"x");
    }
}
