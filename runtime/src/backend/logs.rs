//! A step's output: two tasks read stdout and stderr line by line and hand
//! the lines to a third, which appends them to the attempt's log file (both
//! streams in one file, in the order they arrive) and sends them to the
//! event sink. The last few lines are kept for the failure reason. Every
//! line has the step's secret values masked (`***`) before it goes
//! anywhere: file, live view or failure reason.
//!
//! The bounded channel between them is the backpressure: if the disk or the
//! sink falls behind, the readers stop reading and the step blocks on its
//! own writes, instead of Wharf buffering without limit.

use super::lines::{LineSplitter, MAX_LINE};
use crate::events::{EventSink, RunEvent};
use crate::secrets::Masker;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many lines the failure reason quotes.
const TAIL_LINES: usize = 5;
/// How much of each quoted line, in characters.
const TAIL_LINE_CHARS: usize = 300;
/// Lines in flight between the readers and the writer.
const CHANNEL_LINES: usize = 256;

pub(crate) struct Line {
    pub(crate) text: String,
    pub(crate) stderr: bool,
}

/// The last lines the step wrote, shared with the handle so that they can
/// be read even if draining is given up.
#[derive(Clone, Default)]
pub(crate) struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: &str) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(line.chars().take(TAIL_LINE_CHARS).collect());
        }
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|lines| lines.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Opens the log for appending: a retry written to the same file adds to it.
pub(crate) async fn open(path: &Path) -> Result<File, String> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|e| format!("cannot open log file `{}`: {e}", path.display()))
}

/// Starts the three tasks on the step's `(stdout, stderr)`. The returned
/// task ends when both streams have ended and every line is written and sent.
pub(crate) fn start(
    (stdout, stderr): (
        impl AsyncRead + Unpin + Send + 'static,
        impl AsyncRead + Unpin + Send + 'static,
    ),
    log: File,
    log_path: PathBuf,
    step: String,
    events: Arc<dyn EventSink>,
    tail: Tail,
    secrets: Masker,
) -> JoinHandle<()> {
    let (sender, writer) = sink(log, log_path, step, events, tail, secrets.clone());
    tokio::spawn(read(stdout, false, sender.clone(), secrets.clone()));
    tokio::spawn(read(stderr, true, sender, secrets));
    writer
}

/// The writer alone, for a backend whose output arrives as lines already
/// (Docker's log stream): the task ends when every sender is dropped and
/// every line is written and sent.
pub(crate) fn sink(
    log: File,
    log_path: PathBuf,
    step: String,
    events: Arc<dyn EventSink>,
    tail: Tail,
    secrets: Masker,
) -> (mpsc::Sender<Line>, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(CHANNEL_LINES);
    (
        sender,
        tokio::spawn(write(receiver, log, log_path, step, events, tail, secrets)),
    )
}

async fn read(mut stream: impl AsyncRead + Unpin, stderr: bool, sender: mpsc::Sender<Line>, secrets: Masker) {
    let mut splitter = LineSplitter::new(MAX_LINE).keeping_whole(secrets);
    let mut buffer = vec![0; 8192];
    loop {
        let lines = match stream.read(&mut buffer).await {
            Ok(0) => break,
            Ok(n) => splitter.push(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // A pipe that fails to read is as good as closed.
            Err(_) => break,
        };
        for text in lines {
            // The writer is gone only when the handle gave up draining.
            if sender.send(Line { text, stderr }).await.is_err() {
                return;
            }
        }
    }
    if let Some(text) = splitter.finish() {
        let _ = sender.send(Line { text, stderr }).await;
    }
}

async fn write(
    mut receiver: mpsc::Receiver<Line>,
    log: File,
    log_path: PathBuf,
    step: String,
    events: Arc<dyn EventSink>,
    tail: Tail,
    secrets: Masker,
) {
    let mut log = Some(BufWriter::new(log));
    while let Some(first) = receiver.recv().await {
        // Write what has arrived, then flush, so that the file follows the
        // step closely without a system call per line.
        let mut next = Some(first);
        while let Some(mut line) = next {
            if let std::borrow::Cow::Owned(masked) = secrets.mask(&line.text) {
                line.text = masked;
            }
            if let Some(file) = &mut log {
                let written = async {
                    file.write_all(line.text.as_bytes()).await?;
                    file.write_all(b"\n").await
                };
                if let Err(e) = written.await {
                    log = None;
                    log_failed(&events, &step, &log_path, &e);
                }
            }
            tail.push(&line.text);
            events.event(RunEvent::StepLog {
                step: step.clone(),
                line: line.text,
                stderr: line.stderr,
            });
            next = receiver.try_recv().ok();
        }
        if let Some(file) = &mut log
            && let Err(e) = file.flush().await
        {
            log = None;
            log_failed(&events, &step, &log_path, &e);
        }
    }
}

/// The log file is lost, not the run: say so once where the user looks, and
/// keep streaming.
fn log_failed(events: &Arc<dyn EventSink>, step: &str, path: &Path, error: &std::io::Error) {
    events.event(RunEvent::StepLog {
        step: step.to_owned(),
        line: format!(
            "wharf: cannot write log file `{}` ({error}); its lines are no longer saved",
            path.display()
        ),
        stderr: true,
    });
}

/// A failure's summary followed by the last lines the step wrote.
pub(crate) fn with_tail(summary: String, tail: &[String]) -> String {
    if tail.is_empty() {
        return summary;
    }
    let lines: Vec<String> = tail.iter().map(|line| format!("  {line}")).collect();
    format!("{summary}; last lines of output:\n{}", lines.join("\n"))
}
