//! The transfers against a real moto server (see `tests/moto.rs`), which
//! stands in for S3: every test here talks to moto, nothing is faked. Where
//! a test checks what happened on the server, it asks moto (listings,
//! ETags, last-modified times), not the code under test.

mod moto;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use super::{Progress, S3Location, Transfers, no_progress};
use moto::Moto;
use wharf_runtime::hash::hash_path;

const MIB: usize = 1024 * 1024;

/// Deterministic bytes that do not compress (BLAKE3's output stream).
fn noise(len: usize, seed: &str) -> Vec<u8> {
    let mut bytes = vec![0; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut bytes);
    bytes
}

fn write(root: &Path, relative: &str, bytes: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

/// A folder of nested small files and one 40 MiB file (a multipart upload).
fn data_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "train.csv", b"a,b\n1,2\n");
    write(dir.path(), "nested/deeper/notes.txt", b"hello");
    write(dir.path(), "nested/empty.bin", b"");
    write(dir.path(), "nested/weights.bin", &noise(40 * MIB, "big"));
    dir
}

/// The body of an object, as moto serves it.
async fn body(transfers: &Transfers, key: &str) -> Vec<u8> {
    let store = transfers.connection.store(&transfers.location.bucket).expect("store");
    let found = store.get(&ObjectPath::parse(key).expect("key")).await.expect("get");
    found.bytes().await.expect("body").to_vec()
}

/// Every object under `prefix` in the bucket, as moto lists it.
async fn objects(transfers: &Transfers, prefix: &str) -> BTreeMap<String, ObjectMeta> {
    let store = transfers.connection.store(&transfers.location.bucket).expect("store");
    let prefix = ObjectPath::parse(prefix).expect("prefix");
    let listed: Vec<ObjectMeta> = store.list(Some(&prefix)).try_collect().await.expect("list");
    listed
        .into_iter()
        .map(|meta| (meta.location.to_string(), meta))
        .collect()
}

/// Records what a transfer reports.
#[derive(Default)]
struct Reports(Mutex<Vec<Progress>>);

impl Reports {
    fn last(&self) -> Progress {
        *self.0.lock().expect("lock").last().expect("at least one report")
    }
    fn record(&self) -> impl Fn(Progress) + Send + Sync + '_ {
        |p| self.0.lock().expect("lock").push(p)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_uploads_once_and_a_change_goes_to_a_new_hash() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("once", "team/churn").await;
    let data = data_folder();
    let expected = hash_path(data.path()).expect("hash");

    let reports = Reports::default();
    let first = transfers.upload(data.path(), &reports.record()).await.expect("upload");
    let base = format!("team/churn/wharf/data/{}", expected.hex);
    assert_eq!(first.hash, expected.hex, "the cache's content hash");
    assert_eq!(first.uri, format!("s3://{}/{base}/", transfers.location.bucket));
    assert_eq!((first.files, first.bytes), (4, expected.size));
    assert_eq!(
        (first.uploaded_files, first.uploaded_bytes, first.skipped),
        (4, expected.size, false)
    );
    let done = reports.last();
    assert_eq!((done.done_files, done.total_files), (4, 4));
    assert_eq!((done.done_bytes, done.total_bytes), (expected.size, expected.size));

    let stored = objects(&transfers, "team/churn/wharf/data").await;
    let keys: Vec<&str> = stored.keys().map(String::as_str).collect();
    let wanted = [
        format!("{base}.complete"),
        format!("{base}/nested/deeper/notes.txt"),
        format!("{base}/nested/empty.bin"),
        format!("{base}/nested/weights.bin"),
        format!("{base}/train.csv"),
    ];
    assert_eq!(keys, wanted.iter().map(String::as_str).collect::<Vec<_>>());
    let big = &stored[&format!("{base}/nested/weights.bin")];
    assert_eq!(big.size, 40 * MIB as u64);
    let etag = big.e_tag.as_deref().unwrap_or("");
    assert!(
        etag.trim_matches('"').ends_with("-5"),
        "a 5-part multipart upload, ETag {etag}"
    );
    let small_etag = stored[&format!("{base}/train.csv")].e_tag.clone().unwrap_or_default();
    assert!(!small_etag.contains('-'), "a small file is one PUT, ETag {small_etag}");

    let second = transfers
        .upload(data.path(), &no_progress)
        .await
        .expect("second upload");
    assert!(second.skipped, "{second:?}");
    assert_eq!((second.uploaded_files, second.uploaded_bytes), (0, 0));
    assert_eq!(second.uri, first.uri);
    assert_eq!(
        objects(&transfers, "team/churn/wharf/data").await,
        stored,
        "nothing was written again"
    );

