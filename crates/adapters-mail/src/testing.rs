//! [`SmtpSink`]: a real SMTP server on 127.0.0.1 for tests. It speaks the part of RFC 5321 a
//! client needs to hand over a message — `EHLO`/`HELO`, `MAIL`, `RCPT`, `DATA` (with dot
//! un-stuffing), `RSET`, `NOOP`, `QUIT` — records each accepted message, and can be told to answer
//! the next `MAIL`, `RCPT` or end of `DATA` with a 4xx or 5xx reply.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The `MAIL FROM` address.
    pub from: String,
    /// The `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed, without the final `.` line.
    pub data: Vec<u8>,
}

/// The command a scripted failure answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Mail,
    Rcpt,
    /// The end of the message (after the `.` line): the message was transmitted but is refused.
    Data,
}

#[derive(Debug)]
struct Fault {
    stage: Stage,
    reply: String,
}

#[derive(Debug, Default)]
struct Shared {
    received: Vec<ReceivedMail>,
    faults: VecDeque<Fault>,
    /// Messages transmitted and then refused by a scripted fault at [`Stage::Data`].
    refused: usize,
}

/// An SMTP server on 127.0.0.1 and a free port, stopped when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    count: watch::Receiver<usize>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Starts a sink.
    ///
    /// # Panics
    /// When no port can be bound on 127.0.0.1.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds a port on 127.0.0.1");
        let address = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (count_tx, count) = watch::channel(0);
        let count_tx = Arc::new(count_tx);
        let task = {
            let shared = shared.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (shared, count_tx) = (shared.clone(), count_tx.clone());
                    tokio::spawn(async move {
                        // A client that hangs up mid-session is not the sink's failure.
                        let _ = session(stream, &shared, &count_tx).await;
                    });
                }
            })
        };
        Self { address, shared, count, task }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `smtp://127.0.0.1:<port>`: plain SMTP, for `ROSTER_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// Answers the next command of `stage` with `code` and `text` (e.g. `451`, `"try later"`)
    /// instead of accepting it. Several calls queue up, answered in order.
    pub fn fail_next(&self, stage: Stage, code: u16, text: &str) {
        lock(&self.shared).faults.push_back(Fault { stage, reply: format!("{code} {text}") });
    }

    /// What was accepted so far, in order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        lock(&self.shared).received.clone()
    }

    /// How many messages were transmitted and then refused by a scripted [`Stage::Data`] fault.
    pub fn refused(&self) -> usize {
        lock(&self.shared).refused
    }

    /// Waits until at least `n` messages were accepted; all of them.
    ///
    /// # Panics
    /// When fewer than `n` arrive `within` the given time.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<ReceivedMail> {
        let mut count = self.count.clone();
        let reached = tokio::time::timeout(within, count.wait_for(|c| *c >= n)).await;
        assert!(
            matches!(reached, Ok(Ok(_))),
            "the SMTP sink received {} of {n} messages within {within:?}",
            self.received().len()
        );
        self.received()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The scripted reply for `stage`, if the next fault is for it.
fn fault(shared: &Mutex<Shared>, stage: Stage) -> Option<String> {
    let mut shared = lock(shared);
    if shared.faults.front().is_some_and(|f| f.stage == stage) {
        shared.faults.pop_front().map(|f| f.reply)
    } else {
        None
    }
}

/// The address inside `<…>` of a `MAIL FROM:` or `RCPT TO:` argument (parameters dropped).
fn angle_address(argument: &str) -> String {
    match (argument.find('<'), argument.find('>')) {
        (Some(start), Some(end)) if start < end => argument[start + 1..end].to_owned(),
        _ => argument.split_whitespace().next().unwrap_or_default().to_owned(),
    }
}

async fn session(stream: TcpStream, shared: &Mutex<Shared>, count: &watch::Sender<usize>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 roster-sink ESMTP ready\r\n").await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        let (verb, argument) = text.split_once(' ').unwrap_or((text, ""));
        let reply: String = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => "250-roster-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING".to_owned(),
            "HELO" => "250 roster-sink".to_owned(),
            "MAIL" => match fault(shared, Stage::Mail) {
                Some(reply) => reply,
                None => {
                    from = Some(angle_address(argument.trim_start_matches(|c| c != ':').trim_start_matches(':')));
                    to.clear();
                    "250 OK".to_owned()
                }
            },
            "RCPT" if from.is_none() => "503 MAIL first".to_owned(),
            "RCPT" => match fault(shared, Stage::Rcpt) {
                Some(reply) => reply,
                None => {
                    to.push(angle_address(argument.trim_start_matches(|c| c != ':').trim_start_matches(':')));
                    "250 OK".to_owned()
                }
            },
            "DATA" if to.is_empty() => "503 RCPT first".to_owned(),
            "DATA" => {
                write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let data = read_data(&mut read).await?;
                let reply = match fault(shared, Stage::Data) {
                    Some(reply) => {
                        lock(shared).refused += 1;
                        reply
                    }
                    None => {
                        let mail =
                            ReceivedMail { from: from.take().unwrap_or_default(), to: std::mem::take(&mut to), data };
                        let mut shared = lock(shared);
                        shared.received.push(mail);
                        count.send_replace(shared.received.len());
                        "250 OK queued".to_owned()
                    }
                };
                from = None;
                to.clear();
                reply
            }
            "RSET" => {
                from = None;
                to.clear();
                "250 OK".to_owned()
            }
            "NOOP" => "250 OK".to_owned(),
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 command not implemented".to_owned(),
        };
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\r\n").await?;
    }
}

/// The message lines up to the lone `.`, dot-unstuffed (RFC 5321 §4.5.2), line ends kept.
async fn read_data(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = if line.first() == Some(&b'.') { &line[1..] } else { &line[..] };
        data.extend_from_slice(unstuffed);
    }
}
