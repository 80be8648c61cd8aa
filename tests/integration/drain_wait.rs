//! `tprov drain-wait` against a real nginx (started by the test, proxying to an upstream
//! the test holds open) on the controller (`ansible_connection=local`).

use crate::support::tprov;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::sync::mpsc;

pub(crate) struct Nginx(pub(crate) Child);

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: the master then stops its workers too.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

#[test]
fn drain_wait_counts_requests_in_flight_through_real_nginx() {
    let dir = std::env::temp_dir().join(format!("tprov-drain-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tmp")).expect("dir");
    // The upstream answers only when told: a request through nginx stays in flight.
    let upstream = TcpListener::bind("127.0.0.1:0").expect("upstream");
    let up_port = upstream.local_addr().expect("addr").port();
    let (release, released) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = upstream.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = released.recv();
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "daemon off; pid {d}/nginx.pid; error_log {d}/error.log;\nevents {{}}\nhttp {{\n access_log off;\n client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n server {{\n  listen 127.0.0.1:{port};\n  location /nginx_status {{ stub_status; allow 127.0.0.1; deny all; }}\n  location / {{ proxy_pass http://127.0.0.1:{up_port}; proxy_read_timeout 60s; }}\n }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("conf");
    let _nginx = Nginx(
        Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx runs"),
    );
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::fs::write(
        dir.join("hosts"),
        format!("ctl ansible_connection=local nginxListen=127.0.0.1:{port}\n"),
    )
    .expect("inventory");
    let wait = |args: &[&str]| {
        let out = tprov()
            .current_dir(&dir)
            .args(["drain-wait", "-i", "hosts", "ctl"])
            .args(args)
            .args(["--interval", "0.2"])
            .output()
            .expect("tprov runs");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (rc, out) = wait(&["5"]);
    assert_eq!(rc, Some(0), "{out}");
    assert!(out.contains("ctl: 0 in flight"), "{out}");
    // One request held by the upstream: in flight until it is answered.
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (rc, out) = wait(&["1", "0"]);
    assert_eq!(rc, Some(1), "{out}");
    assert!(
        out.contains("still 1 requests in flight after 1 s"),
        "{out}"
    );
    let (rc, out) = wait(&["1", "1"]);
    assert_eq!(rc, Some(0), "{out}");
    release.send(()).expect("release");
    assert!(client.join().expect("client").ends_with("ok"));
    let (rc, out) = wait(&["5"]);
    assert_eq!(rc, Some(0), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
