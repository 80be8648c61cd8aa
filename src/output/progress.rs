//! A status line on a terminal while a task runs on many hosts: how many are done and
//! which are still at it. Results still print in Ansible's format once the task is
//! done on every host; this only says what the run is waiting for. It draws on stderr,
//! after a short delay (quick tasks never show it), and clears itself before the
//! results are printed.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Quick tasks finish before the line would show.
const DELAY: Duration = Duration::from_millis(400);
const TICK: Duration = Duration::from_millis(100);

struct State {
    task: String,
    pending: Vec<String>,
    total: usize,
    started: Instant,
}

/// One task's progress; `finish` (or drop) stops it and clears the line.
pub(crate) struct Progress {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Starts the status line for `task` over `hosts`.
    pub(crate) fn start(task: &str, hosts: Vec<String>) -> Progress {
        let state = Arc::new(Mutex::new(State {
            task: task.to_string(),
            total: hosts.len(),
            pending: hosts,
            started: Instant::now(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, flag) = (state.clone(), stop.clone());
        let ticker = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let mut shown = String::new();
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    let Ok(st) = s.lock() else { break };
                    if st.started.elapsed() < DELAY || flag.load(Ordering::Relaxed) {
                        continue;
                    }
                    let line = status_line(&st, terminal_width());
                    if line != shown {
                        draw(&line);
                        shown = line;
                    }
                }
                if !shown.is_empty() {
                    draw("");
                }
            })
            .ok();
        Progress {
            state,
            stop,
            ticker,
        }
    }

    /// `host` has its result.
    pub(crate) fn done(&self, host: &str) {
        if let Ok(mut st) = self.state.lock() {
            st.pending.retain(|h| h != host);
        }
    }

    /// Stops the line and clears it, before results are printed.
    pub(crate) fn finish(mut self) {
        self.stop_ticker();
    }

    fn stop_ticker(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}

/// Rewrites the current terminal line on stderr.
fn draw(text: &str) {
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    let _ = write!(lock, "\r\x1b[K{text}");
    let _ = lock.flush();
}

/// The terminal's width from `COLUMNS`, else 80.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w > 20)
        .unwrap_or(80)
}

/// `[12s] TASK name: 27/30 done, waiting on app1, app3 and 1 more`, cut to `width`.
fn status_line(st: &State, width: usize) -> String {
    let done = st.total - st.pending.len();
    let mut waiting = String::new();
    let shown: Vec<&str> = st.pending.iter().take(3).map(String::as_str).collect();
    if !shown.is_empty() {
        waiting = format!(", waiting on {}", shown.join(", "));
        if st.pending.len() > shown.len() {
            waiting.push_str(&format!(" and {} more", st.pending.len() - shown.len()));
        }
    }
    let line = format!(
        "[{}s] {}: {done}/{} done{waiting}",
        st.started.elapsed().as_secs(),
        st.task,
        st.total
    );
    if line.chars().count() >= width {
        let cut: String = line.chars().take(width.saturating_sub(2)).collect();
        format!("{cut}…")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_what_the_run_waits_for() {
        let st = State {
            task: "TASK [nvm]".into(),
            pending: vec![
                "app1".into(),
                "app3".into(),
                "app4".into(),
                "sandbox1".into(),
            ],
            total: 30,
            started: Instant::now(),
        };
        assert_eq!(
            status_line(&st, 200),
            "[0s] TASK [nvm]: 26/30 done, waiting on app1, app3, app4 and 1 more"
        );
        assert_eq!(status_line(&st, 30).chars().count(), 29);
        let p = Progress::start("x", vec!["a".into()]);
        p.done("a");
        p.finish();
    }
}
