//! A client for the zero-downtime tests: plain HTTP/1.1 over TCP through nginx, and a
//! bounded load at a steady rate (new connections, keep-alive ones, slow requests that
//! outlive a switch) that records every failure and the p99 latency.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One response on `s`: its status code and body (by Content-Length).
fn response(r: &mut BufReader<TcpStream>) -> Option<(u16, String)> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let status = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut len = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

/// `n` requests for `path` on one connection (keep-alive; `n == 1`: closed after).
pub(crate) fn requests(addr: &str, path: &str, n: usize) -> Vec<Option<(u16, String)>> {
    let Ok(s) = TcpStream::connect_timeout(&addr.parse().expect("addr"), Duration::from_secs(2))
    else {
        return vec![None; n];
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    (0..n)
        .map(|i| {
            let close = if i + 1 == n { "close" } else { "keep-alive" };
            let req = format!("GET {path} HTTP/1.1\r\nHost: rel\r\nConnection: {close}\r\n\r\n");
            w.write_all(req.as_bytes()).ok()?;
            response(&mut r)
        })
        .collect()
}

pub(crate) fn get(addr: &str) -> String {
    match requests(addr, "/", 1).pop().flatten() {
        Some((200, body)) => body,
        other => panic!("no answer from {addr}: {other:?}"),
    }
}

/// A bounded client at a steady rate through nginx: new connections, keep-alive ones,
/// and slow requests that outlive a switch.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    failed: Arc<Mutex<Vec<String>>>,
    latencies: Arc<Mutex<Vec<Duration>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    pub(crate) fn start(addr: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(Mutex::new(Vec::new()));
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let threads = [("/", 1), ("/", 5), ("/slow", 1)]
            .into_iter()
            .map(|(path, n)| {
                let (stop, sent, failed, latencies) = (
                    stop.clone(),
                    sent.clone(),
                    failed.clone(),
                    latencies.clone(),
                );
                let addr = addr.to_string();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        let answers = requests(&addr, path, n);
                        let each = t.elapsed() / u32::try_from(n).unwrap_or(1);
                        for a in answers {
                            sent.fetch_add(1, Ordering::Relaxed);
                            match a {
                                Some((200, _)) => latencies.lock().expect("lock").push(each),
                                other => failed
                                    .lock()
                                    .expect("lock")
                                    .push(format!("{path}: {other:?}")),
                            }
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                })
            })
            .collect();
        Load {
            stop,
            sent,
            failed,
            latencies,
            threads,
        }
    }

    /// Requests sent, the failures (non-2xx included), and the p99 latency.
    pub(crate) fn finish(self) -> (usize, Vec<String>, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("load thread");
        }
        let mut l = self.latencies.lock().expect("lock").clone();
        l.sort();
        let p99 = l.get(l.len() * 99 / 100).copied().unwrap_or_default();
        let failed = self.failed.lock().expect("lock").clone();
        (self.sent.load(Ordering::Relaxed), failed, p99)
    }
}
