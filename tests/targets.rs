//! The embedded targets (`iobench serve echo|http|dns`) against hostile clients: garbage,
//! a declared length or a head that never ends, thousands of connections, no file
//! descriptors left. Each abuse ends with the client dropped (or its datagram ignored), the
//! target's memory bounded, and a well-formed request still answered. `serve --listen`
//! warns when it listens beyond loopback.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::wait_for;
use iobench::workload::dns::synthetic_address;
use iobench::workload::tcp_echo::MAX_PAYLOAD;

/// The most resident memory a target may reach under any of these abuses.
const MAX_RSS_KB: u64 = 200 << 10;

/// How long a test waits for a reply, or for the target to close a connection.
const PATIENCE: Duration = Duration::from_secs(5);

/// A running `iobench serve KIND`, killed with the test.
struct Target {
    child: Child,
    addr: SocketAddr,
}

impl Target {
    fn start(kind: &str) -> Target {
        let mut child = Command::new(env!("CARGO_BIN_EXE_iobench"))
            .args(["serve", kind, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("iobench serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().parse().expect("the first line is the address");
        Target { child, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails the test if the target has exited.
    #[track_caller]
    fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the target exited: {status}");
        }
    }

    /// VmRSS from /proc/PID/status, in KiB.
    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    #[track_caller]
    fn assert_rss_bounded(&self) {
        let rss = self.rss_kb();
        assert!(
            rss < MAX_RSS_KB,
            "the target holds {rss} KiB, over {MAX_RSS_KB}"
        );
    }

    /// CPU time so far (user and system), in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, PATIENCE).expect("the target accepts");
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.set_write_timeout(Some(PATIENCE)).unwrap();
        s
    }

    /// A well-formed echo: the frame comes back whole.
    #[track_caller]
    fn assert_echoes(&self) {
        let mut s = self.connect();
        let mut frame = 5u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&0u32.to_le_bytes());
        frame.extend_from_slice(b"hello");
        s.write_all(&frame).unwrap();
        let mut back = vec![0; frame.len()];
        s.read_exact(&mut back).expect("the echo");
        assert_eq!(back, frame);
    }

    /// A well-formed GET of `/ana`: 200 and the greeting.
    #[track_caller]
    fn assert_greets(&self) {
        let reply = self.http(b"GET /ana HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("Hello, ana"), "{reply}");
    }

    /// Sends `request` and reads until the target closes the connection.
    fn http(&self, request: &[u8]) -> String {
        let mut s = self.connect();
        s.write_all(request).unwrap();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply)
            .expect("the reply, then the close");
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// A well-formed A query is answered with the synthetic zone's address (sent again
    /// each second, as a DNS client does: a datagram that finds the target's socket
    /// buffer full is lost).
    #[track_caller]
    fn assert_resolves(&self) {
        let s = udp();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let name = "www.example.test";
        let mut buf = [0u8; 512];
        let n = (0..5)
            .find_map(|_| {
                s.send_to(&query(0x1234, name), self.addr).unwrap();
                s.recv(&mut buf).ok()
            })
            .expect("an answer within five tries");
        let reply = &buf[..n];
        assert_eq!(&reply[..2], &[0x12, 0x34], "the query's id");
        assert!(reply[2] & 0x80 != 0, "a response");
        assert_eq!(&reply[6..8], &[0, 1], "one answer");
        assert_eq!(&reply[n - 4..], &synthetic_address(name).octets());
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An echo request header: the payload's declared length, no delay.
fn echo_header(len: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h
}

/// Writes `chunk` until `total` bytes are sent or the peer closes; the bytes sent.
fn stream(s: &mut TcpStream, chunk: &[u8], total: usize) -> usize {
    let mut sent = 0;
    while sent < total {
        match s.write(chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    sent
}

/// True once the peer has closed (or reset) the connection, reading away what it sent.
fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

/// A DNS query for `name`'s A record.
fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// Raises this process's soft file limit to its hard one, and returns how many
/// connections a test may hold open: 2,000, or fewer where the limit is tight.
fn connections_allowed() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    // Several tests of this file may hold their connections at once.
    (lim.rlim_cur as usize / 4).saturating_sub(100).min(2000)
}

/// Opens `n` connections to `target` and keeps them open, sending nothing.
fn hold_connections(target: &Target, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| target.connect()).collect()
}

/// Lowers the target's file limit to `n` (soft and hard), as a process out of
/// descriptors would be.
fn limit_files(target: &Target, n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: prlimit reads the struct we own; the old limit is not asked for.
    let rc = unsafe {
        libc::prlimit(
            target.pid() as i32,
            libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// With its file limit at 64, `target` is sent 200 connections: it must not exit or spin
/// on the accepts it cannot make, and once they close it answers `well_formed` again.
fn out_of_files(kind: &str, well_formed: fn(&Target)) {
    let mut target = Target::start(kind);
    limit_files(&target, 64);
    let held: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect_timeout(&target.addr, Duration::from_millis(200)).ok())
        .collect();
    assert!(held.len() > 64, "only {} connected", held.len());
    std::thread::sleep(Duration::from_millis(300));
    target.assert_alive();
    let before = target.cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let spent = target.cpu_ticks() - before;
    target.assert_alive();
    assert!(
        spent < 50,
        "the target spent {spent} ticks in a second out of files: it spins"
    );
    drop(held);
    let deadline = Instant::now() + PATIENCE;
    while std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| well_formed(&target))).is_err() {
        assert!(
            Instant::now() < deadline,
            "the target never recovered: {kind}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    target.assert_alive();
}

#[test]
fn echo_closes_on_garbage() {
    let mut target = Target::start("echo");
    let mut s = target.connect();
    s.write_all(b"hello, this is not an echo frame\r\n\r\n")
        .unwrap();
    assert!(closed_by_peer(&mut s), "the target kept the connection");
    target.assert_alive();
    target.assert_echoes();
}

#[test]
fn echo_closes_on_a_length_over_the_cap_before_it_arrives() {
    let target = Target::start("echo");
    for len in [MAX_PAYLOAD as u32 + 1, u32::MAX] {
        let mut s = target.connect();
        s.write_all(&echo_header(len)).unwrap();
        let sent = stream(&mut s, &[0xab; 64 << 10], 8 << 20);
        assert!(
            sent < 8 << 20,
            "the target read all 8 MiB of a {len}-byte payload"
        );
        target.assert_rss_bounded();
    }
    target.assert_echoes();
}

#[test]
fn echo_headers_alone_do_not_make_it_hold_the_declared_payloads() {
    let target = Target::start("echo");
    // Eight payloads of 60 MiB declared (each under the cap), a byte of each sent: the
    // target must hold what arrived, not what was declared.
    let held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = target.connect();
            s.write_all(&echo_header(60 << 20)).unwrap();
            s.write_all(b"x").unwrap();
            s
        })
        .collect();
    target.assert_echoes();
    std::thread::sleep(Duration::from_millis(300));
    target.assert_rss_bounded();
    drop(held);
    target.assert_echoes();
}

#[test]
fn echo_serves_a_fresh_client_beside_2000_open_connections() {
    let target = Target::start("echo");
    let held = hold_connections(&target, connections_allowed());
    target.assert_echoes();
    target.assert_rss_bounded();
    drop(held);
    target.assert_echoes();
}

#[test]
fn echo_waits_out_running_out_of_files() {
    out_of_files("echo", Target::assert_echoes);
}

#[test]
fn http_answers_garbage_with_400_and_closes() {
    let target = Target::start("http");
    let reply = target.http(b"\x00\x01\x02 hello, not HTTP\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    target.assert_greets();
}

#[test]
fn http_answers_a_head_over_64kib_with_431_and_closes() {
    let target = Target::start("http");
    let head = |n: usize| {
        let mut h = b"GET /ana HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: ".to_vec();
        h.extend(std::iter::repeat_n(b'a', n));
        h.extend_from_slice(b"\r\n\r\n");
        h
    };
    let reply = target.http(&head(100 << 10));
    assert!(
        reply.starts_with("HTTP/1.1 431"),
        "{}",
        &reply[..40.min(reply.len())]
    );
    let reply = target.http(&head(30 << 10));
    assert!(
        reply.starts_with("HTTP/1.1 200"),
        "a 30 KiB head is served: {reply}"
    );
    target.assert_greets();
}

#[test]
fn http_closes_on_a_head_that_never_ends() {
    let target = Target::start("http");
    let mut s = target.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    let mut line = b"X-More: ".to_vec();
    line.extend(std::iter::repeat_n(b'a', 1000));
    line.extend_from_slice(b"\r\n");
    let sent = stream(&mut s, &line, 8 << 20);
    assert!(sent < 8 << 20, "the target read an 8 MiB head");
    target.assert_rss_bounded();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    target.assert_greets();
}

#[test]
fn http_does_not_read_a_body_it_does_not_need() {
    let target = Target::start("http");
    let mut s = target.connect();
    s.write_all(b"GET /ana HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n")
        .unwrap();
    let sent = stream(&mut s, &[b'z'; 64 << 10], 8 << 20);
    assert!(sent < 8 << 20, "the target read 8 MiB of a body");
    target.assert_rss_bounded();
    target.assert_greets();
}

#[test]
fn http_serves_a_fresh_client_beside_2000_open_connections() {
    let target = Target::start("http");
    let held = hold_connections(&target, connections_allowed());
    target.assert_greets();
    target.assert_rss_bounded();
    drop(held);
    target.assert_greets();
}

#[test]
fn http_waits_out_running_out_of_files() {
    out_of_files("http", Target::assert_greets);
}

#[test]
fn dns_drops_garbage_and_responses_silently() {
    let target = Target::start("dns");
    let s = udp();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut response = query(7, "www.example.test");
    response[2] |= 0x80;
    let huge = vec![0xff; 60_000];
    for bad in [
        &b""[..],
        b"\x00",
        b"hello, not DNS at all",
        &query(7, "x")[..9],
        &huge,
        &response,
    ] {
        s.send_to(bad, target.addr).unwrap();
        let mut buf = [0u8; 512];
        match s.recv(&mut buf) {
            Ok(n) => panic!("the target answered {bad:?} with {:?}", &buf[..n]),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "{e}"
            ),
        }
    }
    target.assert_resolves();
}

#[test]
fn dns_answers_beside_a_flood_of_garbage() {
    let mut target = Target::start("dns");
    let s = udp();
    for i in 0..20_000u32 {
        let _ = s.send_to(&i.to_le_bytes(), target.addr);
    }
    target.assert_alive();
    target.assert_rss_bounded();
    target.assert_resolves();
}

/// What `serve --listen ADDR` writes to stderr up to its "listening on" line.
fn serve_stderr(listen: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iobench"))
        .args(["serve", "echo", "--listen", listen])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    wait_for("the listening line", PATIENCE, || {
        let mut line = String::new();
        err.read_line(&mut line).ok()?;
        text.push_str(&line);
        text.contains("listening on").then_some(())
    });
    let _ = child.kill();
    let _ = child.wait();
    text
}

#[test]
fn serve_warns_when_it_listens_beyond_loopback() {
    let text = serve_stderr("0.0.0.0:0");
    assert!(text.contains("warning:"), "{text}");
    assert!(text.contains("0.0.0.0:"), "the address is named: {text}");
    assert!(text.contains("answers anyone who can reach it"), "{text}");
    let text = serve_stderr("127.0.0.1:0");
    assert!(!text.contains("warning"), "loopback is quiet: {text}");
}

#[test]
fn a_scenario_cannot_ask_for_a_payload_the_echo_target_refuses() {
    let toml = |payload: &str| {
        format!("name = \"x\"\n[[workload]]\nkind = \"tcp-echo\"\npayload = \"{payload}\"\n")
    };
    let path = std::path::Path::new("echo.toml");
    let Err(e) = iobench::Scenario::parse(&toml("65MiB"), path) else {
        panic!("65MiB is accepted");
    };
    let e = e.to_string();
    assert!(
        e.contains("payload 65MiB is over 64MiB, the largest payload the echo target accepts"),
        "{e}"
    );
    assert!(iobench::Scenario::parse(&toml("64MiB"), path).is_ok());
}