    write(data.path(), "train.csv", b"a,b\n1,3\n");
    let changed = transfers
        .upload(data.path(), &no_progress)
        .await
        .expect("upload after a change");
    assert_ne!(changed.hash, first.hash);
    assert_eq!(changed.hash, hash_path(data.path()).expect("hash").hex);
    assert!(!changed.skipped, "{changed:?}");
    assert_eq!(
        (changed.uploaded_files, changed.uploaded_bytes),
        (1, 8),
        "only the changed file is sent: {changed:?}"
    );
    assert_eq!(
        (changed.copied_files, changed.copied_bytes),
        (3, expected.size - 8),
        "{changed:?}"
    );
    assert!(changed.uri.contains(&changed.hash));
    assert_eq!(transfers.size(&changed.uri).await.expect("size"), (expected.size, 4));
    let new_base = format!("team/churn/wharf/data/{}", changed.hash);
    assert_eq!(body(&transfers, &format!("{new_base}/train.csv")).await, b"a,b\n1,3\n");
    assert_eq!(
        body(&transfers, &format!("{new_base}/nested/weights.bin")).await,
        noise(40 * MIB, "big"),
        "the copy holds the bytes"
    );
    // Snapshots are immutable: the first one still reads the first content.
    assert_eq!(body(&transfers, &format!("{base}/train.csv")).await, b"a,b\n1,2\n");
    let after = objects(&transfers, &base).await;
    for (key, meta) in &stored {
        if key.starts_with(&format!("{base}/")) {
            assert_eq!(after[key].e_tag, meta.e_tag, "{key} is untouched");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_sends_only_the_changed_files_and_a_deleted_object_again() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("delta", "").await;
    let dir = tempfile::tempdir().expect("tmp");
    for i in 0..20 {
        write(
            dir.path(),
            &format!("part-{}/f{i:02}.bin", i % 3),
            &noise(1000 + i, &format!("f{i}")),
        );
    }
    let first = transfers.upload(dir.path(), &no_progress).await.expect("upload");
    assert_eq!((first.uploaded_files, first.copied_files), (20, 0));

    // Two files change; one unchanged file is deleted from the first
    // snapshot behind wharf's back: it must be sent again, not trusted.
    write(dir.path(), "part-0/f00.bin", &noise(1000, "changed-0"));
    write(dir.path(), "part-1/f01.bin", &noise(5000, "changed-1"));
    let store = transfers.connection.store(&transfers.location.bucket).expect("store");
    let deleted = format!("wharf/data/{}/part-2/f02.bin", first.hash);
    store
        .delete(&ObjectPath::parse(&deleted).expect("key"))
        .await
        .expect("delete");

    let second = transfers.upload(dir.path(), &no_progress).await.expect("upload");
    assert_eq!(
        (second.uploaded_files, second.uploaded_bytes),
        (3, 1000 + 5000 + 1002),
        "two changed files and the deleted one: {second:?}"
    );
    assert_eq!(second.copied_files, 17, "{second:?}");
    let base = format!("wharf/data/{}", second.hash);
    let stored = objects(&transfers, &base).await;
    assert_eq!(stored.len(), 20, "the new snapshot is whole");
    for i in 0..20usize {
        let relative = format!("part-{}/f{i:02}.bin", i % 3);
        let local = std::fs::read(dir.path().join(&relative)).expect("read");
        assert_eq!(
            body(&transfers, &format!("{base}/{relative}")).await,
            local,
            "{relative}"
        );
    }
    // The old snapshot still answers for what it held.
    let old = format!("wharf/data/{}/part-0/f00.bin", first.hash);
    assert_eq!(body(&transfers, &old).await, noise(1000, "f0"));

    // Back to a state S3 has seen: nothing is sent.
    let third = transfers.upload(dir.path(), &no_progress).await.expect("upload");
    assert!(third.skipped && third.uploaded_files == 0, "{third:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_unchanged_file_is_copied_in_parts() {
    let Some(moto) = Moto::start() else { return };
    let limits = super::Limits {
        copy_threshold: 5 * MIB as u64,
        ..super::Limits::default()
    };
    let transfers = moto.transfers("partcopy", "p").await.with_limits(limits);
    let data = data_folder();
    let first = transfers.upload(data.path(), &no_progress).await.expect("upload");
    write(data.path(), "train.csv", b"changed\n");
    let second = transfers.upload(data.path(), &no_progress).await.expect("upload");
    assert_eq!(second.uploaded_files, 1, "{second:?}");
    assert_eq!(second.copied_bytes, first.bytes - 8, "{second:?}");
    let key = format!("p/wharf/data/{}/nested/weights.bin", second.hash);
    let stored = objects(&transfers, &format!("p/wharf/data/{}/nested", second.hash)).await;
    let etag = stored[&key].e_tag.clone().unwrap_or_default();
    assert!(
        etag.trim_matches('"').ends_with("-8"),
        "40 MiB in 5 MiB copied parts, ETag {etag}"
    );
    assert_eq!(body(&transfers, &key).await, noise(40 * MIB, "big"));
    let bucket = transfers.location.bucket.clone();
    let open = transfers
        .client()
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .expect("list multipart uploads");
    assert!(open.uploads().is_empty(), "no copy left open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_skips_files_already_there_with_the_same_content() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("downskip", "").await;
    let data = data_folder();
    let uploaded = transfers.upload(data.path(), &no_progress).await.expect("upload");
    let out = tempfile::tempdir().expect("tmp");
    let dest = out.path().join("fetched");
    let first = transfers
        .download_prefix(&uploaded.uri, &dest, &no_progress)
        .await
        .expect("download");
    assert_eq!((first.files, first.skipped_files), (4, 0));

    // The same bytes are already there, single PUTs and the multipart one.
    let again = transfers
        .download_prefix(&uploaded.uri, &dest, &no_progress)
        .await
        .expect("download again");
    assert_eq!((again.files, again.bytes, again.skipped_files), (0, 0, 4), "{again:?}");

    // Same size, other content: fetched again.
    write(&dest, "train.csv", b"x,y\n9,9\n");
    let mut weights = std::fs::read(dest.join("nested/weights.bin")).expect("read");
    weights[MIB * 20] ^= 1;
    std::fs::write(dest.join("nested/weights.bin"), &weights).expect("write");
    let repaired = transfers
        .download_prefix(&uploaded.uri, &dest, &no_progress)
        .await
        .expect("download after local edits");
    assert_eq!((repaired.files, repaired.skipped_files), (2, 2), "{repaired:?}");
    assert_eq!(hash_path(&dest).expect("hash").hex, uploaded.hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_is_named_by_the_caches_content_hash() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("pin", "").await;
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "b/z.txt", b"z");
    write(dir.path(), "a.txt", b"a");
    write(dir.path(), "b/a/deep.txt", b"deep");
    write(dir.path(), "empty.txt", b"");
    // Empty folders count in the content hash though S3 cannot hold them.
    std::fs::create_dir_all(dir.path().join("b/void")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("c")).expect("mkdir");
    let uploaded = transfers.upload(dir.path(), &no_progress).await.expect("upload");
    assert_eq!(uploaded.hash, hash_path(dir.path()).expect("hash").hex);
    assert_eq!(uploaded.files, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_file_goes_under_its_hash_prefix_by_name() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("file", "").await;
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "raw.csv", b"x,y\n");
    let file = dir.path().join("raw.csv");
    let uploaded = transfers.upload(&file, &no_progress).await.expect("upload");
    let hash = hash_path(&file).expect("hash").hex;
    assert_eq!(uploaded.hash, hash);
    assert_eq!(
        uploaded.uri,
        format!("s3://{}/wharf/data/{hash}/", transfers.location.bucket)
    );
    let keys: Vec<String> = objects(&transfers, "wharf/data").await.into_keys().collect();
    assert_eq!(
        keys,
        [
            format!("wharf/data/{hash}.complete"),
            format!("wharf/data/{hash}/raw.csv")
        ]
    );
    assert!(
        transfers
            .exists(&format!("{}raw.csv", uploaded.uri))
            .await
            .expect("exists")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_prefix_round_trips_the_bytes() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("down", "p").await;
    let data = data_folder();
    let uploaded = transfers.upload(data.path(), &no_progress).await.expect("upload");

    let out = tempfile::tempdir().expect("tmp");
    let dest = out.path().join("fetched");
    let reports = Reports::default();
    let downloaded = transfers
        .download_prefix(&uploaded.uri, &dest, &reports.record())
        .await
        .expect("download");
    assert_eq!((downloaded.files, downloaded.bytes), (4, uploaded.bytes));
    assert_eq!(reports.last().done_bytes, uploaded.bytes);
    assert_eq!(
        std::fs::read(dest.join("nested/weights.bin")).expect("read"),
        std::fs::read(data.path().join("nested/weights.bin")).expect("read")
    );
    // The same names and bytes, and no temporary file left behind.
    assert_eq!(hash_path(&dest).expect("hash").hex, uploaded.hash);

    let without_slash = uploaded.uri.trim_end_matches('/');
    let again = out.path().join("again");
    transfers
        .download_prefix(without_slash, &again, &no_progress)
        .await
        .expect("download without the slash");
    assert_eq!(
        hash_path(&again).expect("hash").hex,
        uploaded.hash,
        "the marker is not part of it"
    );

    let one = out.path().join("one");
    let object = format!("{}train.csv", uploaded.uri);
    let single = transfers
        .download_prefix(&object, &one, &no_progress)
        .await
        .expect("one object");
    assert_eq!(single.files, 1);
    assert_eq!(std::fs::read(one.join("train.csv")).expect("read"), b"a,b\n1,2\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_round_trips_through_model_tar_gz() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("model", "m").await;
    let model = tempfile::tempdir().expect("tmp");
    write(model.path(), "model.joblib", &noise(12 * MIB, "weights"));
    write(model.path(), "code/inference.py", b"def model_fn(d):\n    pass\n");
    let hash = hash_path(model.path()).expect("hash").hex;

    let uri = transfers
        .upload_model(model.path(), &no_progress)
        .await
        .expect("upload model");
    let key = format!("m/wharf/models/{hash}/model.tar.gz");
    assert_eq!(uri, format!("s3://{}/{key}", transfers.location.bucket));
    let stored = objects(&transfers, "m/wharf/models").await;
    let etag = stored[&key].e_tag.clone().unwrap_or_default();
    assert!(
        etag.trim_matches('"').ends_with("-2"),
        "12 MiB of noise: two 8 MiB parts, ETag {etag}"
    );

    let again = transfers.upload_model(model.path(), &no_progress).await.expect("again");
    assert_eq!(again, uri);
    assert_eq!(
        objects(&transfers, "m/wharf/models").await,
        stored,
        "skipped: nothing written"
    );

    let out = tempfile::tempdir().expect("tmp");
    let dest = out.path().join("model");
    let reports = Reports::default();
    let unpacked = transfers
        .download_and_unpack(&uri, &dest, &reports.record())
        .await
        .expect("download and unpack");
    assert_eq!(unpacked.files, 2);
    assert_eq!(unpacked.bytes, stored[&key].size);
    assert_eq!(reports.last().done_bytes, stored[&key].size);
    assert_eq!(
        hash_path(&dest).expect("hash").hex,
        hash,
        "the archive's root is the folder's contents"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_sends_only_what_is_missing() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("resume", "").await;
    let data = data_folder();
    let first = transfers.upload(data.path(), &no_progress).await.expect("upload");
    let base = format!("wharf/data/{}", first.hash);
    let before = objects(&transfers, "wharf/data").await;

    // As if the upload had stopped before `notes.txt` and the marker.
    let store = transfers.connection.store(&transfers.location.bucket).expect("store");
    let lost = format!("{base}/nested/deeper/notes.txt");
    for key in [lost.clone(), format!("{base}.complete")] {
        store
            .delete(&ObjectPath::parse(&key).expect("key"))
            .await
            .expect("delete");
    }
    // Last-modified times have a resolution of one second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let resumed = transfers.upload(data.path(), &no_progress).await.expect("resume");
    assert!(!resumed.skipped);
    assert_eq!((resumed.uploaded_files, resumed.uploaded_bytes), (1, 5), "{resumed:?}");
    let after = objects(&transfers, "wharf/data").await;
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    for (key, meta) in &after {
        let was = &before[key];
        if *key == lost || key.ends_with(".complete") {
            assert!(meta.last_modified > was.last_modified, "{key} was written again");
        } else {
            assert_eq!(meta.last_modified, was.last_modified, "{key} was not written again");
            assert_eq!(meta.e_tag, was.e_tag);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_named_in_a_clear_error() {
    let Some(moto) = Moto::start() else { return };
    let bucket = moto::unique_bucket("missing");
    let transfers = moto.transfers_without_bucket(&bucket, "p").await;
    let data = data_folder();
    let error = transfers
        .upload(data.path(), &no_progress)
        .await
        .expect_err("no bucket");
    assert!(
        error.contains(&format!("the S3 bucket `{bucket}` does not exist")),
        "{error}"
    );
    let error = transfers
        .exists(&format!("s3://{bucket}/p/x"))
        .await
        .expect_err("no bucket");
    assert!(error.contains("does not exist"), "{error}");
    let error = transfers.check_bucket().await.expect_err("no bucket");
    assert!(error.contains(&format!("`{bucket}` does not exist")), "{error}");
    let error = transfers
        .download_prefix(&format!("s3://{bucket}/p/"), Path::new("/nonexistent"), &no_progress)
        .await
        .expect_err("no bucket");
    assert!(error.contains(&bucket) && error.contains("does not exist"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_and_exists_without_downloading() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("size", "").await;
    transfers.ensure_bucket().await.expect("a second ensure_bucket is fine");
    transfers.check_bucket().await.expect("the bucket answers");
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "a.csv", b"12345");
    write(dir.path(), "sub/b.csv", b"123");
    let uploaded = transfers.upload(dir.path(), &no_progress).await.expect("upload");
    let bucket = &transfers.location.bucket;

    assert_eq!(transfers.size(&uploaded.uri).await.expect("size"), (8, 2));
    assert_eq!(
        transfers.size(&format!("{}sub", uploaded.uri)).await.expect("size"),
        (3, 1)
    );
    assert_eq!(
        transfers.size(&format!("{}a.csv", uploaded.uri)).await.expect("size"),
        (5, 1)
    );
    assert_eq!(
        transfers.size(&format!("s3://{bucket}/nothing/")).await.expect("size"),
        (0, 0)
    );
    let listed = objects(&transfers, "wharf").await;
    let others: u64 = listed
        .iter()
        .filter(|(key, _)| key.ends_with(".complete") || key.starts_with("wharf/inputs/"))
        .map(|(_, meta)| meta.size)
        .sum();
    assert_eq!(
        transfers.size(&format!("s3://{bucket}")).await.expect("size"),
        (8 + others, 4),
        "with the manifest and the input's pointer"
    );

    assert!(transfers.exists(&uploaded.uri).await.expect("exists"));
    assert!(
        transfers
            .exists(&format!("{}a.csv", uploaded.uri))
            .await
            .expect("exists")
    );
    assert!(
        !transfers
            .exists(&format!("{}a.cs", uploaded.uri))
            .await
            .expect("exists")
    );
    assert!(
        !transfers
            .exists(&format!("s3://{bucket}/wharf/dat"))
            .await
            .expect("exists"),
        "a prefix is a folder"
    );
    assert!(
        !transfers
            .exists(&format!("{}a.csv/", uploaded.uri))
            .await
            .expect("exists"),
        "a slash names a folder"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_in_a_folder_are_refused_before_anything_is_sent() {
    let Some(moto) = Moto::start() else { return };
    let transfers = moto.transfers("links", "").await;
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "a.csv", b"1");
    #[cfg(unix)]
    std::os::unix::fs::symlink("a.csv", dir.path().join("b.csv")).expect("link");
    #[cfg(unix)]
    {
        let error = transfers.upload(dir.path(), &no_progress).await.expect_err("a link");
        assert!(error.contains("b.csv") && error.contains("symbolic link"), "{error}");
        assert!(objects(&transfers, "wharf").await.is_empty());
    }
    let bad = S3Location::parse("s3://Bad_Bucket").expect_err("bad name");
    assert!(bad.contains("lowercase"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_named_in_a_clear_error() {
    // No moto: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let moto = Moto::at(format!("http://127.0.0.1:{port}"));
    let transfers = moto.transfers_without_bucket("wharf-unreachable", "").await;
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "a.csv", b"1");
    let started = std::time::Instant::now();
    let error = transfers
        .upload(dir.path(), &no_progress)
        .await
        .expect_err("unreachable");
    assert!(
        error.contains("could not reach S3") && error.contains("s3://wharf-unreachable/"),
        "{error}"
    );
    assert!(started.elapsed().as_secs() < 30, "gave up in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_upload_aborts_its_multipart_upload() {
    let Some(moto) = Moto::start() else { return };
    let limits = super::Limits {
        requests: 1,
        ..super::Limits::default()
    };
    let transfers = moto.transfers("abort", "").await.with_limits(limits);
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "big.bin", &noise(40 * MIB, "abort"));

    // Stop the upload once its first part is up: the caller dropping the
    // future, as a cancelled step does.
    let first_part = tokio::sync::Notify::new();
    let on_progress = |p: Progress| {
        if p.done_bytes > 0 {
            first_part.notify_one();
        }
    };
    tokio::select! {
        done = transfers.upload(dir.path(), &on_progress) => panic!("finished before it could be stopped: {done:?}"),
        () = first_part.notified() => {}
    }

    let bucket = transfers.location.bucket.clone();
    let open = || async {
        let listed = transfers.client().list_multipart_uploads().bucket(&bucket).send().await;
        listed.expect("list multipart uploads").uploads().len()
    };
    let started = std::time::Instant::now();
    while open().await > 0 {
        assert!(
            started.elapsed().as_secs() < 10,
            "the multipart upload was never aborted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(objects(&transfers, "wharf").await.is_empty(), "no object and no marker");
}
